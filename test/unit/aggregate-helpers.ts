/**
 * An aggregate over in-memory MCP servers for the unit tests: each FakeServer answers initialize and its lists
 * over a Channel (so the real Upstream and Backend run above it), records the client traffic it gets, and can
 * die and come back. The aggregate's mux is the gateway's own Mux.
 */
import type { AggregateBackend } from '../../src/contract/aggregate.ts';
import { Aggregate } from '../../src/gateway/aggregate/aggregate.ts';
import type { AuditRecord } from '../../src/gateway/audit.ts';
import { RequestStateCodec } from '../../src/gateway/input.ts';
import { GatewayMetrics } from '../../src/gateway/metrics.ts';
import { Mux } from '../../src/gateway/mux/mux.ts';
import type { ClientSession } from '../../src/gateway/mux/session.ts';
import type { JsonRpcId, JsonRpcMessage, JsonRpcRequest, Params } from '../../src/gateway/protocol/jsonrpc.ts';
import type { Channel, ChannelCloseInfo } from '../../src/gateway/upstream/channel.ts';
import { createLogger } from '../../src/observability/log.ts';
import { allowAll, RecordingSink } from './mux-helpers.ts';

type Item = Record<string, unknown>;

export class FakeServer {
  tools: Item[] = [];
  prompts: Item[] = [];
  resources: Item[] = [];
  templates: Item[] = [];
  /** Client requests and notifications the server got (not the gateway's own initialize, lists, pings). */
  readonly received: JsonRpcMessage[] = [];
  /** tools/call is answered at once with "<tool> from <server>"; false: the test answers. */
  autoAnswer = true;
  /** Refuses connections while true. */
  down = false;
  /** The next this many tools/list fail (the backend's own rate limit, say). */
  listErrors = 0;
  private channel?: FakeChannel;
  readonly name: string;

  constructor(name: string, items: Partial<Pick<FakeServer, 'tools' | 'prompts' | 'resources' | 'templates'>> = {}) {
    this.name = name;
    Object.assign(this, items);
  }

  newChannel(): Channel {
    this.channel = new FakeChannel(this);
    return this.channel;
  }

  /** The server sends a message on its live connection. */
  emit(message: JsonRpcMessage): void {
    this.channel?.deliver(message);
  }

  /** The connection drops (the backend died). */
  die(): void {
    this.down = true;
    this.channel?.drop();
  }

  requests(method?: string): JsonRpcRequest[] {
    return this.received.filter(
      (m): m is JsonRpcRequest => 'method' in m && 'id' in m && (method === undefined || m.method === method),
    );
  }

  answer(id: JsonRpcId, result: unknown): void {
    this.emit({ jsonrpc: '2.0', id, result });
  }

  /** What the server answers (undefined: the test answers). */
  handle(request: JsonRpcRequest): unknown {
    const internal = typeof request.id === 'string' && request.id.startsWith('__gw:');
    if (!internal) this.received.push(request);
    switch (request.method) {
      case 'initialize':
        return {
          protocolVersion: '2025-11-25',
          capabilities: { tools: { listChanged: true }, prompts: {}, resources: { subscribe: true } },
          serverInfo: { name: this.name, version: '1' },
        };
      case 'ping':
        return {};
      case 'tools/list':
        return { tools: this.tools };
      case 'prompts/list':
        return { prompts: this.prompts };
      case 'resources/list':
        return { resources: this.resources };
      case 'resources/templates/list':
        return { resourceTemplates: this.templates };
      case 'tools/call':
        return this.autoAnswer
          ? { content: [{ type: 'text', text: `${request.params?.name} from ${this.name}` }] }
          : undefined;
      default:
        return internal || this.autoAnswer ? {} : undefined;
    }
  }
}

class FakeChannel implements Channel {
  onmessage?: (message: unknown) => void;
  onclose?: (info: ChannelCloseInfo) => void;
  readonly description = 'fake';
  private closed = false;
  private readonly server: FakeServer;

  constructor(server: FakeServer) {
    this.server = server;
  }

  start(): Promise<void> {
    return this.server.down ? Promise.reject(new Error('connection refused')) : Promise.resolve();
  }

  send(message: JsonRpcMessage): boolean {
    if (this.closed) return false;
    if (!('method' in message)) {
      this.server.received.push(message);
      return true;
    }
    if (!('id' in message)) {
      if (message.method !== 'notifications/initialized') this.server.received.push(message);
      return true;
    }
    const request = message as JsonRpcRequest;
    if (request.method === 'tools/list' && this.server.listErrors > 0) {
      this.server.listErrors--;
      const error = { code: -32000, message: 'upstream MCP server failed this request: HTTP 429 (Too many requests)' };
      queueMicrotask(() => this.deliver({ jsonrpc: '2.0', id: request.id, error }));
      return true;
    }
    const result = this.server.handle(request);
    if (result !== undefined) queueMicrotask(() => this.deliver({ jsonrpc: '2.0', id: request.id, result }));
    return true;
  }

  deliver(message: JsonRpcMessage): void {
    if (!this.closed) this.onmessage?.(message);
  }

  drop(): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.({ reason: 'connection lost' });
  }

  backlog(): number {
    return 0;
  }

  async close(): Promise<void> {
    this.drop();
  }
}

export interface AggregateHarness {
  aggregate: Aggregate;
  mux: Mux;
  servers: Map<string, FakeServer>;
  audits: AuditRecord[];
  metrics: GatewayMetrics;
  call(s: ClientSession, id: JsonRpcId, method: string, params?: Params): RecordingSink;
  close(): Promise<void>;
}

const log = createLogger({ name: 'aggregate-test', level: 'silent' });

export function backend(name: string, extra: Partial<AggregateBackend> = {}): AggregateBackend {
  return { name, url: `http://${name}.test:8080/mcp`, transport: 'streamable-http', ...extra };
}

export function aggregateHarness(
  servers: FakeServer[],
  tools: { allow: string[]; deny: string[] } = { allow: [], deny: [] },
): AggregateHarness {
  const byName = new Map(servers.map((s) => [s.name, s]));
  const metrics = new GatewayMetrics();
  const audits: AuditRecord[] = [];
  const aggregate = new Aggregate({
    log,
    metrics,
    version: 'test',
    tools,
    initParams: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'test', version: '0' } },
    createChannel: (spec) => {
      const server = byName.get(spec.name);
      if (!server) throw new Error(`no fake server ${spec.name}`);
      return server.newChannel();
    },
    healthIntervalMs: 60_000,
    backoffMaxMs: 10,
  });
  const mux = new Mux({
    upstream: aggregate.front,
    routing: aggregate.routing,
    policy: allowAll,
    metrics,
    log,
    audit: (r) => audits.push(r),
    perSession: false,
    requestTimeoutMs: 30_000,
    readyWaitMs: 200,
    requestStates: new RequestStateCodec(),
    inputTimeoutMs: 60_000,
  });
  aggregate.attach(mux);
  return {
    aggregate,
    mux,
    servers: byName,
    audits,
    metrics,
    call(s, id, method, params) {
      const sink = new RecordingSink();
      const request: JsonRpcRequest =
        params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params };
      mux.handleRequest(s, request, sink);
      return sink;
    },
    async close() {
      mux.close();
      await aggregate.stop();
    },
  };
}
