/** Names, labels and owner references shared by every child of an McpServer (or a VirtualMcpServer). */
import type { V1ObjectMeta, V1OwnerReference } from '@kubernetes/client-node';
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF } from '../api/labels.ts';
import { API_VERSION, KIND, VIRTUAL_KIND } from '../api/schema.ts';

/** What owns children: an McpServer or a VirtualMcpServer (kind absent: an McpServer). */
export interface Owner {
  apiVersion?: string;
  kind?: string;
  metadata?: V1ObjectMeta;
}

/** The app.kubernetes.io/name and component of each owner kind's children: their pods never overlap. */
const COMPONENT: Readonly<Record<string, string>> = { [KIND]: 'mcp-server', [VIRTUAL_KIND]: 'virtual-mcp-server' };
export const componentOf = (owner: Owner): string => COMPONENT[owner.kind ?? KIND] ?? 'mcp-server';

export { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, LABEL_PART_OF };
export const MANAGED_BY = 'mcp-operator';
/** Set on every child: the hash of what we applied, so a changed spec is seen without diffing. */
export const ANNOTATION_SPEC_HASH = 'mcpoperator.io/spec-hash';
/** Set on the pod template: the hash of the Secrets and ConfigMaps the pod reads, so rotation rolls pods. */
export const ANNOTATION_CONFIG_HASH = 'mcpoperator.io/config-hash';

export const nameOf = (mcp: Owner): string => mcp.metadata?.name ?? '';
export const namespaceOf = (mcp: Owner): string => mcp.metadata?.namespace ?? 'default';

/** Labels that pick this McpServer's pods; never change them (Deployment selectors are immutable). */
export function selectorLabels(mcp: Owner): Record<string, string> {
  return { [LABEL_NAME]: componentOf(mcp), [LABEL_INSTANCE]: nameOf(mcp) };
}

export function commonLabels(mcp: Owner): Record<string, string> {
  return {
    ...selectorLabels(mcp),
    [LABEL_COMPONENT]: componentOf(mcp),
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_PART_OF]: 'mcp-operator',
  };
}

export function ownerReference(mcp: Owner): V1OwnerReference | undefined {
  const uid = mcp.metadata?.uid;
  if (!uid) return undefined; // rendering offline: there is no owner yet
  return {
    apiVersion: API_VERSION,
    kind: mcp.kind ?? KIND,
    name: nameOf(mcp),
    uid,
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function childMetadata(mcp: Owner, extra: { annotations?: Record<string, string> } = {}): V1ObjectMeta {
  const owner = ownerReference(mcp);
  return {
    name: nameOf(mcp),
    namespace: namespaceOf(mcp),
    labels: commonLabels(mcp),
    ...(extra.annotations && Object.keys(extra.annotations).length ? { annotations: extra.annotations } : {}),
    ...(owner ? { ownerReferences: [owner] } : {}),
  };
}
