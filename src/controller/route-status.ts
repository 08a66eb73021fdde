/**
 * Pure: what an HTTPRoute's status (written by the Gateway's controller) and the Gateways it names mean for the
 * McpServer: two conditions mirroring the route's, a blocker when a Gateway refused it, and the external URL.
 */
import type { RouteConditionType } from '../api/conditions.ts';
import type { Condition, McpServer } from '../api/types.generated.ts';
import type { HTTPRoute, RouteParentStatus } from '../render/route.ts';
import { basePath, clientPath } from '../render/urls.ts';
import type { Blocker } from './status.ts';

export type RouteCondition = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/** The slice of a Gateway the controller reads (read-only): listeners and addresses. */
export interface Gateway {
  metadata?: { name?: string; namespace?: string };
  spec?: {
    listeners?: Array<{
      name: string;
      protocol: string;
      port: number;
      hostname?: string;
      allowedRoutes?: { namespaces?: { from?: string } };
    }>;
  };
  status?: { addresses?: Array<{ type?: string; value: string }> };
}

export interface RouteObservation {
  mcp: McpServer;
  /** The route as the API server has it (with status), if it exists. */
  route?: HTTPRoute | undefined;
  /** The parent Gateways by "namespace/name"; null: known not to exist; absent: could not be read. */
  gateways: ReadonlyMap<string, Gateway | null>;
}

export interface RouteVerdict {
  conditions: RouteCondition[];
  blocker?: Blocker;
  /** Set once every parent accepted the route and the URL can be told (a host is known). */
  externalURL?: string;
}

type SpecParent = NonNullable<McpServer['spec']['httpRoute']>['parentRefs'][number];

const parentLabel = (ns: string, p: SpecParent) => `Gateway ${ns}/${p.name}${p.sectionName ? `/${p.sectionName}` : ''}`;

function statusFor(route: HTTPRoute | undefined, ns: string, p: SpecParent): RouteParentStatus | undefined {
  return route?.status?.parents?.find(
    (s) =>
      s.parentRef.name === p.name &&
      (s.parentRef.namespace ?? ns) === (p.namespace ?? ns) &&
      (s.parentRef.sectionName ?? '') === (p.sectionName ?? '') &&
      (s.parentRef.port ?? 0) === (p.port ?? 0) &&
      (s.parentRef.kind ?? 'Gateway') === 'Gateway',
  );
}

/**
 * What to do about the Gateway API's standard refusal reasons (GEP-1364 RouteConditionReason): the Gateway's
 * controller says what is wrong, in its own words, but not what to change on the McpServer.
 */
const ROUTE_FIXES: Readonly<Record<string, (label: string, ns: string) => string>> = {
  NotAllowedByListeners: (label, ns) =>
    `let the listener's allowedRoutes admit HTTPRoutes from namespace ${ns} (on ${label}), or attach spec.httpRoute.parentRefs to a Gateway that does`,
  NoMatchingListenerHostname: (label) =>
    `set spec.httpRoute.hostnames to names the listener hostnames of ${label} match, or omit them`,
  NoMatchingParent: (label) =>
    `spec.httpRoute.parentRefs sectionName or port names no listener of ${label}: use one of its listeners' names or ports`,
  UnsupportedValue: () =>
    "the Gateway's controller does not support a value of the route: see its message, or attach to a Gateway of another class",
  BackendNotFound: () =>
    "the route's backend is the McpServer's Service: if this lasts, check that the Service exists and is not a conflicting one",
  RefNotPermitted: () =>
    "the Gateway's controller refuses the route's reference to the McpServer's Service: check the Gateway's ReferenceGrant policy",
  InvalidKind: () => "the Gateway's controller does not take a Service as a backend: use a Gateway of another class",
  UnsupportedProtocol: () =>
    "the Gateway's controller does not take the Service's protocol: use a Gateway of another class",
};

/**
 * The Gateway's controller may write up to 32 KiB of message, as much as a condition of ours holds: with the
 * Gateway's name and the fix around it, the status write would be refused and status would never change again.
 */
const MAX_QUOTED = 1024;
const clip = (text: string) => (text.length > MAX_QUOTED ? `${text.slice(0, MAX_QUOTED)}...` : text);

/** One condition type over every parent: False wins, then Unknown (pending), else True. */
function aggregate(
  type: RouteConditionType,
  source: 'Accepted' | 'ResolvedRefs',
  obs: RouteObservation,
  generation: number,
): RouteCondition {
  const ns = obs.mcp.metadata?.namespace ?? 'default';
  const parents = obs.mcp.spec.httpRoute?.parentRefs ?? [];
  const pending: string[] = [];
  const accepted: string[] = [];
  for (const p of parents) {
    const label = parentLabel(p.namespace ?? ns, p);
    if (obs.gateways.get(`${p.namespace ?? ns}/${p.name}`) === null) {
      if (source === 'Accepted') {
        return {
          type,
          status: 'False',
          reason: 'GatewayNotFound',
          message: `${label} (spec.httpRoute.parentRefs) does not exist: create it or fix the reference`,
        };
      }
      pending.push(label);
      continue;
    }
    const parent = statusFor(obs.route, ns, p);
    const c = parent?.conditions?.find((x) => x.type === source);
    if (!c || (c.observedGeneration !== undefined && c.observedGeneration < generation)) {
      pending.push(label);
      continue;
    }
    if (c.status === 'False') {
      const by = parent?.controllerName ? ` (${parent.controllerName})` : '';
      const fix = ROUTE_FIXES[c.reason ?? '']?.(label, ns);
      return {
        type,
        status: 'False',
        reason: /^[A-Z][A-Za-z]*$/.test(c.reason ?? '')
          ? (c.reason as string)
          : source === 'Accepted'
            ? 'NotAccepted'
            : 'RefsNotResolved',
        message: `${label}${by}: ${clip(c.message || c.reason || `${source} is False`)}${fix ? `; ${fix}` : ''}`,
      };
    }
    if (c.status === 'True') accepted.push(label);
    else pending.push(label);
  }
  if (pending.length) {
    return {
      type,
      status: 'Unknown',
      reason: 'Pending',
      message: `waiting for the controller of ${pending.join(', ')} to report ${source} for the route: is a controller running for the Gateway's class?`,
    };
  }
  return { type, status: 'True', reason: source, message: `${source} by ${accepted.join(', ')}` };
}

type Listener = NonNullable<NonNullable<Gateway['spec']>['listeners']>[number];

/** A listener host name admits a route host name: none, the same, or a wildcard over it (*.a.b: x.a.b, x.y.a.b). */
const hostAdmits = (listener: string | undefined, host: string) =>
  !listener || listener === host || (listener.startsWith('*.') && host.endsWith(listener.slice(1)));

/**
 * The listener may carry the route: its allowedRoutes admit the route's namespace (Same by default; a Selector
 * needs the namespace's labels, so it may), and its host name meets one of the route's (or either has none).
 */
function carries(l: Listener, gatewayNs: string, routeNs: string, hostnames: readonly string[]): boolean {
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'Same' && gatewayNs !== routeNs) return false;
  if (from !== 'Same' && from !== 'All' && from !== 'Selector') return false;
  return !hostnames.length || hostnames.some((h) => hostAdmits(l.hostname, h) || hostAdmits(h, l.hostname ?? h));
}

/** The external URL through the first parent: host from the route, the listener, or the Gateway's address. */
function routeURL(obs: RouteObservation): string | undefined {
  const ns = obs.mcp.metadata?.namespace ?? 'default';
  const spec = obs.mcp.spec.httpRoute;
  const first = spec?.parentRefs[0];
  if (!spec || !first) return undefined;
  const gatewayNs = first.namespace ?? ns;
  const gateway = obs.gateways.get(`${gatewayNs}/${first.name}`);
  if (!gateway) return undefined;
  const hostnames = spec.hostnames ?? [];
  const listeners = (gateway.spec?.listeners ?? []).filter(
    (l) =>
      (l.protocol === 'HTTP' || l.protocol === 'HTTPS') &&
      (!first.sectionName || l.name === first.sectionName) &&
      (!first.port || l.port === first.port),
  );
  // The route was accepted, so some listener carries it: the first one that can, by what the Gateway shows.
  const listener = listeners.find((l) => carries(l, gatewayNs, ns, hostnames)) ?? listeners[0];
  if (!listener) return undefined;
  const concrete = (h: string | undefined) => (h && !h.startsWith('*') ? h : undefined);
  const address = gateway.status?.addresses?.find((a) => a.value)?.value;
  // The address only when nothing restricts the host: a request to it would not match a (wildcard) host name.
  const unrestricted = !hostnames.length && !listener.hostname;
  const host =
    concrete(hostnames.find((h) => !h.startsWith('*') && hostAdmits(listener.hostname, h))) ??
    concrete(hostnames.find((h) => !h.startsWith('*'))) ??
    concrete(listener.hostname) ??
    (unrestricted ? address : undefined);
  if (!host) return undefined;
  const scheme = listener.protocol === 'HTTPS' ? 'https' : 'http';
  const port = listener.port === (scheme === 'https' ? 443 : 80) ? '' : `:${listener.port}`;
  const authority = host.includes(':') ? `[${host}]` : host; // an IPv6 address
  return `${scheme}://${authority}${port}${basePath(obs.mcp)}${clientPath(obs.mcp)}`;
}

export function routeVerdict(obs: RouteObservation): RouteVerdict {
  const generation = (obs.route?.metadata as { generation?: number } | undefined)?.generation ?? 0;
  const accepted = aggregate('RouteAccepted', 'Accepted', obs, generation);
  const resolved = aggregate('RouteResolvedRefs', 'ResolvedRefs', obs, generation);
  const conditions = [accepted, resolved];
  if (accepted.status === 'False') {
    const reason = accepted.reason === 'GatewayNotFound' ? 'GatewayNotFound' : 'RouteNotAccepted';
    return { conditions, blocker: { reason, message: `HTTPRoute not accepted: ${accepted.message}` } };
  }
  if (resolved.status === 'False') {
    return {
      conditions,
      blocker: { reason: 'RouteRefsNotResolved', message: `HTTPRoute backend not resolved: ${resolved.message}` },
    };
  }
  const url = accepted.status === 'True' ? routeURL(obs) : undefined;
  return { conditions, ...(url ? { externalURL: url } : {}) };
}
