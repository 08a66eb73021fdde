/**
 * Pure: two routes of ours that attach to the same Gateway listener with the same host name and path prefix. The
 * Gateway API does not refuse the second one: both are Accepted, and the Gateway sends every request to the
 * oldest route (then the first by "namespace/name", GEP-713 / HTTPRoute rule precedence), so the newcomer would
 * report Ready with an externalURL that serves another server. Like ingressConflict (gates.ts), the route that
 * the Gateway serves keeps it and the other is refused.
 */
import type { Cached } from '../kube/informer.ts';
import type { HTTPRoute, ParentRef } from '../render/route.ts';
import { routeKey } from './gates.ts';
import type { Blocker } from './status.ts';

type Route = HTTPRoute & { metadata?: { namespace?: string; name?: string } };

const controlledBy = (route: Route, uid: string | undefined) =>
  !!uid && (route.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

/** Both refs reach one listener: same Gateway, and sectionName and port equal or left open on either side. */
function sameListener(a: ParentRef, aNs: string, b: ParentRef, bNs: string): boolean {
  return (
    a.name === b.name &&
    (a.namespace ?? aNs) === (b.namespace ?? bNs) &&
    (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway') &&
    (!a.sectionName || !b.sectionName || a.sectionName === b.sectionName) &&
    (!a.port || !b.port || a.port === b.port)
  );
}

/** Host names both match the same way: both none (any host), or one name in common (wildcards compared as text). */
function sharedHost(a: Route, b: Route): string | undefined | false {
  const ah = a.spec?.hostnames ?? [];
  const bh = b.spec?.hostnames ?? [];
  if (ah.length === 0 && bh.length === 0) return undefined;
  return ah.find((h) => bh.includes(h)) ?? false;
}

/** The Gateway API's tie-break between routes with the same match: the oldest, then "namespace/name". */
function servedFirst(a: Route, b: Route): boolean {
  const at = String(a.metadata?.creationTimestamp ?? '');
  const bt = String(b.metadata?.creationTimestamp ?? '');
  if (at !== bt) return at < bt;
  return `${a.metadata?.namespace}/${a.metadata?.name}` < `${b.metadata?.namespace}/${b.metadata?.name}`;
}

export interface RouteConflictInput {
  /** The owner's uid: its own route is never a rival. */
  ownerUid: string | undefined;
  namespace: string;
  desired: HTTPRoute;
  /** Our route as it is now, when it exists (its creation time decides a tie). */
  live: Route | undefined;
  /** Every route of ours the caches hold (the operator's label: a user's own routes are not seen). */
  routes: ReadonlyArray<Route & Cached>;
}

export function routeConflict(input: RouteConflictInput): Blocker | undefined {
  const { desired, namespace } = input;
  const path = desired.spec?.rules?.[0]?.matches?.[0]?.path?.value ?? '/';
  const mine = routeKey(undefined, path);
  for (const other of input.routes) {
    if (controlledBy(other, input.ownerUid) || other.metadata.deletionTimestamp) continue;
    const otherNs = other.metadata.namespace ?? namespace;
    const paths = (other.spec?.rules ?? []).flatMap((r) => (r.matches ?? []).map((m) => m.path?.value ?? '/'));
    if (!paths.some((p) => routeKey(undefined, p) === mine)) continue;
    const host = sharedHost(desired, other);
    if (host === false) continue;
    const parent = (desired.spec?.parentRefs ?? []).find((a) =>
      (other.spec?.parentRefs ?? []).some((b) => sameListener(a, namespace, b, otherNs)),
    );
    if (!parent) continue;
    if (input.live && servedFirst(input.live, other)) continue;
    const gateway = `Gateway ${parent.namespace ?? namespace}/${parent.name}`;
    return {
      reason: 'RoutePathConflict',
      message: `${host ?? '*'}${path} through ${gateway} is already routed by HTTPRoute ${otherNs}/${other.metadata.name}, which the Gateway serves first: pick another spec.httpRoute.hostnames or spec.httpRoute.path`,
    };
  }
  return undefined;
}
