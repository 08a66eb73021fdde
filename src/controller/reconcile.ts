/**
 * One reconcile of one McpServer: validate, check references, render, apply what changed (server-side apply),
 * delete what is no longer wanted, write status only when it changed. Reads come from the informer caches,
 * so a world that already matches the spec costs no request at all.
 */
import type { KubernetesObject, V1Deployment, V1Ingress, V1Pod, V1Service } from '@kubernetes/client-node';
import type { McpServer, McpServerStatus } from '../api/types.generated.ts';
import { isNotFound, KubeApiError, type KubeClient, resourcePath } from '../kube/client.ts';
import type { Cached } from '../kube/informer.ts';
import type { ControllerMetrics } from '../observability/controller-metrics.ts';
import type { Logger } from '../observability/log.ts';
import {
  CHILD_KINDS,
  type ChildKind,
  externalURL,
  HTTPROUTE_TYPE,
  type HTTPRoute,
  referencedObjects,
  renderChildren,
  serviceURL,
} from '../render/index.ts';
import { ANNOTATION_SPEC_HASH, commonLabels, ownerReference, selectorLabels } from '../render/metadata.ts';
import { renderIngress } from '../render/network.ts';
import type { ObjectReference } from '../render/references.ts';
import { sessionSecretName } from '../render/workload.ts';
import { APPLY_STAGES, applyStages, EXPOSURE_KINDS } from './apply-stages.ts';
import { canonicalJSON, needsApply, referencesHash, withSpecHash } from './compare.ts';
import type { Discovery } from './discovery.ts';
import { type DiscoveryTarget, discoveryFingerprint, discoveryTarget } from './discovery-runner.ts';
import type { EventRecorder } from './events.ts';
import {
  childConflict,
  controlledBy,
  ingressConflict,
  missingReference,
  nameHeldByOther,
  nameTaken,
  type OperatorIdentity,
  operatorAccountGate,
  parseSpec,
  type ReferencedObject,
  reservedEnvFromKey,
  STOPPED_BY,
  sessionSecretGate,
} from './gates.ts';
import type { GatewayApi, RouteOutcome } from './gateway-api.ts';
import { liveChild } from './live-child.ts';
import { type HeldBack, isRefusal, type Refusal, refusalBlocker } from './refusal.ts';
import { writeSessionSecret } from './session-key.ts';
import { type Blocker, computeStatus, conditionOf, deletingStatus } from './status.ts';

export type { ReferencedObject } from './gates.ts';
export const FIELD_MANAGER = 'mcp-operator';
export const MCPSERVERS = { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' };

export interface Store<T> {
  get(namespace: string | undefined, name: string): T | undefined;
  list(): T[];
  /** The objects labelled as an McpServer's (app.kubernetes.io/instance), from an index: no scan of the cache. */
  owned(namespace: string | undefined, instance: string): T[];
  /** Write-through of what a write of ours returned (kube/informer.ts); absent: wait for the watch. */
  remember?(object: Cached, readVersion: string | undefined): void;
}

export interface Caches {
  mcpservers: Store<McpServer & Cached>;
  children: Record<ChildKind, Store<Cached>>;
  /** Everyone else's objects of the child kinds, by name only (live-child.ts); absent: read the API server. */
  foreign?: Record<ChildKind, Store<Cached>>;
  secrets: Store<ReferencedObject>;
  configMaps: Store<ReferencedObject>;
  /** The operator's pods (a projection: names, labels, container states), read for status. */
  pods: Store<V1Pod & Cached>;
  /** VirtualMcpServers, for one of the same name (gates.ts nameHeldByOther); absent: none are served. */
  virtualservers?: Store<Cached>;
}

export interface ReconcilerOptions {
  client: KubeClient;
  caches: Caches;
  gatewayImage: string;
  /** Admitted by NetworkPolicies for tool discovery (render/network.ts); its ServiceAccount is not lent (gates.ts). */
  operator?: OperatorIdentity;
  events: EventRecorder;
  log: Logger;
  metrics?: ControllerMetrics;
  now?: () => string;
  /** What tool discovery found for this rollout (the Manager runs it; discovery-runner.ts); absent: nothing. */
  discovered?: (key: string, fingerprint: string) => Discovery | undefined;
  /** HTTPRoutes (Gateway API); absent: spec.httpRoute is only rendered, never applied. */
  gatewayApi?: GatewayApi;
}

/**
 * success: converged as far as it can now (recheck later if set). `ready`: status says Ready, and this is what
 * the Manager may discover; `gone`: the McpServer no longer exists. requeue: a blocker; retry with backoff.
 */
export type Outcome =
  | { result: 'success'; recheckAfterMs?: number; ready?: DiscoveryTarget; gone?: boolean }
  | { result: 'requeue'; reason: string };

/** After applying a Deployment, its watch events bring the status to report; this is the fallback. */
const STATUS_RECHECK_MS = 5_000;

/** The resourceVersion the cache held when a child was read: a child read from the API server was not cached. */
const fromCache = new WeakSet<KubernetesObject>();
const cachedVersion = (read: KubernetesObject | undefined) =>
  read && fromCache.has(read) ? read.metadata?.resourceVersion : undefined;

const refKey = (kind: string, namespace: string, name: string) => `${kind}/${namespace}/${name}`;

export class Reconciler {
  private readonly o: ReconcilerOptions;
  /** Which McpServers read which Secret/ConfigMap, so a change there wakes exactly them. */
  private readonly refIndex = new Map<string, Set<string>>();
  private readonly refsByServer = new Map<string, string[]>();
  /** Per McpServer key: reconciles in a row whose apply got a 5xx (see refusal.ts). */
  private readonly serverErrors = new Map<string, number>();
  /** Per McpServer key: the generation whose status write waited for the Deployment's first watch event. */
  private readonly statusDeferred = new Map<string, number>();

  constructor(options: ReconcilerOptions) {
    this.o = options;
  }

  /** McpServer keys (namespace/name) that reference this Secret or ConfigMap. */
  referencing(kind: 'Secret' | 'ConfigMap', namespace: string, name: string): string[] {
    return [...(this.refIndex.get(refKey(kind, namespace, name)) ?? [])];
  }

  private indexRefs(key: string, namespace: string, refs: ObjectReference[]): void {
    for (const old of this.refsByServer.get(key) ?? []) this.refIndex.get(old)?.delete(key);
    const keys = refs.map((r) => refKey(r.kind, namespace, r.name));
    for (const k of keys) {
      if (!this.refIndex.has(k)) this.refIndex.set(k, new Set());
      this.refIndex.get(k)?.add(key);
    }
    this.refsByServer.set(key, keys);
  }

  /**
   * Read top to bottom: each gate either passes or names a blocker, and every blocker leaves through block().
   * Reads come from the caches; writes happen only where a step needs them.
   */
  async reconcile(key: string): Promise<Outcome> {
    const [namespace = '', name = ''] = key.split('/');
    const mcp = this.o.caches.mcpservers.get(namespace, name);
    if (!mcp || mcp.metadata.deletionTimestamp) {
      this.indexRefs(key, namespace, []); // children go with it: garbage collection follows ownerReferences
      this.serverErrors.delete(key);
      this.statusDeferred.delete(key);
      if (mcp) await this.writeStatus(mcp, deletingStatus(mcp, (this.o.now ?? isoNow)())); // a finalizer may hold it
      return { result: 'success', gone: true };
    }

    const parsed = parseSpec(mcp);
    if ('blocker' in parsed) return this.block(mcp, mcp, parsed.blocker, { retry: false });
    const { spec } = parsed;
    const twin = this.o.caches.virtualservers?.get(namespace, name);
    if (twin && nameHeldByOther(mcp, twin, this.o.caches.children.Service.get(namespace, name))) {
      // What it made before it saw the other (both created at once) is in the other's way: gone.
      await this.pruneObsolete(mcp, []);
      return this.block(mcp, spec, nameTaken('VirtualMcpServer', 'McpServer', namespace, name), { retry: false });
    }

    const refs = referencedObjects(spec);
    this.indexRefs(key, namespace, refs);
    const { desired, route } = this.render(spec, refs);

    const sessionSecret = sessionSecretGate(
      mcp,
      spec.spec.gateway.enabled,
      sessionSecretName(spec),
      this.o.caches.secrets.get(namespace, sessionSecretName(spec)),
    );
    const lookup = (kind: ObjectReference['kind'], ref: string) => this.referenced(kind).get(namespace, ref);
    const early =
      operatorAccountGate('McpServer', namespace, spec.spec.pod, this.o.operator) ??
      missingReference(namespace, refs, lookup) ??
      reservedEnvFromKey(namespace, spec, lookup) ??
      ingressConflict(mcp, desired, this.o.caches.children.Ingress.list() as Array<V1Ingress & Cached>) ??
      (typeof sessionSecret === 'object' ? sessionSecret : undefined);
    if (early) {
      const stopped = STOPPED_BY[early.reason];
      const keep = desired.filter((d) => d.kind !== stopped);
      await this.withdrawExposure(mcp, spec, keep, route, stopped ? [stopped] : []);
      return this.block(mcp, spec, early);
    }

    // The session key is written beside the reads: nothing below depends on it but the pods, which mount it.
    const [current] = await Promise.all([
      Promise.all(desired.map((child) => this.liveChild(child))),
      sessionSecret === 'create' || sessionSecret === 'repair'
        ? this.writeSessionSecret(mcp, spec, sessionSecret)
        : undefined,
    ]);
    const live = new Map(desired.map((child, i) => [child, current[i]]));
    const conflict = childConflict(mcp, live);
    // Refused (invalid, or forbidden by RBAC or an admission policy): tell the user; the queue backs off.
    const outcome = conflict ? { blocker: conflict } : await this.applyChanged(key, spec, desired, live);
    if ('blocker' in outcome) {
      await this.withdrawExposure(mcp, spec, desired, route);
      return this.block(mcp, spec, outcome.blocker);
    }
    const { applied } = outcome;
    const deleted = await this.pruneObsolete(mcp, desired);
    const exposure: RouteOutcome = (await this.o.gatewayApi?.reconcile(mcp, spec, route)) ?? {};
    if (exposure.applied) applied.push(HTTPROUTE_TYPE.kind);
    if (exposure.deleted) deleted.push(HTTPROUTE_TYPE.kind);
    await this.recordChanges(mcp, live, applied, deleted);

    if (exposure.blocker) {
      return this.block(mcp, spec, exposure.blocker, { applied, exposure, recheckAfterMs: exposure.recheckAfterMs });
    }
    // A Deployment applied just now has no rollout status yet: its watch events (milliseconds away) bring one, and
    // the status write then, which keeps the passes of many McpServers short (measured: a thousand converge
    // faster; the recheck is the fallback). Not while status names a blocker this pass got past: that goes now.
    // Once per generation: a Deployment re-applied on every event (a field stored another way) kept status unwritten.
    const generation = mcp.metadata.generation ?? 0;
    const blocked = conditionOf(mcp.status, 'Degraded')?.status === 'True';
    if (applied.includes('Deployment') && !blocked && this.statusDeferred.get(key) !== generation) {
      this.statusDeferred.set(key, generation);
      return { result: 'success', recheckAfterMs: STATUS_RECHECK_MS };
    }
    this.statusDeferred.delete(key);
    const ready = await this.updateStatus(mcp, spec, undefined, applied, exposure);
    const recheck = exposure.recheckAfterMs ? { recheckAfterMs: exposure.recheckAfterMs } : {};
    return { result: 'success', ...(ready ? { ready } : {}), ...recheck };
  }

  /**
   * The one way out for a blocker: status says why (Ready=False, Degraded=True, the fix) and the queue retries
   * with backoff, unless nothing can change until the spec does (retry: false) or a recheck is due.
   */
  private async block(
    mcp: McpServer & Cached,
    spec: McpServer,
    blocker: Blocker,
    options: { retry?: boolean; applied?: string[]; exposure?: RouteOutcome; recheckAfterMs?: number | undefined } = {},
  ): Promise<Outcome> {
    await this.updateStatus(mcp, spec, blocker, options.applied, options.exposure);
    if (options.retry === false) return { result: 'success' };
    if (options.recheckAfterMs) return { result: 'success', recheckAfterMs: options.recheckAfterMs };
    return { result: 'requeue', reason: blocker.reason };
  }

  /** The children to apply (with their spec hash); the HTTPRoute apart: its CRD may be missing (gateway-api.ts). */
  private render(spec: McpServer, refs: ObjectReference[]): { desired: KubernetesObject[]; route?: HTTPRoute } {
    const { gatewayImage } = this.o;
    const operatorNamespace = this.o.operator?.namespace;
    const configHash = referencesHash(spec.metadata?.namespace ?? '', refs, this.o.caches);
    const rendered = renderChildren(spec, { gatewayImage, operatorNamespace, configHash }).map(withSpecHash);
    const route = rendered.find((c) => c.kind === HTTPROUTE_TYPE.kind) as HTTPRoute | undefined;
    return { desired: rendered.filter((c) => c !== route), ...(route ? { route } : {}) };
  }

  /**
   * Events for what this reconcile changed: children updated (Applied), children deleted. Creating them is the
   * normal path and has no Event of its own (status says Progressing=Creating; the Ready Event ends it): one
   * write less per McpServer.
   */
  private async recordChanges(
    mcp: McpServer & Cached,
    live: ReadonlyMap<KubernetesObject, KubernetesObject | undefined>,
    applied: string[],
    deleted: string[],
  ): Promise<void> {
    const created = [...live.values()].every((v) => v === undefined);
    if (applied.length && !created)
      await this.o.events.record(mcp, 'Normal', 'Applied', `applied ${applied.join(', ')}`);
    if (deleted.length) await this.o.events.record(mcp, 'Normal', 'Deleted', `deleted obsolete ${deleted.join(', ')}`);
  }

  private referenced(kind: ObjectReference['kind']): Store<ReferencedObject> {
    return kind === 'Secret' ? this.o.caches.secrets : this.o.caches.configMaps;
  }

  /**
   * Applies the children that changed, stage by stage (APPLY_STAGES). A child the API server refuses becomes a
   * blocker naming what it holds back; a transient error is thrown, and the queue retries with backoff.
   */
  private async applyChanged(
    key: string,
    spec: McpServer,
    desired: KubernetesObject[],
    live: Map<KubernetesObject, KubernetesObject | undefined>,
  ): Promise<{ applied: string[] } | { blocker: Blocker }> {
    const applied: string[] = [];
    const stages = applyStages(desired, APPLY_STAGES);
    for (const [i, stage] of stages.entries()) {
      const results = await Promise.allSettled(
        stage.map(async (child) => {
          if (!needsApply(child, live.get(child))) return;
          const written = await this.o.client.apply<Cached>(this.pathOf(child), child, FIELD_MANAGER);
          this.o.metrics?.childWrites.inc({ kind: child.kind, action: 'apply' });
          this.o.caches.children[child.kind as ChildKind].remember?.(written, cachedVersion(live.get(child)));
          applied.push(child.kind as string);
        }),
      );
      const failed: Refusal[] = [];
      for (const [j, result] of results.entries()) {
        if (result.status === 'fulfilled') continue;
        if (!(result.reason instanceof KubeApiError)) throw result.reason;
        failed.push({ child: stage[j] as KubernetesObject, err: result.reason });
      }
      const [first] = failed;
      if (!first) continue;
      const serverErrors = failed.some((f) => f.err.status >= 500) ? (this.serverErrors.get(key) ?? 0) + 1 : 0;
      this.serverErrors.set(key, serverErrors);
      const refused = failed.filter((f) => isRefusal(f.err, serverErrors));
      if (!refused.length) throw first.err;
      const held: HeldBack[] = stages
        .slice(i + 1)
        .flat()
        .filter((child) => needsApply(child, live.get(child)))
        .map((child) => ({ kind: child.kind ?? 'object', exists: live.get(child) !== undefined }));
      return { blocker: refusalBlocker(spec, refused, held) };
    }
    this.serverErrors.delete(key);
    return { applied };
  }

  /**
   * The gateway's session-signing key, shared by the McpServer's replicas. Random, so it cannot go through the
   * render/apply path: created once (owned, so deleted with the McpServer); one of ours with no usable key, repaired.
   */
  private async writeSessionSecret(mcp: McpServer & Cached, spec: McpServer, how: 'create' | 'repair'): Promise<void> {
    const name = sessionSecretName(spec);
    const target = { namespace: mcp.metadata.namespace, name, labels: commonLabels(spec), owner: ownerReference(spec) };
    const written = await writeSessionSecret(this.o.client, target, how, this.o.metrics);
    if (written) this.o.caches.secrets.remember?.(written, undefined); // projected: key names and a hash, not the key
    if (how === 'repair') {
      await this.o.events.record(
        mcp,
        'Warning',
        'SessionKeyRepaired',
        `Secret ${name} had no usable key: wrote a new one`,
      );
    }
  }

  private pathOf(child: KubernetesObject): string {
    const type = CHILD_KINDS.find((k) => k.kind === child.kind);
    if (!type) throw new Error(`renderer produced an unknown kind ${child.kind}`);
    return resourcePath(type, { namespace: child.metadata?.namespace, name: child.metadata?.name });
  }

  /** The child from the cache; read from the API server only when someone else holds its name. */
  private async liveChild(child: KubernetesObject): Promise<KubernetesObject | undefined> {
    const kind = child.kind as ChildKind;
    const { live, cached } = await liveChild(child, {
      client: this.o.client,
      owned: this.o.caches.children[kind],
      foreign: this.o.caches.foreign?.[kind],
      path: this.pathOf(child),
    });
    if (live && cached) fromCache.add(live);
    return live;
  }

  /** While blocked: the Ingress and HTTPRoute the spec no longer asks for go (EXPOSURE_KINDS), and `also`. */
  private async withdrawExposure(
    mcp: McpServer & Cached,
    spec: McpServer,
    keep: KubernetesObject[],
    route?: HTTPRoute,
    also: string[] = [],
  ) {
    await this.pruneObsolete(mcp, keep, [...EXPOSURE_KINDS, ...also]);
    if (!route) await this.o.gatewayApi?.reconcile(mcp, spec, undefined);
  }

  /** Children we made earlier that the spec no longer asks for (an Ingress removed, replicas down to 1...). */
  private async pruneObsolete(mcp: McpServer & Cached, desired: KubernetesObject[], kinds?: string[]) {
    const wanted = new Set(desired.map((d) => `${d.kind}/${d.metadata?.name}`));
    // pod.serviceAccountName naming the one we made (our own name): the pods run as it, so it stays.
    wanted.add(`ServiceAccount/${mcp.spec?.pod?.serviceAccountName}`);
    const deleted: string[] = [];
    for (const type of CHILD_KINDS.filter((t) => !kinds || kinds.includes(t.kind))) {
      for (const object of this.o.caches.children[type.kind].owned(mcp.metadata.namespace, mcp.metadata.name)) {
        const meta = object.metadata;
        if (!controlledBy(object, mcp.metadata.uid) || wanted.has(`${type.kind}/${meta.name}`)) continue;
        try {
          await this.o.client.delete(resourcePath(type, { namespace: meta.namespace, name: meta.name }), meta.uid);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        this.o.metrics?.childWrites.inc({ kind: type.kind, action: 'delete' });
        deleted.push(type.kind);
      }
    }
    return deleted;
  }

  /** The McpServer's pods, from the cache (selected as its Deployment selects them). */
  private podsOf(spec: McpServer): V1Pod[] {
    const selector = Object.entries(selectorLabels(spec));
    return this.o.caches.pods
      .owned(spec.metadata?.namespace, spec.metadata?.name ?? '')
      .filter((pod) => selector.every(([k, v]) => pod.metadata.labels?.[k] === v));
  }

  /**
   * True when the Ingress is ours and is the one this spec asks for (applied and accepted by the API server), so
   * status.externalURL is true: not when it was refused, and not when another server holds the route.
   */
  private exposedByIngress(mcp: McpServer & Cached, spec: McpServer, applied: readonly string[]): boolean {
    const wanted = renderIngress(spec);
    if (!wanted) return false;
    if (applied.includes('Ingress')) return true; // just now, after the ChildConflict check: ours, and accepted
    const live = this.o.caches.children.Ingress.get(mcp.metadata.namespace, mcp.metadata.name);
    if (!live || !controlledBy(live, mcp.metadata.uid)) return false;
    const hash = (o: KubernetesObject | undefined) => o?.metadata?.annotations?.[ANNOTATION_SPEC_HASH];
    return hash(live) === hash(withSpecHash(wanted));
  }

  /** Patches status when it differs; the cache remembers what was written. */
  private async writeStatus(mcp: McpServer & Cached, next: McpServerStatus): Promise<'unchanged' | 'written' | 'gone'> {
    if (canonicalJSON(next) === canonicalJSON(mcp.status ?? {})) return 'unchanged';
    const patch: Record<string, unknown> = { ...next };
    for (const k of Object.keys(mcp.status ?? {})) if (!(k in next)) patch[k] = null;
    try {
      const written = await this.o.client.mergePatch<McpServer & Cached>(
        resourcePath(MCPSERVERS, { namespace: mcp.metadata.namespace, name: mcp.metadata.name, subresource: 'status' }),
        { status: patch },
        FIELD_MANAGER,
      );
      // A reconcile woken before the watch brings this back compares with the status just written, not the old one.
      this.o.caches.mcpservers.remember?.(written, mcp.metadata.resourceVersion);
      return 'written';
    } catch (err) {
      if (isNotFound(err)) return 'gone';
      throw err;
    }
  }

  /**
   * Patch status only when it differs; record an Event when Ready changes or a blocker appears or changes.
   * `applied`: the kinds this reconcile just applied (accepted by the API server, maybe not in the cache yet).
   * `exposure`: what the HTTPRoute's status says (gateway-api.ts), when there is one. Returns what the Manager
   * may discover when status says Ready; status itself only writes what discovery already found.
   */
  private async updateStatus(
    mcp: McpServer & Cached,
    spec: McpServer,
    blocker?: Blocker,
    applied: readonly string[] = [],
    exposure: RouteOutcome = {},
  ): Promise<DiscoveryTarget | undefined> {
    const namespace = mcp.metadata.namespace;
    const cached = this.o.caches.children.Deployment.get(namespace, mcp.metadata.name) as V1Deployment | undefined;
    const deployment = controlledBy(cached ?? {}, mcp.metadata.uid) ? cached : undefined;
    const valid = blocker?.reason !== 'InvalidSpec';
    const key = `${namespace}/${mcp.metadata.name}`;
    const next = computeStatus(
      {
        mcp: spec,
        deployment,
        pods: deployment ? this.podsOf(spec) : undefined,
        blocker,
        url: valid ? serviceURL(spec) : undefined,
        // The HTTPRoute's URL once every parent Gateway accepted it, else the Ingress's when it is ours.
        // Not the Ingress's while another server holds its route (ours is being withdrawn).
        externalURL: valid
          ? (exposure.externalURL ??
            (blocker?.reason !== 'IngressConflict' && this.exposedByIngress(mcp, spec, applied)
              ? externalURL(spec)
              : undefined))
          : undefined,
        routeConditions: exposure.conditions,
        discovered: this.o.discovered?.(key, discoveryFingerprint(mcp, deployment)),
        now: (this.o.now ?? isoNow)(),
      },
      mcp.status,
    );
    const after = conditionOf(next, 'Ready');
    const service = this.o.caches.children.Service.get(namespace, mcp.metadata.name) as V1Service | undefined;
    const ready =
      after?.status === 'True' ? discoveryTarget(mcp, spec, deployment, service?.spec?.clusterIP) : undefined;
    const wrote = await this.writeStatus(mcp, next);
    if (wrote !== 'written') return wrote === 'unchanged' ? ready : undefined; // gone: deleted meanwhile
    const before = conditionOf(mcp.status, 'Ready');
    if (!after) return ready;
    const changed = before?.status !== after.status || before?.reason !== after.reason;
    if (after.status === 'True') {
      if (changed) await this.o.events.record(mcp, 'Normal', after.reason, after.message);
    } else if (blocker && (changed || before?.message !== after.message)) {
      // A new refusal with the same reason (another field) is news too.
      await this.o.events.record(mcp, 'Warning', blocker.reason, blocker.message);
    }
    return ready;
  }
}

const isoNow = () => new Date().toISOString().replace(/\.\d+Z$/, 'Z');

export function resultOf(status: McpServerStatus | undefined): string {
  return conditionOf(status, 'Ready')?.status ?? 'Unknown';
}
