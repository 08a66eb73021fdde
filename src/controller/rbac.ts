/**
 * The operator's permissions, verb by verb: the single source for the Helm chart's ClusterRole and the tests
 * (which run the controller as a user holding exactly these). No wildcards. User ConfigMaps and Secrets are
 * only read (existence and a content hash); the only Secret it creates is each McpServer's (and
 * VirtualMcpServer's) gateway session key, which it never updates; the only ConfigMaps it writes are the
 * VirtualMcpServers' backend lists.
 */
export interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

const CHILD_VERBS = ['get', 'list', 'watch', 'create', 'patch', 'delete'];

/** Rules for the namespaces it manages (a ClusterRole, or a Role per namespace when namespace-scoped). */
export const controllerRules: PolicyRule[] = [
  { apiGroups: ['mcpoperator.io'], resources: ['mcpservers'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['mcpoperator.io'], resources: ['mcpservers/status'], verbs: ['get', 'patch', 'update'] },
  { apiGroups: ['mcpoperator.io'], resources: ['virtualmcpservers'], verbs: ['get', 'list', 'watch'] },
  { apiGroups: ['mcpoperator.io'], resources: ['virtualmcpservers/status'], verbs: ['get', 'patch', 'update'] },
  { apiGroups: [''], resources: ['serviceaccounts', 'services'], verbs: CHILD_VERBS },
  { apiGroups: ['apps'], resources: ['deployments'], verbs: CHILD_VERBS },
  { apiGroups: ['networking.k8s.io'], resources: ['ingresses', 'networkpolicies'], verbs: CHILD_VERBS },
  { apiGroups: ['policy'], resources: ['poddisruptionbudgets'], verbs: CHILD_VERBS },
  // create/patch/delete: a VirtualMcpServer's backend list (its own ConfigMap); users' ConfigMaps are only read.
  { apiGroups: [''], resources: ['configmaps'], verbs: CHILD_VERBS },
  // Read only: a pod's waiting reason (image pull, crash loop) is what status reports when no replica is ready.
  { apiGroups: [''], resources: ['pods'], verbs: ['get', 'list', 'watch'] },
  // create: the gateway's session-signing key per McpServer (never updated). get: a VirtualMcpServer's backends'
  // keys, to mint its credentials for them; patch: the Secret holding those credentials (its own).
  { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'list', 'watch', 'create', 'patch'] },
  { apiGroups: [''], resources: ['events'], verbs: ['create', 'patch'] },
];

/** Rules in the operator's own namespace: the leader-election Lease. */
export const leaderElectionRules: PolicyRule[] = [
  { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] },
];

/**
 * With the Gateway API (Helm value gatewayAPI.enabled, default true; flag --gateway-api): the McpServers'
 * HTTPRoutes like any child (server-side apply: patch, and create for a new one; never update), and each parent
 * Gateway by name only (get: its listeners' protocol and addresses; never listed or watched). CRD discovery needs
 * no grant (API discovery is open to every authenticated user), so nothing cluster-wide is added.
 */
export const gatewayApiRules: PolicyRule[] = [
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['httproutes'], verbs: CHILD_VERBS },
  { apiGroups: ['gateway.networking.k8s.io'], resources: ['gateways'], verbs: ['get'] },
];
