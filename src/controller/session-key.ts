/**
 * The gateway's session-key Secret: a random 32-byte key, base64, created once per McpServer or VirtualMcpServer
 * and written again only when the Secret lost it (gates.ts sessionSecretGate says 'repair').
 */
import { randomBytes } from 'node:crypto';
import type { V1OwnerReference } from '@kubernetes/client-node';
import { isConflict, type KubeClient, resourcePath } from '../kube/client.ts';
import type { Cached } from '../kube/informer.ts';
import type { ControllerMetrics } from '../observability/controller-metrics.ts';
import { SESSION_KEY } from '../render/workload.ts';

export interface SessionSecretTarget {
  namespace: string | undefined;
  name: string;
  labels: Record<string, string>;
  owner: V1OwnerReference | undefined;
}

const SECRETS = { apiVersion: 'v1', plural: 'secrets' };

/**
 * Creates the Secret, or gives ours a new key in place. Returns what the API server wrote (for the cache), or
 * undefined when the Secret already existed (created by an earlier pass the cache has not seen yet).
 */
export async function writeSessionSecret(
  client: KubeClient,
  target: SessionSecretTarget,
  how: 'create' | 'repair',
  metrics?: ControllerMetrics,
): Promise<Cached | undefined> {
  const { namespace, name } = target;
  const data = { [SESSION_KEY]: randomBytes(32).toString('base64') };
  if (how === 'repair') {
    const written = await client.mergePatch<Cached>(resourcePath(SECRETS, { namespace, name }), { data });
    metrics?.childWrites.inc({ kind: 'Secret', action: 'update' });
    return written;
  }
  try {
    const written = await client.create<Cached>(resourcePath(SECRETS, { namespace }), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name,
        namespace,
        labels: target.labels,
        ...(target.owner ? { ownerReferences: [target.owner] } : {}),
      },
      type: 'Opaque',
      data,
    });
    metrics?.childWrites.inc({ kind: 'Secret', action: 'create' });
    return written;
  } catch (err) {
    if (isConflict(err)) return undefined; // AlreadyExists: ours, and the cache has not seen it yet
    throw err;
  }
}
