/**
 * An in-memory channel for the mux unit tests: a fake upstream (the MuxUpstream interface, in process), sinks
 * that record what a client exchange receives, and a mux wired to both.
 */
import type { AuditRecord } from '../../src/gateway/audit.ts';
import { RequestStateCodec } from '../../src/gateway/input.ts';
import { GatewayMetrics } from '../../src/gateway/metrics.ts';
import { Mux, type MuxOptions, type MuxPolicy } from '../../src/gateway/mux/mux.ts';
import { ClientSession, type SessionKind, type Sink } from '../../src/gateway/mux/session.ts';
import type { MuxUpstream } from '../../src/gateway/mux/upstream.ts';
import type {
  JsonRpcId,
  JsonRpcMessage,
  JsonRpcNotification,
  JsonRpcRequest,
  JsonRpcResponse,
  Params,
} from '../../src/gateway/protocol/jsonrpc.ts';
import type { ChannelCloseInfo } from '../../src/gateway/upstream/channel.ts';
import type { InitializeResult, UpstreamState } from '../../src/gateway/upstream/upstream.ts';
import { createLogger } from '../../src/observability/log.ts';

export class FakeUpstream implements MuxUpstream {
  ready = true;
  restarts = 0;
  everStarted = true;
  lastExit?: ChannelCloseInfo;
  initResult?: InitializeResult = {
    protocolVersion: '2025-11-25',
    capabilities: { resources: { subscribe: true } },
    serverInfo: { name: 'fake', version: '1' },
  };
  onmessage?: (message: JsonRpcMessage) => void;
  onstate?: (state: UpstreamState, info?: ChannelCloseInfo) => void;
  /** Every message the mux sent to the server. */
  readonly sent: JsonRpcMessage[] = [];
  /** The gateway's own requests (subscribe, unsubscribe, setLevel, tools/list). */
  readonly internal: Array<{ method: string; params?: Params }> = [];
  /** The answer to the gateway's own requests. */
  internalAnswer: (method: string) => JsonRpcResponse = () => ({ jsonrpc: '2.0', id: 'internal', result: {} });
  /** Makes send() throw, like a channel that cannot encode a message. */
  throwOnSend?: Error;

  send(message: JsonRpcMessage): boolean {
    if (this.throwOnSend) throw this.throwOnSend;
    if (!this.ready) return false;
    this.sent.push(message);
    return true;
  }

  request(method: string, params: Params | undefined): Promise<JsonRpcResponse> {
    this.internal.push({ method, params });
    return Promise.resolve(this.internalAnswer(method));
  }

  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : Promise.reject(new Error('the fake server is down'));
  }

  backlog(): number {
    return 0;
  }

  unavailableReason(): string {
    return 'the fake server is not connected';
  }

  start(): Promise<void> {
    this.everStarted = true;
    return Promise.resolve();
  }

  /** The server sends a message. */
  emit(message: JsonRpcMessage): void {
    this.onmessage?.(message);
  }

  /** The server's state changes (restarting fails every call, ready replays). */
  setState(state: UpstreamState): void {
    this.ready = state === 'ready';
    this.onstate?.(state);
  }

  /** The requests (with an id) the server received, in order. */
  requests(): JsonRpcRequest[] {
    return this.sent.filter((m): m is JsonRpcRequest => 'method' in m && 'id' in m);
  }

  notifications(method?: string): JsonRpcNotification[] {
    return this.sent.filter(
      (m): m is JsonRpcNotification => 'method' in m && !('id' in m) && (method === undefined || m.method === method),
    );
  }

  responses(): JsonRpcResponse[] {
    return this.sent.filter((m): m is JsonRpcResponse => !('method' in m));
  }

  /** The last request the server received. */
  last(): JsonRpcRequest {
    const all = this.requests();
    const r = all[all.length - 1];
    if (!r) throw new Error('the server received no request');
    return r;
  }
}

/** What one client exchange (an HTTP request) receives. */
export class RecordingSink implements Sink {
  /** Progress, log lines and server requests tied to the request. */
  readonly seen: JsonRpcMessage[] = [];
  readonly responses: JsonRpcResponse[] = [];

  /** What `related` answers: false plays a client that cannot take the message (no stream for it). */
  accepts = true;

  related(message: JsonRpcMessage): boolean {
    this.seen.push(message);
    return this.accepts;
  }

  respond(response: JsonRpcResponse): void {
    this.responses.push(response);
  }

  get response(): JsonRpcResponse | undefined {
    return this.responses[0];
  }
}

/** A session whose standalone stream (GET or SSE) is recorded. */
export function session(
  name: string,
  options: { kind?: SessionKind; capabilities?: Params; identity?: string } = {},
): ClientSession & { delivered: JsonRpcMessage[] } {
  const s = new ClientSession(
    name,
    options.kind ?? 'streamable',
    options.identity ?? `client-${name}`,
  ) as ClientSession & {
    delivered: JsonRpcMessage[];
  };
  s.capabilities = options.capabilities ?? {};
  s.delivered = [];
  s.deliver = (m) => {
    s.delivered.push(m);
    return true;
  };
  return s;
}

export const allowAll: MuxPolicy = { toolAllowed: () => true, filtersTools: false, toolRetryAfterMs: () => 0 };

export interface Harness {
  mux: Mux;
  upstream: FakeUpstream;
  audits: AuditRecord[];
  metrics: GatewayMetrics;
  /** A request from `s` through the mux; returns its sink. */
  call(s: ClientSession, id: JsonRpcId, method: string, params?: Params): RecordingSink;
}

const log = createLogger({ name: 'mux-test', level: 'silent' });

export function harness(options: Partial<MuxOptions> = {}): Harness {
  const upstream = new FakeUpstream();
  const audits: AuditRecord[] = [];
  // Its own metrics: the tool names a test declares do not leak into the next.
  const metrics = new GatewayMetrics();
  const mux = new Mux({
    upstream,
    policy: allowAll,
    metrics,
    log,
    audit: (r) => audits.push(r),
    perSession: false,
    requestTimeoutMs: 30_000,
    readyWaitMs: 1000,
    requestStates: new RequestStateCodec(),
    inputTimeoutMs: 60_000,
    ...options,
  });
  return {
    mux,
    upstream,
    audits,
    metrics,
    call(s, id, method, params) {
      const sink = new RecordingSink();
      const request: JsonRpcRequest =
        params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
      mux.handleRequest(s, request, sink);
      return sink;
    },
  };
}

/** The server answers a request it received. */
export function answer(upstream: FakeUpstream, request: JsonRpcRequest, result: unknown = {}): void {
  upstream.emit({ jsonrpc: '2.0', id: request.id, result });
}

/** The progress token a request the server received carries. */
export function progressTokenSent(request: JsonRpcRequest): unknown {
  const meta = request.params?._meta as { progressToken?: unknown } | undefined;
  return meta?.progressToken;
}

/** The result an exchange got (throws when it got none or an error). */
export function resultOf<T>(sink: RecordingSink): T {
  const result = sink.response?.result;
  if (result === undefined) throw new Error(`no result: ${JSON.stringify(sink.responses)}`);
  return result as T;
}
