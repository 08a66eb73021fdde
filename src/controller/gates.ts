/**
 * Pure: the gates a reconcile passes before (and while) it writes children. Each looks at what the caches hold
 * and answers with a Blocker (why the McpServer cannot converge, and the fix) or undefined (pass). The Reconciler
 * runs them in order and sends any blocker down its one block() path.
 */
import type { KubernetesObject, V1Ingress } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import { InvalidMcpServerError, parseMcpServer } from '../api/validate.ts';
import type { Cached } from '../kube/informer.ts';
import type { ObjectReference } from '../render/references.ts';
import type { Blocker } from './status.ts';

/** What the cache keeps of a Secret or ConfigMap: key names and a content hash, never the values. */
export type ReferencedObject = Cached & { keys: string[]; hash: string };

export const controlledBy = (object: KubernetesObject, uid: string | undefined) =>
  !!uid && (object.metadata?.ownerReferences ?? []).some((ref) => ref.controller && ref.uid === uid);

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
 * Two McpServers exposing the same host and path would fight over one route: the Ingress that exists first
 * keeps it, the newcomer is refused. `ingresses`: every Ingress the cache holds (only our own are visible).
 */
export function ingressConflict(
  mcp: McpServer & Cached,
  desired: readonly KubernetesObject[],
  ingresses: ReadonlyArray<V1Ingress & Cached>,
): Blocker | undefined {
  const mine = desired.find((d) => d.kind === 'Ingress') as V1Ingress | undefined;
  if (!mine) return undefined;
  const rule = mine.spec?.rules?.[0];
  const route = `${rule?.host ?? '*'}${rule?.http?.paths[0]?.path ?? '/'}`;
  const own = ingresses.find(
    (i) => i.metadata.namespace === mcp.metadata.namespace && i.metadata.name === mcp.metadata.name,
  );
  const ownSince = own?.metadata.creationTimestamp ?? '9999';
  for (const other of ingresses) {
    if (controlledBy(other, mcp.metadata.uid)) continue;
    const routes = (other.spec?.rules ?? []).flatMap((r) =>
      (r.http?.paths ?? []).map((p) => `${r.host ?? '*'}${p.path ?? '/'}`),
    );
    if (!routes.includes(route)) continue;
    if (String(other.metadata.creationTimestamp ?? '') > String(ownSince)) continue; // ours came first
    return {
      reason: 'IngressConflict',
      message: `${route} is already served by Ingress ${other.metadata.namespace}/${other.metadata.name}: pick another spec.ingress.host or spec.ingress.path`,
    };
  }
  return undefined;
}

const notOurs = (kind: string | undefined, namespace: string | undefined, name: string | undefined): Blocker => ({
  reason: 'ChildConflict',
  message: `${kind} ${namespace}/${name} already exists and is not managed by this McpServer: delete it or rename the McpServer`,
});

/**
 * The gateway's session-key Secret: 'create' when it is wanted and absent, a ChildConflict when someone else's
 * Secret holds the name, undefined when ours exists (or no gateway runs).
 */
export function sessionSecretGate(
  mcp: McpServer & Cached,
  spec: McpServer,
  name: string,
  existing: Cached | undefined,
): Blocker | 'create' | undefined {
  if (!spec.spec.gateway.enabled) return undefined;
  if (!existing) return 'create';
  return controlledBy(existing, mcp.metadata.uid) ? undefined : notOurs('Secret', mcp.metadata.namespace, name);
}

/** A child name already taken by an object this McpServer does not control: never adopted, never overwritten. */
export function childConflict(
  mcp: McpServer & Cached,
  live: ReadonlyMap<KubernetesObject, KubernetesObject | undefined>,
): Blocker | undefined {
  for (const [child, object] of live) {
    if (object && !controlledBy(object, mcp.metadata.uid))
      return notOurs(child.kind, mcp.metadata.namespace, child.metadata?.name);
  }
  return undefined;
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
