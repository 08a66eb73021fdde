/**
 * The Origin gate (403) and CORS. Browsers send Origin; one that is neither allowed nor the host itself is a
 * DNS-rebinding or CSRF attempt. Requests without Origin (every non-browser client) pass at the cost of a branch.
 * "The host itself" counts only for a host no web page can take over: an IP address or localhost. A page of a
 * domain that someone re-pointed at this gateway (DNS rebinding) sends that domain as both Origin and Host, so
 * a named host must be listed in the allowed origins like any other.
 */
import type { ServerResponse } from 'node:http';
import { isIP } from 'node:net';

/** The CORS headers of a request without Origin: none. */
export const NO_CORS: Readonly<Record<string, string>> = Object.freeze({});

/**
 * The CORS headers to answer with, or null when the Origin is not allowed. `host`: X-Forwarded-Host or Host
 * (a page of the same host is always allowed); `allowed`: the configured origins, `*` for any.
 */
export function corsFor(
  origin: string | undefined,
  host: string | undefined,
  allowed: readonly string[],
): Readonly<Record<string, string>> | null {
  if (!origin) return NO_CORS;
  let ok = allowed.includes('*') || allowed.includes(origin);
  if (!ok) {
    try {
      ok = host !== undefined && new URL(origin).host === host && unrebindableHost(host);
    } catch {
      ok = false;
    }
  }
  if (!ok) return null;
  return {
    'access-control-allow-origin': origin,
    'access-control-expose-headers': 'mcp-session-id, mcp-protocol-version, www-authenticate',
    vary: 'Origin',
  };
}

/** Whether `host` (Host header syntax, port optional) is an IP address or localhost, which DNS cannot re-point. */
export function unrebindableHost(host: string): boolean {
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d*$/, '');
  const lower = name.toLowerCase();
  return isIP(name) !== 0 || lower === 'localhost' || lower.endsWith('.localhost');
}

/** The answer to a CORS preflight (OPTIONS) that passed the Origin gate. */
export function answerPreflight(res: ServerResponse, cors: Readonly<Record<string, string>>): void {
  res.writeHead(204, {
    ...cors,
    'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
    'access-control-allow-headers':
      'authorization, content-type, accept, last-event-id, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name',
    'access-control-max-age': '600',
  });
  res.end();
}
