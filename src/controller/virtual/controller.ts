/**
 * The VirtualMcpServer side of the controller: its own informers (VirtualMcpServers, the backends ConfigMaps),
 * work queue and workers, beside the McpServer ones, sharing the manager's client, caches, Events and leadership.
 * The manager calls three hooks: `onMcpServer` (any McpServer event, status included: membership and readiness
 * change the aggregate), `claims` (a child, pod or route event that belongs here), and start/stop.
 */
import type { V1Pod } from '@kubernetes/client-node';
import { VIRTUAL_KIND } from '../../api/schema.ts';
import type { McpServer, VirtualMcpServer } from '../../api/types.generated.ts';
import type { KubeClient } from '../../kube/client.ts';
import type { Cached, InformerEvent } from '../../kube/informer.ts';
import type { ControllerMetrics } from '../../observability/controller-metrics.ts';
import type { Logger } from '../../observability/log.ts';
import type { ChildKind } from '../../render/index.ts';
import { componentOf, LABEL_COMPONENT, LABEL_INSTANCE } from '../../render/metadata.ts';
import type { EventRecorder } from '../events.ts';
import type { OperatorIdentity } from '../gates.ts';
import type { GatewayApi } from '../gateway-api.ts';
import { WorkQueue } from '../queue.ts';
import type { ReferencedObject, Store } from '../reconcile.ts';
import { VIRTUALMCPSERVERS, VirtualReconciler } from './reconcile.ts';

/** Builds a watched cache (the manager's, so namespaces and start-up are shared). */
export type InformerFactory = <T extends Cached>(
  type: { apiVersion: string; plural: string },
  onEvent: (event: InformerEvent, object: T) => void,
  extra?: { labelSelector?: string; optional?: boolean },
) => Store<T>;

export interface VirtualControllerOptions {
  client: KubeClient;
  informer: InformerFactory;
  mcpservers: Store<McpServer & Cached>;
  children: Record<ChildKind, Store<Cached>>;
  foreign?: Record<ChildKind, Store<Cached>> | undefined;
  secrets: Store<ReferencedObject>;
  configMaps: Store<ReferencedObject>;
  pods: Store<V1Pod & Cached>;
  gatewayImage: string;
  operator?: OperatorIdentity | undefined;
  events: EventRecorder;
  log: Logger;
  metrics?: ControllerMetrics | undefined;
  gatewayApi?: GatewayApi | undefined;
  /** A VirtualMcpServer changed that has an McpServer's name (namespace/name): that McpServer may need a pass. */
  onNameShared?: (key: string) => void;
}

const VIRTUAL_COMPONENT = componentOf({ kind: VIRTUAL_KIND });

export class VirtualController {
  private readonly o: VirtualControllerOptions;
  private readonly queue = new WorkQueue({ baseDelayMs: 200, maxDelayMs: 300_000 });
  private readonly reconciler: VirtualReconciler;
  private readonly virtualservers: Store<VirtualMcpServer & Cached>;
  private readonly generations = new Map<string, number | undefined>();
  private workers: Promise<void>[] = [];

  constructor(options: VirtualControllerOptions) {
    this.o = options;
    // Optional: an operator upgraded before its VirtualMcpServer CRD keeps serving McpServers.
    this.virtualservers = options.informer<VirtualMcpServer & Cached>(
      VIRTUALMCPSERVERS,
      (e, o) => this.onVirtualServer(e, o),
      { optional: true },
    );
    const configMaps = options.informer<Cached>({ apiVersion: 'v1', plural: 'configmaps' }, (_e, o) => this.claims(o), {
      labelSelector: `${LABEL_COMPONENT}=${VIRTUAL_COMPONENT}`,
    });
    this.reconciler = new VirtualReconciler({
      client: options.client,
      caches: {
        virtualservers: this.virtualservers,
        mcpservers: options.mcpservers,
        children: { ...options.children, ConfigMap: configMaps },
        // The ConfigMap cache of referenced objects holds every ConfigMap: it answers for the names.
        foreign: options.foreign && { ...options.foreign, ConfigMap: options.configMaps },
        secrets: options.secrets,
        configMaps: options.configMaps,
        pods: options.pods,
      },
      gatewayImage: options.gatewayImage,
      operator: options.operator,
      events: options.events,
      log: options.log,
      metrics: options.metrics,
      gatewayApi: options.gatewayApi,
    });
  }

  enqueue(key: string): void {
    this.queue.add(key);
  }

  /** Our own status writes come back as updates: only a new generation needs work. */
  private onVirtualServer(event: InformerEvent, object: VirtualMcpServer & Cached): void {
    const key = `${object.metadata.namespace}/${object.metadata.name}`;
    const generation = object.metadata.generation;
    if (event === 'update' && this.generations.get(key) === generation && !object.metadata.deletionTimestamp) return;
    if (event === 'delete') this.generations.delete(key);
    else this.generations.set(key, generation);
    this.enqueue(key);
    if (event !== 'update' && this.o.mcpservers.get(object.metadata.namespace, object.metadata.name)) {
      this.o.onNameShared?.(key);
    }
  }

  /** The VirtualMcpServer cache (the McpServer reconciler reads it for one of its own name). */
  get servers(): Store<VirtualMcpServer & Cached> {
    return this.virtualservers;
  }

  /** Any McpServer event, status writes included: a backend joined, left, became Ready or found new tools. */
  onMcpServer(object: McpServer & Cached): void {
    for (const key of this.reconciler.affectedBy(object)) this.enqueue(key);
  }

  /** True (and queued) when the object is a VirtualMcpServer's child, pod or route. */
  claims(object: Cached): boolean {
    const owner = object.metadata.ownerReferences?.find((r) => r.controller);
    const ours =
      owner?.kind === VIRTUAL_KIND ||
      (!owner?.kind?.startsWith('Mcp') && object.metadata.labels?.[LABEL_COMPONENT] === VIRTUAL_COMPONENT);
    const name = owner?.kind === VIRTUAL_KIND ? owner.name : object.metadata.labels?.[LABEL_INSTANCE];
    if (!ours || !name) return false;
    this.enqueue(`${object.metadata.namespace}/${name}`);
    return true;
  }

  /** After the caches synced and leadership was won. */
  start(workers: number): void {
    for (const vmcp of this.virtualservers.list()) this.enqueue(`${vmcp.metadata.namespace}/${vmcp.metadata.name}`);
    for (let i = 0; i < workers; i++) this.workers.push(this.work());
  }

  resyncAll(): void {
    for (const vmcp of this.virtualservers.list()) this.enqueue(`${vmcp.metadata.namespace}/${vmcp.metadata.name}`);
  }

  private async work(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      const end = this.o.metrics?.reconcileDuration.startTimer();
      try {
        const outcome = await this.reconciler.reconcile(key);
        if (outcome.result === 'success') {
          this.queue.forget(key);
          if (outcome.recheckAfterMs) this.queue.addAfter(key, outcome.recheckAfterMs);
          this.o.metrics?.reconciles.inc({ result: 'success' });
        } else {
          const delay = this.queue.addRateLimited(key);
          this.o.metrics?.reconciles.inc({ result: 'requeue' });
          this.o.log.info({ virtualmcpserver: key, reason: outcome.reason, retryInMs: delay }, 'waiting; will retry');
        }
      } catch (err) {
        const delay = this.queue.addRateLimited(key);
        this.o.metrics?.reconciles.inc({ result: 'error' });
        this.o.log.warn({ virtualmcpserver: key, err: String(err), retryInMs: delay }, 'reconcile failed; will retry');
      } finally {
        end?.();
        this.queue.done(key);
      }
    }
  }

  async stop(): Promise<void> {
    this.queue.shutdown();
    await Promise.all(this.workers);
  }
}
