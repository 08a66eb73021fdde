/**
 * The renderer: McpServer in, Kubernetes objects out. Pure: no I/O, no clock, same input same output.
 * The controller applies what this returns; `mcp-operator render` prints it.
 */
import type { KubernetesObject, V1PodDisruptionBudget, V1ServiceAccount } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import { childMetadata, selectorLabels } from './metadata.ts';
import { type NetworkPolicyOptions, renderIngress, renderNetworkPolicy, renderService } from './network.ts';
import { renderHTTPRoute } from './route.ts';
import { renderDeployment, type WorkloadOptions } from './workload.ts';

export type RenderOptions = WorkloadOptions & NetworkPolicyOptions;

/** Every kind the renderer may produce, in apply order (the ServiceAccount before the pods that use it). */
export const CHILD_KINDS = [
  { apiVersion: 'v1', kind: 'ServiceAccount', plural: 'serviceaccounts' },
  { apiVersion: 'v1', kind: 'Service', plural: 'services' },
  { apiVersion: 'apps/v1', kind: 'Deployment', plural: 'deployments' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', plural: 'ingresses' },
  { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', plural: 'networkpolicies' },
  { apiVersion: 'policy/v1', kind: 'PodDisruptionBudget', plural: 'poddisruptionbudgets' },
] as const;
export type ChildKind = (typeof CHILD_KINDS)[number]['kind'];

function renderServiceAccount(mcp: McpServer): V1ServiceAccount | undefined {
  if (mcp.spec.pod?.serviceAccountName) return undefined; // the user brings their own
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(mcp),
    automountServiceAccountToken: false,
  };
}

/** With more than one replica, voluntary disruptions (drains, upgrades) take one pod at a time. */
function renderPodDisruptionBudget(mcp: McpServer): V1PodDisruptionBudget | undefined {
  if (mcp.spec.replicas <= 1) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(mcp),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(mcp) } },
  };
}

/**
 * The children of a defaulted, valid McpServer (see api/validate.ts), in apply order. The HTTPRoute comes last and
 * is not in CHILD_KINDS: its CRD may be missing, so the controller applies it separately (controller/gateway-api.ts).
 */
export function renderChildren(mcp: McpServer, options: RenderOptions): KubernetesObject[] {
  const children: Array<KubernetesObject | undefined> = [
    renderServiceAccount(mcp),
    renderService(mcp),
    renderDeployment(mcp, options),
    renderIngress(mcp),
    renderNetworkPolicy(mcp, options),
    renderPodDisruptionBudget(mcp),
    renderHTTPRoute(mcp),
  ];
  return children.filter((c): c is KubernetesObject => c !== undefined);
}

export { referencedObjects } from './references.ts';
export { GATEWAY_TYPE, HTTPROUTE_TYPE, type HTTPRoute, renderHTTPRoute } from './route.ts';
export { externalURL, serviceURL } from './urls.ts';
