/** Helpers for tests that talk to the real API server: an admin client and polling. */
import { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeClient, resourcePath } from '../../src/kube/client.ts';

export { KubeApiError, resourcePath };

export function adminClient(kubeconfigPath: string): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  return new KubeClient(kc, { userAgent: 'mcp-operator-tests' });
}

export const T = {
  mcpservers: { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' },
  virtualmcpservers: { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'virtualmcpservers' },
  configmaps: { apiVersion: 'v1', plural: 'configmaps' },
  deployments: { apiVersion: 'apps/v1', plural: 'deployments' },
  services: { apiVersion: 'v1', plural: 'services' },
  serviceaccounts: { apiVersion: 'v1', plural: 'serviceaccounts' },
  ingresses: { apiVersion: 'networking.k8s.io/v1', plural: 'ingresses' },
  networkpolicies: { apiVersion: 'networking.k8s.io/v1', plural: 'networkpolicies' },
  poddisruptionbudgets: { apiVersion: 'policy/v1', plural: 'poddisruptionbudgets' },
  pods: { apiVersion: 'v1', plural: 'pods' },
  replicasets: { apiVersion: 'apps/v1', plural: 'replicasets' },
  secrets: { apiVersion: 'v1', plural: 'secrets' },
  events: { apiVersion: 'v1', plural: 'events' },
  namespaces: { apiVersion: 'v1', plural: 'namespaces' },
  leases: { apiVersion: 'coordination.k8s.io/v1', plural: 'leases' },
  crds: { apiVersion: 'apiextensions.k8s.io/v1', plural: 'customresourcedefinitions' },
  clusterroles: { apiVersion: 'rbac.authorization.k8s.io/v1', plural: 'clusterroles' },
  clusterrolebindings: { apiVersion: 'rbac.authorization.k8s.io/v1', plural: 'clusterrolebindings' },
} as const;

/** Polls `probe` until it returns a value that is not undefined; fails with the last value seen. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, options.intervalMs ?? 200));
  }
}

export async function getOrUndefined<T>(client: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await client.get<T>(path);
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}

/** A fresh namespace enforcing Pod Security "restricted", so only correctly hardened pods are admitted. */
export async function createRestrictedNamespace(client: KubeClient, prefix: string): Promise<string> {
  const name = `${prefix}-${Math.random().toString(36).slice(2, 8)}`;
  await client.create(resourcePath(T.namespaces), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: {
      name,
      labels: {
        'pod-security.kubernetes.io/enforce': 'restricted',
        'pod-security.kubernetes.io/enforce-version': 'latest',
      },
    },
  });
  return name;
}
