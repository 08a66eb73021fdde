/** How traffic reaches the server: Service, streaming-safe Ingress, NetworkPolicy. */
import type { V1Ingress, V1NetworkPolicy, V1NetworkPolicyPeer, V1Service } from '@kubernetes/client-node';
import { GATEWAY_MCP_PORT } from '../api/schema.ts';
import type { McpServer } from '../api/types.generated.ts';
import { childMetadata, nameOf, type Owner, selectorLabels } from './metadata.ts';
import { type ExposedOwner, exposurePaths } from './urls.ts';

/**
 * Streams die silently behind nginx unless buffering is off and timeouts are long. Plain annotations only:
 * snippet annotations are disabled by default since the 2025 ingress-nginx CVEs.
 */
export const STREAMING_ANNOTATIONS: Readonly<Record<string, string>> = {
  // ingress-nginx (retired March 2026, still widely deployed)
  'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
  'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
  'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
  'nginx.ingress.kubernetes.io/proxy-http-version': '1.1',
  // F5 NGINX Ingress Controller: buffering is on by default there, timeouts take units
  'nginx.org/proxy-buffering': 'False',
  'nginx.org/proxy-read-timeout': '3600s',
  'nginx.org/proxy-send-timeout': '3600s',
};

/** The Service only exposes the MCP port; health and metrics on 9090 are never routed from outside. */
export function renderService(mcp: Owner): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: childMetadata(mcp),
    spec: {
      type: 'ClusterIP',
      selector: selectorLabels(mcp),
      ports: [{ name: 'mcp', port: GATEWAY_MCP_PORT, targetPort: 'mcp', protocol: 'TCP', appProtocol: 'http' }],
    },
  };
}

/** The Ingress paths, e.g. `/github` and `/.well-known/oauth-protected-resource/github/mcp` with auth. */
function ingressPaths(mcp: ExposedOwner): string[] {
  return exposurePaths(mcp, mcp.spec.ingress?.path ?? '/');
}

export function renderIngress(mcp: ExposedOwner): V1Ingress | undefined {
  const ingress = mcp.spec.ingress;
  if (!ingress) return undefined;
  const annotations = { ...STREAMING_ANNOTATIONS, ...(ingress.annotations ?? {}) };
  // A backend object per path: a shared one would print as a YAML alias.
  const backend = () => ({ service: { name: nameOf(mcp), port: { name: 'mcp' } } });
  const http = { paths: ingressPaths(mcp).map((path) => ({ path, pathType: 'Prefix', backend: backend() })) };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'Ingress',
    metadata: childMetadata(mcp, { annotations }),
    spec: {
      ...(ingress.className ? { ingressClassName: ingress.className } : {}),
      rules: [{ ...(ingress.host ? { host: ingress.host } : {}), http }],
      ...(ingress.tls && ingress.host ? { tls: [{ hosts: [ingress.host], secretName: ingress.tls.secretName }] } : {}),
    },
  };
}

export interface NetworkPolicyOptions {
  /**
   * The controller's own namespace. With `ingressFrom` set its pods are admitted to the MCP port too: tool
   * discovery is the controller calling the server's tools/list, and users should not have to know that.
   */
  operatorNamespace?: string;
}

export function renderNetworkPolicy(mcp: McpServer, options: NetworkPolicyOptions = {}): V1NetworkPolicy | undefined {
  const policy = mcp.spec.networkPolicy;
  if (!policy) return undefined;
  const from = (peers: unknown[] | undefined) => (peers?.length ? { from: peers as V1NetworkPolicyPeer[] } : {});
  // Named pod ports: `mcp` is the gateway's 8080, or the server's own port when the gateway is disabled.
  const mcpPort = [{ port: 'mcp', protocol: 'TCP' }];
  const siblings = [{ podSelector: { matchLabels: selectorLabels(mcp) } }];
  const ingress: Array<{ from?: V1NetworkPolicyPeer[]; ports: Array<{ port: string; protocol: string }> }> = [
    { ...from(policy.ingressFrom), ports: mcpPort },
  ];
  // Replicas relay a session's requests to the pod that owns it, so siblings must reach each other.
  if (policy.ingressFrom?.length && mcp.spec.gateway.enabled) ingress.push({ from: siblings, ports: mcpPort });
  if (policy.ingressFrom?.length && options.operatorNamespace) {
    const operator = {
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': options.operatorNamespace } },
    };
    ingress.push({ from: [operator], ports: mcpPort });
  }
  if (policy.metricsFrom?.length && mcp.spec.gateway.enabled) {
    ingress.push({ ...from(policy.metricsFrom), ports: [{ port: 'health', protocol: 'TCP' }] });
  }
  const dns = { ports: [53, 53].map((port, i) => ({ port, protocol: i === 0 ? 'UDP' : 'TCP' })) };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: childMetadata(mcp),
    spec: {
      podSelector: { matchLabels: selectorLabels(mcp) },
      policyTypes: policy.egress ? ['Ingress', 'Egress'] : ['Ingress'],
      ingress,
      // Name resolution keeps working whatever egress the user allows.
      ...(policy.egress
        ? { egress: [...policy.egress, dns, ...(mcp.spec.gateway.enabled ? [{ to: siblings, ports: mcpPort }] : [])] }
        : {}),
    },
  };
}
