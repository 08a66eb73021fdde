/**
 * The multiplexer between many client sessions and one or more MCP server connections, composed of the layers
 * below it (and options.ts: its options, and keepsUp, the backlog bound on what goes to a server):
 * - pending.ts: calls in flight; ids and progress tokens rewritten, timeouts, every ending through one hook
 *   (`ended` here says what each ending means to the client, the server, metrics and audit);
 * - attribution.ts: which session a server request or notification belongs to (pure);
 * - relayed.ts: server requests relayed to 2025/SSE clients under gateway ids;
 * - input-flows.ts: the same requests as 2026-07-28 input_required rounds;
 * - subscriptions.ts: resource subscriptions ref-counted over the sessions;
 * - tool-calls.ts: tools/call gates, the filtered tools/list, audit, the server's tool names;
 * - routing.ts: which server a request goes to (one server, or an aggregate's backends by name and URI).
 *
 * The mux answers `initialize` from the cached handshake and `ping` locally, sends list_changed to every session
 * and resources/updated to the sessions that subscribed. Every call and relayed request records the upstream it
 * went to, server messages arrive through `fromServer(upstream, message)` from one `link` per server, and a
 * server's requests and notifications are attributed among the sessions with calls on that server: a mux over
 * several servers is this mux with a routing and several links, not a second mux.
 */
import type { Logger } from '../../observability/log.ts';
import { loggerAudit } from '../audit.ts';
import type { GatewayMetrics } from '../metrics.ts';
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  INVALID_REQUEST,
  isObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  metaProblem,
  type Params,
  resultResponse,
  SERVER_ERROR,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import { capabilityFor } from '../protocol/methods.ts';
import { attribute, routeServerRequest, unattributedProblem } from './attribution.ts';
import { type Call, newCall, sentParams } from './call.ts';
import { duplicateIdProblem, ENDINGS, MCP_PARAMS_PROBLEM, replyFor, upstreamFailedMessage } from './endings.ts';
import { answerInitialize } from './handshake.ts';
import { InputFlows } from './input-flows.ts';
import { keepsUp, type MuxOptions, notifyServer } from './options.ts';
import { type Ending, PendingTable } from './pending.ts';
import { RelayedRequests } from './relayed.ts';
import { type MuxRouting, singleRouting } from './routing.ts';
import type { ClientSession, Sink } from './session.ts';
import { Subscriptions, subscribeProblem } from './subscriptions.ts';
import { TaskOwners } from './tasks.ts';
import { ToolCalls, ToolDiscovery } from './tool-calls.ts';
import type { MuxUpstream } from './upstream.ts';

export type { MuxOptions } from './options.ts';
export type { MuxPolicy } from './tool-calls.ts';
export type { MuxUpstream } from './upstream.ts';

export class Mux {
  /** The attached sessions (2025 sessions, SSE connections, 2026 listen streams). */
  readonly sessions = new Set<ClientSession>();
  readonly upstream: MuxUpstream;
  private readonly o: MuxOptions;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  private readonly calls: PendingTable<Call>;
  private readonly relayed = new RelayedRequests();
  private readonly tasks = new TaskOwners();
  private readonly inputs: InputFlows;
  private readonly subscriptions: Subscriptions;
  private readonly tools: ToolCalls;
  private readonly routing: MuxRouting;
  /** An aggregate's: the backend of an exposed tool name, asked only when a gate refuses a call. */
  private readonly toolBackend: ((name: string) => string | undefined) | undefined;
  /** The linked servers, with their tool discovery (none when the routing discovers names itself). */
  private readonly linked = new Map<MuxUpstream, ToolDiscovery | undefined>();
  private logLevel?: Params;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: MuxOptions) {
    this.o = options;
    this.upstream = options.upstream;
    this.metrics = options.metrics;
    this.log = options.log;
    this.calls = new PendingTable<Call>((call, ending, response, message) =>
      this.ended(call, ending, response, message),
    );
    this.inputs = new InputFlows({
      calls: this.calls,
      codec: options.requestStates,
      inputTimeoutMs: options.inputTimeoutMs ?? 10 * 60_000,
      requestTimeoutMs: options.requestTimeoutMs,
      log: options.log,
    });
    this.routing = options.routing ?? singleRouting(options.upstream);
    this.toolBackend = this.routing.toolBackend?.bind(this.routing);
    this.subscriptions = new Subscriptions(this.sessions, options.log, (uri) => this.routing.uriOwner(uri));
    this.tools = new ToolCalls({
      policy: options.policy,
      metrics: options.metrics,
      audit: options.audit ?? loggerAudit(options.log),
    });
    if (!options.routing) this.link(options.upstream);
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  /**
   * Listens to one server: its messages, and its restarts (calls in flight fail; state is replayed).
   * `discoverTools`: read its tool names for metric labels (off when the routing names tools itself).
   */
  link(upstream: MuxUpstream, discoverTools = true): void {
    const discovery = discoverTools ? new ToolDiscovery(upstream, this.metrics) : undefined;
    this.linked.set(upstream, discovery);
    upstream.onmessage = (m) => this.fromServer(upstream, m);
    upstream.onstate = (state) => {
      if (state === 'restarting' || state === 'stopped') this.failUpstream(upstream);
      if (state === 'ready' && upstream.restarts > 0) this.replayState(upstream);
      if (state === 'ready') discovery?.refresh();
    };
  }

  /** A server leaves the mux: its calls and relayed requests fail with `reason`, its messages are ignored. */
  unlink(upstream: MuxUpstream, reason: string): void {
    if (!this.linked.delete(upstream)) return;
    upstream.onmessage = undefined;
    upstream.onstate = undefined;
    this.failUpstream(upstream, reason);
  }

  /** Tells every session (and the 2026 listen streams) that a list changed. */
  listChanged(method: string): void {
    const note: JsonRpcNotification = { jsonrpc: '2.0', method };
    for (const s of this.sessions) s.deliver(note);
    this.o.onServerEvent?.(note);
  }

  /** Requests in flight through this mux. */
  get inflightCount(): number {
    return this.calls.size;
  }

  attach(session: ClientSession): void {
    this.sessions.add(session);
  }

  /**
   * A 2026-07-28 `subscriptions/listen` stream watching resources (that revision has no resources/subscribe:
   * listen streams replace it); `detach` lets go of them when the stream closes.
   */
  watch(session: ClientSession, uris: readonly string[]): void {
    this.attach(session);
    this.subscriptions.watch(session, uris);
  }

  /** The session ended: its calls are abandoned, its server requests refused, its subscriptions dropped. */
  detach(session: ClientSession): void {
    if (!this.sessions.delete(session) && session.pendingByClientId.size === 0) return;
    this.calls.endSession(session, 'client_gone');
    this.relayed.sessionGone(session);
    this.subscriptions.release(session);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  /** The one place a call's ending is told to the client, the server, metrics and the audit line. */
  private ended(call: Call, ending: Ending, response: JsonRpcResponse | undefined, message?: string): void {
    if (call.flow) this.inputs.callEnded(call.flow);
    if (ending === 'answered') {
      if (response) this.answered(call, response);
      return;
    }
    const rule = ENDINGS[ending];
    if (rule.cancel !== undefined) {
      call.upstream.send({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: call.id, reason: rule.cancel },
      });
    }
    this.tools.record(call, rule.outcome, rule.errorCode);
    const reply = replyFor(call, ending, message, this.o.requestTimeoutMs);
    if (reply) call.sink.respond(reply);
    else if (ending === 'cancelled') call.sink.unanswered?.();
  }

  private answered(call: Call, response: JsonRpcResponse): void {
    const ended = performance.now();
    const error = response.error;
    if (call.method === 'tools/list' && !error) this.metrics.tools.declareList(response.result);
    if (error) {
      if (call.uri !== undefined) this.subscriptions.refused(call.session, call.uri);
      call.sink.respond({ jsonrpc: '2.0', id: call.clientId, error });
    } else {
      call.sink.respond({
        jsonrpc: '2.0',
        id: call.clientId,
        result: this.tasks.result(call.session, call.method, this.tools.filterResult(call.method, response.result)),
      });
    }
    // Metrics and the audit line after the answer is on its way: they are not on the client's critical path.
    this.metrics.recordRequest(call.method, error ? 'error' : 'ok');
    if (call.method === 'tools/call') {
      const isError = !error && isObject(response.result) && response.result.isError === true;
      this.tools.record(call, error ? 'error' : isError ? 'tool_error' : 'ok', error?.code, ended);
    }
  }

  // ---- client -> server

  handleRequest(session: ClientSession, request: JsonRpcRequest, sink: Sink): void {
    session.lastActivity = Date.now();
    const params = request.params;
    if (params !== undefined && !isObject(params)) {
      // JSON-RPC allows positional (array) params, MCP does not; SDK servers drop such a request unanswered,
      // which would leave it in flight until the request timeout.
      sink.respond(errorResponse(request.id, INVALID_PARAMS, MCP_PARAMS_PROBLEM));
      return;
    }
    const meta = metaProblem(params);
    if (meta !== undefined) {
      this.tools.refused(session, request, 'invalid');
      sink.respond(errorResponse(request.id, INVALID_PARAMS, meta));
      return;
    }
    switch (request.method) {
      case 'initialize':
        answerInitialize(this.o, session, request, sink);
        return;
      case 'ping':
        sink.respond(resultResponse(request.id, {}));
        return;
      case 'tools/call':
        if (this.tools.refuse(session, request, params?.name, sink, this.toolBackend)) return;
        break;
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const subscribe = request.method === 'resources/subscribe';
        const problem = subscribeProblem(session, params?.uri, subscribe);
        if (problem !== undefined) {
          sink.respond(errorResponse(request.id, INVALID_PARAMS, problem));
          return;
        }
        if (this.subscriptions.clientRequest(session, subscribe, params?.uri as string)) {
          sink.respond(resultResponse(request.id, {}));
          return;
        }
        break;
      }
      case 'logging/setLevel':
        this.logLevel = params;
        break;
      default:
        if (this.tasks.refuse(session, request, sink)) return;
    }
    this.forward(session, request, sink);
  }

  handleNotification(session: ClientSession, note: JsonRpcNotification): void {
    session.lastActivity = Date.now();
    switch (note.method) {
      case 'notifications/initialized':
        return;
      case 'notifications/cancelled': {
        const requestId = note.params?.requestId;
        if (typeof requestId !== 'string' && typeof requestId !== 'number') return;
        const call = this.calls.fromClient(session, requestId);
        if (!call || !this.calls.end(call, 'cancelled')) return;
        call.upstream.send({ ...note, params: { ...note.params, requestId: call.id } });
        return;
      }
      case 'notifications/roots/list_changed':
        // Roots are one client's view; a shared server was not told about them.
        if (this.o.perSession) notifyServer(this.upstream, note, this.o);
        return;
      default:
        for (const upstream of this.linked.keys()) notifyServer(upstream, note, this.o);
    }
  }

  handleResponse(session: ClientSession, response: JsonRpcResponse): void {
    session.lastActivity = Date.now();
    if (!this.relayed.answer(session, response)) {
      this.log.debug({ session: session.logId }, 'response to an unknown server request dropped');
    }
  }

  /** A 2026-07-28 retry with `requestState` (and `inputResponses`): see input-flows.ts. */
  continueRequest(
    session: ClientSession,
    request: JsonRpcRequest,
    state: unknown,
    responses: Record<string, unknown> | undefined,
    sink: Sink,
  ): void {
    session.lastActivity = Date.now();
    this.inputs.continue(session, request, state, responses, sink);
  }

  /**
   * A tools/call refused before it reached a mux (the per-client rate limit): the same metric and audit line
   * as a call refused here, argument keys only.
   */
  recordRefused(session: ClientSession, request: JsonRpcRequest, outcome: string): void {
    this.tools.refused(session, request, outcome);
  }

  private forward(session: ClientSession, request: JsonRpcRequest, sink: Sink): void {
    const route = this.routing.route(request);
    if ('answer' in route) {
      this.metrics.recordRequest(request.method, 'ok');
      sink.respond(resultResponse(request.id, this.tools.filterResult(request.method, route.answer)));
      return;
    }
    if ('refuse' in route) {
      const r = route.refuse;
      const uri = request.params?.uri;
      if (request.method === 'resources/subscribe' && typeof uri === 'string') this.subscriptions.refused(session, uri);
      this.tools.refused(session, request, r.outcome, r.backend);
      sink.respond(errorResponse(request.id, r.code, r.message, r.data));
      return;
    }
    const upstream = route.to;
    if (!upstream.ready) {
      upstream.whenReady(this.o.readyWaitMs).then(
        () => {
          if (session.closed) sink.respond(errorResponse(request.id, SERVER_ERROR, 'the session closed'));
          else this.forward(session, request, sink);
        },
        (err: Error) => {
          this.tools.refused(session, request, 'upstream_failed', route.backend);
          sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, err.message));
        },
      );
      return;
    }
    if (session.pendingByClientId.has(request.id)) {
      // The id names the call for cancellation, progress and the session's close: a second one in flight would
      // take the first one's place there and leave it running unseen (JSON-RPC: ids are unique per requestor).
      this.tools.refused(session, request, 'invalid');
      sink.respond(errorResponse(request.id, INVALID_REQUEST, duplicateIdProblem(request.id)));
      return;
    }
    if (!keepsUp(upstream, this.o)) {
      sink.respond(errorResponse(request.id, SERVER_ERROR, 'the MCP server is not keeping up; retry later'));
      return;
    }
    const call = newCall(upstream, session, request, sink, this.o.requestTimeoutMs);
    call.backend = route.backend;
    call.stampsClient = route.onBehalfOf === true;
    const method = request.method;
    const sent = sentParams(call, this.calls.open(call, route.params ?? request.params));
    const message: JsonRpcRequest =
      sent === undefined
        ? { jsonrpc: '2.0', id: call.id, method }
        : { jsonrpc: '2.0', id: call.id, method, params: sent };
    let ok: boolean;
    try {
      ok = upstream.send(message);
    } catch (err) {
      // A message the channel cannot encode: refused now, never left in flight for the drain to wait on.
      const why = err instanceof Error ? err.message : String(err);
      this.calls.end(call, 'unencodable', undefined, `the gateway could not forward this request: ${why}`);
      return;
    }
    if (!ok) this.calls.end(call, 'unsent');
  }

  // ---- server -> client
  private fromServer(upstream: MuxUpstream, message: JsonRpcMessage): void {
    if ('method' in message) {
      if ('id' in message) this.serverRequest(upstream, message as JsonRpcRequest);
      else this.serverNotification(upstream, message as JsonRpcNotification);
      return;
    }
    const response = message as JsonRpcResponse;
    const call = this.calls.get(response.id);
    // Gateway ids are unique over every server: a server answers only its own calls.
    if (call && call.upstream === upstream) this.calls.end(call, 'answered', response);
    else this.metrics.droppedMessages.inc({ reason: 'unknown_response_id' });
  }

  private serverNotification(upstream: MuxUpstream, note: JsonRpcNotification): void {
    const params = note.params;
    if (this.tasks.status(note, this.sessions)) return;
    switch (note.method) {
      case 'notifications/progress': {
        const call = this.calls.byToken(params?.progressToken);
        // Like an answer, progress is taken only from the server the call went to: tokens are sequential, and one
        // backend of an aggregate must not write into another backend's calls (and their clients).
        if (!call || call.upstream !== upstream) {
          this.metrics.droppedMessages.inc({ reason: 'unknown_progress_token' });
          return;
        }
        // A 2026 retry that did not ask for progress has no token to carry it.
        if (call.clientToken === undefined) return;
        call.sink.related({ ...note, params: { ...params, progressToken: call.clientToken } });
        return;
      }
      case 'notifications/cancelled':
        this.relayed.serverCancelled(upstream, note);
        this.inputs.serverCancelled(upstream, params?.requestId as JsonRpcId);
        return;
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        if (this.routing.serverNotification?.(upstream, note)) return;
        if (note.method === 'notifications/tools/list_changed') this.linked.get(upstream)?.refresh();
        this.listChanged(note.method);
        return;
      case 'notifications/resources/updated':
        if (this.subscriptions.deliverUpdated(upstream, note)) this.o.onServerEvent?.(note);
        return;
      default: {
        const target = attribute(this.calls.busySessions(upstream), this.onlySession());
        if (target === 'ambiguous') {
          this.metrics.droppedMessages.inc({ reason: 'ambiguous_session' });
          return;
        }
        if (target === 'none') {
          // Nothing is in flight, so no session caused it: a server-wide message.
          for (const s of this.sessions) s.deliver(note);
          return;
        }
        const call = this.calls.latest(target, upstream);
        if (call) call.sink.related(note);
        else target.deliver(note);
      }
    }
  }

  private serverRequest(upstream: MuxUpstream, request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      upstream.send(resultResponse(request.id, {}));
      return;
    }
    const capability = capabilityFor(request.method);
    const target = attribute(this.calls.busySessions(upstream), this.onlySession());
    if (target === 'ambiguous' || target === 'none') {
      this.refuse(upstream, request, unattributedProblem(request.method, target));
      return;
    }
    const call = this.calls.latest(target, upstream);
    const route = routeServerRequest(target, call?.method, request.method, capability, this.inputs.enabled);
    if (route === 'input' && call) {
      this.inputs.ask(call, request);
      return;
    }
    if (typeof route === 'object') {
      this.refuse(upstream, request, route.refuse);
      return;
    }
    const id = this.relayed.open(target, upstream, request.id);
    const forwarded: JsonRpcRequest = { ...request, id };
    if (!(call ? call.sink.related(forwarded) : target.deliver(forwarded))) {
      this.relayed.drop(id);
      this.refuse(upstream, request, 'the client has no open stream to receive the request');
    }
  }

  private refuse(upstream: MuxUpstream, request: JsonRpcRequest, message: string): void {
    this.metrics.droppedMessages.inc({ reason: 'server_request_refused' });
    upstream.send(errorResponse(request.id, INTERNAL_ERROR, message));
  }

  /** Per-session mode: the one session, to which every server message belongs. */
  private onlySession(): ClientSession | undefined {
    if (!this.o.perSession || this.sessions.size !== 1) return undefined;
    return this.sessions.values().next().value;
  }

  /** The server died (or the drain deadline passed): every request in flight gets a clear error now. */
  failAll(reason?: string): void {
    for (const upstream of this.linked.keys()) this.failUpstream(upstream, reason);
  }

  private failUpstream(upstream: MuxUpstream, reason?: string): void {
    const label = upstream.label;
    const stopped = upstreamFailedMessage(upstream.lastExit);
    const message = reason ?? (label === undefined ? stopped : `backend ${label}: ${stopped}`);
    this.calls.endAll('upstream_failed', message, upstream);
    this.relayed.upstreamFailed(upstream);
  }

  /** After a restart: the new server process gets the subscriptions and log level the sessions hold. */
  private replayState(upstream: MuxUpstream): void {
    this.subscriptions.replay(upstream);
    if (this.logLevel) void upstream.request('logging/setLevel', this.logLevel, 10_000);
  }

  private sweep(): void {
    const now = performance.now();
    this.inputs.sweep(now);
    this.calls.sweep(now);
  }
}
