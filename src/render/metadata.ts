/** Names, labels and owner references shared by every child of an McpServer. */
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF } from '../api/labels.ts';
import { API_VERSION, KIND } from '../api/schema.ts';
import type { McpServer } from '../api/types.generated.ts';

export { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF };
export const MANAGED_BY = 'mcp-operator';
/** Set on every child: the hash of what we applied, so a changed spec is seen without diffing. */
export const ANNOTATION_SPEC_HASH = 'mcpoperator.io/spec-hash';
/** Set on the pod template: the hash of the Secrets and ConfigMaps the pod reads, so rotation rolls pods. */
export const ANNOTATION_CONFIG_HASH = 'mcpoperator.io/config-hash';

export const nameOf = (mcp: McpServer): string => mcp.metadata?.name ?? '';
export const namespaceOf = (mcp: McpServer): string => mcp.metadata?.namespace ?? 'default';

/** Labels that pick this McpServer's pods; never change them (Deployment selectors are immutable). */
export function selectorLabels(mcp: McpServer): Record<string, string> {
  return { [LABEL_NAME]: 'mcp-server', [LABEL_INSTANCE]: nameOf(mcp) };
}

export function commonLabels(mcp: McpServer): Record<string, string> {
  return {
    ...selectorLabels(mcp),
    [LABEL_COMPONENT]: 'mcp-server',
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_PART_OF]: 'mcp-operator',
  };
}

export function ownerReference(mcp: McpServer): V1OwnerReference | undefined {
  const uid = mcp.metadata?.uid;
  if (!uid) return undefined; // rendering offline: there is no owner yet
  return { apiVersion: API_VERSION, kind: KIND, name: nameOf(mcp), uid, controller: true, blockOwnerDeletion: true };
}

export function childMetadata(mcp: McpServer, extra: { annotations?: Record<string, string> } = {}): V1ObjectMeta {
  const owner = ownerReference(mcp);
  return {
    name: nameOf(mcp),
    namespace: namespaceOf(mcp),
    labels: commonLabels(mcp),
    ...(extra.annotations && Object.keys(extra.annotations).length ? { annotations: extra.annotations } : {}),
    ...(owner ? { ownerReferences: [owner] } : {}),
  };
}
