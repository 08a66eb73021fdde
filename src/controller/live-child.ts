/**
 * The live object a child would be applied over. The caches hold the operator's children in full and every
 * other object of those kinds by name only (metadata-only watches), so a name in neither is free and costs no
 * request: the first reconcile of a new McpServer reads nothing from the API server. A name someone else holds
 * is read whole, for the conflict check: server-side apply with force over it would take it over.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { isNotFound, type KubeClient } from '../kube/client.ts';
import type { Cached } from '../kube/informer.ts';

export interface ChildLookup {
  get(namespace: string | undefined, name: string): Cached | undefined;
}

export interface LiveChildOptions {
  client: KubeClient;
  /** The operator's objects of the child's kind. */
  owned: ChildLookup | undefined;
  /** Everyone else's, by name; absent: unknown, so read the API server. */
  foreign: ChildLookup | undefined;
  path: string;
}

/** `cached`: true when the object came from the operator's cache (its resourceVersion is the cache's). */
export async function liveChild(
  child: KubernetesObject,
  o: LiveChildOptions,
): Promise<{ live: Cached | undefined; cached: boolean }> {
  const namespace = child.metadata?.namespace;
  const name = child.metadata?.name ?? '';
  const owned = o.owned?.get(namespace, name);
  if (owned) return { live: owned, cached: true };
  if (o.foreign && !o.foreign.get(namespace, name)) return { live: undefined, cached: false };
  try {
    return { live: await o.client.get<Cached>(o.path, { fromCache: true }), cached: false };
  } catch (err) {
    if (isNotFound(err)) return { live: undefined, cached: false };
    throw err;
  }
}
