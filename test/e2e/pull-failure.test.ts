/**
 * On a real node, an image the kubelet cannot pull (this host has no route to any registry) reads in the
 * McpServer's status as what it is: the pull error with the image named, not "DeploymentUnavailable".
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { installCrd } from '../../src/local-cluster/install.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';

const IMAGE = 'registry.invalid/mcp-operator-e2e/missing-server:1';
const client = adminClient(inject('e2eKubeconfig'));
let namespace: string;
let controller: ControllerProcess;

beforeAll(async () => {
  await installCrd(client);
  namespace = await createRestrictedNamespace(client, 'e2e-pull');
  controller = startController({ kubeconfig: inject('e2eKubeconfig'), namespaces: [namespace], leaderElect: false });
  await controller.waitForLog((l) => l.msg === 'controller started');
});

afterAll(async () => {
  await client.delete(resourcePath(T.namespaces, { name: namespace })).catch(() => undefined);
  await controller?.stop();
});

describe('an image the node cannot pull', () => {
  it('is reported with its pull error and the image, and Progressing does not pretend to create anything', async () => {
    // No gateway: one container, so the only image the node lacks is the server's.
    await client.create(resourcePath(T.mcpservers, { namespace }), {
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'McpServer',
      metadata: { name: 'unpullable', namespace },
      spec: { image: IMAGE, transport: 'streamable-http', port: 3000, gateway: { enabled: false } },
    });
    const mcp = await eventually(
      'a pull failure in status',
      async () => {
        const m = await client.get<McpServer>(resourcePath(T.mcpservers, { namespace, name: 'unpullable' }));
        const ready = m.status?.conditions?.find((c) => c.type === 'Ready');
        return ready?.reason === 'ErrImagePull' || ready?.reason === 'ImagePullBackOff' ? m : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const condition = (type: string) => mcp.status?.conditions?.find((c) => c.type === type);
    expect(condition('Ready')?.status).toBe('False');
    expect(condition('Ready')?.message).toMatch(
      new RegExp(`container server of pod unpullable-[a-z0-9-]+ cannot pull image "${IMAGE}"`),
    );
    expect(condition('Ready')?.message).toContain('check spec.image');
    expect(condition('Degraded')?.status).toBe('True');
    expect(condition('Available')).toMatchObject({ status: 'False', reason: 'DeploymentUnavailable' });
    expect(condition('Progressing')?.status).toBe('False');
    expect(condition('Progressing')?.message).not.toContain('creating the Deployment');
  });
});
