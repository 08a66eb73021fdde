/**
 * A backend's gateway accepts the credential the operator minted for a VirtualMcpServer (contract/
 * aggregate-credential.ts), and the one of the controller's tool discovery, beside its users' tokens: checked
 * against this gateway's own session key, never against the user token file, and shown in audit lines as
 * `aggregate:<namespace>/<name>` (or `operator:discovery`).
 */
import { credentialIdentity, isCredential, verifyCredential } from '../../contract/aggregate-credential.ts';
import type { Logger } from '../../observability/log.ts';
import { type Authenticator, type AuthResult, bearer } from './auth.ts';

export interface AggregateCredentialOptions {
  /** The users' authenticator: every token that is not a credential goes to it. */
  users: Authenticator;
  /** This gateway's session-signing key, as mounted (raw bytes). */
  sessionKey: Buffer;
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
    const check = verifyCredential(this.o.sessionKey, token, now);
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
