/**
 * `mcp-operator gateway aggregate`: many McpServers behind one endpoint, on the gateway's own core. One mux,
 * many upstreams: the mux gets this aggregate's routing and one link per backend; the HTTP layer, sessions,
 * policy, limits, replicas and every client era are the gateway's own, unchanged.
 *
 * - membership follows the backends file (`apply`): a backend that joins is connected and linked, one that
 *   leaves is unlinked (its calls fail naming it) and disconnected, one whose names change is renamed in
 *   place; sessions are never dropped;
 * - after every change (membership, a backend's lists, a backend up or down) the view is rebuilt and clients
 *   get list_changed for the lists that changed;
 * - `front` is what the HTTP layer and readiness read: ready once the backends file is loaded, whatever the
 *   backends' state, with the combined handshake.
 */
import type { AggregateBackend, AggregateBackendsFile } from '../../contract/aggregate.ts';
import { type BackendNaming, describeConflict, type NameProblem } from '../../contract/virtual-names.ts';
import type { Logger } from '../../observability/log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Mux } from '../mux/mux.ts';
import type { MuxUpstream } from '../mux/upstream.ts';
import type { JsonRpcMessage, JsonRpcResponse, Params } from '../protocol/jsonrpc.ts';
import { LATEST_SESSION_PROTOCOL_VERSION } from '../protocol/versions.ts';
import type { Channel, ChannelCloseInfo } from '../upstream/channel.ts';
import type { InitializeResult, UpstreamState } from '../upstream/upstream.ts';
import { Backend } from './backend.ts';
import { AggregateRouting } from './routing.ts';
import { type AggregateView, buildView, changedLists, listResult } from './view.ts';

export interface AggregateOptions {
  log: Logger;
  metrics: GatewayMetrics;
  version: string;
  /** The overall allow/deny, on exposed tool names. */
  tools: { allow: readonly string[]; deny: readonly string[] };
  /** The gateway's initialize params towards each backend. */
  initParams: Params;
  createChannel: (spec: AggregateBackend, headers: () => Promise<Record<string, string>>) => Channel;
  healthIntervalMs?: number;
  backoffMaxMs?: number;
}

/** Whether a backend must be reconnected for this change (its endpoint or credential moved). */
const connectionChanged = (a: AggregateBackend, b: AggregateBackend) =>
  a.url !== b.url || a.transport !== b.transport || a.tokenFile !== b.tokenFile;

const naming = (spec: AggregateBackend, listedAt: number): BackendNaming => ({
  name: spec.name,
  prefix: spec.prefix,
  tools: spec.tools,
  listedAt,
});

export class Aggregate {
  readonly routing: AggregateRouting;
  readonly front: AggregateFront;
  private readonly o: AggregateOptions;
  private readonly backends = new Map<string, Backend>();
  private order: AggregateBackend[] = [];
  private view: AggregateView;
  private mux?: Mux;

  constructor(options: AggregateOptions) {
    this.o = options;
    this.view = buildView([], options.tools);
    this.routing = new AggregateRouting({
      view: () => this.view,
      backend: (name) => this.backends.get(name),
      backends: () => this.backends.values(),
    });
    this.front = new AggregateFront(combinedInitialize(options.version), () => this.view);
  }

  /** The mux this aggregate routes for (built with `routing` and `front`). */
  attach(mux: Mux): void {
    this.mux = mux;
    for (const b of this.backends.values()) mux.link(b, false);
  }

  get currentView(): AggregateView {
    return this.view;
  }

  /** A new backends file: joins, leaves and renames, without dropping a session. */
  apply(file: AggregateBackendsFile): void {
    const wanted = new Map(file.backends.map((b) => [b.name, b]));
    for (const [name, backend] of this.backends) {
      const next = wanted.get(name);
      if (next && !connectionChanged(backend.spec, next)) continue;
      this.remove(
        backend,
        next ? `backend ${name} moved to a new endpoint` : `backend ${name} left the virtual server`,
      );
    }
    for (const spec of file.backends) {
      const current = this.backends.get(spec.name);
      if (current) current.spec = spec;
      else this.add(spec);
    }
    this.order = file.backends;
    this.rebuild();
  }

  private add(spec: AggregateBackend): void {
    const backend = new Backend({
      spec,
      log: this.o.log,
      metrics: this.o.metrics,
      initParams: this.o.initParams,
      onChange: () => this.rebuild(),
      createChannel: this.o.createChannel,
      healthIntervalMs: this.o.healthIntervalMs,
      backoffMaxMs: this.o.backoffMaxMs,
    });
    this.backends.set(spec.name, backend);
    this.mux?.link(backend, false);
    backend.start().catch(() => {});
    this.o.log.info({ backend: spec.name, url: spec.url }, 'backend joined');
  }

  private remove(backend: Backend, reason: string): void {
    this.backends.delete(backend.label);
    this.mux?.unlink(backend, reason);
    void backend.stop();
    this.o.log.info({ backend: backend.label, reason }, 'backend left');
  }

  /** Names and lists again; clients hear of the lists that changed. */
  rebuild(): void {
    const before = this.view;
    const viewBackends = this.order.flatMap((spec, i) => {
      const b = this.backends.get(spec.name);
      return b ? [{ naming: naming(spec, i), up: b.ready, offered: b.offered }] : [];
    });
    this.view = buildView(viewBackends, this.o.tools);
    this.o.metrics.tools.declareList(listResult(this.view, 'tool'));
    // Each conflict once, when it appears (status and Events carry it too, from the controller).
    const conflicts = this.view.catalog.conflicts.map(describeConflict);
    const known = new Set(before.catalog.conflicts.map(describeConflict));
    for (const c of conflicts) if (!known.has(c)) this.o.log.warn({ conflict: c }, 'name conflict: an item is hidden');
    // And each name that cannot be exposed (a prefix or rename making it invalid): hidden, so say so once.
    const problem = (p: NameProblem) => `${p.kind} ${p.original} of ${p.backend} as ${p.exposed}: ${p.fix}`;
    const knownProblems = new Set(before.catalog.problems.map(problem));
    for (const p of this.view.catalog.problems) {
      if (!knownProblems.has(problem(p)))
        this.o.log.warn({ problem: problem(p) }, 'invalid exposed name: an item is hidden');
    }
    for (const method of changedLists(before, this.view)) this.mux?.listChanged(method);
  }

  async stop(): Promise<void> {
    const all = [...this.backends.values()];
    this.backends.clear();
    await Promise.all(all.map((b) => b.stop()));
  }
}

/** The aggregate's own handshake: every capability a backend may bring, since backends come and go. */
function combinedInitialize(version: string): InitializeResult {
  return {
    protocolVersion: LATEST_SESSION_PROTOCOL_VERSION,
    capabilities: {
      tools: { listChanged: true },
      prompts: { listChanged: true },
      resources: { subscribe: true, listChanged: true },
      completions: {},
      logging: {},
    },
    serverInfo: { name: 'mcp-operator-aggregate', version },
  };
}

/**
 * The aggregate as one server, for what reads the mux's `upstream`: the HTTP layer (the handshake, 2026
 * discovery), readiness (its ping). Never sent client traffic: the routing's backends get that.
 */
export class AggregateFront implements MuxUpstream {
  readonly restarts = 0;
  readonly everStarted = true;
  readonly initResult: InitializeResult;
  onmessage?: (message: JsonRpcMessage) => void;
  onstate?: (state: UpstreamState, info?: ChannelCloseInfo) => void;
  private loaded = false;
  /** Why the backends file is not loaded (the watcher's latest reason). */
  problem: () => string = () => 'the backends file has not been read yet';
  private readonly view: () => AggregateView;
  private waiters: Array<() => void> = [];

  constructor(init: InitializeResult, view: () => AggregateView) {
    this.initResult = init;
    this.view = view;
  }

  get ready(): boolean {
    return this.loaded;
  }

  /** The backends file was loaded: ready from now on (a later bad file keeps the last good list). */
  setLoaded(): void {
    if (this.loaded) return;
    this.loaded = true;
    for (const w of this.waiters.splice(0)) w();
  }

  send(): boolean {
    return false;
  }

  request(method: string, _params: Params | undefined): Promise<JsonRpcResponse> {
    const id = `__gw:front`;
    if (method === 'tools/list')
      return Promise.resolve({ jsonrpc: '2.0', id, result: listResult(this.view(), 'tool') });
    return Promise.resolve({ jsonrpc: '2.0', id, result: {} });
  }

  whenReady(timeoutMs?: number): Promise<void> {
    if (this.loaded) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer =
        timeoutMs === undefined ? undefined : setTimeout(() => reject(new Error(this.unavailableReason())), timeoutMs);
      this.waiters.push(() => {
        if (timer) clearTimeout(timer);
        resolve();
      });
    });
  }

  backlog(): number {
    return 0;
  }

  unavailableReason(): string {
    return this.loaded ? 'the aggregate gateway is serving' : this.problem();
  }

  start(): Promise<void> {
    return Promise.resolve();
  }
}
