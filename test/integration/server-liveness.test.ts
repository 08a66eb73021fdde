/**
 * spec.livenessProbe on a real API server: the CRD refuses what the offline validator refuses, naming the field,
 * and the Deployment the renderer makes from it is valid for the API server (server-side dry run, strict).
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import { withSpecHash } from '../../src/controller/compare.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { renderChildren } from '../../src/render/index.ts';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'probe');
});

async function refusal(manifest: Manifest): Promise<string> {
  try {
    await admin.create(resourcePath(T.mcpservers, { namespace }), manifest, {
      fieldValidation: 'Strict',
      dryRun: 'All',
    });
  } catch (err) {
    if (err instanceof KubeApiError) return err.message;
    throw err;
  }
  throw new Error('the API server accepted it');
}

const offline = (manifest: Manifest) => {
  try {
    parseMcpServer(manifest);
    return '';
  } catch (err) {
    if (err instanceof InvalidMcpServerError) return err.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw err;
  }
};

describe('spec.livenessProbe', () => {
  it.each([
    ['on a stdio server', stdioServer('a', { livenessProbe: { tcpSocket: {} } }), 'spec.livenessProbe'],
    [
      'with two checks',
      httpServer('b', { livenessProbe: { tcpSocket: {}, httpGet: { path: '/healthz' } } }),
      'spec.livenessProbe',
    ],
    [
      'with a relative path',
      httpServer('c', { livenessProbe: { httpGet: { path: 'healthz' } } }),
      'spec.livenessProbe.httpGet.path',
    ],
    [
      'with an empty exec command',
      httpServer('e', { livenessProbe: { exec: { command: [] } } }),
      'spec.livenessProbe.exec.command',
    ],
    [
      'with a port out of range',
      httpServer('d', { livenessProbe: { tcpSocket: { port: 70000 } } }),
      'spec.livenessProbe.tcpSocket.port',
    ],
  ])('is refused %s, by the API server and offline, naming the field', async (_what, manifest, field) => {
    expect(await refusal(manifest)).toContain(`${field}:`);
    expect(offline(manifest)).toContain(`${field}:`);
  });

  it('renders a Deployment the API server accepts, with the server container probed by default or as asked', async () => {
    const cases: Array<[Record<string, unknown>, Record<string, unknown>]> = [
      // Behind the gateway: its /livez/upstream, by port number (a port name resolves in the probed container only).
      [{}, { httpGet: { path: '/livez/upstream', port: 9090 }, periodSeconds: 10, failureThreshold: 3 }],
      [{ gateway: { enabled: false } }, { tcpSocket: { port: 'mcp' }, periodSeconds: 10, failureThreshold: 3 }],
      [
        { livenessProbe: { httpGet: { path: '/healthz' }, periodSeconds: 20, failureThreshold: 5 } },
        { httpGet: { path: '/healthz', port: 'server' }, periodSeconds: 20, failureThreshold: 5 },
      ],
    ];
    for (const [spec, probe] of cases) {
      const manifest = httpServer('remote', spec);
      await admin.create(resourcePath(T.mcpservers, { namespace }), manifest, { dryRun: 'All' });
      const mcp = parseMcpServer({ ...manifest, metadata: { ...manifest.metadata, namespace } });
      const deployment = renderChildren(mcp, { gatewayImage: 'registry.test/mcp-operator:test' })
        .map(withSpecHash)
        .find((c) => c.kind === 'Deployment');
      const applied = await admin.request<{
        spec: { template: { spec: { containers: Array<{ name: string; livenessProbe?: Record<string, unknown> }> } } };
      }>('apply', 'PATCH', resourcePath(T.deployments, { namespace, name: 'remote' }), {
        query: { fieldManager: 'test', force: true, fieldValidation: 'Strict', dryRun: 'All' },
        body: deployment,
        contentType: 'application/apply-patch+yaml',
      });
      const server = applied.spec.template.spec.containers.find((c) => c.name === 'server');
      expect(server?.livenessProbe).toMatchObject(probe);
    }
  });
});
