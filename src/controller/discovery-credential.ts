/**
 * The credential tool discovery presents to a gateway with auth on: minted from that McpServer's own
 * session-signing key (contract/aggregate-credential.ts), so the controller lists the tools of a server whose
 * users need tokens without holding any user's token. Read when a discovery starts; never cached or logged.
 */
import { credentialExpiry, mintCredential } from '../contract/aggregate-credential.ts';
import { type KubeClient, resourcePath } from '../kube/client.ts';
import { SESSION_KEY, sessionSecretName } from '../render/workload.ts';

export async function discoveryCredential(client: KubeClient, key: string, nowMs = Date.now()): Promise<string> {
  const [namespace = '', name = ''] = key.split('/');
  const secret = await client.get<{ data?: Record<string, string> }>(
    resourcePath(
      { apiVersion: 'v1', plural: 'secrets' },
      { namespace, name: sessionSecretName({ metadata: { name } } as never) },
    ),
  );
  const value = secret.data?.[SESSION_KEY];
  if (!value) throw new Error(`the session key of ${key} is not there yet`);
  return mintCredential(Buffer.from(value, 'base64'), {
    role: 'discovery',
    namespace,
    aggregate: 'mcp-operator',
    backend: name,
    expiresAt: credentialExpiry(Math.floor(nowMs / 1000)),
  });
}
