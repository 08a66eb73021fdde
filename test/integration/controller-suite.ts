/**
 * What the controller suites share: a controller run as the real CLI with exactly its RBAC, watching two
 * restricted namespaces of their own (a third it must leave alone) for controller*.test.ts, or one namespace of
 * a file's own (useControllerIn), and the reads their tests use.
 */
import { afterAll, beforeAll, expect, inject } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';

export const suite = {
  admin: undefined as unknown as KubeClient,
  ns: '',
  otherNs: '',
  unwatchedNs: '',
  controller: undefined as unknown as ControllerProcess,
};

/** Starts the controller before the file's tests and stops it after them (a graceful stop exits 0). */
export function useController(): void {
  beforeAll(async () => {
    suite.admin = adminClient(inject('adminKubeconfig'));
    suite.ns = await createRestrictedNamespace(suite.admin, 'ctl');
    suite.otherNs = await createRestrictedNamespace(suite.admin, 'ctl2');
    suite.unwatchedNs = await createRestrictedNamespace(suite.admin, 'ignored');
    suite.controller = startController({
      kubeconfig: inject('controllerKubeconfig'),
      namespaces: [suite.ns, suite.otherNs],
    });
    await suite.controller.waitForLog((l) => l.msg === 'controller started');
  });

  afterAll(async () => {
    expect(await suite.controller.stop()).toBe(0); // graceful shutdown exits 0
  });
}

/**
 * One restricted namespace of the file's own, prefixed `prefix`, with a controller watching only it: started
 * before the file's tests, stopped (gracefully, exit 0) after them. The fields are set once beforeAll ran.
 */
export function useControllerIn(prefix: string): { admin: KubeClient; ns: string; controller: ControllerProcess } {
  const own = {
    admin: undefined as unknown as KubeClient,
    ns: '',
    controller: undefined as unknown as ControllerProcess,
  };
  beforeAll(async () => {
    own.admin = adminClient(inject('adminKubeconfig'));
    own.ns = await createRestrictedNamespace(own.admin, prefix);
    own.controller = startController({ kubeconfig: inject('controllerKubeconfig'), namespaces: [own.ns] });
    await own.controller.waitForLog((l) => l.msg === 'controller started');
  });
  afterAll(async () => {
    expect(await own.controller.stop()).toBe(0);
  });
  return own;
}

export const path = (type: { apiVersion: string; plural: string }, name?: string, namespace = suite.ns) =>
  resourcePath(type, { namespace, name });
export const getServer = (name: string, namespace = suite.ns) =>
  suite.admin.get<McpServer>(path(T.mcpservers, name, namespace));
export const condition = (mcp: McpServer, type: string) => mcp.status?.conditions?.find((c) => c.type === type);

export async function createServer(manifest: object, namespace = suite.ns): Promise<McpServer> {
  return suite.admin.create<McpServer>(path(T.mcpservers, undefined, namespace), manifest);
}

/** Waits until the controller has written status for the current generation. */
export async function observed(name: string, namespace = suite.ns): Promise<McpServer> {
  return eventually(`status of ${namespace}/${name}`, async () => {
    const mcp = await getServer(name, namespace);
    return mcp.status?.observedGeneration === mcp.metadata?.generation && mcp.status?.conditions ? mcp : undefined;
  });
}
