/**
 * Client authentication: bearer tokens from a mounted Secret file (re-read when the file changes, so a rotated
 * Secret takes effect without a restart) or OIDC JWTs checked against the issuer's JWKS. Tokens are compared as
 * SHA-256 digests with timingSafeEqual over every configured token, so neither the match position nor the
 * length leaks through timing. Logs carry token fingerprints, never tokens.
 */
import {
  constants,
  createHash,
  createPublicKey,
  type JsonWebKey,
  type KeyObject,
  timingSafeEqual,
  verify as verifySignature,
} from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';

export type AuthResult =
  | { ok: true; identity: string }
  | { ok: false; error?: 'invalid_token' | 'invalid_request'; description: string; unavailable?: true };

export interface Authenticator {
  authenticate(authorization: string | undefined): Promise<AuthResult>;
  /** OIDC issuer, advertised in the protected-resource metadata. */
  readonly issuer?: string;
}

export function bearer(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const m = /^Bearer[ \t]+([^\s]+)\s*$/i.exec(authorization);
  return m?.[1];
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export class TokenFileAuthenticator implements Authenticator {
  private digests: Buffer[] = [];
  private fingerprints: string[] = [];
  private signature = '';
  private lastCheck = 0;
  private loaded = false;
  private checking?: Promise<void>;
  private readonly path: string;
  private readonly log: Logger;
  private readonly recheckMs: number;

  constructor(path: string, log: Logger, recheckMs = 1000) {
    this.path = path;
    this.log = log;
    this.recheckMs = recheckMs;
  }

  /** Loads the file now; throws if it cannot be read (startup must fail loudly). */
  async load(): Promise<void> {
    await this.reload(true);
  }

  get tokenCount(): number {
    return this.digests.length;
  }

  private async reload(throwOnError: boolean): Promise<void> {
    try {
      const st = await stat(this.path);
      const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (sig === this.signature && this.loaded) return;
      const text = await readFile(this.path, 'utf8');
      const lines = text.split(/\r?\n/).map((l) => l.trim());
      const tokens = lines.filter((l) => l !== '' && !l.startsWith('#'));
      // A bearer token is one word (bearer() reads up to the first space): such a line would refuse its client
      // with no hint why. Named by line number, never by value.
      const spaced = lines.flatMap((l, i) => (l !== '' && !l.startsWith('#') && /\s/.test(l) ? [i + 1] : []));
      if (spaced.length > 0) {
        const why =
          'a line holds whitespace and can never match (a token is one word: write it alone, without "Bearer ")';
        this.log.warn({ lines: spaced }, `bearer token file: ${why}`);
      }
      this.digests = tokens.map(sha256);
      this.fingerprints = this.digests.map((d) => d.toString('hex').slice(0, 12));
      this.signature = sig;
      if (this.loaded) this.log.info({ tokens: tokens.length }, 'bearer token file changed; tokens reloaded');
      this.loaded = true;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      if (throwOnError) throw new Error(`cannot read the token file ${this.path}: ${message}`);
      this.log.error({ err: message }, 'cannot re-read the bearer token file; keeping the previous tokens');
    }
  }

  private async maybeReload(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCheck < this.recheckMs) return;
    this.lastCheck = now;
    this.checking ??= this.reload(false).finally(() => {
      this.checking = undefined;
    });
    await this.checking;
  }

  async authenticate(authorization: string | undefined): Promise<AuthResult> {
    await this.maybeReload();
    const token = bearer(authorization);
    if (token === undefined) {
      return authorization
        ? { ok: false, error: 'invalid_request', description: 'expected an Authorization: Bearer token' }
        : { ok: false, description: 'a bearer token is required' };
    }
    const digest = sha256(token);
    let match = -1;
    for (let i = 0; i < this.digests.length; i++) {
      const d = this.digests[i] as Buffer;
      // No early exit: every configured token is compared.
      if (timingSafeEqual(d, digest) && match < 0) match = i;
    }
    if (match < 0) return { ok: false, error: 'invalid_token', description: 'the bearer token is not valid' };
    return { ok: true, identity: `token:${this.fingerprints[match]}` };
  }
}

// ---- OIDC

interface Jwk {
  kid?: string;
  kty?: string;
  alg?: string;
  use?: string;
  [k: string]: unknown;
}

const ALGORITHMS: Record<string, { hash: string | null; kind: 'rsa' | 'pss' | 'ec' | 'ed' }> = {
  RS256: { hash: 'sha256', kind: 'rsa' },
  RS384: { hash: 'sha384', kind: 'rsa' },
  RS512: { hash: 'sha512', kind: 'rsa' },
  PS256: { hash: 'sha256', kind: 'pss' },
  PS384: { hash: 'sha384', kind: 'pss' },
  PS512: { hash: 'sha512', kind: 'pss' },
  ES256: { hash: 'sha256', kind: 'ec' },
  ES384: { hash: 'sha384', kind: 'ec' },
  ES512: { hash: 'sha512', kind: 'ec' },
  EdDSA: { hash: null, kind: 'ed' },
};

function b64urlJson(part: string): Record<string, unknown> {
  const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as unknown;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('not a JSON object');
  return value as Record<string, unknown>;
}

export interface OidcOptions {
  issuer: string;
  audience: string;
  jwksUrl?: string;
  log: Logger;
  clockSkewSeconds?: number;
  /** Minimum time between JWKS refreshes triggered by unknown key ids. */
  refreshIntervalMs?: number;
}

export class OidcAuthenticator implements Authenticator {
  readonly issuer: string;
  private readonly options: OidcOptions;
  private keys = new Map<string, { key: KeyObject; alg?: string }>();
  private fetchedAt = 0;
  private fetching?: Promise<void>;
  private jwksUrl?: string;
  /** Why the last JWKS fetch failed (its URL and error), until one succeeds. */
  private unreachable?: string;

  constructor(options: OidcOptions) {
    this.options = options;
    this.issuer = options.issuer;
    this.jwksUrl = options.jwksUrl;
  }

  private async resolveJwksUrl(): Promise<string> {
    if (this.jwksUrl) return this.jwksUrl;
    const url = `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    if (!res.ok) throw new Error(`OIDC discovery ${url} answered ${res.status}`);
    const doc = (await res.json()) as { jwks_uri?: unknown; issuer?: unknown };
    if (typeof doc.jwks_uri !== 'string') throw new Error('OIDC discovery document has no jwks_uri');
    this.jwksUrl = doc.jwks_uri;
    return doc.jwks_uri;
  }

  private refresh(): Promise<void> {
    this.fetching ??= (async () => {
      let url = this.jwksUrl ?? `${this.issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
      try {
        url = await this.resolveJwksUrl();
        const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
        if (!res.ok) throw new Error(`JWKS ${url} answered ${res.status}`);
        const body = (await res.json()) as { keys?: Jwk[] };
        const keys = new Map<string, { key: KeyObject; alg?: string }>();
        for (const jwk of body.keys ?? []) {
          if (jwk.use !== undefined && jwk.use !== 'sig') continue;
          try {
            const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
            keys.set(jwk.kid ?? '', { key, alg: jwk.alg });
          } catch {
            this.options.log.warn({ kid: jwk.kid }, 'skipping a JWKS key node cannot import');
          }
        }
        this.keys = keys;
        this.fetchedAt = Date.now();
        this.unreachable = undefined;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.unreachable = `${url}: ${message}`;
        this.options.log.error({ err: message, url }, 'fetching the JWKS failed');
      } finally {
        this.fetching = undefined;
      }
    })();
    return this.fetching;
  }

  private async keyFor(kid: string | undefined): Promise<{ key: KeyObject; alg?: string } | undefined> {
    const lookup = () => {
      if (kid !== undefined) return this.keys.get(kid);
      return this.keys.size === 1 ? this.keys.values().next().value : undefined;
    };
    let found = lookup();
    const minInterval = this.options.refreshIntervalMs ?? 30_000;
    if (!found && (this.fetchedAt === 0 || Date.now() - this.fetchedAt > minInterval)) {
      await this.refresh();
      found = lookup();
    }
    return found;
  }

  async authenticate(authorization: string | undefined): Promise<AuthResult> {
    const token = bearer(authorization);
    if (token === undefined) {
      return authorization
        ? { ok: false, error: 'invalid_request', description: 'expected an Authorization: Bearer token' }
        : { ok: false, description: 'a bearer token is required' };
    }
    const invalid = (description: string): AuthResult => ({ ok: false, error: 'invalid_token', description });
    const parts = token.split('.');
    if (parts.length !== 3) return invalid('the token is not a JWT');
    const [h = '', p = '', s = ''] = parts;
    let header: Record<string, unknown>;
    let claims: Record<string, unknown>;
    try {
      header = b64urlJson(h);
      claims = b64urlJson(p);
    } catch {
      return invalid('the token is not a JWT');
    }
    const alg = typeof header.alg === 'string' ? header.alg : '';
    const spec = ALGORITHMS[alg];
    // Clipped: the header is the client's text, echoed in the answer.
    if (!spec) return invalid(`unsupported JWT algorithm ${clip(JSON.stringify(alg), 40)}`);
    const entry = await this.keyFor(typeof header.kid === 'string' ? header.kid : undefined);
    if (!entry && this.unreachable !== undefined && this.keys.size === 0) {
      // Not the token's fault: no key could be read at all. 503 and a retry, not a 401 that blames the token.
      return {
        ok: false,
        unavailable: true,
        description: `the identity provider cannot be reached (${this.unreachable}); retry later`,
      };
    }
    if (!entry) return invalid('no key in the issuer JWKS matches the token');
    if (entry.alg !== undefined && entry.alg !== alg) return invalid('the token algorithm does not match its key');
    const keyType = entry.key.asymmetricKeyType ?? '';
    const expected = { rsa: ['rsa'], pss: ['rsa', 'rsa-pss'], ec: ['ec'], ed: ['ed25519', 'ed448'] }[spec.kind];
    if (!expected.includes(keyType)) return invalid('the token algorithm does not match its key');
    const data = Buffer.from(`${h}.${p}`);
    const signature = Buffer.from(s, 'base64url');
    let valid = false;
    try {
      if (spec.kind === 'ed') valid = verifySignature(null, data, entry.key, signature);
      else if (spec.kind === 'ec')
        valid = verifySignature(spec.hash, data, { key: entry.key, dsaEncoding: 'ieee-p1363' }, signature);
      else if (spec.kind === 'pss') {
        const options = {
          key: entry.key,
          padding: constants.RSA_PKCS1_PSS_PADDING,
          saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
        };
        valid = verifySignature(spec.hash, data, options, signature);
      } else valid = verifySignature(spec.hash, data, entry.key, signature);
    } catch {
      valid = false;
    }
    if (!valid) return invalid('the token signature is not valid');
    const now = Date.now() / 1000;
    const skew = this.options.clockSkewSeconds ?? 60;
    if (claims.iss !== this.issuer) return invalid('the token issuer is not accepted');
    const aud = claims.aud;
    const audiences = Array.isArray(aud) ? aud : [aud];
    if (!audiences.includes(this.options.audience)) return invalid('the token audience is not accepted');
    if (typeof claims.exp !== 'number' || claims.exp + skew < now) return invalid('the token has expired');
    if (typeof claims.nbf === 'number' && claims.nbf - skew > now) return invalid('the token is not valid yet');
    // The subject is the client's identity (session binding, limits, audit): without one, every such token
    // would be the same client.
    if (typeof claims.sub !== 'string' || claims.sub === '') {
      return invalid('the token has no subject (sub claim); the gateway tells clients apart by it');
    }
    return { ok: true, identity: `oidc:${claims.sub}` };
  }
}
