/**
 * The catalog lists any kind with an McpServer-like status through one code path, and a kind whose CRD is not
 * installed yet (404 on list) is skipped quietly and picked up once it is: proven on the real API server with
 * a throwaway CRD standing in for a kind that arrives later; and the real VirtualMcpServer kind is listed beside
 * McpServers with the catalog's own kinds.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CATALOG_KINDS, CatalogSource } from '../../src/catalog/source.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { createLogger } from '../../src/observability/log.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';

const GROUP = 'catalog-test.mcpoperator.io';
const WIDGETS = { apiVersion: `${GROUP}/v1`, plural: 'widgets' };
const CRD_NAME = `widgets.${GROUP}`;

let admin: KubeClient;
let ns: string;
let source: CatalogSource;

const preserve = { type: 'object', 'x-kubernetes-preserve-unknown-fields': true };

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  ns = await createRestrictedNamespace(admin, 'catalog-disc');
  await admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer('plain'));
});

afterAll(async () => {
  source?.stop();
  await admin?.delete(resourcePath(T.crds, { name: CRD_NAME })).catch(() => {});
  await admin?.delete(resourcePath(T.namespaces, { name: ns })).catch(() => {});
});

describe('the catalog source', () => {
  it('starts without an optional kind whose CRD is missing, then lists it once the CRD exists', async () => {
    source = new CatalogSource({
      client: admin,
      namespaces: [ns],
      kinds: [
        { kind: 'McpServer', apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers', optional: false },
        { kind: 'Widget', ...WIDGETS, optional: true },
      ],
      log: createLogger({ name: 'catalog-test', level: 'silent' }),
      rediscoverMs: 200,
    });
    const changes: string[] = [];
    source.onChange(({ type, entry }) => changes.push(`${type} ${entry.kind}/${entry.name}`));
    await source.start();
    expect(source.synced).toBe(true);
    expect(source.list().map((e) => `${e.kind}/${e.name}`)).toEqual(['McpServer/plain']);

    await admin.create(resourcePath(T.crds), {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD_NAME },
      spec: {
        group: GROUP,
        scope: 'Namespaced',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            subresources: { status: {} },
            schema: { openAPIV3Schema: { type: 'object', properties: { spec: preserve, status: preserve } } },
          },
        ],
      },
    });
    await eventually('the Widget CRD served', async () => {
      try {
        await admin.list(resourcePath(WIDGETS, { namespace: ns }));
        return true;
      } catch {
        return undefined;
      }
    });
    await admin.create(resourcePath(WIDGETS, { namespace: ns }), {
      apiVersion: WIDGETS.apiVersion,
      kind: 'Widget',
      metadata: { name: 'w1' },
      spec: { description: 'A stand-in for VirtualMcpServer' },
    });
    await admin.mergePatch(resourcePath(WIDGETS, { namespace: ns, name: 'w1', subresource: 'status' }), {
      status: {
        url: `http://w1.${ns}.svc:8080/mcp`,
        conditions: [
          { type: 'Ready', status: 'True', reason: 'Ready', message: 'ok', lastTransitionTime: '2026-12-01T00:00:00Z' },
        ],
        tools: ['a', 'b'],
      },
    });
    const widget = await eventually('the Widget in the catalog, with its status', async () => {
      const w = source.get('Widget', ns, 'w1');
      return w?.ready.status === 'True' ? w : undefined;
    });
    expect(widget).toMatchObject({
      description: 'A stand-in for VirtualMcpServer',
      tools: [{ name: 'a' }, { name: 'b' }],
      endpoints: [
        { type: 'streamable-http', url: `http://w1.${ns}.svc:8080/mcp`, scope: 'cluster' },
        { type: 'sse', url: `http://w1.${ns}.svc:8080/sse`, scope: 'cluster' },
      ],
    });
    expect(changes).toContain('upsert Widget/w1');
  });

  it('lists a VirtualMcpServer beside the McpServers it aggregates, with its status and tools', async () => {
    const real = new CatalogSource({
      client: admin,
      namespaces: [ns],
      kinds: CATALOG_KINDS,
      log: createLogger({ name: 'catalog-test', level: 'silent' }),
    });
    try {
      await real.start();
      await admin.create(resourcePath(T.virtualmcpservers, { namespace: ns }), {
        apiVersion: 'mcpoperator.io/v1alpha1',
        kind: 'VirtualMcpServer',
        metadata: { name: 'team-tools' },
        spec: { servers: [{ name: 'plain', prefix: 'p' }], description: 'Every tool of team A' },
      });
      // No controller runs here: the status a controller would write.
      await admin.mergePatch(
        resourcePath(T.virtualmcpservers, { namespace: ns, name: 'team-tools', subresource: 'status' }),
        {
          status: {
            url: `http://team-tools.${ns}.svc:8080/mcp`,
            conditions: [
              {
                type: 'Ready',
                status: 'True',
                reason: 'Available',
                message: 'ok',
                lastTransitionTime: '2026-12-01T00:00:00Z',
              },
            ],
            tools: ['p_echo'],
            readyBackends: '1/1',
          },
        },
      );
      const entry = await eventually('the VirtualMcpServer in the catalog', async () => {
        const e = real.get('VirtualMcpServer', ns, 'team-tools');
        return e?.ready.status === 'True' ? e : undefined;
      });
      expect(entry).toMatchObject({
        kind: 'VirtualMcpServer',
        transport: 'virtual',
        description: 'Every tool of team A',
        tools: [{ name: 'p_echo' }],
      });
      expect(entry.endpoints[0]).toEqual({
        type: 'streamable-http',
        url: `http://team-tools.${ns}.svc:8080/mcp`,
        scope: 'cluster',
      });
      expect(
        real
          .list()
          .map((e) => `${e.kind}/${e.name}`)
          .sort(),
      ).toEqual(['McpServer/plain', 'VirtualMcpServer/team-tools']);
    } finally {
      real.stop();
    }
  });
});
