/**
 * Prometheus metrics of one gateway (its own registry, so several gateways can live in one process in tests).
 * Names follow the Prometheus conventions promtool checks: counters end in _total, durations are in seconds,
 * every metric has help text, label values are bounded.
 */
import { Counter, collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { DeclaredTools } from './tool-names.ts';

/**
 * The label of every tool and method a client names that the server did not declare (tools) or the MCP
 * specification does not define (methods): one fixed value, so junk names can neither grow the label set nor
 * push real names out of it.
 */
export const UNKNOWN_LABEL = '_unknown';

/** Methods a client may send in any revision the gateway serves (the method label's only values). */
const MCP_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'completion/complete',
  'logging/setLevel',
  'tasks/get',
  'tasks/list',
  'tasks/result',
  'tasks/cancel',
  'server/discover',
  'subscriptions/listen',
]);

/**
 * Per-call counts kept in plain maps and copied into their prom-client counter when /metrics is scraped:
 * prom-client hashes and validates the label set on every inc(), even through a bound child, which was a
 * measurable part of the per-call work.
 */
class Tally {
  private readonly counts = new Map<string, Map<string, number>>();

  add(first: string, second: string): void {
    let inner = this.counts.get(first);
    if (!inner) {
      inner = new Map();
      this.counts.set(first, inner);
    }
    inner.set(second, (inner.get(second) ?? 0) + 1);
  }

  *entries(): Generator<[string, string, number]> {
    for (const [first, inner] of this.counts) for (const [second, n] of inner) yield [first, second, n];
  }
}

/** One line of the exposition, as prom-client's registry formats it. */
interface SampleLine {
  value: number;
  labels: Record<string, string | number>;
  metricName: string;
}

/** One histogram series: counts per bucket (not cumulative), sum and count. */
interface Series {
  buckets: Float64Array;
  sum: number;
  count: number;
}

/**
 * A Prometheus histogram with one label, observed with a bucket scan and three additions. prom-client's own
 * Histogram validates and hashes the label set on every observe(), even through a bound child, which was the
 * gateway's largest own cost per tools/call in a CPU profile (4% of its busy time at one client). Registered
 * in the registry as a custom metric; the exposition is the same as prom-client's.
 */
export class LabelledHistogram {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  private readonly label: string;
  private readonly bounds: number[];
  private readonly series = new Map<string, Series>();

  constructor(options: { name: string; help: string; label: string; buckets: number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.label = options.label;
    this.bounds = [...options.buckets].sort((a, b) => a - b);
  }

  observe(value: string, seconds: number): void {
    let series = this.series.get(value);
    if (!series) {
      series = { buckets: new Float64Array(this.bounds.length), sum: 0, count: 0 };
      this.series.set(value, series);
    }
    let i = 0;
    while (i < this.bounds.length && seconds > (this.bounds[i] as number)) i++;
    if (i < this.bounds.length) series.buckets[i] = (series.buckets[i] as number) + 1;
    series.sum += seconds;
    series.count++;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: SampleLine[] } {
    const values: SampleLine[] = [];
    for (const [value, series] of this.series) {
      let cumulative = 0;
      this.bounds.forEach((bound, i) => {
        cumulative += series.buckets[i] as number;
        values.push({
          value: cumulative,
          labels: { le: bound, [this.label]: value },
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({
        value: series.count,
        labels: { le: '+Inf', [this.label]: value },
        metricName: `${this.name}_bucket`,
      });
      values.push({ value: series.sum, labels: { [this.label]: value }, metricName: `${this.name}_sum` });
      values.push({ value: series.count, labels: { [this.label]: value }, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

export class GatewayMetrics {
  readonly registry = new Registry();
  readonly toolCalls: Counter<'tool' | 'outcome'>;
  readonly toolCallDuration: LabelledHistogram;
  readonly rpcRequests: Counter<'method' | 'outcome'>;
  readonly activeSessions: Gauge<'transport'>;
  readonly sessionsClosed: Counter<'reason'>;
  readonly childRestarts: Counter;
  readonly childUp: Gauge;
  readonly httpResponses: Counter<'code'>;
  readonly rateLimited: Counter<'scope'>;
  readonly droppedMessages: Counter<'reason'>;
  readonly stalledStreams: Counter<'stream'>;
  readonly inflightRequests: Gauge;
  /** An aggregate's backends: tool calls by backend and outcome, and which backends serve (1) or not (0). */
  readonly backendToolCalls: Counter<'backend' | 'outcome'>;
  readonly backendUp: Gauge<'backend'>;
  /** What the in-flight gauge reads when scraped (the gateway sets it). */
  inflightSource: () => number = () => 0;
  /** The server's tools: the only tool label values besides UNKNOWN_LABEL. */
  readonly tools = new DeclaredTools();
  private readonly toolTally = new Tally();
  private readonly requestTally = new Tally();
  private readonly backendTally = new Tally();
  private readonly httpTally = new Map<number, number>();

  constructor() {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'mcp_gateway_' });
    // prom-client names these gauges *_total, which promtool rejects; the process metrics cover the same ground.
    for (const name of [
      'nodejs_active_handles_total',
      'nodejs_active_requests_total',
      'nodejs_active_resources_total',
    ]) {
      this.registry.removeSingleMetric(`mcp_gateway_${name}`);
    }
    const toolTally = this.toolTally;
    const requestTally = this.requestTally;
    const httpTally = this.httpTally;
    this.toolCalls = new Counter({
      name: 'mcp_gateway_tool_calls_total',
      help: 'tools/call requests by tool and outcome (ok, tool_error, error, denied, invalid, rate_limited, upstream_failed, timeout, input_timeout, cancelled)',
      labelNames: ['tool', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [tool, outcome, n] of toolTally.entries()) this.inc({ tool, outcome }, n);
      },
    });
    this.toolCallDuration = new LabelledHistogram({
      name: 'mcp_gateway_tool_call_duration_seconds',
      help: 'Duration of tools/call requests through the gateway, from receipt to response',
      label: 'tool',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
    this.registry.registerMetric(this.toolCallDuration as never);
    this.rpcRequests = new Counter({
      name: 'mcp_gateway_rpc_requests_total',
      help: 'JSON-RPC requests from clients by method and outcome (ok, error)',
      labelNames: ['method', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [method, outcome, n] of requestTally.entries()) this.inc({ method, outcome }, n);
      },
    });
    this.activeSessions = new Gauge({
      name: 'mcp_gateway_active_sessions',
      help: 'Open client sessions by transport (streamable_http, sse)',
      labelNames: ['transport'],
      registers,
    });
    this.sessionsClosed = new Counter({
      name: 'mcp_gateway_sessions_closed_by_gateway_total',
      help: 'Sessions the gateway closed, by reason (idle_timeout, handshake_timeout, evicted, evicted_per_client)',
      labelNames: ['reason'],
      registers,
    });
    this.childRestarts = new Counter({
      name: 'mcp_gateway_child_restarts_total',
      help: 'Restarts of the MCP server child process (or reconnects to the upstream in proxy mode)',
      registers,
    });
    this.childUp = new Gauge({
      name: 'mcp_gateway_child_up',
      help: 'Number of MCP server children (or upstream connections) that are initialized and serving',
      registers,
    });
    this.httpResponses = new Counter({
      name: 'mcp_gateway_http_responses_total',
      help: 'HTTP responses sent on the MCP port by status code',
      labelNames: ['code'],
      registers,
      collect() {
        this.reset();
        for (const [code, n] of httpTally) this.inc({ code: String(code) }, n);
      },
    });
    this.rateLimited = new Counter({
      name: 'mcp_gateway_rate_limited_total',
      help: 'Requests refused by a rate limit, by scope (client, tool)',
      labelNames: ['scope'],
      registers,
    });
    this.droppedMessages = new Counter({
      name: 'mcp_gateway_dropped_messages_total',
      help: 'Messages the gateway could not attribute or deliver (from the server, or to one not reading), by reason',
      labelNames: ['reason'],
      registers,
    });
    this.stalledStreams = new Counter({
      name: 'mcp_gateway_stalled_streams_closed_total',
      help: 'Event streams closed because the client stopped reading (unsent bytes past the limit, or a 2026-07-28 stream that made no progress), by stream (get, post, sse, modern)',
      labelNames: ['stream'],
      registers,
    });
    const inflight = () => this.inflightSource();
    this.inflightRequests = new Gauge({
      name: 'mcp_gateway_inflight_requests',
      help: 'Client requests forwarded to the server and not answered yet (what a drain waits for)',
      registers,
      collect() {
        this.set(inflight());
      },
    });
    const backendTally = this.backendTally;
    this.backendToolCalls = new Counter({
      name: 'mcp_gateway_backend_tool_calls_total',
      help: 'Aggregate gateway: tools/call requests by backend (McpServer) and outcome',
      labelNames: ['backend', 'outcome'],
      registers,
      collect() {
        this.reset();
        for (const [backend, outcome, n] of backendTally.entries()) this.inc({ backend, outcome }, n);
      },
    });
    this.backendUp = new Gauge({
      name: 'mcp_gateway_backend_up',
      help: 'Aggregate gateway: 1 when the backend (McpServer) is connected and serving, else 0',
      labelNames: ['backend'],
      registers,
    });
    for (const t of ['streamable_http', 'sse']) this.activeSessions.set({ transport: t }, 0);
  }

  /** One finished (or refused) tools/call of an aggregate's backend; backend names come from the backends file. */
  recordBackendCall(backend: string, outcome: string): void {
    this.backendTally.add(backend, outcome);
  }

  /** One finished tools/call. */
  recordToolCall(tool: string, outcome: string, seconds: number): void {
    const label = this.toolLabel(tool);
    this.toolTally.add(label, outcome);
    this.toolCallDuration.observe(label, seconds);
  }

  recordRequest(method: string, outcome: 'ok' | 'error'): void {
    this.requestTally.add(this.methodLabel(method), outcome);
  }

  recordHttp(code: number): void {
    this.httpTally.set(code, (this.httpTally.get(code) ?? 0) + 1);
  }

  toolLabel(name: string): string {
    return this.tools.has(name) ? name : UNKNOWN_LABEL;
  }

  methodLabel(method: string): string {
    return MCP_METHODS.has(method) ? method : UNKNOWN_LABEL;
  }
}
