/**
 * The Secret holding a VirtualMcpServer's credentials for its backends with auth on: one key per backend, each
 * minted from that backend's session-signing key (contract/aggregate-credential.ts). Pure: the keys and the time
 * come in. The same window gives the same credentials, so the Secret changes only when a window turns or a
 * backend joins or leaves. Mounted whole (no subPath), so the kubelet delivers a change without rolling pods.
 */
import type { V1Secret } from '@kubernetes/client-node';
import type { VirtualMcpServer } from '../api/types.generated.ts';
import { credentialExpiry, mintCredential } from '../contract/aggregate-credential.ts';
import { childMetadata, nameOf, namespaceOf } from './metadata.ts';

export const backendCredentialsSecretName = (vmcp: VirtualMcpServer) => `${nameOf(vmcp)}-backend-credentials`;

/** `sessionKeys`: per backend that needs a credential, its gateway's session key (raw bytes). */
export function renderBackendCredentials(
  vmcp: VirtualMcpServer,
  sessionKeys: ReadonlyMap<string, Buffer>,
  nowMs: number,
): V1Secret {
  const expiresAt = credentialExpiry(Math.floor(nowMs / 1000));
  const data: Record<string, string> = {};
  for (const [backend, key] of [...sessionKeys].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const token = mintCredential(key, { namespace: namespaceOf(vmcp), aggregate: nameOf(vmcp), backend, expiresAt });
    data[backend] = Buffer.from(token).toString('base64');
  }
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { ...childMetadata(vmcp), name: backendCredentialsSecretName(vmcp) },
    type: 'Opaque',
    data,
  };
}
