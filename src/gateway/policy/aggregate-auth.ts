/**
 * A backend's gateway accepts the credential the operator minted for a VirtualMcpServer (contract/
 * aggregate-credential.ts), and the one of the controller's tool discovery, beside its users' tokens: checked
 * against this gateway's own session key, never against the user token file, and shown in audit lines as
 * `aggregate:<namespace>/<name>` (or `operator:discovery`).
 */
import { readFile, stat } from 'node:fs/promises';
import {
  type CredentialCheck,
  credentialIdentity,
  isCredential,
  SIGNATURE_MISMATCH,
  verifyCredential,
} from '../../contract/aggregate-credential.ts';
import type { Logger } from '../../observability/log.ts';
import { type Authenticator, type AuthResult, bearer } from './auth.ts';

export interface AggregateCredentialOptions {
  /** The users' authenticator: every token that is not a credential goes to it. */
  users: Authenticator;
  /** This gateway's session-signing keys (raw bytes): the current one first, then the one it replaced. */
  sessionKeys: () => Promise<readonly Buffer[]>;
  log: Logger;
  nowSeconds?: () => number;
}

export class AggregateCredentialAuthenticator implements Authenticator {
  private readonly o: AggregateCredentialOptions;

  constructor(options: AggregateCredentialOptions) {
    this.o = options;
  }

  get issuer(): string | undefined {
    return this.o.users.issuer;
  }

  async authenticate(authorization: string | undefined): Promise<AuthResult> {
    const token = bearer(authorization);
    if (token === undefined || !isCredential(token)) return this.o.users.authenticate(authorization);
    const now = this.o.nowSeconds?.() ?? Math.floor(Date.now() / 1000);
    let check: CredentialCheck = { ok: false, reason: 'no session key' };
    for (const key of await this.o.sessionKeys()) {
      check = verifyCredential(key, token, now);
      if (check.ok || check.reason !== SIGNATURE_MISMATCH) break;
    }
    if (!check.ok) {
      this.o.log.warn({ reason: check.reason }, 'refused an aggregate credential');
      return {
        ok: false,
        error: 'invalid_token',
        description: `the aggregate credential is not valid: ${check.reason}`,
      };
    }
    return { ok: true, identity: credentialIdentity(check.claims) };
  }
}

/**
 * The session key file, read again when it changes (checked at most once a second): a key replaced in its Secret
 * reaches a running gateway, so credentials minted from the new key are accepted without a restart, and those
 * from the one before still are until they expire.
 */
/** As the gateway's session ids require (parts.ts signedIdsFor). */
const MIN_SESSION_KEY_BYTES = 16;

export class SessionKeyFile {
  private keys: Buffer[] = [];
  private signature = '';
  private lastCheck = 0;
  private readonly path: string;
  private readonly log: Logger;

  constructor(path: string, log: Logger) {
    this.path = path;
    this.log = log;
  }

  /** Reads the file now; throws if it cannot be read (startup fails loudly). */
  async load(): Promise<void> {
    await this.reload(true);
  }

  readonly current = async (): Promise<readonly Buffer[]> => {
    const now = Date.now();
    if (now - this.lastCheck >= 1000) {
      this.lastCheck = now;
      await this.reload(false);
    }
    return this.keys;
  };

  private async reload(throwOnError: boolean): Promise<void> {
    try {
      const st = await stat(this.path);
      const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (sig === this.signature) return;
      const key = await readFile(this.path);
      // Fail closed: a key this short (a Secret edited by hand) would let anyone mint credentials.
      if (key.length < MIN_SESSION_KEY_BYTES)
        throw new Error(`the session key in ${this.path} is under ${MIN_SESSION_KEY_BYTES} bytes`);
      if (this.keys[0]?.equals(key)) return;
      this.keys = this.keys.length ? [key, this.keys[0] as Buffer] : [key];
      if (this.signature) this.log.info('the session key changed; credentials of the one before are still accepted');
      this.signature = sig;
    } catch (err) {
      if (throwOnError) throw err;
      this.log.warn({ err: String(err) }, 'cannot re-read the session key; keeping the one loaded');
    }
  }
}
