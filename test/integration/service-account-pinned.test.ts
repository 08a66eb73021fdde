/**
 * pod.serviceAccountName set to the server's own name, the ServiceAccount the operator made for it: the pods
 * already run as that one, so it must stay. (The operator renders no ServiceAccount when the spec names one,
 * and used to delete its own as obsolete: the running pods kept going, the next one could not be created.)
 */
import { describe, expect, it } from 'vitest';
import type { McpServer, VirtualMcpServer } from '../../src/api/types.generated.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';
import { eventually, getOrUndefined, resourcePath, T } from '../support/kube.ts';
import { useControllerIn } from './controller-suite.ts';

const own = useControllerIn('pinsa');
const path = (type: { apiVersion: string; plural: string }, name?: string) =>
  resourcePath(type, { namespace: own.ns, name });

/** Creates the object, waits for its ServiceAccount, names it in pod.serviceAccountName, waits for that pass. */
async function pin(type: { apiVersion: string; plural: string }, manifest: { metadata: { name: string } }) {
  const name = manifest.metadata.name;
  await own.admin.create(path(type), manifest);
  await eventually(`the ServiceAccount of ${name}`, () => getOrUndefined(own.admin, path(T.serviceaccounts, name)));
  await own.admin.mergePatch(path(type, name), { spec: { pod: { serviceAccountName: name } } });
  await eventually(`${name} reconciled at its new generation`, async () => {
    const o = await own.admin.get<McpServer | VirtualMcpServer>(path(type, name));
    return o.status?.observedGeneration === o.metadata?.generation && o.metadata?.generation === 2 ? o : undefined;
  });
  // A further pass (a resync) must not take it either.
  await new Promise((r) => setTimeout(r, 1000));
  return getOrUndefined(own.admin, path(T.serviceaccounts, name));
}

describe('pod.serviceAccountName naming the ServiceAccount the operator made', () => {
  it('keeps it for an McpServer', async () => {
    expect(await pin(T.mcpservers, stdioServer('pinned'))).toBeDefined();
  });

  it('keeps it for a VirtualMcpServer', async () => {
    await own.admin.create(path(T.mcpservers), stdioServer('memory'));
    expect(
      await pin(T.virtualmcpservers, virtualServer('pinned-aggregate', { servers: [{ name: 'memory' }] })),
    ).toBeDefined();
  });
});
