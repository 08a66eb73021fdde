/**
 * The Gateway API exposure at run time. The CRDs may be missing, or appear later: discovery asks the API server
 * (`GET /apis/gateway.networking.k8s.io/v1`, which every authenticated user may read, so it needs no CRD RBAC and
 * works with namespaced Roles) at start and, while they are missing, again at most every 10 s when an McpServer
 * wants a route (which is rechecked every 15 s). A watch on CustomResourceDefinitions would need a cluster-wide
 * grant for an event that happens once. Once found, an informer caches our HTTPRoutes (status included: the
 * Gateway controller's answer wakes the McpServer). Gateways are read, never written, with a short-lived cache.
 */
import type { McpServer } from '../api/types.generated.ts';
import { isNotFound, KubeApiError, type KubeClient, resourcePath } from '../kube/client.ts';
import { type Cached, Informer } from '../kube/informer.ts';
import type { ControllerMetrics } from '../observability/controller-metrics.ts';
import type { Logger } from '../observability/log.ts';
import { LABEL_MANAGED_BY, MANAGED_BY } from '../render/metadata.ts';
import { GATEWAY_API_GROUP, GATEWAY_TYPE, HTTPROUTE_TYPE, type HTTPRoute } from '../render/route.ts';
import { needsApply } from './compare.ts';
import { routeConflict } from './route-conflict.ts';
import { type Gateway, type RouteVerdict, routeVerdict } from './route-status.ts';
import type { Blocker } from './status.ts';

/** While a route is wanted and the CRDs are missing (or a Gateway has not answered), look again this often. */
export const ROUTE_RECHECK_MS = 15_000;
const DISCOVERY_TTL_MS = 10_000;
const GATEWAY_TTL_MS = 5_000;
const REQUIRED_RESOURCES = ['httproutes', 'gateways'] as const;

export interface GatewayApiOptions {
  client: KubeClient;
  /** Namespaces to watch; [undefined]: all. */
  scopes: Array<string | undefined>;
  log: Logger;
  /** false: the operator was told not to use the Gateway API (no RBAC for it). */
  enabled: boolean;
  fieldManager: string;
  metrics?: ControllerMetrics;
  /** A cached route changed (its status, usually): wake its McpServer. */
  onRouteEvent: (route: Cached) => void;
  now?: () => number;
}

export interface RouteOutcome extends Partial<RouteVerdict> {
  blocker?: Blocker;
  /** Reconcile again after this long (CRDs missing, a Gateway not answering yet). */
  recheckAfterMs?: number;
  /** The HTTPRoute was applied, or deleted, by this reconcile (for the Event). */
  applied?: boolean;
  deleted?: boolean;
}

const controlledBy = (
  object: { metadata?: { ownerReferences?: Array<{ controller?: boolean; uid: string }> } },
  uid?: string,
) => !!uid && (object.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

export class GatewayApi {
  private readonly o: GatewayApiOptions;
  private checkedAt = Number.NEGATIVE_INFINITY;
  private missing: string[] | undefined = [...REQUIRED_RESOURCES];
  private informers: Array<Informer<HTTPRoute & Cached>> | undefined;
  private starting: Promise<void> | undefined;
  private readonly gatewayCache = new Map<string, { at: number; gateway: Gateway | null | undefined }>();

  constructor(options: GatewayApiOptions) {
    this.o = options;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  /** At start: look once, so routes are cached before the first reconcile when the CRDs are there. */
  async start(): Promise<void> {
    if (!this.o.enabled) return;
    try {
      await this.discover();
    } catch (err) {
      // Not worth failing the start over: the first McpServer that wants a route looks again.
      this.o.log.warn({ group: GATEWAY_API_GROUP, err: String(err) }, 'Gateway API discovery failed; will retry');
    }
  }

  stop(): void {
    for (const informer of this.informers ?? []) informer.stop();
  }

  /**
   * The API server answered 404 for HTTPRoutes after they were found: the CRDs were deleted. Forget them, so
   * that discovery asks again (and the informers restart when they come back).
   */
  private forgetDiscovery(): void {
    this.o.log.warn({ group: GATEWAY_API_GROUP }, 'Gateway API CRDs gone: HTTPRoutes paused until they return');
    this.stop();
    this.informers = undefined;
    this.starting = undefined;
    this.missing = [...REQUIRED_RESOURCES];
    this.checkedAt = Number.NEGATIVE_INFINITY;
  }

  private notInstalled(missing: string[], state = 'the API server does not serve'): RouteOutcome {
    return {
      blocker: {
        reason: 'GatewayAPINotInstalled',
        message: `spec.httpRoute needs the Gateway API CRDs, and ${state} ${missing.map((r) => `${r}.${GATEWAY_API_GROUP}`).join(', ')}: install the standard channel (kubectl apply --server-side -f standard-install.yaml from a Gateway API release, v1.1 or newer; see gateway-api.sigs.k8s.io/guides), or remove spec.httpRoute`,
      },
      recheckAfterMs: ROUTE_RECHECK_MS,
    };
  }

  /** Missing resource names ([] when all are served), from a cached discovery while they are missing. */
  private async discover(): Promise<string[]> {
    if (this.missing?.length === 0) return [];
    if (this.now() - this.checkedAt < DISCOVERY_TTL_MS && this.missing) return this.missing;
    const checkedAt = this.now();
    let served: string[] = [];
    // The group list first: a group the API server does not serve answers 404 in plain text, not a Status.
    const groups = await this.o.client.get<{ groups?: Array<{ name: string; versions?: Array<{ version: string }> }> }>(
      '/apis',
    );
    const group = groups.groups?.find((g) => g.name === GATEWAY_API_GROUP);
    if (group?.versions?.some((v) => v.version === 'v1')) {
      const list = await this.o.client.get<{ resources?: Array<{ name: string }> }>(`/apis/${GATEWAY_API_GROUP}/v1`);
      served = (list.resources ?? []).map((r) => r.name);
    }
    this.checkedAt = checkedAt; // only an answer counts: after an error the next call asks again
    const missing = REQUIRED_RESOURCES.filter((r) => !served.includes(r));
    if (missing.length === 0) {
      this.o.log.info({ group: GATEWAY_API_GROUP }, 'Gateway API found: HTTPRoutes enabled');
      await this.startInformers();
    }
    this.missing = missing;
    return missing;
  }

  private startInformers(): Promise<void> {
    this.starting ??= (async () => {
      this.informers = this.o.scopes.map(
        (namespace) =>
          new Informer<HTTPRoute & Cached>({
            client: this.o.client,
            type: HTTPROUTE_TYPE,
            namespace,
            labelSelector: `${LABEL_MANAGED_BY}=${MANAGED_BY}`,
            onEvent: (_e, route) => this.o.onRouteEvent(route),
            log: this.o.log,
          }),
      );
      await Promise.all(this.informers.map((i) => i.start()));
    })().catch((err: unknown) => {
      // A failed first list must not stick: the next discovery starts them afresh.
      for (const informer of this.informers ?? []) informer.stop();
      this.informers = undefined;
      this.starting = undefined;
      throw err;
    });
    return this.starting;
  }

  private cached(namespace: string, name: string): (HTTPRoute & Cached) | undefined {
    for (const informer of this.informers ?? []) {
      const hit = informer.get(namespace, name);
      if (hit) return hit;
    }
    return undefined;
  }

  /** A parent Gateway: null when it does not exist, undefined when it cannot be read (RBAC). */
  private async gateway(namespace: string, name: string): Promise<Gateway | null | undefined> {
    const key = `${namespace}/${name}`;
    const hit = this.gatewayCache.get(key);
    if (hit && this.now() - hit.at < GATEWAY_TTL_MS) return hit.gateway;
    let gateway: Gateway | null | undefined;
    try {
      gateway = await this.o.client.get<Gateway>(resourcePath(GATEWAY_TYPE, { namespace, name }), { fromCache: true });
    } catch (err) {
      if (isNotFound(err)) gateway = null;
      else if (err instanceof KubeApiError && err.status === 403) gateway = undefined;
      else throw err;
    }
    this.gatewayCache.set(key, { at: this.now(), gateway });
    return gateway;
  }

  /**
   * Brings the McpServer's HTTPRoute to `desired` (or removes ours when undefined) and says what its status means.
   */
  async reconcile(mcp: McpServer & Cached, spec: McpServer, desired: HTTPRoute | undefined): Promise<RouteOutcome> {
    const namespace = mcp.metadata.namespace ?? 'default';
    const name = mcp.metadata.name;
    const path = resourcePath(HTTPROUTE_TYPE, { namespace, name });
    if (!desired) {
      if (!this.o.enabled || this.missing?.length) return {};
      const ours = this.cached(namespace, name);
      if (!ours || !controlledBy(ours, mcp.metadata.uid)) return {};
      try {
        await this.o.client.delete(path, ours.metadata.uid);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      this.o.metrics?.childWrites.inc({ kind: HTTPROUTE_TYPE.kind, action: 'delete' });
      return { deleted: true };
    }
    if (!this.o.enabled) {
      return {
        blocker: {
          reason: 'GatewayAPIDisabled',
          message:
            'spec.httpRoute is set but the operator runs with --gateway-api=false (Helm value gatewayAPI.enabled): enable it, or remove spec.httpRoute',
        },
      };
    }
    let missing: string[];
    try {
      missing = await this.discover();
    } catch (err) {
      // Flag on, RBAC off (a hand-made Role): say so on the McpServer instead of failing every reconcile.
      if (!(err instanceof KubeApiError) || err.status !== 403) throw err;
      return {
        blocker: {
          reason: 'Forbidden',
          message: `spec.httpRoute needs the operator to list and watch httproutes.${GATEWAY_API_GROUP} and get gateways, and it may not (${err.message}): grant the chart's Gateway API rules (Helm value gatewayAPI.enabled=true), or run the operator with --gateway-api=false`,
        },
        recheckAfterMs: ROUTE_RECHECK_MS,
      };
    }
    if (missing.length) return this.notInstalled(missing);
    let live: HTTPRoute | undefined = this.cached(namespace, name);
    if (!live) {
      try {
        live = await this.o.client.get<HTTPRoute>(path, { fromCache: true });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    if (live && !controlledBy(live, mcp.metadata.uid)) {
      return {
        blocker: {
          reason: 'RouteConflict',
          message: `HTTPRoute ${namespace}/${name} already exists and is not managed by this McpServer; it is left untouched: delete it or rename the McpServer`,
        },
      };
    }
    const rival = routeConflict({
      ownerUid: mcp.metadata.uid,
      namespace,
      desired,
      live,
      routes: this.informers?.flatMap((i) => i.list()) ?? [],
    });
    if (rival) {
      // The Gateway serves the other route: ours, if made before the other was seen (both at once), goes.
      let deleted = false;
      if (live?.metadata?.uid) {
        try {
          await this.o.client.delete(path, live.metadata.uid);
          this.o.metrics?.childWrites.inc({ kind: HTTPROUTE_TYPE.kind, action: 'delete' });
          deleted = true;
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
      return { blocker: rival, deleted, recheckAfterMs: ROUTE_RECHECK_MS };
    }
    let applied = false;
    if (needsApply(desired, live)) {
      try {
        live = await this.o.client.apply<HTTPRoute>(path, desired, this.o.fieldManager);
      } catch (err) {
        if (isNotFound(err)) {
          // The resource itself is gone (an apply creates a missing route): the CRDs were deleted while running.
          this.forgetDiscovery();
          const now = await this.discover();
          if (now.length) return this.notInstalled(now);
          throw err; // back already: retry with backoff
        }
        if (err instanceof KubeApiError && err.status === 403 && /definition is terminating/.test(err.message)) {
          this.forgetDiscovery();
          return this.notInstalled([HTTPROUTE_TYPE.plural], 'someone is deleting the CRD of');
        }
        if (!(err instanceof KubeApiError) || err.status >= 500 || err.status === 409 || err.status === 429) throw err;
        return { blocker: { reason: err.status === 403 ? 'Forbidden' : 'ApplyFailed', message: err.message } };
      }
      this.o.metrics?.childWrites.inc({ kind: HTTPROUTE_TYPE.kind, action: 'apply' });
      applied = true;
    }
    const gateways = new Map<string, Gateway | null>();
    for (const p of spec.spec.httpRoute?.parentRefs ?? []) {
      const ns = p.namespace ?? namespace;
      const gateway = await this.gateway(ns, p.name);
      if (gateway !== undefined) gateways.set(`${ns}/${p.name}`, gateway);
    }
    const verdict = routeVerdict({ mcp: spec, route: live, gateways });
    const waiting = verdict.conditions.some((c) => c.status !== 'True');
    return { ...verdict, applied, ...(waiting ? { recheckAfterMs: ROUTE_RECHECK_MS } : {}) };
  }
}
