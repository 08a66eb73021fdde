/**
 * The aggregate's parts as the gateway's composition root wires them: the aggregate over HTTP channels to the
 * backends' gateways, fed by the backends-file watcher. The root builds its one mux with `front` and `routing`
 * and hands it to `attach`; everything above the mux (HTTP, sessions, policy) is the gateway's own.
 */
import type { Logger } from '../../observability/log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Mux } from '../mux/mux.ts';
import type { Params } from '../protocol/jsonrpc.ts';
import { HttpChannel } from '../upstream/http.ts';
import { StreamableHttpChannel } from '../upstream/streamable-http.ts';
import { Aggregate, type AggregateFront } from './aggregate.ts';
import { BackendsWatcher } from './backends-file.ts';
import type { AggregateRouting } from './routing.ts';

export interface AggregateCoreOptions {
  backendsFile: string;
  tools: { allow: readonly string[]; deny: readonly string[] };
  log: Logger;
  metrics: GatewayMetrics;
  version: string;
  /** The gateway's initialize params towards each backend. */
  initParams: Params;
  /** How often the backends file is re-read beside the directory watch. */
  pollMs?: number;
}

export class AggregateCore {
  readonly front: AggregateFront;
  readonly routing: AggregateRouting;
  private readonly aggregate: Aggregate;
  private readonly watcher: BackendsWatcher;

  constructor(o: AggregateCoreOptions) {
    const log = o.log.child({ component: 'aggregate' });
    this.aggregate = new Aggregate({
      log,
      metrics: o.metrics,
      version: o.version,
      tools: o.tools,
      initParams: o.initParams,
      // Streamable HTTP (every gateway) on node:http; legacy SSE (a server without its gateway) on the SDK's.
      createChannel: (spec, headers) => {
        const backendLog = log.child({ backend: spec.name });
        return spec.transport === 'sse'
          ? new HttpChannel({ url: spec.url, transport: 'sse', log: backendLog, headers })
          : new StreamableHttpChannel({ url: spec.url, log: backendLog, headers });
      },
    });
    this.front = this.aggregate.front;
    this.routing = this.aggregate.routing;
    this.watcher = new BackendsWatcher({
      path: o.backendsFile,
      log,
      intervalMs: o.pollMs,
      onChange: (file) => {
        this.aggregate.apply(file);
        this.front.setLoaded();
      },
    });
    this.front.problem = () => this.watcher.problem;
  }

  attach(mux: Mux): void {
    this.aggregate.attach(mux);
  }

  /** Reads the backends file (not ready until one is valid) and starts watching it. */
  start(): Promise<void> {
    return this.watcher.start();
  }

  async stop(): Promise<void> {
    this.watcher.close();
    await this.aggregate.stop();
  }
}
