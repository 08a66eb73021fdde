/**
 * Pure: the gates a reconcile passes before (and while) it writes children. Each looks at what the caches hold
 * and answers with a Blocker (why the McpServer cannot converge, and the fix) or undefined (pass). The Reconciler
 * runs them in order and sends any blocker down its one block() path.
 */
import type { KubernetesObject, V1Ingress } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import { InvalidMcpServerError, parseMcpServer } from '../api/validate.ts';
import { GATEWAY_ENV_PREFIX } from '../contract/gateway.ts';
import type { Cached } from '../kube/informer.ts';
import type { ObjectReference } from '../render/references.ts';
import { SESSION_KEY } from '../render/workload.ts';
import type { Blocker } from './status.ts';

/**
 * What the cache keeps of a Secret or ConfigMap: key names and a content hash, never the values; `shortKeys`,
 * the keys whose value is under MIN_SESSION_KEY_BYTES (what a session-key Secret must not hold).
 */
export type ReferencedObject = Cached & { keys: string[]; hash: string; shortKeys?: string[] };

export const controlledBy = (object: KubernetesObject, uid: string | undefined) =>
  !!uid && (object.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

/**
 * Controlled by an earlier owner of this kind and name, now deleted (names are unique, so that one is gone): what
 * a delete and re-create leaves for a moment. The garbage collector deletes it; it is not in the user's way.
 */
export const leftByPredecessor = (object: KubernetesObject, owner: Cached, ownerKind: string) =>
  (object.metadata?.ownerReferences ?? []).some(
    (ref) =>
      ref.controller && ref.kind === ownerKind && ref.name === owner.metadata.name && ref.uid !== owner.metadata.uid,
  );

const predecessorMessage = (what: string, ownerKind: string) =>
  `${what}: left by a deleted ${ownerKind} of this name; the garbage collector deletes it (after any finalizers), then this one converges`;

/** The spec with its defaults, or InvalidSpec naming every field and its fix (nothing to retry until it changes). */
export function parseSpec(mcp: McpServer): { spec: McpServer } | { blocker: Blocker } {
  try {
    return { spec: parseMcpServer(mcp) };
  } catch (err) {
    if (!(err instanceof InvalidMcpServerError)) throw err;
    return {
      blocker: { reason: 'InvalidSpec', message: err.errors.map((e) => `${e.field}: ${e.message}`).join('; ') },
    };
  }
}

/** The first required Secret or ConfigMap (or key) that does not exist, with the command that creates it. */
export function missingReference(
  namespace: string,
  refs: readonly ObjectReference[],
  lookup: (kind: ObjectReference['kind'], name: string) => ReferencedObject | undefined,
): Blocker | undefined {
  for (const ref of refs) {
    if (ref.optional) continue;
    const object = lookup(ref.kind, ref.name);
    const create =
      ref.kind === 'Secret'
        ? `kubectl -n ${namespace} create secret generic ${ref.name} --from-literal=${ref.key ?? 'KEY'}=...`
        : `kubectl -n ${namespace} create configmap ${ref.name} --from-literal=${ref.key ?? 'KEY'}=...`;
    if (!object) {
      return {
        reason: `${ref.kind}NotFound`,
        message: `${ref.kind} ${namespace}/${ref.name} (referenced by ${ref.field}) does not exist: create it (${create}) or fix the reference`,
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

/**
 * One route as Ingress Prefix matching sees it: the host without case, the path without trailing slashes
 * ("/base" and "/base/" match the same requests).
 */
export function routeKey(host: string | undefined, path: string | undefined): string {
  return `${(host ?? '*').toLowerCase()}${(path ?? '/').replace(/\/+$/, '') || '/'}`;
}

/**
 * Which of two Ingresses came first: the creation time, then (created within the same second) the smaller uid.
 * Both McpServers of a tie compute the same answer, so exactly one keeps the route.
 */
export function cameFirst(a: Cached, b: Cached): boolean {
  const at = String(a.metadata.creationTimestamp ?? '');
  const bt = String(b.metadata.creationTimestamp ?? '');
  if (at !== bt) return at < bt;
  return String(a.metadata.uid ?? '') < String(b.metadata.uid ?? '');
}

/** The class an Ingress asks for: spec.ingressClassName, else the older annotation; undefined: the default. */
const ingressClass = (ingress: V1Ingress): string | undefined =>
  ingress.spec?.ingressClassName ?? ingress.metadata?.annotations?.['kubernetes.io/ingress.class'];

/**
 * Two servers (McpServers or VirtualMcpServers) exposing the same host and path would fight over one route: the
 * Ingress that exists first keeps it, the newcomer is refused (and withholds its own Ingress, reconcile.ts and
 * virtual/reconcile.ts). `ingresses`: every Ingress the cache holds (only the operator's own are visible: a
 * user's Ingress on the same route is not seen).
 */
export function ingressConflict(
  mcp: Cached,
  desired: readonly KubernetesObject[],
  ingresses: ReadonlyArray<V1Ingress & Cached>,
): Blocker | undefined {
  const mine = desired.find((d) => d.kind === 'Ingress') as V1Ingress | undefined;
  if (!mine) return undefined;
  const rule = mine.spec?.rules?.[0];
  // Every path: with auth, the /.well-known metadata path is a route too, and whoever serves it names the issuer.
  const minePaths = (rule?.http?.paths ?? []).map((p) => p.path);
  const mineRoutes = minePaths.map((path) => routeKey(rule?.host, path));
  const own = ingresses.find(
    (i) =>
      i.metadata.namespace === mcp.metadata.namespace &&
      i.metadata.name === mcp.metadata.name &&
      controlledBy(i, mcp.metadata.uid),
  );
  const mineClass = ingressClass(mine);
  for (const other of ingresses) {
    if (controlledBy(other, mcp.metadata.uid) || other.metadata.deletionTimestamp) continue;
    // Two named classes are two controllers, each serving only its own (an internal and a public one): no
    // fight. No class means the cluster's default, which may be either: a conflict.
    const otherClass = ingressClass(other);
    if (mineClass && otherClass && mineClass !== otherClass) continue;
    const routes = (other.spec?.rules ?? []).flatMap((r) => (r.http?.paths ?? []).map((p) => routeKey(r.host, p.path)));
    const taken = mineRoutes.findIndex((route) => routes.includes(route));
    if (taken < 0) continue;
    if (own && cameFirst(own, other)) continue;
    const shown = `${rule?.host ?? '*'}${minePaths[taken] ?? '/'}`;
    return {
      reason: 'IngressConflict',
      message: `${shown} is already served by Ingress ${other.metadata.namespace}/${other.metadata.name}: pick another spec.ingress.host or spec.ingress.path`,
    };
  }
  return undefined;
}

/**
 * In a stdio pod the gateway shares the server's container, so envFrom reaches the gateway too: a key that, with
 * its source's prefix, lands in MCP_GATEWAY_* would change the gateway's settings (trust of proxy headers, allowed
 * origins, ports). The CRD refuses such a prefix; this catches keys of the referenced objects themselves.
 */
export function reservedEnvFromKey(
  namespace: string,
  spec: McpServer,
  lookup: (kind: 'Secret' | 'ConfigMap', name: string) => ReferencedObject | undefined,
): Blocker | undefined {
  if (spec.spec.transport !== 'stdio') return undefined;
  for (const [i, source] of (spec.spec.envFrom ?? []).entries()) {
    const kind = source.secretRef ? 'Secret' : 'ConfigMap';
    const name = (source.secretRef ?? source.configMapRef)?.name;
    if (!name) continue;
    const prefix = source.prefix ?? '';
    const key = lookup(kind, name)?.keys.find((k) => `${prefix}${k}`.startsWith(GATEWAY_ENV_PREFIX));
    if (key === undefined) continue;
    return {
      reason: 'ReservedEnvName',
      message: `${kind} ${namespace}/${name} (spec.envFrom[${i}]) has the key "${key}", which becomes ${prefix}${key}: ${GATEWAY_ENV_PREFIX}* variables configure the gateway, which shares a stdio server's container; rename the key or set envFrom[${i}].prefix`,
    };
  }
  return undefined;
}

/** A session key shorter than this is refused by the gateway (parts.ts) and too weak to sign with. */
export const MIN_SESSION_KEY_BYTES = 16;

/**
 * The gateway's session-key Secret: 'create' when it is wanted and absent, 'repair' when ours lost its key or
 * holds a short one (someone edited it: the pods could not mount or would refuse it), a ChildConflict when
 * someone else's Secret holds the name, undefined when ours is sound (or no gateway runs).
 */
export function sessionSecretGate(
  owner: Cached,
  gatewayEnabled: boolean,
  name: string,
  existing: ReferencedObject | undefined,
  ownerKind = 'McpServer',
): Blocker | 'create' | 'repair' | undefined {
  if (!gatewayEnabled) return undefined;
  if (!existing) return 'create';
  if (leftByPredecessor(existing, owner, ownerKind))
    return {
      reason: 'ChildConflict',
      message: predecessorMessage(`Secret ${owner.metadata.namespace}/${name}`, ownerKind),
    };
  if (!controlledBy(existing, owner.metadata.uid)) {
    return {
      reason: 'ChildConflict',
      message: `Secret ${owner.metadata.namespace}/${name} already exists and is not managed by this ${ownerKind}: delete it or rename the ${ownerKind}`,
    };
  }
  const sound = existing.keys.includes(SESSION_KEY) && !(existing.shortKeys ?? []).includes(SESSION_KEY);
  return sound ? undefined : 'repair';
}

/**
 * Child names already taken by objects this McpServer does not control: never adopted, never overwritten. Every
 * one is named in one message, so a user clears them all in one go (not one per reconcile).
 */
export function childConflict(
  mcp: McpServer & Cached,
  live: ReadonlyMap<KubernetesObject, KubernetesObject | undefined>,
): Blocker | undefined {
  const taken: string[] = [];
  const left: string[] = [];
  for (const [child, object] of live) {
    if (!object || controlledBy(object, mcp.metadata.uid)) continue;
    const what = `${child.kind} ${mcp.metadata.namespace}/${child.metadata?.name}`;
    (leftByPredecessor(object, mcp, 'McpServer') ? left : taken).push(what);
  }
  if (taken.length === 0 && left.length)
    return { reason: 'ChildConflict', message: predecessorMessage(left.join(', '), 'McpServer') };
  if (taken.length === 0) return undefined;
  const [first] = taken;
  return {
    reason: 'ChildConflict',
    message:
      taken.length === 1
        ? `${first} already exists and is not managed by this McpServer: delete it or rename the McpServer`
        : `${taken.join(', ')} already exist and are not managed by this McpServer: delete them or rename the McpServer`,
  };
}

/**
 * An McpServer and a VirtualMcpServer of one name in one namespace would have the same Service, Deployment and
 * the rest. The one whose Service stands keeps the name, so one that runs is never displaced by a newcomer.
 * With no Service yet (both created at once), the one created first, and the smaller uid within one second,
 * so exactly one of them wins instead of each holding some children and both blocked.
 */
export function nameHeldByOther(self: Cached, other: Cached | undefined, service: Cached | undefined): boolean {
  if (!other || other.metadata.deletionTimestamp || other.metadata.uid === self.metadata.uid) return false;
  if (service && controlledBy(service, self.metadata.uid)) return false;
  if (service && controlledBy(service, other.metadata.uid)) return true;
  const mine = String(self.metadata.creationTimestamp ?? '');
  const theirs = String(other.metadata.creationTimestamp ?? '');
  if (mine !== theirs) return theirs < mine;
  return String(other.metadata.uid ?? '') < String(self.metadata.uid ?? '');
}

export const nameTaken = (otherKind: string, selfKind: string, namespace: string | undefined, name: string) => ({
  reason: 'ChildConflict',
  message: `${otherKind} ${namespace}/${name} has this name and came first; its children have the names this ${selfKind}'s would: rename the ${selfKind} (nothing of it runs until then)`,
});

/** Who the controller runs as: its namespace and ServiceAccount (the chart's downward API), when known. */
export interface OperatorIdentity {
  namespace?: string;
  serviceAccount?: string;
}

/**
 * The operator's ServiceAccount may read Secrets cluster-wide: a server in the operator's namespace must not run as
 * it, or whoever may create McpServers there would borrow those rights through the operator (a confused deputy).
 */
export function operatorAccountGate(
  kind: string,
  namespace: string,
  pod: { serviceAccountName?: string } | undefined,
  operator: OperatorIdentity = {},
): Blocker | undefined {
  const { serviceAccount } = operator;
  if (!serviceAccount || namespace !== operator.namespace || pod?.serviceAccountName !== serviceAccount)
    return undefined;
  return {
    reason: 'ReservedServiceAccount',
    message: `spec.pod.serviceAccountName: "${serviceAccount}" is the operator's own ServiceAccount in ${namespace}, which may read Secrets cluster-wide; remove the field (the ${kind} then gets its own ServiceAccount) or name one made for this server`,
  };
}

/**
 * What a blocker stops at once: an Ingress of ours made before the conflict was seen (both created at once) serves
 * the other server's route; a pod made before an upgrade brought the gate runs as the operator's ServiceAccount.
 */
export const STOPPED_BY: Readonly<Record<string, string>> = {
  IngressConflict: 'Ingress',
  ReservedServiceAccount: 'Deployment',
};
