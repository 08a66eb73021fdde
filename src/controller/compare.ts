/**
 * Decides whether a child must be applied. Zero writes at steady state needs two checks:
 * - the spec-hash annotation: what we would apply changed (also catches fields we stopped setting);
 * - a subset match of what we apply against what the server holds: someone edited our fields (drift).
 * The server adds defaults and canonicalizes quantities ("1000m" -> "1"), so both are tolerated.
 */
import { createHash } from 'node:crypto';
import type { KubernetesObject } from '@kubernetes/client-node';
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

const SUFFIX: Record<string, number> = {
  '': 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** The numeric value of a Kubernetes quantity ("500m" -> 0.5, "1Gi" -> 1073741824), or undefined. */
export function parseQuantity(q: unknown): number | undefined {
  if (typeof q === 'number') return q;
  if (typeof q !== 'string') return undefined;
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|)$/.exec(q.trim());
  if (!m) return undefined;
  const factor = SUFFIX[m[2] ?? ''];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}

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
  // Quantities come back canonicalized: compare by value where Kubernetes stores quantities.
  if (path.some((p) => p === 'resources' || p === 'sizeLimit')) {
    const [a, b] = [parseQuantity(desired), parseQuantity(live)];
    // Floating point: 0.7 and 700m must compare equal (700 * 1e-3 is 0.7000000000000001).
    return a !== undefined && b !== undefined && Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
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
