/**
 * The Kubernetes types McpServer passes through (affinity, tolerations, volume sources, volume mounts,
 * NetworkPolicy peers and ports) carry their upstream schemas in the CRD: a real API server refuses a typo deep
 * inside them as `kubectl apply` would (strict field validation), with the field path, before any child exists;
 * the offline validator refuses the same field; and valid values are stored as written, nothing pruned.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { passThroughCases, passThroughServer } from '../fixtures/pass-through.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'passthrough');
});

/** What `kubectl apply` sends: strict field validation (unknown fields are errors, not silently pruned). */
const create = <T>(manifest: object) =>
  admin.create<T>(resourcePath(T.mcpservers, { namespace }), manifest, { fieldValidation: 'Strict', dryRun: 'All' });

describe('pass-through Kubernetes types on a real API server', () => {
  it('stores valid values of every pass-through type as written (nothing pruned), as render reads them', async () => {
    const manifest = passThroughServer();
    const created = await create<{ spec: Record<string, unknown> }>(manifest);
    expect(created.spec.pod).toEqual(manifest.spec.pod);
    expect(created.spec.networkPolicy).toEqual(manifest.spec.networkPolicy);
    expect(parseMcpServer(manifest).spec.pod).toEqual(created.spec.pod);
  });

  it.each(passThroughCases.map((c) => [c.name, c] as const))('refuses %s, naming the field', async (_name, c) => {
    let refused: unknown;
    await create(c.manifest).catch((err: unknown) => {
      refused = err;
    });
    expect(refused, 'the API server accepted it').toBeInstanceOf(KubeApiError);
    const err = refused as KubeApiError;
    expect(err.status).toBeGreaterThanOrEqual(400);
    expect(err.status).toBeLessThan(500);
    expect(err.message).toContain(c.field);
    expect(err.message).toMatch(c.says);

    let offline: unknown;
    try {
      parseMcpServer(c.manifest);
    } catch (e) {
      offline = e;
    }
    expect(offline).toBeInstanceOf(InvalidMcpServerError);
    expect((offline as InvalidMcpServerError).errors.map((e) => e.field)).toEqual([c.field]);
  });
});
