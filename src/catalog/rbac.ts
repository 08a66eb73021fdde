/**
 * What the catalog may do: read McpServers and VirtualMcpServers, nothing else (no Secrets, no writes).
 * The chart's catalog ClusterRole spells these rules out; test/integration/catalog.test.ts checks the
 * rendered chart against them and proves them on a real API server.
 */
import type { V1PolicyRule } from '@kubernetes/client-node';

export const catalogRules: V1PolicyRule[] = [
  {
    apiGroups: ['mcpoperator.io'],
    resources: ['mcpservers', 'virtualmcpservers'],
    verbs: ['get', 'list', 'watch'],
  },
];
