/**
 * The `requestState` of the 2026-07-28 multi-round-trip results the gateway mints when a shared server asks a
 * 2026 client for input (sampling, elicitation, roots) in the middle of a call.
 *
 * The state names the flow the gateway keeps in memory (the server's call still in flight and its pending
 * server requests), the round, the replica that owns the flow, an expiry, and a tag binding it to the client
 * identity; it is signed with HMAC-SHA256. With a session secret (several replicas) the key is derived from it,
 * so any replica can verify a state and relay the retry to the owner; without one the key is random per process.
 *
 *     v1.<owner>.<flow>.<round>.<expires>.<bind>.<mac>
 *
 * The flow id alone is 144 random bits; the MAC makes every other field tamper-evident. The state is signed, not
 * encrypted: it carries no secret (the owner address is the pod IP the replicas already share).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export interface RequestStateClaims {
  /** The replica that owns the flow ('' without multi-replica forwarding). */
  owner: string;
  flow: string;
  round: number;
  /** Unix milliseconds. */
  expires: number;
}

export type VerifiedState =
  | { ok: true; claims: RequestStateClaims }
  | { ok: false; reason: 'malformed' | 'forged' | 'expired' | 'identity' };

const PREFIX = 'v1';

export class RequestStateCodec {
  private readonly key: Buffer;
  private readonly self: string;
  private readonly selfEncoded: string;

  constructor(secret?: Buffer, advertise?: string) {
    this.key = secret
      ? createHmac('sha256', secret).update('mcp-operator gateway requestState v1').digest()
      : randomBytes(32);
    this.self = secret && advertise ? advertise : '';
    this.selfEncoded = this.self ? Buffer.from(this.self).toString('base64url') : '-';
  }

  private tag(label: string, text: string, bytes: number): string {
    return createHmac('sha256', this.key).update(label).update(text).digest().subarray(0, bytes).toString('base64url');
  }

  /** A fresh, unguessable flow id. */
  newFlowId(): string {
    return randomBytes(18).toString('base64url');
  }

  mint(flow: string, round: number, expires: number, identity: string): string {
    const bind = this.tag('bind\u0000', identity, 12);
    const body = `${PREFIX}.${this.selfEncoded}.${flow}.${round}.${Math.floor(expires)}.${bind}`;
    return `${body}.${this.tag('mac\u0000', body, 18)}`;
  }

  verify(state: string, identity: string, now = Date.now()): VerifiedState {
    if (state.length > 512) return { ok: false, reason: 'malformed' };
    const parts = state.split('.');
    if (parts.length !== 7 || parts[0] !== PREFIX) return { ok: false, reason: 'malformed' };
    const [, ownerEncoded = '', flow = '', roundText = '', expiresText = '', bind = '', mac = ''] = parts;
    const body = state.slice(0, state.length - mac.length - 1);
    if (!equal(this.tag('mac\u0000', body, 18), mac)) return { ok: false, reason: 'forged' };
    const round = Number(roundText);
    const expires = Number(expiresText);
    if (!Number.isSafeInteger(round) || !Number.isSafeInteger(expires)) return { ok: false, reason: 'malformed' };
    if (expires <= now) return { ok: false, reason: 'expired' };
    if (!equal(this.tag('bind\u0000', identity, 12), bind)) return { ok: false, reason: 'identity' };
    const owner = ownerEncoded === '-' ? '' : Buffer.from(ownerEncoded, 'base64url').toString('utf8');
    return { ok: true, claims: { owner, flow, round, expires } };
  }

  /** The replica to relay a retry to: the signed owner, when it is another replica. */
  remoteOwner(state: string, identity: string): string | undefined {
    if (!this.self) return undefined;
    const v = this.verify(state, identity);
    if (!v.ok || !v.claims.owner || v.claims.owner === this.self) return undefined;
    return v.claims.owner;
  }
}

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The client-facing message for a requestState the gateway cannot continue (JSON-RPC -32602). */
export function requestStateProblem(reason: string, inputTimeoutMs: number): string {
  switch (reason) {
    case 'malformed':
    case 'forged':
      return 'Invalid requestState: it was not issued by this gateway or was altered; call again without requestState';
    case 'expired':
      return `Expired requestState: the gateway waits ${Math.round(inputTimeoutMs / 1000)} s for the input responses; call again without requestState`;
    case 'identity':
      return 'Invalid requestState: it was issued to another client';
    case 'stale':
      return 'Stale requestState: it belongs to an earlier round of this request; retry with the latest requestState';
    case 'busy':
      return 'Invalid requestState: another request is already continuing it';
    case 'method':
      return 'Invalid requestState: it belongs to a different request';
    case 'type':
      return 'Invalid requestState: it must be a string';
    case 'missing':
      return 'Invalid requestState: inputResponses came without it; echo the requestState of the input_required result';
    default:
      return 'Unknown requestState: the request it continues has already finished, was cancelled or timed out; call again without requestState';
  }
}
