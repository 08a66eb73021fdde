/**
 * The controller as the operator image runs it: bin/mcp-operator.js with the bundle the Dockerfile builds
 * (src/cli/controller-bundle.ts), under Node with type stripping off, so any TypeScript module it still loaded
 * would fail it. Against the real API server, it converges an McpServer and stops cleanly.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { buildControllerBundle } from '../../src/cli/controller-bundle.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import {
  adminClient,
  createRestrictedNamespace,
  eventually,
  getOrUndefined,
  resourcePath,
  T,
} from '../support/kube.ts';

let admin: KubeClient;
let ns: string;
let work: string;
let bundle: string;
let controller: ControllerProcess;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  ns = await createRestrictedNamespace(admin, 'bundle');
  work = await mkdtemp(join(tmpdir(), 'mcp-operator-bundle-'));
  bundle = join(work, 'controller.cjs');
  await buildControllerBundle(bundle);
  controller = startController({ kubeconfig: inject('controllerKubeconfig'), namespaces: [ns], bundle });
  await controller.waitForLog((l) => l.msg === 'controller started');
});

afterAll(async () => {
  expect(await controller.stop()).toBe(0); // graceful shutdown exits 0
  await rm(work, { recursive: true, force: true });
});

describe('the bundled controller', () => {
  it("leaves out undici, client-node's transport: the controller's client speaks node:https", async () => {
    // undici's JavaScript and its WebAssembly HTTP parser (llhttp) cost about 25 MiB of a controller's memory.
    const text = await readFile(bundle, 'utf8');
    // Booleans, so a failure does not print the 1 MB bundle.
    expect({ llhttp: text.includes('llhttp'), undici: /require_undici\b/.test(text) }).toEqual({
      llhttp: false,
      undici: false,
    });
  });

  it('converges an McpServer without loading any TypeScript', async () => {
    await admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer('bundled'));
    const deployment = await eventually('deployment', () =>
      getOrUndefined<V1Deployment>(admin, resourcePath(T.deployments, { namespace: ns, name: 'bundled' })),
    );
    expect(deployment.spec?.template.spec?.containers[0]?.args?.[0]).toBe('stdio');
    const mcp = await eventually('status', async () => {
      const m = await admin.get<McpServer>(resourcePath(T.mcpservers, { namespace: ns, name: 'bundled' }));
      return m.status?.observedGeneration === m.metadata?.generation && m.status?.conditions ? m : undefined;
    });
    expect(mcp.status?.url).toBe(`http://bundled.${ns}.svc:8080/mcp`);
    const metrics = await (await fetch(`http://127.0.0.1:${await controller.healthPort()}/metrics`)).text();
    expect(metrics).toMatch(/^mcp_operator_reconcile_total\{/m);
  });
});
