/**
 * The generated VirtualMcpServer CRD on a real kube-apiserver: served with its short name and columns, and bad
 * specs refused with the field named and the fix said, exactly as the offline validator refuses them.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { InvalidMcpServerError, parseVirtualMcpServer } from '../../src/api/validate.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { invalidVirtualCases, unknownVirtualFields, virtualServer } from '../fixtures/virtual.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'vcrd');
});

async function rejection(manifest: object): Promise<KubeApiError> {
  try {
    await admin.create(resourcePath(T.virtualmcpservers, { namespace }), manifest, {
      fieldValidation: 'Strict',
      dryRun: 'All',
    });
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
  throw new Error('the API server accepted it');
}

describe('the VirtualMcpServer CRD on a real API server', () => {
  it('is served as vmcps with a status subresource and columns a person can act on', async () => {
    const crd = await admin.get<{
      spec: {
        names: { shortNames: string[]; kind: string };
        versions: Array<{ subresources: object; additionalPrinterColumns: Array<{ name: string }> }>;
      };
    }>(resourcePath(T.crds, { name: 'virtualmcpservers.mcpoperator.io' }));
    expect(crd.spec.names).toMatchObject({ kind: 'VirtualMcpServer', shortNames: ['vmcps'] });
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
    expect(crd.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Ready',
      'Backends',
      'Tools',
      'Conflicts',
      'URL',
      'Age',
    ]);
  });

  it('accepts the issue example and defaults it as the offline validator does', async () => {
    const manifest = virtualServer('team', {
      servers: [
        {
          name: 'github',
          prefix: 'gh',
          tools: { allow: [], deny: ['delete_repository'], rename: { create_issue: 'new_issue' } },
        },
        { name: 'memory' },
      ],
      selector: { matchLabels: { team: 'a' } },
      tools: { deny: ['gh_merge_*'] },
      replicas: 2,
    });
    const created = await admin.create<{ spec: Record<string, unknown> }>(
      resourcePath(T.virtualmcpservers, { namespace }),
      manifest,
      { fieldValidation: 'Strict', dryRun: 'All' },
    );
    expect(created.spec).toMatchObject({ replicas: 2, sessions: { mode: 'shared', idleTimeout: '30m' } });
    expect(parseVirtualMcpServer(manifest).spec).toEqual(created.spec);
  });

  it(`refuses ${invalidVirtualCases.length} bad specs naming the field and the fix, as the offline validator does`, async () => {
    for (const c of invalidVirtualCases) {
      const err = await rejection(c.manifest);
      expect(err.status, c.name).toBe(422);
      expect(err.message, `${c.name}: names the field`).toContain(c.field);
      expect(err.message, `${c.name}: says the fix`).toMatch(c.says);
      let offline: InvalidMcpServerError | undefined;
      try {
        parseVirtualMcpServer(c.manifest);
      } catch (e) {
        if (e instanceof InvalidMcpServerError) offline = e;
        else throw e;
      }
      expect(offline, `${c.name}: refused offline too`).toBeDefined();
      expect(offline?.message, `${c.name}: names the field offline`).toContain(c.field);
      expect(offline?.message, c.name).toMatch(c.says);
    }
  });

  it.each(unknownVirtualFields)('refuses the unknown field $name by name, as render does', async (c) => {
    const err = await rejection(c.manifest);
    expect(err.status).toBe(400);
    expect(err.message).toContain(`unknown field "${c.field}"`);
    expect(() => parseVirtualMcpServer(c.manifest)).toThrow(c.field);
    expect(() => parseVirtualMcpServer(c.manifest)).toThrow(c.offline);
  });
});
