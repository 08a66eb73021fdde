/**
 * Wires the controller: informers feed a work queue, workers reconcile one McpServer at a time, a Lease
 * decides who acts, and :8081 serves /healthz, /readyz and /metrics. Caches warm up before leadership is
 * won, so a standby takes over with no relist.
 */
import { createServer, type Server } from 'node:http';
import type { KubeConfig, V1Pod } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import { KubeClient } from '../kube/client.ts';
import { type Cached, Informer, type InformerEvent } from '../kube/informer.ts';
import { createControllerMetrics } from '../observability/controller-metrics.ts';
import type { Logger } from '../observability/log.ts';
import { CHILD_KINDS, type ChildKind } from '../render/index.ts';
import { LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from '../render/metadata.ts';
import { projectChild, projectMcpServer, projectName, projectPod, projectReferenced } from './cache-transforms.ts';
import { discoveryCredential } from './discovery-credential.ts';
import { DiscoveryRunner } from './discovery-runner.ts';
import { EventRecorder } from './events.ts';
import type { OperatorIdentity } from './gates.ts';
import { GatewayApi } from './gateway-api.ts';
import { LeaderElector } from './leader.ts';
import { WorkQueue } from './queue.ts';
import { type Caches, FIELD_MANAGER, MCPSERVERS, Reconciler, type ReferencedObject, type Store } from './reconcile.ts';
import { conditionOf } from './status.ts';
import { VirtualController } from './virtual/controller.ts';

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  /** Namespaces to watch; empty: all. */
  namespaces: string[];
  gatewayImage: string;
  /** Who the controller runs as (the pod's namespace and ServiceAccount): see gates.ts operatorAccountGate. */
  operator?: OperatorIdentity;
  workers: number;
  leaderElection?: { namespace: string; name: string; identity: string } | undefined;
  health: { host: string; port: number };
  /** Re-reconcile everything this often as a safety net (no writes when nothing changed); 0: never. */
  resyncMs: number;
  log: Logger;
  /** Use the Gateway API (HTTPRoutes) when its CRDs are installed (default true; false: never touch it). */
  gatewayApi?: boolean;
  /** Called when the process must exit (lost leadership). */
  onFatal: (reason: string) => void;
}

/**
 * A referenced Secret or ConfigMap changed: its McpServers reconcile once it had no change for CONFIG_QUIET_MS (at
 * most CONFIG_MAX_WAIT_MS after the first), so a burst of edits (a script, a sync tool) rolls the pods once.
 */
const CONFIG_QUIET_MS = 1_000;
const CONFIG_MAX_WAIT_MS = 10_000;

const ownerIndex = (namespace: string | undefined, instance: string) => `${namespace}/${instance}`;
/** Children and pods by the McpServer they belong to (its instance label), for pruning and status. */
const byInstance = (object: Cached) => {
  const instance = object.metadata.labels?.[LABEL_INSTANCE];
  return instance ? ownerIndex(object.metadata.namespace, instance) : undefined;
};

/**
 * Status reads pods only for containers that cannot start: a pod added without container states yet (just
 * created, not scheduled) cannot say so, and its McpServer's Deployment event already woke it.
 */
const podMatters = (event: InformerEvent, pod: V1Pod) =>
  event !== 'add' || !!(pod.status?.containerStatuses?.length || pod.status?.initContainerStatuses?.length);

/** Several per-namespace informers behind one lookup. */
class InformerSet<T extends Cached> implements Store<T> {
  readonly informers: Informer<T>[];
  constructor(informers: Informer<T>[]) {
    this.informers = informers;
  }
  get(namespace: string | undefined, name: string): T | undefined {
    for (const informer of this.informers) {
      const hit = informer.get(namespace, name);
      if (hit) return hit;
    }
    return undefined;
  }
  list(): T[] {
    return this.informers.flatMap((i) => i.list());
  }
  owned(namespace: string | undefined, instance: string): T[] {
    return this.informers.flatMap((i) => i.indexed(ownerIndex(namespace, instance)));
  }
  /** Told of every write remembered (its watch event may then never come). */
  onRemember?: (object: T) => void;
  remember(object: Cached, readVersion: string | undefined): void {
    const ns = object.metadata.namespace;
    this.informers.find((i) => i.namespace === undefined || i.namespace === ns)?.remember(object, readVersion);
    this.onRemember?.(object as T);
  }
}

export class Manager {
  private readonly o: ManagerOptions;
  readonly metrics = createControllerMetrics();
  readonly queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 300_000 });
  readonly client: KubeClient;
  private readonly informers: Informer<Cached>[] = [];
  private readonly caches: Caches;
  private readonly reconciler: Reconciler;
  private readonly gatewayApi: GatewayApi;
  /** VirtualMcpServers: their own queue and workers, fed by the same caches (controller/virtual/). */
  private readonly virtual: VirtualController;
  /** Tool discovery for Ready McpServers: started and stopped here, read by status (discovery-runner.ts). */
  private readonly discoveries: DiscoveryRunner;
  private readonly generations = new Map<string, number | undefined>();
  private elector: LeaderElector | undefined;
  private server: Server | undefined;
  private workers: Promise<void>[] = [];
  private resyncTimer: NodeJS.Timeout | undefined;
  private synced = false;
  healthPort = 0;

  constructor(options: ManagerOptions) {
    this.o = options;
    this.client = new KubeClient(options.kubeConfig, {
      // The identity in the User-Agent lets audit logs tell replicas apart.
      userAgent: `mcp-operator/controller (${options.leaderElection?.identity ?? 'no-leader-election'})`,
      observe: (verb, resource, code) => this.metrics.kubeRequests.inc({ verb, resource, code: String(code) }),
    });
    const scopes = options.namespaces.length ? options.namespaces : [undefined];
    const set = <T extends Cached>(
      type: { apiVersion: string; plural: string },
      onEvent: (event: InformerEvent, object: T) => void,
      extra: {
        labelSelector?: string;
        transform?: (o: Cached) => T;
        indexBy?: (o: T) => string | undefined;
        optional?: boolean;
        metadataOnly?: boolean;
      } = {},
    ) => {
      const informers = scopes.map(
        (namespace) => new Informer<T>({ client: this.client, type, namespace, onEvent, log: options.log, ...extra }),
      );
      this.informers.push(...(informers as unknown as Informer<Cached>[]));
      return new InformerSet<T>(informers);
    };
    const children = Object.fromEntries(
      CHILD_KINDS.map((type) => [
        type.kind,
        set<Cached>(type, (_e, o) => this.enqueueOwner(o), {
          labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
          transform: projectChild,
          indexBy: byInstance,
        }),
      ]),
    ) as unknown as Record<ChildKind, Store<Cached>>;
    // Everyone else's objects of the same kinds, names only: a name in neither cache is free (live-child.ts).
    const foreign = Object.fromEntries(
      CHILD_KINDS.map((type) => [
        type.kind,
        set<Cached>(type, (e, o) => e === 'delete' && this.onForeignGone(o), {
          labelSelector: `${LABEL_MANAGED_BY}!=${MANAGED_BY}`,
          metadataOnly: true,
          transform: projectName,
        }),
      ]),
    ) as unknown as Record<ChildKind, Store<Cached>>;
    const referenced = (kind: 'Secret' | 'ConfigMap') => (e: InformerEvent, o: ReferencedObject) => {
      // A VirtualMcpServer's own Secrets (session key, backend credentials) wake it when changed or deleted.
      if (kind === 'Secret' && this.virtual.claims(o)) return;
      // An McpServer's session key changed: its aggregates mint their credentials for it again.
      const owner = o.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'McpServer');
      const server =
        owner && kind === 'Secret' ? this.caches.mcpservers.get(o.metadata.namespace, owner.name) : undefined;
      if (server) {
        this.virtual.onMcpServer(server);
        // Its own Secret edited or deleted by hand: the reconcile repairs it (the create needs no pass).
        if (e !== 'add') this.enqueue(`${o.metadata.namespace}/${owner?.name}`);
      }
      for (const key of this.reconciler.referencing(kind, o.metadata.namespace ?? '', o.metadata.name))
        this.queue.addQuiet(key, CONFIG_QUIET_MS, CONFIG_MAX_WAIT_MS);
    };
    const mcpservers = set<McpServer & Cached>(MCPSERVERS, (e, o) => this.onMcpServer(e, o), {
      transform: projectMcpServer,
    });
    this.caches = {
      mcpservers,
      children,
      foreign,
      secrets: set({ apiVersion: 'v1', plural: 'secrets' }, referenced('Secret'), { transform: projectReferenced }),
      configMaps: set({ apiVersion: 'v1', plural: 'configmaps' }, referenced('ConfigMap'), {
        transform: projectReferenced,
      }),
      // A pod that cannot pull its image or crash-loops changes no Deployment field: only its own status says so.
      pods: set<V1Pod & Cached>(
        { apiVersion: 'v1', plural: 'pods' },
        (e, o) => podMatters(e, o) && this.enqueueOwner(o),
        {
          labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
          transform: projectPod,
          indexBy: byInstance,
        },
      ),
    };
    this.gatewayApi = new GatewayApi({
      client: this.client,
      scopes,
      log: options.log,
      enabled: options.gatewayApi ?? true,
      fieldManager: FIELD_MANAGER,
      metrics: this.metrics,
      onRouteEvent: (route) => this.enqueueOwner(route),
    });
    const events = new EventRecorder(this.client, options.leaderElection?.identity ?? 'mcp-operator', options.log);
    this.discoveries = new DiscoveryRunner({
      log: options.log,
      requeue: (key) => this.enqueue(key),
      credential: (key) => discoveryCredential(this.client, key),
    });
    this.reconciler = new Reconciler({
      gatewayApi: this.gatewayApi,
      client: this.client,
      caches: this.caches,
      gatewayImage: options.gatewayImage,
      ...(options.operator ? { operator: options.operator } : {}),
      events,
      log: options.log,
      metrics: this.metrics,
      discovered: (key, fingerprint) => this.discoveries.result(key, fingerprint),
    });
    this.virtual = new VirtualController({
      ...this.caches,
      client: this.client,
      informer: (type, onEvent, extra) => set(type, onEvent, extra),
      gatewayImage: options.gatewayImage,
      operator: options.operator,
      events,
      log: options.log,
      metrics: this.metrics,
      gatewayApi: this.gatewayApi,
      // A VirtualMcpServer that comes or goes may free or take the name of an McpServer (gates.ts).
      onNameShared: (key) => this.enqueue(key),
    });
    this.caches.virtualservers = this.virtual.servers;
    // The reconciler writes McpServer status through to the cache, so the watch may bring no event for it: a
    // backend's readiness and tools must still reach its aggregates.
    mcpservers.onRemember = (object) => this.virtual.onMcpServer(object);
  }

  private enqueue(key: string): void {
    this.queue.add(key);
    this.metrics.queueDepth.set(this.queue.depth);
  }

  /** Our own status writes come back as updates too: only a new generation (spec change) needs work. */
  private onMcpServer(event: InformerEvent, object: McpServer & Cached): void {
    this.virtual.onMcpServer(object); // status too: a backend's readiness and tools change its aggregates
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const generation = object.metadata.generation;
    if (event === 'update' && this.generations.get(key) === generation && !object.metadata.deletionTimestamp) return;
    if (event === 'delete') this.generations.delete(key);
    else this.generations.set(key, generation);
    this.enqueue(key);
  }

  /** Someone's object gone may be what blocked the McpServer of its name (ChildConflict): try it now. */
  private onForeignGone(object: Cached): void {
    const { namespace, name } = object.metadata;
    if (this.caches.mcpservers.get(namespace, name)) this.enqueue(`${namespace}/${name}`);
  }

  private enqueueOwner(object: Cached): void {
    if (this.virtual.claims(object)) {
      // A VirtualMcpServer's child gone may be what held an McpServer of its name back.
      const { namespace, labels } = object.metadata;
      const name = labels?.[LABEL_INSTANCE];
      if (name && this.caches.mcpservers.get(namespace, name)) this.enqueue(`${namespace}/${name}`);
      return;
    }
    const owner = object.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'McpServer');
    const name = owner?.name ?? object.metadata.labels?.[LABEL_INSTANCE];
    if (name) this.enqueue(`${object.metadata.namespace}/${name}`);
  }

  async start(): Promise<void> {
    await this.startHealthServer();
    await Promise.all([...this.informers.map((i) => i.start()), this.gatewayApi.start()]);
    this.synced = true;
    this.o.log.info(
      {
        namespaces: this.o.namespaces.length ? this.o.namespaces : 'all',
        mcpservers: this.caches.mcpservers.list().length,
      },
      'caches synced',
    );
    if (this.o.leaderElection) {
      this.elector = new LeaderElector({ client: this.client, log: this.o.log, ...this.o.leaderElection });
      await this.elector.acquire(() => this.o.onFatal('lost leadership'));
      if (!this.elector.isLeader) return; // stopped while waiting
    }
    this.metrics.leader.set(1);
    for (let i = 0; i < this.o.workers; i++) this.workers.push(this.work());
    this.virtual.start(this.o.workers);
    if (this.o.resyncMs > 0) {
      this.resyncTimer = setInterval(() => {
        for (const mcp of this.caches.mcpservers.list()) this.enqueue(`${mcp.metadata.namespace}/${mcp.metadata.name}`);
        this.virtual.resyncAll();
      }, this.o.resyncMs);
      this.resyncTimer.unref();
    }
    this.o.log.info({ workers: this.o.workers }, 'controller started');
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.metrics.queueDepth.set(this.queue.depth);
      const end = this.metrics.reconcileDuration.startTimer();
      try {
        const outcome = await this.reconciler.reconcile(key);
        if (outcome.result === 'success') {
          if (outcome.gone) this.discoveries.forget(key);
          if (outcome.ready) this.discoveries.ensure(outcome.ready);
          this.queue.forget(key);
          if (outcome.recheckAfterMs) this.queue.addAfter(key, outcome.recheckAfterMs);
          this.metrics.reconciles.inc({ result: 'success' });
        } else {
          const delay = this.queue.addRateLimited(key);
          this.metrics.reconciles.inc({ result: 'requeue' });
          this.o.log.info({ mcpserver: key, reason: outcome.reason, retryInMs: delay }, 'waiting; will retry');
        }
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.metrics.reconciles.inc({ result: 'error' });
        this.o.log.warn({ mcpserver: key, err: String(err), retryInMs: delay }, 'reconcile failed; will retry');
      } finally {
        end();
        this.queue.done(key);
      }
    }
  }

  private async startHealthServer(): Promise<void> {
    this.server = createServer(async (req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path === '/healthz') {
        res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      } else if (path === '/readyz') {
        res
          .writeHead(this.synced ? 200 : 503, { 'content-type': 'text/plain' })
          .end(this.synced ? 'ok\n' : 'caches not synced\n');
      } else if (path === '/metrics') {
        this.countConditions();
        res
          .writeHead(200, { 'content-type': this.metrics.registry.contentType })
          .end(await this.metrics.registry.metrics());
      } else {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      }
    });
    await new Promise<void>((ok, fail) => {
      this.server?.once('error', fail);
      this.server?.listen(this.o.health.port, this.o.health.host, () => ok());
    });
    const address = this.server.address();
    this.healthPort = typeof address === 'object' && address ? address.port : this.o.health.port;
    this.o.log.info({ port: this.healthPort }, 'health and metrics listening');
  }

  private countConditions(): void {
    this.metrics.mcpservers.reset();
    for (const mcp of this.caches.mcpservers.list()) {
      for (const type of ['Ready', 'Available', 'Degraded'] as const) {
        const status = conditionOf(mcp.status, type)?.status ?? 'Unknown';
        this.metrics.mcpservers.inc({ condition: type, status });
      }
    }
  }

  /** Finish in-flight reconciles, hand the lease over, stop watching. */
  async stop(): Promise<void> {
    clearInterval(this.resyncTimer);
    this.discoveries.stop();
    this.queue.shutdown();
    await Promise.all([...this.workers, this.virtual.stop()]);
    await this.elector?.release();
    this.metrics.leader.set(0);
    for (const informer of this.informers) informer.stop();
    this.gatewayApi.stop();
    await new Promise((ok) => (this.server ? this.server.close(ok) : ok(undefined)));
  }
}
