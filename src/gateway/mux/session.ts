/** A client's session as the mux sees it, independent of the HTTP transport that carries it. */
import { createHash } from 'node:crypto';
import type { JsonRpcId, JsonRpcMessage, JsonRpcResponse, Params } from '../protocol/jsonrpc.ts';
import type { PendingCall } from './pending.ts';

/** streamable: 2025 Streamable HTTP; sse: legacy HTTP+SSE; modern: one 2026-07-28 request; oneshot: a sessionless 2025 POST. */
export type SessionKind = 'streamable' | 'sse' | 'modern' | 'oneshot';

/** Where the messages that belong to one client request go. */
export interface Sink {
  /**
   * A message tied to the request: progress, a server-to-client request, a log line. false: nothing could take
   * it (a server request's server is then told, instead of waiting for an answer that cannot come).
   */
  related(message: JsonRpcMessage): boolean;
  /** The final response (exactly once). */
  respond(response: JsonRpcResponse): void;
  /** Instead of respond: the request ended with nothing to send (the client cancelled it). */
  unanswered?(): void;
}

/**
 * What carries a session's messages that belong to no open request (a 2025 GET stream, a legacy SSE stream).
 * The HTTP era that opens the session provides it; sessions and the router only see this interface.
 */
export interface SessionTransport {
  /** false: nothing could take the message. */
  deliver(message: JsonRpcMessage): boolean;
  /** Whether an event stream of the session is open (an open stream keeps a session in use). */
  readonly holdsStream: boolean;
  /** Ends every stream of the session (DELETE, idle timeout, eviction, drain). */
  close(): void;
}

/** The transport of a session that cannot receive unsolicited messages (2026-07-28, sessionless 2025). */
const NO_TRANSPORT: SessionTransport = { deliver: () => false, holdsStream: false, close() {} };

/** How an anonymous client's identity starts (its address follows): such sessions are not bound to it. */
export const ADDRESS_IDENTITY_PREFIX = 'ip:';

/**
 * Whether a request made as `identity` may use a session opened as `owner`. An authenticated session belongs to
 * the token or subject that opened it: another client that learned its id is answered as if it did not exist.
 * Anonymous sessions are not bound, since one client's address can change (NAT, proxies): their id is the key.
 */
export function mayUseSession(owner: string, identity: string): boolean {
  return (
    owner === identity || (owner.startsWith(ADDRESS_IDENTITY_PREFIX) && identity.startsWith(ADDRESS_IDENTITY_PREFIX))
  );
}

export class ClientSession {
  readonly id: string;
  readonly kind: SessionKind;
  /** Who opened the session, for audit lines and rate limits (token fingerprint, OIDC subject or address). */
  readonly identity: string;
  capabilities: Params = {};
  protocolVersion = '';
  closed = false;
  lastActivity = Date.now();
  /**
   * The client went on past `initialize` (any other message, or a GET stream). Until then the session may be an
   * abandoned handshake: it expires after the short handshake timeout and is the first to be evicted.
   */
  confirmed = false;
  /** resources/subscribe URIs this session holds. */
  readonly subscriptions = new Set<string>();
  /** Client request id -> its call in flight (the mux's pending table keeps it), for cancellation and cleanup. */
  readonly pendingByClientId = new Map<JsonRpcId, PendingCall>();
  readonly transport: SessionTransport;

  /** What logs show instead of the id (which lets its holder use the session). */
  readonly logId: string;

  /** `transport`: built from the session once it exists (a stream names the session in its logs). */
  constructor(
    id: string,
    kind: SessionKind,
    identity: string,
    transport?: (session: ClientSession) => SessionTransport,
  ) {
    this.id = id;
    this.logId =
      kind === 'modern' || kind === 'oneshot' ? id : createHash('sha256').update(id).digest('hex').slice(0, 12);
    this.kind = kind;
    this.identity = identity;
    this.transport = transport ? transport(this) : NO_TRANSPORT;
  }

  /** Delivers a message that is not tied to an open request (GET stream, legacy SSE stream). */
  deliver(message: JsonRpcMessage): boolean {
    return this.transport.deliver(message);
  }

  /** Whether the client can receive server-to-client requests at all. */
  get canReceiveRequests(): boolean {
    return this.kind === 'streamable' || this.kind === 'sse';
  }
}
