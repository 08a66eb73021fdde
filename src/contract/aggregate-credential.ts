/**
 * The credential a VirtualMcpServer's gateway presents to a backend McpServer whose gateway has auth on. The
 * operator mints it from the backend's own session-signing key (the `<name>-gateway-session` Secret every
 * gateway already mounts), so the backend accepts it beside its users' tokens with nothing new to mount, and no
 * user's Secret is ever copied. It names the aggregate (the backend's audit shows it, with the end client the
 * aggregate names in each call's `_meta`) and expires: the operator mints a new one every RENEW_INTERVAL_S.
 *
 * Wire form: `mcpagg1.<base64url JSON claims>.<base64url HMAC-SHA256>`. The MAC key is derived from the session
 * key with a label of its own, so a credential can never be confused with a signed session id.
 * A leaf of the contract layer: the operator mints with it, the gateway verifies with it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const CREDENTIAL_PREFIX = 'mcpagg1';
/** A credential's identity at the backend: `aggregate:<namespace>/<name>` (no other identity has this prefix). */
export const AGGREGATE_IDENTITY_PREFIX = 'aggregate:';
/** The controller's own tool discovery holds a credential too: this identity, never believed for on-behalf-of. */
export const DISCOVERY_IDENTITY = 'operator:discovery';
/**
 * The `_meta` key under which an aggregate names its end client in each tools/call it forwards. A backend
 * honours it only from a caller that authenticated with a credential, and strips it from every call.
 */
export const ON_BEHALF_OF_META = 'io.mcpoperator/on-behalf-of';

/** A new credential every 12 hours, valid for 12 to 24 hours: the kubelet has hours, not seconds, to deliver it. */
export const RENEW_INTERVAL_S = 12 * 3600;

export interface CredentialClaims {
  /** aggregate: a VirtualMcpServer's; discovery: the controller's tool discovery (read-only use). */
  role?: 'aggregate' | 'discovery';
  /** The VirtualMcpServer's namespace and name (discovery: the McpServer's namespace, the controller's name). */
  namespace: string;
  aggregate: string;
  /** The backend McpServer it is for (each backend has its own key, so it cannot be replayed at another). */
  backend: string;
  /** Unix seconds. */
  expiresAt: number;
}

const LABEL = 'mcp-operator aggregate credential v1';
const macKey = (sessionKey: Buffer) => createHmac('sha256', sessionKey).update(LABEL).digest();
const mac = (sessionKey: Buffer, payload: string) => createHmac('sha256', macKey(sessionKey)).update(payload).digest();

/**
 * The expiry of a credential minted at `nowS`: the end of the next renewal window. Every mint in one window gives
 * the same value, so the same credential: a reconcile writes the Secret only when a window turns.
 */
export function credentialExpiry(nowS: number): number {
  return (Math.floor(nowS / RENEW_INTERVAL_S) + 2) * RENEW_INTERVAL_S;
}

/** Milliseconds until the operator must mint again (the next window). */
export function msUntilRenewal(nowMs: number): number {
  const windowMs = RENEW_INTERVAL_S * 1000;
  return windowMs - (nowMs % windowMs);
}

export function mintCredential(sessionKey: Buffer, claims: CredentialClaims): string {
  const payload = Buffer.from(
    JSON.stringify({
      ns: claims.namespace,
      agg: claims.aggregate,
      be: claims.backend,
      exp: claims.expiresAt,
      ...(claims.role === 'discovery' ? { role: 'discovery' } : {}),
    }),
  ).toString('base64url');
  return `${CREDENTIAL_PREFIX}.${payload}.${mac(sessionKey, payload).toString('base64url')}`;
}

export const isCredential = (token: string) => token.startsWith(`${CREDENTIAL_PREFIX}.`);

export type CredentialCheck = { ok: true; claims: CredentialClaims } | { ok: false; reason: string };

/** The reason of a credential signed with another key (another server's, or this one's before a change). */
export const SIGNATURE_MISMATCH = 'signature mismatch (minted for another server, or its session key changed)';

/** The longest token looked at: a real one is about 200 characters. */
const MAX_CREDENTIAL_LENGTH = 1024;

export function verifyCredential(sessionKey: Buffer, token: string, nowS: number): CredentialCheck {
  if (token.length > MAX_CREDENTIAL_LENGTH) return { ok: false, reason: 'malformed' };
  const [prefix, payload, signature, ...rest] = token.split('.');
  if (prefix !== CREDENTIAL_PREFIX || !payload || !signature || rest.length) return { ok: false, reason: 'malformed' };
  // As text: base64 decoding ignores stray characters and a last character's spare bits, so two signatures
  // could decode alike. Lengths first: timingSafeEqual throws on a mismatch, and a length says nothing of the key.
  const expected = Buffer.from(mac(sessionKey, payload).toString('base64url'));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: SIGNATURE_MISMATCH };
  }
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  const c = raw as { ns?: unknown; agg?: unknown; be?: unknown; exp?: unknown; role?: unknown };
  if (
    (c.role !== undefined && c.role !== 'discovery') ||
    typeof c.ns !== 'string' ||
    typeof c.agg !== 'string' ||
    typeof c.be !== 'string' ||
    typeof c.exp !== 'number' ||
    !Number.isFinite(c.exp)
  ) {
    return { ok: false, reason: 'malformed' };
  }
  if (c.exp <= nowS) return { ok: false, reason: 'expired' };
  const claims: CredentialClaims = { namespace: c.ns, aggregate: c.agg, backend: c.be, expiresAt: c.exp };
  if (c.role === 'discovery') claims.role = 'discovery';
  return { ok: true, claims };
}

/** Who a verified credential is at the gateway that checked it. */
export function credentialIdentity(claims: CredentialClaims): string {
  return claims.role === 'discovery'
    ? DISCOVERY_IDENTITY
    : `${AGGREGATE_IDENTITY_PREFIX}${claims.namespace}/${claims.aggregate}`;
}
