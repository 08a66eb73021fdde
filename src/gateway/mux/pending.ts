/**
 * The bottom of the mux: every client request in flight towards a server, by gateway id.
 *
 * - Ids: each call gets a gateway-unique number on the server's wire, so two sessions may both use id 1; the
 *   client's own id is kept on the call and restored on the answer.
 * - Progress tokens are rewritten the same way (to numbers the table owns), so progress finds its call.
 * - Timeouts: `sweep(now)` ends every call past its deadline (a call waiting on its client, not on the server,
 *   has an infinite deadline).
 * - Endings: a call leaves the table only through `end`, and every ending (answered, timed out, cancelled, the
 *   client gone, the server failed, never sent, the input wait over) is announced through the one `onEnd` hook,
 *   exactly once. What an ending means towards the client and the server lives in that hook.
 */
import type { JsonRpcId, JsonRpcResponse, Params } from '../protocol/jsonrpc.ts';
import type { ClientSession, Sink } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

const NONE: ReadonlyMap<ClientSession, number> = new Map();

/**
 * A gateway id or progress token from a server: the number sent, or the same number as a decimal string. The
 * gateway numbers every call, so a server that writes its ids back as strings (it would echo a client's string
 * ids unchanged) worked straight and stalled every call behind the gateway.
 */
function gatewayNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  return typeof value === 'string' && /^[1-9][0-9]{0,14}$/.test(value) ? Number(value) : undefined;
}

export type Ending =
  /** The server answered (the hook gets the response). */
  | 'answered'
  /** The server did not answer before the request timeout. */
  | 'timeout'
  /** The client cancelled it (notifications/cancelled). */
  | 'cancelled'
  /** The client session closed with the call in flight. */
  | 'client_gone'
  /** The server stopped or restarted (or the drain deadline passed) with the call in flight. */
  | 'upstream_failed'
  /** The server was not connected when the call was to be sent. */
  | 'unsent'
  /** The channel could not encode the request. */
  | 'unencodable'
  /** A 2026 client never retried an input_required round. */
  | 'input_timeout';

export interface PendingCall {
  /** The gateway id on the server's wire (assigned by `open`). */
  id: number;
  /** The server the call went to. */
  upstream: MuxUpstream;
  session: ClientSession;
  /** The client's own id, restored on everything the client sees. */
  clientId: JsonRpcId;
  method: string;
  /** performance.now() when the call was received. */
  started: number;
  /** performance.now() after which the call times out; Infinity while it waits on its client. */
  deadline: number;
  sink: Sink;
  /** The client's progress token, when it asked for progress. */
  clientToken: JsonRpcId | undefined;
  /** The token the server sees instead. */
  gatewayToken: number | undefined;
}

/**
 * Told once per call as it leaves the table. `response`: the server's answer ('answered'); `message`: why it
 * failed ('upstream_failed', 'unencodable').
 */
export type EndHook<C extends PendingCall> = (
  call: C,
  ending: Ending,
  response?: JsonRpcResponse,
  message?: string,
) => void;

export class PendingTable<C extends PendingCall> {
  private nextId = 1;
  private nextToken = 1;
  private readonly calls = new Map<number, C>();
  private readonly tokens = new Map<number, C>();
  /**
   * Per server: the sessions with calls in flight on it and how many (what attribution chooses among), so a
   * server's request goes only to a session waiting on that server.
   */
  private readonly busy = new Map<MuxUpstream, Map<ClientSession, number>>();
  private readonly onEnd: EndHook<C>;

  constructor(onEnd: EndHook<C>) {
    this.onEnd = onEnd;
  }

  get size(): number {
    return this.calls.size;
  }

  /**
   * Registers a call and gives it its gateway id (and gateway progress token when `call.clientToken` is set).
   * Returns the params to send: `params` itself, or a copy carrying the gateway's progress token.
   */
  open(call: C, params: Params | undefined): Params | undefined {
    const id = this.nextId++;
    call.id = id;
    if (call.clientToken !== undefined && params) {
      const token = this.nextToken++;
      call.gatewayToken = token;
      this.tokens.set(token, call);
      params = { ...params, _meta: { ...(params._meta as Params), progressToken: token } };
    }
    this.calls.set(id, call);
    this.track(call);
    return params;
  }

  /** The call with this gateway id (a server response's id). */
  get(id: unknown): C | undefined {
    const n = gatewayNumber(id);
    return n === undefined ? undefined : this.calls.get(n);
  }

  /** The call a server progress token belongs to. */
  byToken(token: unknown): C | undefined {
    const n = gatewayNumber(token);
    return n === undefined ? undefined : this.tokens.get(n);
  }

  /** The session's call in flight under its own id. */
  fromClient(session: ClientSession, clientId: JsonRpcId): C | undefined {
    return session.pendingByClientId.get(clientId) as C | undefined;
  }

  isOpen(call: C): boolean {
    return this.calls.get(call.id) === call;
  }

  /** Sessions with calls in flight on this server, in the order they became busy there. */
  busySessions(upstream: MuxUpstream): IterableIterator<ClientSession> {
    return (this.busy.get(upstream) ?? NONE).keys();
  }

  /** The session's most recent call in flight (on this server, when given). */
  latest(session: ClientSession, upstream?: MuxUpstream): C | undefined {
    let last: PendingCall | undefined;
    for (const call of session.pendingByClientId.values()) {
      if (upstream === undefined || call.upstream === upstream) last = call;
    }
    return last as C | undefined;
  }

  /** Ends a call and tells the hook; false (and no hook) when it already ended. */
  end(call: C, ending: Ending, response?: JsonRpcResponse, message?: string): boolean {
    if (!this.calls.delete(call.id)) return false;
    if (call.gatewayToken !== undefined) this.tokens.delete(call.gatewayToken);
    this.untrack(call);
    this.onEnd(call, ending, response, message);
    return true;
  }

  /** Every call past its deadline times out. */
  sweep(now: number): void {
    if (this.calls.size === 0) return;
    for (const call of this.calls.values()) if (call.deadline <= now) this.end(call, 'timeout');
  }

  /** Ends every call (of one server, when given) the same way. */
  endAll(ending: Ending, message?: string, upstream?: MuxUpstream): void {
    // A copy: answering a call may start another, which must not fail with these.
    for (const call of [...this.calls.values()]) {
      if (upstream === undefined || call.upstream === upstream) this.end(call, ending, undefined, message);
    }
  }

  /** Ends every call of one session. */
  endSession(session: ClientSession, ending: Ending): void {
    for (const call of session.pendingByClientId.values()) this.end(call as C, ending);
  }

  /** Another exchange (a 2026 retry) takes over a call: the answer and cancellation follow its id. */
  retarget(call: C, session: ClientSession, clientId: JsonRpcId, sink: Sink, deadline: number): void {
    this.untrack(call);
    call.session = session;
    call.clientId = clientId;
    call.sink = sink;
    call.deadline = deadline;
    this.track(call);
  }

  private track(call: C): void {
    call.session.pendingByClientId.set(call.clientId, call);
    let sessions = this.busy.get(call.upstream);
    if (!sessions) {
      sessions = new Map();
      this.busy.set(call.upstream, sessions);
    }
    sessions.set(call.session, (sessions.get(call.session) ?? 0) + 1);
  }

  private untrack(call: C): void {
    const mine = call.session.pendingByClientId;
    if (mine.get(call.clientId) === call) mine.delete(call.clientId);
    const sessions = this.busy.get(call.upstream);
    const count = sessions?.get(call.session);
    if (!sessions || count === undefined) return;
    if (count > 1) sessions.set(call.session, count - 1);
    else {
      sessions.delete(call.session);
      if (sessions.size === 0) this.busy.delete(call.upstream);
    }
  }
}
