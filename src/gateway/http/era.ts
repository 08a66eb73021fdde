/**
 * Which protocol era a request to /mcp belongs to, from its headers and body alone (pure): a session names its
 * 2025 era; without one, 2026-07-28 traffic is told from 2025 traffic by its version header or its `_meta`
 * envelope, and the SDK's classifier has the last word on what looks like 2026 (era-2026-07-28.ts).
 */

import { clip } from '../clip.ts';
import { isObject, kindOf } from '../protocol/jsonrpc.ts';
import { MODERN_PROTOCOL_VERSION, SESSION_PROTOCOL_VERSIONS } from '../protocol/versions.ts';

/** The eras a POST /mcp may belong to, before the SDK confirms a 2026-07-28 one. */
export type PostEra = '2025-session' | '2026-07-28' | '2025-sessionless';

export const SUPPORTED_VERSIONS: ReadonlySet<string> = new Set<string>([
  ...SESSION_PROTOCOL_VERSIONS,
  MODERN_PROTOCOL_VERSION,
]);

/** The 400 message for an MCP-Protocol-Version header the gateway does not speak; undefined when it is fine. */
export function unsupportedVersion(version: string | undefined): string | undefined {
  if (version === undefined || SUPPORTED_VERSIONS.has(version)) return undefined;
  // Clipped: a 16 KB header must not come back as a 16 KB message (nor into a client's logs).
  const shown = clip(JSON.stringify(version), 64);
  return `Bad Request: unsupported MCP-Protocol-Version ${shown}; supported: ${[...SUPPORTED_VERSIONS].join(', ')}`;
}

/** Whether a sessionless POST may be 2026-07-28 traffic (cheap; the SDK classifier then decides). */
export function looksLike2026(versionHeader: string | undefined, body: unknown): boolean {
  if (versionHeader !== undefined && versionHeader >= '2026') return true;
  if (!isObject(body)) return false;
  if (body.method === 'server/discover') return true;
  const params = body.params;
  const meta = isObject(params) ? params._meta : undefined;
  return isObject(meta) && Object.keys(meta).some((k) => k.startsWith('io.modelcontextprotocol/'));
}

/**
 * Why a sessionless batch is refused, or undefined: the 2026-07-28 revision has no batches (the SDK refuses one
 * holding a request with its envelope). Without this the batch went to the 2025 path, since only single
 * messages are classified, and its 2026 requests were answered without the revision's result fields.
 */
export function modernBatchProblem(versionHeader: string | undefined, body: unknown): string | undefined {
  if (!Array.isArray(body)) return undefined;
  const modern = versionHeader !== undefined && versionHeader >= '2026';
  if (!modern && !body.some((m) => looksLike2026(undefined, m))) return undefined;
  const why = modern
    ? `MCP-Protocol-Version ${versionHeader} has`
    : 'a request carries the 2026-07-28 _meta envelope, and that revision has';
  return `Invalid Request: ${why} no JSON-RPC batches; send each request in its own POST`;
}

/** The era of a POST /mcp: its session's, else 2026-07-28 for one valid message that looks it, else 2025. */
export function postEra(sessionId: string | undefined, versionHeader: string | undefined, body: unknown): PostEra {
  if (sessionId !== undefined) return '2025-session';
  if (Array.isArray(body) || kindOf(body) === 'invalid') return '2025-sessionless';
  return looksLike2026(versionHeader, body) ? '2026-07-28' : '2025-sessionless';
}

/**
 * Whether a POST would start new work here rather than continue work already here: what a drain refuses. New:
 * a new session, a 2026-07-28 request, a sessionless 2025 request. Continuing: anything on an open session, and a
 * 2026 retry carrying a requestState (it resumes a call the drain is waiting for).
 */
export function startsNewWork(sessionId: string | undefined, body: unknown, is2026: boolean): boolean {
  if (sessionId !== undefined) return false;
  const state = isObject(body) && isObject(body.params) ? body.params.requestState : undefined;
  return !is2026 || typeof state !== 'string';
}
