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
 */
import type { Logger } from '../observability/log.ts';
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  isObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  LATEST_SESSION_PROTOCOL_VERSION,
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
  private nextId = 1;
  private nextToken = 1;
  private nextOutbound = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly progress = new Map<number, number>();
  private readonly outbound = new Map<string, Outbound>();
  private readonly inflight = new Map<ClientSession, number>();
  private logLevel?: Params;
  private readonly sweeper: NodeJS.Timeout;

  constructor(options: RouterOptions) {
    this.options = options;
    this.upstream = options.upstream;
    this.policy = options.policy;
    this.metrics = options.metrics;
    this.log = options.log;
    this.upstream.onmessage = (m) => this.fromServer(m);
    this.upstream.onstate = (state) => {
      if (state === 'restarting' || state === 'stopped') this.failAll();
      if (state === 'ready' && this.upstream.restarts > 0) this.replayState();
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
    if (!this.upstream.send(message)) {
      this.finish(p);
      if (p.method === 'tools/call') this.record(p, 'upstream_failed');
      sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, this.upstream.unavailableReason()));
    }
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
    p.session.pendingByClientId.delete(p.clientId);
    const n = (this.inflight.get(p.session) ?? 1) - 1;
    if (n <= 0) this.inflight.delete(p.session);
    else this.inflight.set(p.session, n);
  }

  private record(p: Pending, outcome: string, errorCode?: number): void {
    const seconds = (performance.now() - p.started) / 1000;
    this.metrics.recordToolCall(p.tool ?? '_unknown', outcome, seconds);
    // One nested object: the shared logger's wildcard redaction then has one key to walk, not nine.
    this.log.info(
      {
        audit: {
          event: 'tool_call',
          tool: p.tool,
          argumentKeys: p.argKeys,
          client: p.session.identity,
          session: p.session.logId,
          durationMs: Math.round(seconds * 1e5) / 100,
          outcome,
          ...(errorCode === undefined ? {} : { errorCode }),
        },
      },
      'tool call',
    );
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
    let out: JsonRpcResponse;
    if (response.error) {
      out = { jsonrpc: '2.0', id: p.clientId, error: response.error };
      this.metrics.recordRequest(p.method, 'error');
      if (p.method === 'resources/subscribe' && p.uri !== undefined) p.session.subscriptions.delete(p.uri);
    } else {
      this.metrics.recordRequest(p.method, 'ok');
      out = { jsonrpc: '2.0', id: p.clientId, result: this.filterResult(p.method, response.result) };
    }
    if (p.method === 'tools/call') {
      const isError = !response.error && isObject(response.result) && response.result.isError === true;
      this.record(p, response.error ? 'error' : isError ? 'tool_error' : 'ok', response.error?.code);
    }
    p.sink.respond(out);
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
        return;
      }
      case 'notifications/tools/list_changed':
      case 'notifications/prompts/list_changed':
      case 'notifications/resources/list_changed':
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

  /** After a restart: the new server process gets the subscriptions and log level the sessions hold. */
  private replayState(): void {
    const uris = new Set<string>();
    for (const s of this.sessions) for (const uri of s.subscriptions) uris.add(uri);
    for (const uri of uris) void this.upstream.request('resources/subscribe', { uri }, 10_000);
    if (this.logLevel) void this.upstream.request('logging/setLevel', this.logLevel, 10_000);
  }

  private sweep(): void {
    if (this.pending.size === 0) return;
    const now = performance.now();
    for (const p of [...this.pending.values()]) {
      if (p.deadline > now) continue;
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
