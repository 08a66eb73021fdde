/**
 * The authentication gate (401 with an RFC 9728 challenge) and, without authentication, the client's address:
 * either way, who the client is for rate limits, session limits and audit lines.
 */

import { isIP } from 'node:net';
import { ADDRESS_IDENTITY_PREFIX } from '../mux/session.ts';
import type { Authenticator, AuthResult } from '../policy/auth.ts';
import { SERVER_ERROR } from '../protocol/jsonrpc.ts';
import type { SessionIds } from '../sessions.ts';
import { externalOrigin, externalPrefix } from './external-url.ts';
import { isRelayed, RELAYED_IDENTITY_HEADER } from './relay.ts';
import { header } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';
import { metadataPath } from './resource-metadata.ts';

type AuthFailure = Extract<AuthResult, { ok: false }>;

/**
 * A description as RFC 6750 §3 allows in error_description (%x20-21 / %x23-5B / %x5D-7E): it may quote the
 * token's own text, and a quote would end the value early, a character past U+00FF fails the whole answer.
 */
function challengeText(description: string): string {
  return description.replaceAll('"', "'").replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '?');
}

/** The WWW-Authenticate value of a 401: where the metadata is, and why the token failed when one was sent. */
export function bearerChallenge(metadataUrl: string, failure: AuthFailure): string {
  let challenge = `Bearer resource_metadata="${metadataUrl}"`;
  if (failure.error) {
    challenge += `, error="${failure.error}", error_description="${challengeText(failure.description)}"`;
  }
  return challenge;
}

/**
 * The identity of an anonymous client: `ip:` and its address. Behind a trusted proxy, the last X-Forwarded-For
 * entry (the address our proxy saw; earlier entries come from the client and can be forged), when it is an
 * address at all (the identity is a rate-limit key and goes into logs).
 */
export function addressIdentity(
  forwardedFor: string | undefined,
  remote: string | undefined,
  trustProxy: boolean,
): string {
  if (trustProxy) {
    const last = forwardedFor?.split(',').at(-1)?.trim();
    if (last && isIP(last) !== 0) return `${ADDRESS_IDENTITY_PREFIX}${last}`;
  }
  return `${ADDRESS_IDENTITY_PREFIX}${remote ?? 'unknown'}`;
}

/** An authenticated client's identity, or undefined once the 401 is answered. */
export async function authenticate(request: McpRequest, auth: Authenticator): Promise<string | undefined> {
  const { req } = request;
  const result = await auth.authenticate(header(req, 'authorization'));
  if (result.ok) return result.identity;
  if (result.unavailable) {
    refuse(request, 503, SERVER_ERROR, `Service Unavailable: ${result.description}`, { 'retry-after': '5' });
    return undefined;
  }
  // RFC 9728 §3.1: the well-known segment right after the host, then the path clients call.
  const meta = `${externalOrigin(req)}${metadataPath(`${externalPrefix(req, request.prefix)}/mcp`)}`;
  refuse(request, 401, SERVER_ERROR, `Unauthorized: ${result.description}`, {
    'www-authenticate': bearerChallenge(meta, result),
  });
  return undefined;
}

/** Without authentication: the address, or the one a sibling replica vouches for when it relayed the request. */
export function anonymousIdentity(request: McpRequest, trustProxy: boolean, ids: SessionIds): string {
  const { req } = request;
  const forwardedFor = trustProxy ? header(req, 'x-forwarded-for') : undefined;
  const identity = addressIdentity(forwardedFor, req.socket.remoteAddress, trustProxy);
  // Relayed by a sibling replica: the address here is the replica's; the client's rides a signed header.
  if (isRelayed(req)) return ids.vouched(header(req, RELAYED_IDENTITY_HEADER)) ?? identity;
  return identity;
}
