/**
 * A VirtualMcpServer's children: our gateway in aggregate mode (see api/aggregate-contract.ts) in front of its
 * backends' Services. Pure, like index.ts: the VirtualMcpServer and its backends in, objects out. Service,
 * Ingress and HTTPRoute are the McpServer's own renderers; the pod is hardened the same way (Pod Security
 * "restricted", no service-account token, read-only root).
 */
import type {
  KubernetesObject,
  V1ConfigMap,
  V1Deployment,
  V1NetworkPolicy,
  V1NetworkPolicyPeer,
  V1PodDisruptionBudget,
  V1ServiceAccount,
  V1Volume,
} from '@kubernetes/client-node';
import { BACKENDS_DIR, CREDENTIALS_DIR, HOME_DIR } from '../api/pod-layout.ts';
import type { VirtualMcpServer } from '../api/types.generated.ts';
import { AGGREGATE_VERB, type AggregateBackendsFile, BACKENDS_FILE_ENV, BACKENDS_KEY } from '../contract/aggregate.ts';
import { GATEWAY_HEALTH_PORT, GATEWAY_MCP_PORT, HEALTH_PATHS } from '../contract/gateway.ts';
import { CHILD_KINDS } from './index.ts';
import {
  ANNOTATION_CONFIG_HASH,
  childMetadata,
  commonLabels,
  nameOf,
  namespaceOf,
  selectorLabels,
} from './metadata.ts';
import { renderIngress, renderService } from './network.ts';
import { renderHTTPRoute } from './route.ts';
import { basePath, ingressURLHost } from './urls.ts';
import { backendCredentialsSecretName } from './virtual-credentials.ts';
import {
  authMount,
  GATEWAY_CONTAINER,
  gatewayEnv,
  gatewayPorts,
  gatewayProbes,
  podSecurityContext,
  quantities,
  restrictedContainerSecurity,
  SESSION_KEY,
  type WorkloadOptions,
  writableMounts,
} from './workload.ts';

/** Every kind a VirtualMcpServer's children have, in apply order (the backends' ConfigMap before the pods). */
export const VIRTUAL_CHILD_KINDS = [
  ...CHILD_KINDS.slice(0, 1),
  { apiVersion: 'v1', kind: 'ConfigMap', plural: 'configmaps' },
  ...CHILD_KINDS.slice(1),
] as const;
export type VirtualChildKind = (typeof VIRTUAL_CHILD_KINDS)[number]['kind'];

export const backendsConfigMapName = (vmcp: VirtualMcpServer) => `${nameOf(vmcp)}-backends`;
/** Not an McpServer's `-gateway-session`: the two kinds never share a Secret's name (controller/gates.ts). */
export const virtualSessionSecretName = (vmcp: VirtualMcpServer) => `${nameOf(vmcp)}-aggregate-session`;

const DEFAULT_RESOURCES = { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } };

export function virtualServiceURL(vmcp: VirtualMcpServer): string {
  return `http://${nameOf(vmcp)}.${namespaceOf(vmcp)}.svc:${GATEWAY_MCP_PORT}/mcp`;
}

export function virtualExternalURL(vmcp: VirtualMcpServer): string | undefined {
  const host = ingressURLHost(vmcp.spec.ingress);
  if (!host) return undefined;
  return `${vmcp.spec.ingress?.tls ? 'https' : 'http'}://${host}${basePath(vmcp)}/mcp`;
}

function renderServiceAccount(vmcp: VirtualMcpServer): V1ServiceAccount | undefined {
  if (vmcp.spec.pod?.serviceAccountName) return undefined;
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: childMetadata(vmcp),
    automountServiceAccountToken: false,
  };
}

/** The backend list as a file the gateway watches: a change reaches the pods without rolling them. */
function renderBackendsConfigMap(vmcp: VirtualMcpServer, file: AggregateBackendsFile): V1ConfigMap {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { ...childMetadata(vmcp), name: backendsConfigMapName(vmcp) },
    data: { [BACKENDS_KEY]: `${JSON.stringify(file, null, 2)}\n` },
  };
}

/** Some backend has auth on: the pod mounts the credentials Secret the controller keeps (virtual-credentials.ts). */
const needsCredentials = (file: AggregateBackendsFile) => file.backends.some((b) => b.tokenFile !== undefined);

function volumes(vmcp: VirtualMcpServer, file: AggregateBackendsFile): V1Volume[] {
  const bearer = vmcp.spec.auth?.bearer?.secretRef;
  return [
    { name: 'tmp', emptyDir: {} },
    { name: 'home', emptyDir: {} },
    {
      name: 'mcp-session',
      secret: {
        secretName: virtualSessionSecretName(vmcp),
        items: [{ key: SESSION_KEY, path: SESSION_KEY }],
        defaultMode: 0o440,
      },
    },
    // No subPath: the kubelet updates a ConfigMap volume in place only when it is mounted whole.
    {
      name: 'mcp-backends',
      configMap: { name: backendsConfigMapName(vmcp), items: [{ key: BACKENDS_KEY, path: BACKENDS_KEY }] },
    },
    // Whole, without items: a backend that joins gets its file without a new pod.
    ...(needsCredentials(file)
      ? [
          {
            name: 'mcp-backend-credentials',
            secret: { secretName: backendCredentialsSecretName(vmcp), defaultMode: 0o440 },
          },
        ]
      : []),
    ...(bearer
      ? [
          {
            name: 'mcp-auth',
            secret: { secretName: bearer.name, items: [{ key: bearer.key, path: 'tokens' }], defaultMode: 0o440 },
          },
        ]
      : []),
    ...((vmcp.spec.pod?.volumes ?? []) as V1Volume[]),
  ];
}

export function renderVirtualDeployment(
  vmcp: VirtualMcpServer,
  file: AggregateBackendsFile,
  options: WorkloadOptions,
): V1Deployment {
  const { spec } = vmcp;
  const pod = spec.pod ?? {};
  const { requests, limits } = spec.resources ?? {};
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(vmcp),
    spec: {
      replicas: spec.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(vmcp) },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: {
          labels: { ...(pod.labels ?? {}), ...commonLabels(vmcp) },
          annotations: {
            ...(pod.annotations ?? {}),
            'kubectl.kubernetes.io/default-container': GATEWAY_CONTAINER,
            'prometheus.io/scrape': 'true',
            'prometheus.io/port': String(GATEWAY_HEALTH_PORT),
            'prometheus.io/path': HEALTH_PATHS.metrics,
            ...(options.configHash ? { [ANNOTATION_CONFIG_HASH]: options.configHash } : {}),
          },
        },
        spec: {
          serviceAccountName: pod.serviceAccountName ?? nameOf(vmcp),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurityContext(vmcp),
          containers: [
            {
              name: GATEWAY_CONTAINER,
              image: options.gatewayImage,
              args: ['gateway', AGGREGATE_VERB],
              env: [
                ...gatewayEnv(vmcp),
                { name: BACKENDS_FILE_ENV, value: `${BACKENDS_DIR}/${BACKENDS_KEY}` },
                { name: 'HOME', value: HOME_DIR },
              ],
              ports: gatewayPorts,
              ...gatewayProbes,
              resources:
                requests || limits
                  ? {
                      ...(requests ? { requests: quantities(requests) } : {}),
                      ...(limits ? { limits: quantities(limits) } : {}),
                    }
                  : DEFAULT_RESOURCES,
              securityContext: restrictedContainerSecurity,
              volumeMounts: [
                ...writableMounts,
                ...authMount(vmcp),
                { name: 'mcp-backends', mountPath: BACKENDS_DIR, readOnly: true },
                ...(needsCredentials(file)
                  ? [{ name: 'mcp-backend-credentials', mountPath: CREDENTIALS_DIR, readOnly: true }]
                  : []),
                ...((pod.volumeMounts ?? []) as Array<{ name: string; mountPath: string }>),
              ],
            },
          ],
          volumes: volumes(vmcp, file),
          terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
          ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
          ...(pod.tolerations?.length ? { tolerations: pod.tolerations } : {}),
          ...(pod.affinity ? { affinity: pod.affinity } : {}),
          ...(pod.priorityClassName ? { priorityClassName: pod.priorityClassName } : {}),
          ...(pod.imagePullSecrets?.length ? { imagePullSecrets: pod.imagePullSecrets } : {}),
        },
      },
    },
  };
}

/**
 * As an McpServer's, plus: with egress restricted, the backends' pods on their MCP port (same namespace). The
 * backends' own policies must admit the aggregate's pods (app.kubernetes.io/name=virtual-mcp-server).
 */
export function renderVirtualNetworkPolicy(
  vmcp: VirtualMcpServer,
  file: AggregateBackendsFile,
): V1NetworkPolicy | undefined {
  const policy = vmcp.spec.networkPolicy;
  if (!policy) return undefined;
  const mcpPort = [{ port: 'mcp', protocol: 'TCP' }];
  const siblings = [{ podSelector: { matchLabels: selectorLabels(vmcp) } }];
  const from = (peers: unknown[] | undefined) => (peers?.length ? { from: peers as V1NetworkPolicyPeer[] } : {});
  const ingress = [
    { ...from(policy.ingressFrom), ports: mcpPort },
    ...(policy.ingressFrom?.length ? [{ from: siblings, ports: mcpPort }] : []),
    ...(policy.metricsFrom?.length
      ? [{ ...from(policy.metricsFrom), ports: [{ port: 'health', protocol: 'TCP' }] }]
      : []),
  ];
  const dns = { ports: [53, 53].map((port, i) => ({ port, protocol: i === 0 ? 'UDP' : 'TCP' })) };
  const backendPods = file.backends.map((b) => ({
    podSelector: { matchLabels: selectorLabels({ kind: 'McpServer', metadata: { name: b.name } }) },
  }));
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(vmcp),
    spec: {
      podSelector: { matchLabels: selectorLabels(vmcp) },
      policyTypes: policy.egress ? ['Ingress', 'Egress'] : ['Ingress'],
      ingress,
      ...(policy.egress
        ? {
            egress: [
              ...policy.egress,
              dns,
              { to: siblings, ports: mcpPort },
              ...(backendPods.length ? [{ to: backendPods, ports: mcpPort }] : []),
            ],
          }
        : {}),
    },
  };
}

function renderPodDisruptionBudget(vmcp: VirtualMcpServer): V1PodDisruptionBudget | undefined {
  if (vmcp.spec.replicas <= 1) return undefined;
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: childMetadata(vmcp),
    spec: { maxUnavailable: 1, selector: { matchLabels: selectorLabels(vmcp) } },
  };
}

/**
 * The children of a defaulted, valid VirtualMcpServer (api/validate.ts) given its backends file (virtual-backends.ts),
 * in apply order; the HTTPRoute last, applied apart as for McpServer. The session-key Secret is random, so the
 * controller creates it (once) rather than render; the backend credentials need the backends' keys, so the
 * controller keeps them too (virtual-credentials.ts).
 */
export function renderVirtualChildren(
  vmcp: VirtualMcpServer,
  file: AggregateBackendsFile,
  options: WorkloadOptions,
): KubernetesObject[] {
  const children: Array<KubernetesObject | undefined> = [
    renderServiceAccount(vmcp),
    renderBackendsConfigMap(vmcp, file),
    renderService(vmcp),
    renderVirtualDeployment(vmcp, file, options),
    renderIngress(vmcp),
    renderVirtualNetworkPolicy(vmcp, file),
    renderPodDisruptionBudget(vmcp),
    renderHTTPRoute(vmcp),
  ];
  return children.filter((c): c is KubernetesObject => c !== undefined);
}
