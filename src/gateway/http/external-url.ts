/** The URL the client called, as far as the proxies in front say (what the auth challenge and metadata name). */
import type { IncomingMessage } from 'node:http';
import { header } from './reply.ts';

/** A path a proxy may stand in front of us with; anything else is never echoed back. */
const SAFE_PREFIX = /^\/[A-Za-z0-9._~!$&'()*+;=:@%/-]*$/;

/** `scheme://host` from X-Forwarded-Proto (first hop; only https or http) and X-Forwarded-Host or Host. */
export function externalOriginOf(forwardedProto: string | undefined, host: string | undefined): string {
  const proto = forwardedProto?.split(',')[0]?.trim() ?? 'http';
  return `${proto === 'https' ? 'https' : 'http'}://${host ?? 'localhost'}`;
}

/** The path prefix the client sees: X-Forwarded-Prefix (what a proxy stripped) plus the base path. */
export function externalPrefixOf(forwardedPrefix: string | undefined, prefix: string): string {
  const forwarded = forwardedPrefix?.split(',')[0]?.trim() ?? '';
  const clean = SAFE_PREFIX.test(forwarded) ? forwarded.replace(/\/+$/, '') : '';
  return clean && clean !== prefix ? `${clean}${prefix}` : prefix;
}

export function externalOrigin(req: IncomingMessage): string {
  return externalOriginOf(header(req, 'x-forwarded-proto'), header(req, 'x-forwarded-host') ?? header(req, 'host'));
}

export function externalPrefix(req: IncomingMessage, prefix: string): string {
  return externalPrefixOf(header(req, 'x-forwarded-prefix'), prefix);
}
