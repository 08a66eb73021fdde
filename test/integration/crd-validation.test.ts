/**
 * The generated CRD on a real kube-apiserver refuses bad McpServers with messages that name the field,
 * and the offline validator (used by `render` and the controller) refuses the same ones the same way.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { invalidCases, stdioServer } from '../fixtures/manifests.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'crd');
});

/** Create for real (not dry-run) so defaulting and every admission step run; strict field validation as kubectl does. */
async function createRejection(manifest: object): Promise<KubeApiError> {
  try {
    await admin.create(resourcePath(T.mcpservers, { namespace }), manifest, {
      fieldValidation: 'Strict',
      dryRun: 'All',
    });
  } catch (err) {
    if (err instanceof KubeApiError) return err;
    throw err;
  }
  throw new Error('the API server accepted it');
}

describe('the McpServer CRD on a real API server', () => {
  it('is served with its short name, status subresource and printer columns', async () => {
    const crd = await admin.get<{
      spec: {
        names: { shortNames: string[] };
        versions: Array<{ subresources: object; additionalPrinterColumns: Array<{ name: string }> }>;
      };
    }>(resourcePath(T.crds, { name: 'mcpservers.mcpoperator.io' }));
    expect(crd.spec.names.shortNames).toEqual(['mcps']);
    expect(crd.spec.versions[0]?.subresources).toEqual({ status: {} });
    expect(crd.spec.versions[0]?.additionalPrinterColumns.map((c) => c.name)).toEqual([
      'Transport',
      'Ready',
      'Replicas',
      'URL',
      'Age',
    ]);
  });

  it('applies the schema defaults', async () => {
    const created = await admin.create<{ spec: Record<string, unknown> }>(
      resourcePath(T.mcpservers, { namespace }),
      stdioServer('defaults'),
      { dryRun: 'All' },
    );
    expect(created.spec).toMatchObject({
      transport: 'stdio',
      replicas: 1,
      sessions: { mode: 'shared', idleTimeout: '30m' },
      gateway: { enabled: true },
    });
    // No session maximum: the gateway picks it by session mode.
    expect(created.spec.sessions).not.toHaveProperty('max');
    // The offline validator defaults the same way.
    expect(parseMcpServer(stdioServer('defaults')).spec).toMatchObject(created.spec);
  });

  it(`refuses ${invalidCases.length} invalid manifests, naming the field, exactly as the offline validator does`, async () => {
    expect(invalidCases.length).toBeGreaterThanOrEqual(15);
    for (const c of invalidCases) {
      const err = await createRejection(c.manifest);
      expect(err.status, c.name).toBeGreaterThanOrEqual(400);
      const apiField = c.field === '<root>' ? '' : c.field;
      expect(err.message, `${c.name}: the API server names the field`).toContain(apiField);
      expect(err.message, `${c.name}: the API server says how to fix it`).toMatch(c.says);

      let offline: InvalidMcpServerError | undefined;
      try {
        parseMcpServer(c.manifest);
      } catch (e) {
        if (e instanceof InvalidMcpServerError) offline = e;
      }
      expect(offline, `${c.name}: refused offline too`).toBeDefined();
      expect(
        offline?.errors.map((e) => e.field),
        c.name,
      ).toContain(c.field);
      expect(offline?.message, c.name).toMatch(c.says);
    }
  });

  it('accepts every example manifest, and the offline validator agrees', async () => {
    const dir = join(import.meta.dirname, '../../examples');
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(5);
    let servers = 0;
    for (const file of files) {
      for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
        const manifest = doc.toJS() as { kind?: string; metadata: { namespace?: string } } | null;
        if (manifest?.kind !== 'McpServer') continue;
        servers++;
        expect(() => parseMcpServer(manifest), file).not.toThrow();
        const { namespace: _ignored, ...metadata } = manifest.metadata;
        await admin.create(
          resourcePath(T.mcpservers, { namespace }),
          { ...manifest, metadata },
          { fieldValidation: 'Strict', dryRun: 'All' },
        );
      }
    }
    expect(servers).toBeGreaterThanOrEqual(5);
  });
});
