/**
 * A VirtualMcpServer's spec.httpRoute on a real API server with the Gateway API CRDs: the HTTPRoute is the
 * McpServer's renderer's, owned by the VirtualMcpServer, and the Gateway controller's answer (written here as one
 * would) reaches the VirtualMcpServer's conditions and externalURL.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { VirtualMcpServer } from '../../src/api/types.generated.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import type { HTTPRoute } from '../../src/render/route.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { installGatewayApiCrds, removeCrds } from '../support/gateway-api.ts';
import {
  adminClient,
  createRestrictedNamespace,
  eventually,
  getOrUndefined,
  resourcePath,
  T,
} from '../support/kube.ts';

const ROUTES = { apiVersion: 'gateway.networking.k8s.io/v1', plural: 'httproutes' };
const GATEWAYS = { apiVersion: 'gateway.networking.k8s.io/v1', plural: 'gateways' };

let admin: KubeClient;
let ns: string;
let gatewayNs: string;
let controller: ControllerProcess;
let installed: string[] = [];

const condition = (v: VirtualMcpServer, type: string) => v.status?.conditions?.find((c) => c.type === type);

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  installed = await installGatewayApiCrds(admin);
  ns = await createRestrictedNamespace(admin, 'vroute');
  gatewayNs = await createRestrictedNamespace(admin, 'vgw');
  await admin.create(resourcePath(GATEWAYS, { namespace: gatewayNs }), {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'public', namespace: gatewayNs },
    spec: {
      gatewayClassName: 'example',
      listeners: [
        {
          name: 'https',
          protocol: 'HTTPS',
          port: 443,
          tls: { certificateRefs: [{ name: 'cert' }] },
          allowedRoutes: { namespaces: { from: 'All' } },
        },
      ],
    },
  });
  controller = startController({ kubeconfig: inject('controllerKubeconfig'), namespaces: [ns] });
  await controller.waitForLog((l) => l.msg === 'controller started');
});

afterAll(async () => {
  expect(await controller.stop()).toBe(0);
  await removeCrds(admin, installed); // the control plane is shared: leave it without the Gateway API
});

describe('a VirtualMcpServer with spec.httpRoute', () => {
  it('gets its HTTPRoute, and the Gateway’s answer gives it its externalURL', async () => {
    await admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer('memory'));
    const created = await admin.create<VirtualMcpServer>(
      resourcePath(T.virtualmcpservers, { namespace: ns }),
      virtualServer('team', {
        servers: [{ name: 'memory' }],
        httpRoute: {
          parentRefs: [{ name: 'public', namespace: gatewayNs, sectionName: 'https' }],
          hostnames: ['mcp.example.test'],
          path: '/team',
        },
      }),
    );
    const routePath = resourcePath(ROUTES, { namespace: ns, name: 'team' });
    const route = await eventually('the HTTPRoute', () => getOrUndefined<HTTPRoute>(admin, routePath));
    expect(route.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'VirtualMcpServer',
      uid: created.metadata?.uid,
      controller: true,
    });
    expect(route.spec?.rules?.[0]).toMatchObject({
      matches: [{ path: { type: 'PathPrefix', value: '/team' } }],
      backendRefs: [{ name: 'team', port: 8080 }],
      timeouts: { request: '0s' },
    });

    const live = await admin.get<HTTPRoute & { metadata: { generation: number } }>(routePath);
    const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const c = (type: string, reason: string) => ({
      type,
      status: 'True',
      reason,
      message: reason,
      observedGeneration: live.metadata.generation,
      lastTransitionTime: at,
    });
    await admin.mergePatch(`${routePath}/status`, {
      status: {
        parents: [
          {
            parentRef: {
              group: 'gateway.networking.k8s.io',
              kind: 'Gateway',
              name: 'public',
              namespace: gatewayNs,
              sectionName: 'https',
            },
            controllerName: 'example.test/gateway-controller',
            conditions: [c('Accepted', 'Accepted'), c('ResolvedRefs', 'ResolvedRefs')],
          },
        ],
      },
    });
    const accepted = await eventually('RouteAccepted on the VirtualMcpServer', async () => {
      const v = await admin.get<VirtualMcpServer>(resourcePath(T.virtualmcpservers, { namespace: ns, name: 'team' }));
      return condition(v, 'RouteAccepted')?.status === 'True' ? v : undefined;
    });
    expect(accepted.status?.externalURL).toBe('https://mcp.example.test/team/mcp');
    expect(condition(accepted, 'BackendsReady')?.reason).toBe('BackendNotReady');
  });
});
