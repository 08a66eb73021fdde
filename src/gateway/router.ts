/**
 * The multiplexer between many client sessions and one MCP server connection.
 *
 * - Request ids are rewritten to gateway-unique numbers, so two sessions may both use id 1; responses go only to
 *   the session (and the HTTP exchange) that asked.
 * - Progress tokens are rewritten the same way; progress goes to the request's own stream.
 * - `initialize` is answered from the cached handshake; `ping` locally.
 * - list_changed goes to every session; resources/updated to the sessions that subscribed (the server sees one
 *   subscription per URI).
 * - Server-to-client requests (sampling, elicitation, roots) and log messages go to the session that caused them.
 *   The stdio wire carries no link between a server request and the client request it serves, so the router
 *   attributes it to the only session with calls in flight (filtered by the capability the request needs). When
 *   that is ambiguous it refuses rather than guess: nothing is ever broadcast to a session that did not cause it.
 *   Per-session mode has one session per server, so attribution is exact there.
 * - A 2026-07-28 client has no server-to-client request channel: a server request attributed to one of its calls
 *   (tools/call, prompts/get, resources/read) becomes an `input_required` result. The server's request and its
 *   call stay in flight (an input flow); the client's retry carries the `inputResponses` and the signed
 *   `requestState`, the responses go to the server's pending requests, and the retry's exchange takes over the
 *   original call: it gets the final result, or the next `input_required` round. The call is never re-sent.
 */
import type { Logger } from '../observability/log.ts';
import { type AuditWriter, loggerAudit } from './audit.ts';
import { clip } from './clip.ts';
import { type RequestStateCodec, requestStateProblem } from './input.ts';
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
  LATEST_SESSION_PROTOCOL_VERSION,
  metaProblem,
  type Params,
  progressTokenOf,
  RATE_LIMITED,
  resultResponse,
  SERVER_ERROR,
  SESSION_PROTOCOL_VERSIONS,
  UPSTREAM_UNAVAILABLE,
} from './jsonrpc.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { ClientSession, Sink } from './session.ts';
import { toolNameProblem } from './tool-names.ts';
import type { Upstream } from './upstream/upstream.ts';

export interface RouterPolicy {
  toolAllowed(name: string): boolean;
  /** Whether tools/list results need filtering. */
  readonly filtersTools: boolean;
  /** 0 when allowed, else milliseconds until the client may call this tool again. */
  toolRetryAfterMs(identity: string, tool: string): number;
}

export interface RouterOptions {
  upstream: Upstream;
  policy: RouterPolicy;
  metrics: GatewayMetrics;
  log: Logger;
  /** Per-session mode: the router serves one session and passes its handshake through. */
  perSession: boolean;
  requestTimeoutMs: number;
  /** How long a request waits for a (re)starting server before it fails. */
  readyWaitMs: number;
  /** Bytes queued towards the server beyond which new requests are refused. */
  maxBacklogBytes?: number;
  /** A list_changed or resources/updated notification, for the 2026 subscriptions/listen streams. */
  onServerEvent?: (message: JsonRpcNotification) => void;
  /** Signs the requestState of input_required results (2026-07-28 clients); without it they are refused. */
  requestStates?: RequestStateCodec;
  /** How long an input_required result waits for the client's retry. */
  inputTimeoutMs?: number;
  /** Where audit lines go (default: the logger). */
  audit?: AuditWriter;
}

interface Pending {
  id: number;
  session: ClientSession;
  clientId: JsonRpcId;
  method: string;
  tool?: string;
  argKeys?: string[];
  started: number;
  deadline: number;
  sink: Sink;
  clientToken?: JsonRpcId;
  gatewayToken?: number;
  /** resources/subscribe: the URI, to undo the local record if the server refuses. */
  uri?: string;
  /** tools/call, prompts/get: the name; resources/read: the URI (what a 2026 retry must repeat). */
  target?: unknown;
  /** A 2026-07-28 call the server asked input for. */
  flow?: InputFlow;
}

/** A server request waiting for a 2026-07-28 client's answer. */
interface InputRequest {
  serverId: JsonRpcId;
  method: string;
  params?: Params;
}

/** A 2026-07-28 call whose server asked for client input (see the module comment). */
interface InputFlow {
  id: string;
  pending: Pending;
  identity: string;
  method: string;
  /** The tool or prompt name, or the resource URI: a retry must continue the same request. */
  target: unknown;
  round: number;
  seq: number;
  /** Server requests the client has not answered yet, by inputRequests key. */
  open: Map<string, InputRequest>;
  /** An input_required result went out; no exchange is attached until the client retries. */
  parked: boolean;
  /** A round is about to go out (it gathers the server requests of the next few milliseconds). */
  asking: boolean;
  /** performance.now() after which a parked flow gives up. */
  deadline: number;
  /** The server's answer, when it came while the flow was parked. */
  final?: JsonRpcResponse;
}

const MCP_PARAMS_PROBLEM = 'Invalid params: params must be an object (MCP requests take named parameters)';

/** The refusal of a request whose id is that of a request still in flight on the same session. */
function duplicateIdProblem(id: JsonRpcId): string {
  const shown = clip(JSON.stringify(id), 64);
  return `Invalid Request: id ${shown} is already used by a request in flight on this session; give each request its own id`;
}

/** How long an input_required round waits for more server requests before it goes out. */
const INPUT_GATHER_MS = 5;

/** Methods whose 2026-07-28 results may be input_required. */
const INPUT_METHODS = new Set(['tools/call', 'prompts/get', 'resources/read']);

function targetOf(request: JsonRpcRequest): unknown {
  return request.method === 'resources/read' ? request.params?.uri : request.params?.name;
}

interface Outbound {
  session: ClientSession;
  serverId: JsonRpcId;
}

type Attribution = { session: ClientSession; pending?: Pending } | 'none' | 'ambiguous';

const CAPABILITY_OF: Record<string, string> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

export class Router {
  readonly sessions = new Set<ClientSession>();
  readonly upstream: Upstream;
  private readonly options: RouterOptions;
  private readonly policy: RouterPolicy;
  private readonly metrics: GatewayMetrics;
  private readonly log: Logger;
  private readonly audit: AuditWriter;
  private nextId = 1;
  private nextToken = 1;
  private nextOutbound = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly progress = new Map<number, number>();
  private readonly outbound = new Map<string, Outbound>();
  private readonly inflight = new Map<ClientSession, number>();
  private readonly flows = new Map<string, InputFlow>();
  private logLevel?: Params;
  private toolsRead?: Promise<void>;
  private toolsChanged = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: RouterOptions) {
    this.options = options;
    this.upstream = options.upstream;
    this.policy = options.policy;
    this.metrics = options.metrics;
    this.log = options.log;
    this.audit = options.audit ?? loggerAudit(options.log);
    this.upstream.onmessage = (m) => this.fromServer(m);
    this.upstream.onstate = (state) => {
      if (state === 'restarting' || state === 'stopped') this.failAll();
      if (state === 'ready' && this.upstream.restarts > 0) this.replayState();
      if (state === 'ready') this.refreshTools();
    };
    this.sweeper = setInterval(() => this.sweep(), 1000);
    this.sweeper.unref();
  }

  /** Requests in flight through this router. */
  get inflightCount(): number {
    return this.pending.size;
  }

  attach(session: ClientSession): void {
    this.sessions.add(session);
  }

  /**
   * A 2026-07-28 `subscriptions/listen` stream watching resources (that revision has no resources/subscribe:
   * listen streams replace it). The server is subscribed to a URI while any session or stream holds it, once;
   * `detach` undoes it when the stream closes.
   */
  watch(session: ClientSession, uris: readonly string[]): void {
    this.attach(session);
    for (const uri of uris) {
      if (session.subscriptions.has(uri)) continue;
      const held = this.subscriberCount(uri) > 0;
      session.subscriptions.add(uri);
      if (held || !this.upstream.ready) continue; // held: already subscribed; not ready: the restart replays it
      void this.upstream.request('resources/subscribe', { uri }, 10_000).then((answer) => {
        if (!answer.error) return;
        // Not subscribed after all: nothing to undo on detach, nothing to replay after a restart.
        session.subscriptions.delete(uri);
        this.log.warn({ error: clip(answer.error.message) }, 'the server refused a listen subscription');
      });
    }
  }

  /** The session ended: cancel its requests, refuse its server requests, drop its subscriptions. */
  detach(session: ClientSession): void {
    if (!this.sessions.delete(session) && !this.inflight.has(session)) return;
    for (const gwId of session.pendingByClientId.values()) {
      const p = this.pending.get(gwId);
      if (!p) continue;
      this.finish(p);
      this.upstream.send({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: gwId, reason: 'client session closed' },
      });
      if (p.method === 'tools/call') this.record(p, 'cancelled');
      // A POST still waiting on this request gets an answer instead of hanging.
      p.sink.respond(errorResponse(p.clientId, SERVER_ERROR, 'the session was closed'));
    }
    for (const [downId, o] of this.outbound) {
      if (o.session !== session) continue;
      this.outbound.delete(downId);
      this.upstream.send(errorResponse(o.serverId, INTERNAL_ERROR, 'the client session closed'));
    }
    for (const uri of session.subscriptions) {
      if (this.subscriberCount(uri) === 0 && this.upstream.ready) {
        void this.upstream.request('resources/unsubscribe', { uri }, 10_000);
      }
    }
    session.subscriptions.clear();
  }

  close(): void {
    clearInterval(this.sweeper);
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
      if (request.method === 'tools/call') this.record(this.transient(session, request), 'invalid');
      sink.respond(errorResponse(request.id, INVALID_PARAMS, meta));
      return;
    }
    switch (request.method) {
      case 'initialize':
        this.initialize(session, request, sink);
        return;
      case 'ping':
        sink.respond(resultResponse(request.id, {}));
        return;
      case 'tools/call': {
        const name = params?.name;
        if (typeof name === 'string') {
          if (!this.metrics.tools.accepts(name)) {
            this.record(this.transient(session, request, name), 'invalid');
            sink.respond(errorResponse(request.id, INVALID_PARAMS, toolNameProblem(name)));
            return;
          }
          if (!this.policy.toolAllowed(name)) {
            const p = this.transient(session, request, name);
            this.record(p, 'denied');
            sink.respond(
              errorResponse(request.id, INVALID_PARAMS, `Tool ${name} is not available through this gateway`),
            );
            return;
          }
          const wait = this.policy.toolRetryAfterMs(session.identity, name);
          if (wait > 0) {
            const p = this.transient(session, request, name);
            this.record(p, 'rate_limited');
            this.metrics.rateLimited.inc({ scope: 'tool' });
            const retryAfterSeconds = Math.ceil(wait / 1000);
            sink.respond(
              errorResponse(
                request.id,
                RATE_LIMITED,
                `Rate limit for tool ${name} exceeded; retry after ${retryAfterSeconds} s`,
                { retryAfterSeconds },
              ),
            );
            return;
          }
        }
        break;
      }
      case 'resources/subscribe':
      case 'resources/unsubscribe': {
        const uri = params?.uri;
        if (typeof uri !== 'string') break;
        const subscribe = request.method === 'resources/subscribe';
        const othersHold = this.subscriberCount(uri, session) > 0;
        if (subscribe) session.subscriptions.add(uri);
        else session.subscriptions.delete(uri);
        if (othersHold) {
          sink.respond(resultResponse(request.id, {}));
          return;
        }
        break;
      }
      case 'logging/setLevel':
        this.logLevel = params;
        break;
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
        const gwId = session.pendingByClientId.get(requestId);
        const p = gwId === undefined ? undefined : this.pending.get(gwId);
        if (!p) return;
        this.finish(p);
        if (p.method === 'tools/call') this.record(p, 'cancelled');
        this.upstream.send({ ...note, params: { ...note.params, requestId: p.id } });
        return;
      }
      case 'notifications/roots/list_changed':
        // Roots are one client's view; a shared server was not told about them.
        if (this.options.perSession) this.upstream.send(note);
        return;
      default:
        this.upstream.send(note);
    }
  }

  handleResponse(session: ClientSession, response: JsonRpcResponse): void {
    session.lastActivity = Date.now();
    const key = typeof response.id === 'string' ? response.id : String(response.id);
    const o = this.outbound.get(key);
    if (!o || o.session !== session) {
      this.log.debug({ session: session.logId }, 'response to an unknown server request dropped');
      return;
    }
    this.outbound.delete(key);
    this.upstream.send({ ...response, id: o.serverId });
  }

  private initialize(session: ClientSession, request: JsonRpcRequest, sink: Sink): void {
    const params = request.params ?? {};
    session.capabilities = isObject(params.capabilities) ? params.capabilities : {};
    session.clientInfo = params.clientInfo;
    const requested = params.protocolVersion;
    if (this.options.perSession && !this.upstream.everStarted) {
      // The session's own process is initialized with the client's own handshake.
      this.upstream
        .start({
          protocolVersion: typeof requested === 'string' ? requested : LATEST_SESSION_PROTOCOL_VERSION,
          capabilities: session.capabilities,
          clientInfo: isObject(params.clientInfo) ? params.clientInfo : { name: 'unknown', version: '0' },
        })
        .catch(() => {});
    }
    const answer = () => {
      const init = this.upstream.initResult;
      if (!init) {
        sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, this.upstream.unavailableReason()));
        return;
      }
      let version = init.protocolVersion;
      if (
        !this.options.perSession &&
        typeof requested === 'string' &&
        (SESSION_PROTOCOL_VERSIONS as readonly string[]).includes(requested)
      ) {
        version = requested;
      }
      session.protocolVersion = version;
      sink.respond(resultResponse(request.id, { ...init, protocolVersion: version }));
    };
    if (this.upstream.ready) answer();
    else
      this.upstream.whenReady(this.options.readyWaitMs).then(answer, (err: Error) => {
        sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, err.message));
      });
  }

  private forward(session: ClientSession, request: JsonRpcRequest, sink: Sink): void {
    if (!this.upstream.ready) {
      this.upstream.whenReady(this.options.readyWaitMs).then(
        () => {
          if (session.closed) sink.respond(errorResponse(request.id, SERVER_ERROR, 'the session closed'));
          else this.forward(session, request, sink);
        },
        (err: Error) => {
          if (request.method === 'tools/call') this.record(this.transient(session, request), 'upstream_failed');
          sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, err.message));
        },
      );
      return;
    }
    if (session.pendingByClientId.has(request.id)) {
      // The id names the call for cancellation, progress and the session's close: a second one in flight would
      // take the first one's place there and leave it running unseen (JSON-RPC: ids are unique per requestor).
      if (request.method === 'tools/call') this.record(this.transient(session, request), 'invalid');
      sink.respond(errorResponse(request.id, INVALID_REQUEST, duplicateIdProblem(request.id)));
      return;
    }
    if (this.upstream.backlog() > (this.options.maxBacklogBytes ?? 16 * 1024 * 1024)) {
      sink.respond(errorResponse(request.id, SERVER_ERROR, 'the MCP server is not keeping up; retry later'));
      return;
    }
    const id = this.nextId++;
    const now = performance.now();
    const p: Pending = {
      id,
      session,
      clientId: request.id,
      method: request.method,
      started: now,
      deadline: now + this.options.requestTimeoutMs,
      sink,
    };
    let params = request.params;
    if (request.method === 'tools/call' && params) {
      p.tool = typeof params.name === 'string' ? params.name : undefined;
      p.argKeys = isObject(params.arguments) ? Object.keys(params.arguments) : [];
    }
    if (request.method === 'resources/subscribe' && typeof params?.uri === 'string') p.uri = params.uri;
    if (session.kind === 'modern' && INPUT_METHODS.has(request.method)) p.target = targetOf(request);
    const clientToken = progressTokenOf(params);
    if (clientToken !== undefined && params) {
      const token = this.nextToken++;
      p.clientToken = clientToken;
      p.gatewayToken = token;
      this.progress.set(token, id);
      params = { ...params, _meta: { ...(params._meta as Params), progressToken: token } };
    }
    this.pending.set(id, p);
    session.pendingByClientId.set(request.id, id);
    this.inflight.set(session, (this.inflight.get(session) ?? 0) + 1);
    const message: JsonRpcRequest =
      params === undefined
        ? { jsonrpc: '2.0', id, method: request.method }
        : { jsonrpc: '2.0', id, method: request.method, params };
    let sent: boolean;
    try {
      sent = this.upstream.send(message);
    } catch (err) {
      // A message the channel cannot encode: refused now, never left in flight for the drain to wait on.
      this.finish(p);
      if (p.method === 'tools/call') this.record(p, 'error', INTERNAL_ERROR);
      const why = err instanceof Error ? err.message : String(err);
      sink.respond(errorResponse(request.id, INTERNAL_ERROR, `the gateway could not forward this request: ${why}`));
      return;
    }
    if (!sent) {
      this.finish(p);
      if (p.method === 'tools/call') this.record(p, 'upstream_failed');
      sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, this.upstream.unavailableReason()));
    }
  }

  /**
   * A tools/call refused before it reached a router (the per-client rate limit): the same metric and audit line
   * as a call refused here, argument keys only.
   */
  recordRefused(session: ClientSession, request: JsonRpcRequest, outcome: string): void {
    if (request.method === 'tools/call') this.record(this.transient(session, request), outcome);
  }

  /** A pending record for a request that never reaches the server (denied, limited), for metrics and audit. */
  private transient(session: ClientSession, request: JsonRpcRequest, tool?: string): Pending {
    const params = request.params;
    const now = performance.now();
    return {
      id: 0,
      session,
      clientId: request.id,
      method: request.method,
      tool: tool ?? (typeof params?.name === 'string' ? params.name : undefined),
      argKeys: isObject(params?.arguments) ? Object.keys(params.arguments) : [],
      started: now,
      deadline: now,
      sink: { related() {}, respond() {} },
    };
  }

  private finish(p: Pending): void {
    this.pending.delete(p.id);
    if (p.gatewayToken !== undefined) this.progress.delete(p.gatewayToken);
    this.untrack(p);
    const flow = p.flow;
    if (flow) {
      // The call is over: its server requests are moot. A parked flow keeps the final answer for the retry.
      this.refuseOpen(flow, 'the client request ended');
      if (!flow.parked) this.flows.delete(flow.id);
    }
  }

  private untrack(p: Pending): void {
    p.session.pendingByClientId.delete(p.clientId);
    const n = (this.inflight.get(p.session) ?? 1) - 1;
    if (n <= 0) this.inflight.delete(p.session);
    else this.inflight.set(p.session, n);
  }

  private record(p: Pending, outcome: string, errorCode?: number, ended = performance.now()): void {
    const seconds = (ended - p.started) / 1000;
    this.metrics.recordToolCall(p.tool ?? '_unknown', outcome, seconds);
    this.audit({
      event: 'tool_call',
      tool: p.tool,
      argumentKeys: p.argKeys,
      client: p.session.identity,
      session: p.session.logId,
      durationMs: Math.round(seconds * 1e5) / 100,
      outcome,
      errorCode,
    });
  }

  // ---- server -> client

  private fromServer(message: JsonRpcMessage): void {
    if ('method' in message) {
      if ('id' in message) this.serverRequest(message as JsonRpcRequest);
      else this.serverNotification(message as JsonRpcNotification);
      return;
    }
    const response = message as JsonRpcResponse;
    const p = typeof response.id === 'number' ? this.pending.get(response.id) : undefined;
    if (!p) return;
    this.finish(p);
    const ended = performance.now();
    const error = response.error;
    if (p.method === 'tools/list' && !error) this.metrics.tools.declareList(response.result);
    if (error) {
      if (p.method === 'resources/subscribe' && p.uri !== undefined) p.session.subscriptions.delete(p.uri);
      p.sink.respond({ jsonrpc: '2.0', id: p.clientId, error });
    } else {
      p.sink.respond({ jsonrpc: '2.0', id: p.clientId, result: this.filterResult(p.method, response.result) });
    }
    // Metrics and the audit line after the answer is on its way: they are not on the client's critical path.
    this.metrics.recordRequest(p.method, error ? 'error' : 'ok');
    if (p.method === 'tools/call') {
      const isError = !error && isObject(response.result) && response.result.isError === true;
      this.record(p, error ? 'error' : isError ? 'tool_error' : 'ok', error?.code, ended);
    }
  }

  private filterResult(method: string, result: unknown): unknown {
    if (method === 'tools/list' && this.policy.filtersTools && isObject(result) && Array.isArray(result.tools)) {
      return {
        ...result,
        tools: result.tools.filter(
          (t: unknown) => isObject(t) && typeof t.name === 'string' && this.policy.toolAllowed(t.name),
        ),
      };
    }
    return result;
  }

  private serverNotification(note: JsonRpcNotification): void {
    const params = note.params;
    switch (note.method) {
      case 'notifications/progress': {
        const token = params?.progressToken;
        const gwId = typeof token === 'number' ? this.progress.get(token) : undefined;
        const p = gwId === undefined ? undefined : this.pending.get(gwId);
        if (!p) {
          this.metrics.droppedMessages.inc({ reason: 'unknown_progress_token' });
          return;
        }
        // A 2026 retry that did not ask for progress has no token to carry it.
        if (p.clientToken === undefined) return;
        p.sink.related({ ...note, params: { ...params, progressToken: p.clientToken } });
        return;
      }
      case 'notifications/cancelled': {
        const serverId = params?.requestId;
        for (const [downId, o] of this.outbound) {
          if (o.serverId !== serverId) continue;
          this.outbound.delete(downId);
          o.session.deliver({ ...note, params: { ...params, requestId: downId } });
        }
        for (const flow of this.flows.values()) {
          for (const [key, r] of flow.open) if (r.serverId === serverId) flow.open.delete(key);
        }
        return;
      }
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
        if (note.method === 'notifications/tools/list_changed') this.refreshTools();
        for (const s of this.sessions) s.deliver(note);
        this.options.onServerEvent?.(note);
        return;
      case 'notifications/resources/updated': {
        const uri = params?.uri;
        for (const s of this.sessions) if (typeof uri === 'string' && s.subscriptions.has(uri)) s.deliver(note);
        this.options.onServerEvent?.(note);
        return;
      }
      default: {
        const target = this.attribute();
        if (target === 'ambiguous') {
          this.metrics.droppedMessages.inc({ reason: 'ambiguous_session' });
          return;
        }
        if (target === 'none') {
          // Nothing is in flight, so no session caused it: a server-wide message.
          for (const s of this.sessions) s.deliver(note);
          return;
        }
        if (target.pending) target.pending.sink.related(note);
        else target.session.deliver(note);
      }
    }
  }

  private serverRequest(request: JsonRpcRequest): void {
    if (request.method === 'ping') {
      this.upstream.send(resultResponse(request.id, {}));
      return;
    }
    const capability = CAPABILITY_OF[request.method];
    const target = this.attribute(capability);
    const refuse = (message: string) => {
      this.metrics.droppedMessages.inc({ reason: 'server_request_refused' });
      this.upstream.send(errorResponse(request.id, INTERNAL_ERROR, message));
    };
    if (target === 'ambiguous') {
      refuse(
        `mcp-operator gateway: cannot tell which client ${request.method} is for (several sessions have calls in flight); ` +
          'run this server with sessions.mode perSession',
      );
      return;
    }
    if (target === 'none') {
      refuse(`mcp-operator gateway: no client session is waiting on this server for ${request.method}`);
      return;
    }
    const session = target.session;
    if (session.kind === 'modern') {
      this.requestInput(target.pending, request, capability, refuse);
      return;
    }
    if (!session.canReceiveRequests) {
      refuse(`the client uses stateless HTTP and cannot receive ${request.method}`);
      return;
    }
    if (capability && !isObject(session.capabilities[capability])) {
      refuse(`the client did not declare the ${capability} capability`);
      return;
    }
    const downId = `gw-${this.nextOutbound++}`;
    this.outbound.set(downId, { session, serverId: request.id });
    const forwarded: JsonRpcRequest = { ...request, id: downId };
    if (target.pending) target.pending.sink.related(forwarded);
    else if (!session.deliver(forwarded)) {
      this.outbound.delete(downId);
      refuse('the client has no open stream to receive the request');
    }
  }

  // ---- 2026-07-28 multi-round-trip input

  /** A server request during a 2026-07-28 call: queue it for the client's next input_required round. */
  private requestInput(
    p: Pending | undefined,
    request: JsonRpcRequest,
    capability: string | undefined,
    refuse: (message: string) => void,
  ): void {
    const codec = this.options.requestStates;
    if (!p || !INPUT_METHODS.has(p.method) || !codec) {
      refuse(
        `the 2026-07-28 client cannot receive ${request.method} during ${p?.method ?? 'this request'} ` +
          '(only tools/call, prompts/get and resources/read can ask the client for input)',
      );
      return;
    }
    if (capability && !isObject(p.session.capabilities[capability])) {
      refuse(`the client did not declare the ${capability} capability`);
      return;
    }
    let flow = p.flow;
    if (!flow) {
      flow = {
        id: codec.newFlowId(),
        pending: p,
        identity: p.session.identity,
        method: p.method,
        target: p.target,
        round: 0,
        seq: 0,
        open: new Map(),
        parked: false,
        asking: false,
        deadline: 0,
      };
      p.flow = flow;
      this.flows.set(flow.id, flow);
    }
    const slash = request.method.indexOf('/');
    const key = `${slash > 0 ? request.method.slice(0, slash) : 'input'}-${++flow.seq}`;
    flow.open.set(key, { serverId: request.id, method: request.method, params: request.params });
    if (!flow.parked && !flow.asking) {
      // Server requests written together (Promise.all on the server) usually travel in one round: the round
      // waits a few milliseconds for the rest. One that misses it goes out in the next round.
      flow.asking = true;
      const f = flow;
      setTimeout(() => {
        f.asking = false;
        this.askClient(f);
      }, INPUT_GATHER_MS);
    }
  }

  /** Answers the client's exchange with an input_required result and parks the call until the retry. */
  private askClient(flow: InputFlow): void {
    const p = flow.pending;
    const codec = this.options.requestStates;
    if (flow.parked || flow.open.size === 0 || !codec || this.pending.get(p.id) !== p) return;
    const inputRequests: Record<string, unknown> = {};
    for (const [key, r] of flow.open) {
      inputRequests[key] = r.params === undefined ? { method: r.method } : { method: r.method, params: r.params };
    }
    const timeout = this.inputTimeoutMs;
    flow.round++;
    flow.parked = true;
    flow.deadline = performance.now() + timeout;
    const requestState = codec.mint(flow.id, flow.round, Date.now() + timeout, flow.identity);
    const sink = p.sink;
    p.sink = {
      // Nobody listens while the client fulfils the requests: progress and log lines have no stream.
      related() {},
      respond: (response) => {
        flow.final = response;
      },
    };
    this.log.debug(
      {
        session: p.session.logId,
        method: p.method,
        tool: p.tool === undefined ? undefined : clip(p.tool),
        round: flow.round,
        inputs: Object.keys(inputRequests),
      },
      'input_required',
    );
    sink.respond(resultResponse(p.clientId, { resultType: 'input_required', inputRequests, requestState }));
  }

  private get inputTimeoutMs(): number {
    return this.options.inputTimeoutMs ?? 10 * 60_000;
  }

  /**
   * A 2026-07-28 retry with `requestState` (and `inputResponses`): the responses go to the server's pending
   * requests and this exchange takes over the original call, which was never re-sent.
   */
  continueRequest(
    session: ClientSession,
    request: JsonRpcRequest,
    state: unknown,
    responses: Record<string, unknown> | undefined,
    sink: Sink,
  ): void {
    session.lastActivity = Date.now();
    const fail = (reason: string) =>
      sink.respond(
        errorResponse(request.id, INVALID_PARAMS, requestStateProblem(reason, this.inputTimeoutMs), {
          reason: 'invalid_request_state',
        }),
      );
    if (typeof state !== 'string') {
      fail(state === undefined ? 'missing' : 'type');
      return;
    }
    const codec = this.options.requestStates;
    if (!codec) {
      fail('unknown');
      return;
    }
    const verified = codec.verify(state, session.identity);
    if (!verified.ok) {
      fail(verified.reason);
      return;
    }
    const flow = this.flows.get(verified.claims.flow);
    if (!flow) {
      fail('unknown');
      return;
    }
    if (flow.identity !== session.identity) {
      fail('identity');
      return;
    }
    if (verified.claims.round !== flow.round) {
      fail('stale');
      return;
    }
    if (!flow.parked) {
      fail('busy');
      return;
    }
    if (request.method !== flow.method || targetOf(request) !== flow.target) {
      fail('method');
      return;
    }
    flow.parked = false;
    if (flow.final) {
      // The server answered while the client was busy: that answer ends the flow.
      this.flows.delete(flow.id);
      sink.respond({ ...flow.final, id: request.id });
      return;
    }
    for (const [key, value] of Object.entries(responses ?? {})) {
      const r = flow.open.get(key);
      if (!r) continue;
      flow.open.delete(key);
      this.upstream.send({ jsonrpc: '2.0', id: r.serverId, result: value });
    }
    // This exchange takes over the call: cancellation, progress and the answer follow the new request id.
    const p = flow.pending;
    this.untrack(p);
    p.session = session;
    p.clientId = request.id;
    p.sink = sink;
    p.deadline = performance.now() + this.options.requestTimeoutMs;
    session.pendingByClientId.set(request.id, p.id);
    this.inflight.set(session, (this.inflight.get(session) ?? 0) + 1);
    const token = progressTokenOf(request.params);
    if (token === undefined) p.clientToken = undefined;
    else if (p.gatewayToken !== undefined) p.clientToken = token;
    // Requests the retry left unanswered, or that the server sent meanwhile, go out in the next round now.
    if (flow.open.size > 0) this.askClient(flow);
  }

  /** The client never came back: the server's requests get an error and its call is cancelled. */
  private expireFlow(flow: InputFlow): void {
    this.flows.delete(flow.id);
    flow.parked = false;
    const seconds = Math.round(this.inputTimeoutMs / 1000);
    this.refuseOpen(flow, `mcp-operator gateway: the client did not answer the input request within ${seconds} s`);
    const p = flow.pending;
    if (flow.final !== undefined || this.pending.get(p.id) !== p) return;
    this.finish(p);
    this.upstream.send({
      jsonrpc: '2.0',
      method: 'notifications/cancelled',
      params: { requestId: p.id, reason: 'the client did not retry with the input responses' },
    });
    if (p.method === 'tools/call') this.record(p, 'input_timeout');
    const tool = p.tool === undefined ? undefined : clip(p.tool);
    this.log.info({ session: p.session.logId, method: p.method, tool }, 'input_required flow timed out');
  }

  private refuseOpen(flow: InputFlow, message: string): void {
    for (const r of flow.open.values()) this.upstream.send(errorResponse(r.serverId, INTERNAL_ERROR, message));
    flow.open.clear();
  }

  /** Which session a server message belongs to (see the module comment). */
  private attribute(capability?: string): Attribution {
    if (this.options.perSession && this.sessions.size === 1) {
      const session = this.sessions.values().next().value as ClientSession;
      return { session, pending: this.latestPending(session) };
    }
    let found: ClientSession | undefined;
    let count = 0;
    let capable: ClientSession | undefined;
    let capableCount = 0;
    for (const s of this.inflight.keys()) {
      count++;
      found = s;
      if (capability && isObject(s.capabilities[capability])) {
        capableCount++;
        capable = s;
      }
    }
    if (count === 0) return 'none';
    if (capability && capableCount === 1 && capable) return { session: capable, pending: this.latestPending(capable) };
    if (count > 1 || !found) return 'ambiguous';
    return { session: found, pending: this.latestPending(found) };
  }

  private latestPending(session: ClientSession): Pending | undefined {
    let last: number | undefined;
    for (const id of session.pendingByClientId.values()) last = id;
    return last === undefined ? undefined : this.pending.get(last);
  }

  private subscriberCount(uri: string, except?: ClientSession): number {
    let n = 0;
    for (const s of this.sessions) if (s !== except && s.subscriptions.has(uri)) n++;
    return n;
  }

  /** The server died (or the drain deadline passed): every request in flight gets a clear error now. */
  failAll(reason?: string): void {
    const exit = this.upstream.lastExit;
    const how = exit?.signal
      ? `killed by ${exit.signal}`
      : exit?.code != null
        ? `exit code ${exit.code}`
        : exit?.reason;
    const message =
      reason ??
      `the MCP server stopped while handling this request (${how ?? 'unknown'}); the gateway is restarting it`;
    for (const p of [...this.pending.values()]) {
      this.finish(p);
      if (p.method === 'tools/call') this.record(p, 'upstream_failed', INTERNAL_ERROR);
      p.sink.respond(errorResponse(p.clientId, INTERNAL_ERROR, message));
    }
    for (const [downId, o] of this.outbound) {
      this.outbound.delete(downId);
      o.session.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: downId } });
    }
  }

  /**
   * The server's tool names (every page, bounded), at each start and after list_changed: metric labels and the
   * tools/call name check know the server's tools even when no client lists them. One read at a time; changes
   * announced meanwhile get one more.
   */
  private refreshTools(): void {
    if (this.toolsRead) {
      this.toolsChanged = true;
      return;
    }
    this.toolsRead = this.discoverTools().finally(() => {
      this.toolsRead = undefined;
      if (!this.toolsChanged) return;
      this.toolsChanged = false;
      this.refreshTools();
    });
  }

  private async discoverTools(): Promise<void> {
    if (!isObject(this.upstream.initResult?.capabilities?.tools)) return;
    let cursor: unknown;
    for (let page = 0; page < 50; page++) {
      const answer = await this.upstream.request('tools/list', cursor === undefined ? {} : { cursor }, 10_000);
      if (answer.error || !isObject(answer.result)) return;
      this.metrics.tools.declareList(answer.result);
      cursor = answer.result.nextCursor;
      if (typeof cursor !== 'string' || cursor === '') return;
    }
  }

  /** After a restart: the new server process gets the subscriptions and log level the sessions hold. */
  private replayState(): void {
    const uris = new Set<string>();
    for (const s of this.sessions) for (const uri of s.subscriptions) uris.add(uri);
    for (const uri of uris) void this.upstream.request('resources/subscribe', { uri }, 10_000);
    if (this.logLevel) void this.upstream.request('logging/setLevel', this.logLevel, 10_000);
  }

  private sweep(): void {
    const now = performance.now();
    if (this.flows.size > 0) {
      for (const flow of [...this.flows.values()]) if (flow.parked && flow.deadline <= now) this.expireFlow(flow);
    }
    if (this.pending.size === 0) return;
    for (const p of [...this.pending.values()]) {
      // A parked call waits on the client, not the server: the input timeout governs it.
      if (p.deadline > now || p.flow?.parked) continue;
      this.finish(p);
      this.upstream.send({
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: p.id, reason: 'gateway request timeout' },
      });
      if (p.method === 'tools/call') this.record(p, 'timeout');
      p.sink.respond(
        errorResponse(
          p.clientId,
          INTERNAL_ERROR,
          `the MCP server did not answer within ${Math.round(this.options.requestTimeoutMs / 1000)} s`,
        ),
      );
    }
  }
}
