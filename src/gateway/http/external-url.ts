/** The URL the client called, as far as the proxies in front say (what the auth challenge and metadata name). */
import type { IncomingMessage } from 'node:http';
import { header } from './reply.ts';

/** A path a proxy may stand in front of us with; anything else is never echoed back. */
const SAFE_PREFIX = /^\/[A-Za-z0-9._~!$&'()*+;=:@%/-]*$/;
const MAX_PREFIX = 256;
/** A `.` or `..` segment, spelled out or percent-encoded: URL resolution climbs with either. */
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/**
 * Whether a forwarded prefix may go into the URLs the gateway hands out (the legacy endpoint event, the auth
 * challenge): a plain path, not `//host` (a client reads that as another host), no dot segments, bounded.
 */
function safePrefix(prefix: string): boolean {
  return prefix.length <= MAX_PREFIX && SAFE_PREFIX.test(prefix) && !prefix.includes('//') && !DOT_SEGMENT.test(prefix);
}

/** `scheme://host` from X-Forwarded-Proto (first hop; only https or http) and X-Forwarded-Host or Host. */
export function externalOriginOf(forwardedProto: string | undefined, host: string | undefined): string {
  const proto = forwardedProto?.split(',')[0]?.trim() ?? 'http';
  return `${proto === 'https' ? 'https' : 'http'}://${host ?? 'localhost'}`;
}

/** The path prefix the client sees: X-Forwarded-Prefix (what a proxy stripped) plus the base path. */
export function externalPrefixOf(forwardedPrefix: string | undefined, prefix: string): string {
  const forwarded = forwardedPrefix?.split(',')[0]?.trim() ?? '';
  const clean = safePrefix(forwarded) ? forwarded.replace(/\/+$/, '') : '';
  return clean && clean !== prefix ? `${clean}${prefix}` : prefix;
}

export function externalOrigin(req: IncomingMessage): string {
  return externalOriginOf(header(req, 'x-forwarded-proto'), header(req, 'x-forwarded-host') ?? header(req, 'host'));
}

export function externalPrefix(req: IncomingMessage, prefix: string): string {
  return externalPrefixOf(header(req, 'x-forwarded-prefix'), prefix);
}
