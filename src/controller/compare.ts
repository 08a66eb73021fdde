/**
 * Decides whether a child must be applied. Zero writes at steady state needs two checks:
 * - the spec-hash annotation: what we would apply changed (also catches fields we stopped setting);
 * - a subset match of what we apply against what the server holds: someone edited our fields (drift).
 * The server adds defaults and canonicalizes quantities ("1000m" -> "1"), so both are tolerated.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
import { compareQuantities, parseQuantity, type Quantity } from '../api/quantity.ts';
import { ANNOTATION_SPEC_HASH } from '../render/metadata.ts';

/** JSON with sorted keys: the same object always hashes the same. */
export function canonicalJSON(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJSON).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJSON(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The child with its spec-hash annotation set: the form we apply. */
export function withSpecHash<T extends KubernetesObject>(object: T): T {
  const hash = sha256(canonicalJSON(object)).slice(0, 32);
  return {
    ...object,
    metadata: {
      ...object.metadata,
      annotations: { ...(object.metadata?.annotations ?? {}), [ANNOTATION_SPEC_HASH]: hash },
    },
  };
}

/**
 * Two quantities denote the same amount ("700m" and "0.7", "1Gi" and "1073741824"), compared exactly as the API
 * server canonicalizes them; a value that is no quantity equals nothing by value.
 */
function sameQuantity(a: unknown, b: unknown): boolean {
  const [x, y] = [quantityOf(a), quantityOf(b)];
  return x !== undefined && y !== undefined && compareQuantities(x, y) === 0;
}

const quantityOf = (q: unknown): Quantity | undefined =>
  typeof q === 'number' ? parseQuantity(String(q)) : typeof q === 'string' ? parseQuantity(q.trim()) : undefined;

/**
 * The fields of what we render that hold quantities: container and pod resources (and a volume claim's), an
 * emptyDir's sizeLimit, and a resourceFieldRef's divisor (env and downward API volumes); read as text there, a
 * divisor of "1024Ki" stored as "1Mi" was drift on every event, re-applied forever.
 */
const QUANTITY_FIELDS: ReadonlySet<string> = new Set(['resources', 'sizeLimit', 'divisor']);

/** Values the API server omits when serializing (omitempty): absent on the server means the same. */
const isEmpty = (v: unknown) =>
  v === undefined ||
  v === '' ||
  v === false ||
  v === 0 ||
  (Array.isArray(v) && v.length === 0) ||
  (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);

/** True when every field of `desired` holds the same value in `live`. */
export function isSubset(desired: unknown, live: unknown, path: readonly string[] = []): boolean {
  if (isEmpty(desired) && isEmpty(live)) return true;
  if (Array.isArray(desired)) {
    return Array.isArray(live) && live.length === desired.length && desired.every((d, i) => isSubset(d, live[i], path));
  }
  if (desired !== null && typeof desired === 'object') {
    if (live === null || typeof live !== 'object' || Array.isArray(live)) return false;
    return Object.entries(desired).every(([k, v]) => isSubset(v, (live as Record<string, unknown>)[k], [...path, k]));
  }
  if (desired === live) return true;
  // Quantities come back canonicalized ("1024Ki" as "1Mi"): compare by value where Kubernetes stores quantities.
  if (path.some((p) => QUANTITY_FIELDS.has(p))) {
    return sameQuantity(desired, live);
  }
  return false;
}

export function needsApply(desired: KubernetesObject, live: KubernetesObject | undefined): boolean {
  if (!live) return true;
  const want = desired.metadata?.annotations?.[ANNOTATION_SPEC_HASH];
  if (want === undefined || live.metadata?.annotations?.[ANNOTATION_SPEC_HASH] !== want) return true;
  // Identity (apiVersion, kind, name) is how we found `live`; compare what the object says, not what it is.
  const { metadata, apiVersion: _v, kind: _k, ...rest } = desired;
  const desiredMeta = {
    labels: metadata?.labels,
    annotations: metadata?.annotations,
    ownerReferences: metadata?.ownerReferences,
  };
  return !isSubset({ ...rest, metadata: desiredMeta }, live);
}

/**
 * The hash of the Secrets and ConfigMaps a pod reads (their content hashes, as the caches keep them): it changes
 * when any of them does, which rolls the pods. Undefined when the pod reads none.
 */
export function referencesHash(
  namespace: string,
  refs: ReadonlyArray<{ kind: 'Secret' | 'ConfigMap'; name: string }>,
  stores: Record<'secrets' | 'configMaps', { get(namespace: string, name: string): { hash?: string } | undefined }>,
): string | undefined {
  if (!refs.length) return undefined;
  const parts = [...new Set(refs.map((r) => `${r.kind}/${r.name}`))].sort().map((id) => {
    const [kind, name = ''] = id.split('/');
    const store = kind === 'Secret' ? stores.secrets : stores.configMaps;
    return `${id}=${store.get(namespace, name)?.hash ?? 'absent'}`;
  });
  return sha256(parts.join('\n')).slice(0, 32);
}
