/**
 * One reconcile of one VirtualMcpServer: validate, resolve its backends (spec.servers, then spec.selector) from the
 * McpServer cache, render, apply what changed, delete what is no longer wanted, write status only when it changed.
 * Level-triggered like the McpServer reconciler: every input is read from the caches on each pass.
 */
import type { KubernetesObject, V1Deployment, V1Ingress, V1Pod } from '@kubernetes/client-node';
import { VIRTUAL_PLURAL } from '../../api/schema.ts';
import type { McpServer, VirtualMcpServer, VirtualMcpServerStatus } from '../../api/types.generated.ts';
import { InvalidMcpServerError, parseVirtualMcpServer } from '../../api/validate.ts';
import { isNotFound, KubeApiError, type KubeClient, resourcePath } from '../../kube/client.ts';
import type { Cached } from '../../kube/informer.ts';
import type { ControllerMetrics } from '../../observability/controller-metrics.ts';
import type { Logger } from '../../observability/log.ts';
import { translatePaths, virtualServerField } from '../../render/field-paths.ts';
import { HTTPROUTE_TYPE, type HTTPRoute, referencedObjects } from '../../render/index.ts';
import {
  ANNOTATION_SPEC_HASH,
  commonLabels,
  LABEL_INSTANCE,
  ownerReference,
  selectorLabels,
} from '../../render/metadata.ts';
import { renderIngress } from '../../render/network.ts';
import {
  renderVirtualChildren,
  VIRTUAL_CHILD_KINDS,
  type VirtualChildKind,
  virtualExternalURL,
  virtualServiceURL,
  virtualSessionSecretName,
} from '../../render/virtual.ts';
import { backendsFile, type Selection, selectBackends } from '../../render/virtual-backends.ts';
import { applyStages, EXPOSURE_KINDS } from '../apply-stages.ts';
import { canonicalJSON, needsApply, referencesHash, withSpecHash } from '../compare.ts';
import type { EventRecorder } from '../events.ts';
import {
  controlledBy,
  ingressConflict,
  nameHeldByOther,
  nameTaken,
  type OperatorIdentity,
  operatorAccountGate,
  STOPPED_BY,
  sessionSecretGate,
} from '../gates.ts';
import type { GatewayApi, RouteOutcome } from '../gateway-api.ts';
import { liveChild } from '../live-child.ts';
import type { ReferencedObject, Store } from '../reconcile.ts';
import { isRefusal } from '../refusal.ts';
import { writeSessionSecret } from '../session-key.ts';
import type { Blocker } from '../status.ts';
import { BackendCredentials } from './credentials.ts';
import { computeVirtualStatus, virtualConditionOf } from './status.ts';

export const VIRTUALMCPSERVERS = { apiVersion: 'mcpoperator.io/v1alpha1', plural: VIRTUAL_PLURAL };
const FIELD_MANAGER = 'mcp-operator';
const STATUS_RECHECK_MS = 5_000;

export interface VirtualCaches {
  virtualservers: Store<VirtualMcpServer & Cached>;
  mcpservers: Store<McpServer & Cached>;
  children: Record<VirtualChildKind, Store<Cached>>;
  /** Everyone else's objects of the child kinds, by name (live-child.ts); absent: read the API server. */
  foreign?: Record<VirtualChildKind, Store<Cached>> | undefined;
  secrets: Store<ReferencedObject>;
  configMaps: Store<ReferencedObject>;
  pods: Store<V1Pod & Cached>;
}

export interface VirtualReconcilerOptions {
  client: KubeClient;
  caches: VirtualCaches;
  gatewayImage: string;
  /** Its ServiceAccount is not lent to a VirtualMcpServer's pods (gates.ts operatorAccountGate). */
  operator?: OperatorIdentity | undefined;
  events: EventRecorder;
  log: Logger;
  metrics?: ControllerMetrics | undefined;
  gatewayApi?: GatewayApi | undefined;
  now?: () => string;
}

export type VirtualOutcome = { result: 'success'; recheckAfterMs?: number } | { result: 'requeue'; reason: string };

/** Apply order: the ServiceAccount and the backends ConfigMap, then the NetworkPolicy, then the rest. */
const STAGES: ReadonlyArray<ReadonlyArray<string>> = [['ServiceAccount', 'ConfigMap'], ['NetworkPolicy']];

/** The routes's reconciler reads an McpServer: a VirtualMcpServer serves /mcp through its gateway, always. */
const asRouteOwner = (vmcp: VirtualMcpServer) =>
  ({ ...vmcp, spec: { ...vmcp.spec, gateway: { enabled: true } } }) as unknown as McpServer;

export class VirtualReconciler {
  private readonly o: VirtualReconcilerOptions;
  /** Per VirtualMcpServer key: the McpServer names it used last time, so a change to one of them wakes it. */
  private readonly members = new Map<string, Set<string>>();
  private readonly credentials: BackendCredentials;

  constructor(options: VirtualReconcilerOptions) {
    this.o = options;
    this.credentials = new BackendCredentials({
      client: options.client,
      secrets: options.caches.secrets,
      fieldManager: FIELD_MANAGER,
      metrics: options.metrics,
    });
  }

  /** VirtualMcpServer keys an McpServer event concerns: those that list, select or (last time) had it. */
  affectedBy(server: McpServer & Cached): string[] {
    const namespace = server.metadata.namespace;
    const name = server.metadata.name;
    const keys: string[] = [];
    for (const vmcp of this.o.caches.virtualservers.list()) {
      if (vmcp.metadata.namespace !== namespace) continue;
      const key = `${namespace}/${vmcp.metadata.name}`;
      const listed = vmcp.metadata.name === name || (vmcp.spec?.servers ?? []).some((s) => s.name === name);
      const selected = vmcp.spec?.selector !== undefined; // labels may have changed either way: look again
      if (listed || selected || this.members.get(key)?.has(name)) keys.push(key);
    }
    return keys;
  }

  async reconcile(key: string): Promise<VirtualOutcome> {
    const [namespace = '', name = ''] = key.split('/');
    const live = this.o.caches.virtualservers.get(namespace, name);
    if (!live || live.metadata.deletionTimestamp) {
      this.members.delete(key);
      return { result: 'success' }; // children go with it (ownerReferences)
    }
    let vmcp: VirtualMcpServer;
    try {
      vmcp = parseVirtualMcpServer(live);
    } catch (err) {
      if (!(err instanceof InvalidMcpServerError)) throw err;
      const message = err.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
      await this.updateStatus(
        live,
        live,
        { backends: [], missing: [], leftOut: 0 },
        { reason: 'InvalidSpec', message },
      );
      return { result: 'success' };
    }
    const servers = this.o.caches.mcpservers.list().filter((s) => s.metadata.namespace === namespace);
    const selection = selectBackends(vmcp, servers);
    const twin = this.o.caches.mcpservers.get(namespace, name);
    if (twin && nameHeldByOther(live, twin, this.o.caches.children.Service.get(namespace, name))) {
      // What it made before it saw the McpServer (both created at once) is in the McpServer's way: gone.
      await this.pruneObsolete(live, []);
      this.members.set(key, new Set());
      await this.updateStatus(live, vmcp, selection, nameTaken('McpServer', 'VirtualMcpServer', namespace, name));
      return { result: 'success' }; // the McpServer's events wake it (affectedBy)
    }
    this.members.set(key, new Set(selection.backends.map((b) => b.naming.name)));

    const rendered = renderVirtualChildren(vmcp, backendsFile(vmcp, selection), {
      gatewayImage: this.o.gatewayImage,
      configHash: referencesHash(namespace, referencedObjects(vmcp as unknown as McpServer), this.o.caches),
    }).map(withSpecHash);
    const route = rendered.find((c) => c.kind === HTTPROUTE_TYPE.kind) as HTTPRoute | undefined;
    const desired = rendered.filter((c) => c !== route);
    /** Every blocker leaves here: what the spec no longer exposes goes first, and what `blocker` stops (STOPPED_BY). */
    const blocked = async (blocker: Blocker): Promise<VirtualOutcome> => {
      const stopped = STOPPED_BY[blocker.reason];
      const keep = desired.filter((c) => c.kind !== stopped);
      await this.pruneObsolete(live, keep, [...EXPOSURE_KINDS, ...(stopped ? [stopped] : [])]);
      if (!route)
        await this.o.gatewayApi?.reconcile(asRouteOwner(live) as McpServer & Cached, asRouteOwner(vmcp), undefined);
      await this.updateStatus(live, vmcp, selection, blocker);
      // A reserved ServiceAccount changes only with the spec.
      return blocker.reason === 'ReservedServiceAccount'
        ? { result: 'success' }
        : { result: 'requeue', reason: blocker.reason };
    };
    const missing = this.missingReference(namespace, vmcp);
    if (missing) return blocked(missing);
    const reserved = operatorAccountGate('VirtualMcpServer', namespace, vmcp.spec.pod, this.o.operator);
    if (reserved) return blocked(reserved);
    // Another server's Ingress already serves this host and path: the ingress controller sends it there, so
    // ours is withheld (and an earlier one of ours deleted) until the route is free, as for an McpServer.
    const rival = ingressConflict(live, desired, this.o.caches.children.Ingress.list() as Array<V1Ingress & Cached>);
    if (rival) return blocked(rival);

    const sessionKey = await this.ensureSessionSecret(live, vmcp);
    if (sessionKey) return blocked(sessionKey);
    // Before the pods, which mount it.
    const credentials = await this.credentials.ensure(live, selection);
    if ('blocker' in credentials) return blocked(credentials.blocker);
    const found = await Promise.all(desired.map((child) => this.liveChild(child)));
    const current = new Map(desired.map((child, i) => [child, found[i]] as const));
    for (const [child, object] of current) {
      if (object && !controlledBy(object, live.metadata.uid)) {
        return blocked({
          reason: 'ChildConflict',
          message: `${child.kind} ${namespace}/${child.metadata?.name} already exists and is not managed by this VirtualMcpServer (an McpServer of the same name?): delete it or rename the VirtualMcpServer`,
        });
      }
    }
    const applied = await this.applyChanged(live, desired, current);
    if ('blocker' in applied) return blocked(applied.blocker);
    const deleted = await this.pruneObsolete(live, desired);
    const exposure: RouteOutcome =
      (await this.o.gatewayApi?.reconcile(asRouteOwner(live) as McpServer & Cached, asRouteOwner(vmcp), route)) ?? {};
    if (exposure.applied) applied.kinds.push(HTTPROUTE_TYPE.kind);
    if (exposure.deleted) deleted.push(HTTPROUTE_TYPE.kind);
    if (applied.kinds.length) {
      const created = [...current.values()].every((v) => v === undefined);
      const verb = created ? 'Created' : 'Applied';
      await this.o.events.record(live as never, 'Normal', verb, `${verb.toLowerCase()} ${applied.kinds.join(', ')}`);
    }
    if (deleted.length)
      await this.o.events.record(live as never, 'Normal', 'Deleted', `deleted obsolete ${deleted.join(', ')}`);
    await this.updateStatus(live, vmcp, selection, exposure.blocker, applied.kinds, exposure);
    if (exposure.blocker && !exposure.recheckAfterMs) return { result: 'requeue', reason: exposure.blocker.reason };
    const rechecks = [
      applied.kinds.includes('Deployment') ? STATUS_RECHECK_MS : undefined,
      exposure.recheckAfterMs,
      credentials.recheckAfterMs,
    ].filter((ms): ms is number => !!ms);
    return rechecks.length ? { result: 'success', recheckAfterMs: Math.min(...rechecks) } : { result: 'success' };
  }

  /**
   * From the cache; from the API server only when someone else holds the name: applying over a user's object
   * (server-side apply with force) would take it over.
   */
  private async liveChild(child: KubernetesObject): Promise<Cached | undefined> {
    const kind = child.kind as VirtualChildKind;
    const { live } = await liveChild(child, {
      client: this.o.client,
      owned: this.o.caches.children[kind],
      foreign: this.o.caches.foreign?.[kind],
      path: this.pathOf(child),
    });
    return live;
  }

  private pathOf(child: KubernetesObject): string {
    const type = VIRTUAL_CHILD_KINDS.find((k) => k.kind === child.kind);
    if (!type) throw new Error(`renderer produced an unknown kind ${child.kind}`);
    return resourcePath(type, { namespace: child.metadata?.namespace, name: child.metadata?.name });
  }

  /** Stage by stage; a refused child is a blocker naming it and what the API server said. */
  private async applyChanged(
    vmcp: VirtualMcpServer,
    desired: KubernetesObject[],
    live: Map<KubernetesObject, Cached | undefined>,
  ): Promise<{ kinds: string[] } | { blocker: Blocker }> {
    const kinds: string[] = [];
    for (const stage of applyStages(desired, STAGES)) {
      const results = await Promise.allSettled(
        stage.map(async (child) => {
          if (!needsApply(child, live.get(child))) return;
          await this.o.client.apply(this.pathOf(child), child, FIELD_MANAGER);
          this.o.metrics?.childWrites.inc({ kind: child.kind, action: 'apply' });
          kinds.push(child.kind as string);
        }),
      );
      const refused: string[] = [];
      let forbidden = true;
      for (const [i, result] of results.entries()) {
        if (result.status === 'fulfilled') continue;
        const err = result.reason;
        // 5xx and 409/429 are retried with backoff; a 4xx is the API server's answer to tell the user.
        if (!(err instanceof KubeApiError) || !isRefusal(err, 0)) throw err;
        const child = stage[i] as KubernetesObject;
        forbidden &&= err.status === 403;
        const kind = child.kind ?? 'object';
        const { message, fields } = translatePaths(err.message, (p) => virtualServerField(vmcp, kind, p));
        const fix = fields.length ? `; fix ${fields.join(', ')} in the VirtualMcpServer` : '';
        refused.push(
          `the API server refused the ${child.kind} ${child.metadata?.namespace}/${child.metadata?.name} (HTTP ${err.status}): ${message}${fix}`,
        );
      }
      if (refused.length)
        return { blocker: { reason: forbidden ? 'Forbidden' : 'ApplyFailed', message: refused.join('; ') } };
    }
    return { kinds };
  }

  /** Children we made that `desired` does not hold (of `kinds` only, when given). */
  private async pruneObsolete(vmcp: VirtualMcpServer & Cached, desired: KubernetesObject[], kinds?: string[]) {
    const wanted = new Set(desired.map((d) => `${d.kind}/${d.metadata?.name}`));
    // pod.serviceAccountName naming the one we made (our own name): the pods run as it, so it stays.
    wanted.add(`ServiceAccount/${vmcp.spec?.pod?.serviceAccountName}`);
    const deleted: string[] = [];
    for (const type of VIRTUAL_CHILD_KINDS.filter((t) => !kinds || kinds.includes(t.kind))) {
      for (const object of this.o.caches.children[type.kind].list()) {
        const meta = object.metadata;
        if (meta.namespace !== vmcp.metadata.namespace || meta.labels?.[LABEL_INSTANCE] !== vmcp.metadata.name)
          continue;
        if (!controlledBy(object, vmcp.metadata.uid) || wanted.has(`${type.kind}/${meta.name}`)) continue;
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

  /** The bearer-token Secret and the pod volumes' Secrets and ConfigMaps must exist before the pods. */
  private missingReference(namespace: string, vmcp: VirtualMcpServer): Blocker | undefined {
    for (const ref of referencedObjects(vmcp as unknown as McpServer)) {
      if (ref.optional) continue;
      const store = ref.kind === 'Secret' ? this.o.caches.secrets : this.o.caches.configMaps;
      const object = store.get(namespace, ref.name);
      if (!object) {
        return {
          reason: `${ref.kind}NotFound`,
          message: `${ref.kind} ${namespace}/${ref.name} (referenced by ${ref.field}) does not exist: create it or fix the reference`,
        };
      }
      if (ref.key && !object.keys.includes(ref.key)) {
        return {
          reason: `${ref.kind}KeyNotFound`,
          message: `${ref.kind} ${namespace}/${ref.name} has no key "${ref.key}" (referenced by ${ref.field}); it has: ${object.keys.join(', ') || 'no keys'}`,
        };
      }
    }
    return undefined;
  }

  /** The replicas' session-signing key, as for McpServer: random, created once, owned, repaired if broken. */
  private async ensureSessionSecret(
    live: VirtualMcpServer & Cached,
    vmcp: VirtualMcpServer,
  ): Promise<Blocker | undefined> {
    const namespace = live.metadata.namespace;
    const name = virtualSessionSecretName(vmcp);
    const gate = sessionSecretGate(live, true, name, this.o.caches.secrets.get(namespace, name), 'VirtualMcpServer');
    if (gate === undefined || typeof gate === 'object') return gate;
    const target = { namespace, name, labels: commonLabels(vmcp), owner: ownerReference(vmcp) };
    await writeSessionSecret(this.o.client, target, gate, this.o.metrics);
    return undefined;
  }

  /** The Ingress is ours and the one this spec asks for, so its URL is true. */
  private exposedByIngress(
    live: VirtualMcpServer & Cached,
    desiredHash: string | undefined,
    applied: readonly string[],
  ) {
    if (desiredHash === undefined) return false;
    if (applied.includes('Ingress')) return true;
    const ingress = this.o.caches.children.Ingress.get(live.metadata.namespace, live.metadata.name);
    return (
      !!ingress &&
      controlledBy(ingress, live.metadata.uid) &&
      ingress.metadata.annotations?.[ANNOTATION_SPEC_HASH] === desiredHash
    );
  }

  private async updateStatus(
    live: VirtualMcpServer & Cached,
    vmcp: VirtualMcpServer,
    selection: Selection,
    blocker?: Blocker,
    applied: readonly string[] = [],
    exposure: RouteOutcome = {},
  ): Promise<void> {
    const namespace = live.metadata.namespace ?? 'default';
    const cached = this.o.caches.children.Deployment.get(namespace, live.metadata.name) as
      | (V1Deployment & Cached)
      | undefined;
    const deployment = cached && controlledBy(cached, live.metadata.uid) ? cached : undefined;
    const selector = Object.entries(selectorLabels(vmcp));
    const pods = deployment
      ? this.o.caches.pods
          .list()
          .filter((p) => p.metadata.namespace === namespace && selector.every(([k, v]) => p.metadata.labels?.[k] === v))
      : undefined;
    const valid = blocker?.reason !== 'InvalidSpec';
    const wantedIngress = valid ? renderIngress(vmcp) : undefined;
    const ingressHash = wantedIngress && withSpecHash(wantedIngress).metadata?.annotations?.[ANNOTATION_SPEC_HASH];
    const next = computeVirtualStatus(
      {
        vmcp,
        selection,
        deployment,
        pods,
        blocker,
        url: valid ? virtualServiceURL(vmcp) : undefined,
        externalURL: valid
          ? (exposure.externalURL ??
            (blocker?.reason !== 'IngressConflict' && this.exposedByIngress(live, ingressHash, applied)
              ? virtualExternalURL(vmcp)
              : undefined))
          : undefined,
        routeConditions: exposure.conditions,
        virtualServers: new Set(
          this.o.caches.virtualservers
            .list()
            .filter((v) => v.metadata.namespace === namespace)
            .map((v) => v.metadata.name),
        ),
        now: (this.o.now ?? (() => new Date().toISOString().replace(/\.\d+Z$/, 'Z')))(),
      },
      live.status,
    );
    if (canonicalJSON(next) === canonicalJSON(live.status ?? {})) return;
    const patch: Record<string, unknown> = { ...next };
    for (const k of Object.keys(live.status ?? {})) if (!(k in next)) patch[k] = null;
    try {
      await this.o.client.mergePatch(
        resourcePath(VIRTUALMCPSERVERS, { namespace, name: live.metadata.name, subresource: 'status' }),
        { status: patch },
        FIELD_MANAGER,
      );
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    await this.recordEvents(live, live.status, next, blocker);
  }

  /** Ready changes, blockers, backend and name problems (when their message changes), membership changes. */
  private async recordEvents(
    live: VirtualMcpServer & Cached,
    before: VirtualMcpServerStatus | undefined,
    after: VirtualMcpServerStatus,
    blocker: Blocker | undefined,
  ): Promise<void> {
    const record = (type: 'Normal' | 'Warning', reason: string, message: string) =>
      this.o.events.record(live as never, type, reason, message);
    const was = virtualConditionOf(before, 'Ready');
    const is = virtualConditionOf(after, 'Ready');
    if (is?.status === 'True' && was?.status !== 'True') await record('Normal', 'Ready', is.message);
    if (blocker && (was?.reason !== is?.reason || was?.message !== is?.message)) {
      await record('Warning', blocker.reason, blocker.message);
    }
    // An invalid spec names no backend: its InvalidSpec Event says it all.
    const types = blocker?.reason === 'InvalidSpec' ? [] : (['BackendsReady', 'ToolNamesResolved'] as const);
    for (const type of types) {
      const old = virtualConditionOf(before, type);
      const now = virtualConditionOf(after, type);
      if (now?.status === 'False' && (old?.status !== 'False' || old.message !== now.message)) {
        await record('Warning', now.reason, now.message);
      }
    }
    const names = (s: VirtualMcpServerStatus | undefined) => (s?.backends ?? []).map((b) => b.name);
    const [oldNames, newNames] = [names(before), names(after)];
    const joined = newNames.filter((n) => !oldNames.includes(n));
    const left = oldNames.filter((n) => !newNames.includes(n));
    if (before?.backends && (joined.length || left.length)) {
      const parts = [
        ...(joined.length ? [`joined: ${joined.join(', ')}`] : []),
        ...(left.length ? [`left: ${left.join(', ')}`] : []),
      ];
      await record('Normal', 'BackendsChanged', `backends ${parts.join('; ')}`);
    }
  }
}
