/**
 * A VirtualMcpServer's spec.ingress on a real API server, against other servers' Ingresses on the same host and
 * path: like an McpServer, the newcomer is refused (IngressConflict), writes no Ingress and publishes no
 * externalURL, since the ingress controller would send its clients to the server that holds the route; and it
 * takes the route once it is free. And an Ingress the spec drops goes even while a blocker holds the rest.
 */
import type { V1Ingress } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import type { McpServer, VirtualMcpServer } from '../../src/api/types.generated.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';
import { eventually, getOrUndefined, resourcePath, T } from '../support/kube.ts';
import { useControllerIn } from './controller-suite.ts';

const own = useControllerIn('vingress');
const path = (type: { apiVersion: string; plural: string }, name?: string) =>
  resourcePath(type, { namespace: own.ns, name });
const condition = (
  o: { status?: { conditions?: Array<{ type: string; reason: string; message: string }> } },
  t: string,
) => o.status?.conditions?.find((c) => c.type === t);
const ingress = (host: string, path: string) => ({ className: 'nginx', host, path });

function readyReason(type: { apiVersion: string; plural: string }, name: string, reason: string) {
  return eventually(`${name} Ready=False ${reason}`, async () => {
    const o = await own.admin.get<VirtualMcpServer | McpServer>(path(type, name));
    return condition(o, 'Ready')?.reason === reason ? o : undefined;
  });
}

beforeAll(async () => {
  await own.admin.create(path(T.mcpservers), stdioServer('memory'));
});

describe("a VirtualMcpServer's Ingress on a route another server holds", () => {
  it("is withheld while an McpServer's Ingress serves it, and written once that one is gone", async () => {
    await own.admin.create(
      path(T.mcpservers),
      stdioServer('holder', { ingress: ingress('tools.example.com', '/shared') }),
    );
    await eventually('the holder with its external URL', async () => {
      const m = await own.admin.get<McpServer>(path(T.mcpservers, 'holder'));
      return m.status?.externalURL ? m : undefined;
    });
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('latecomer', { servers: [{ name: 'memory' }], ingress: ingress('tools.example.com', '/shared/') }),
    );
    const refused = await readyReason(T.virtualmcpservers, 'latecomer', 'IngressConflict');
    expect(condition(refused, 'Ready')?.message).toContain(`already served by Ingress ${own.ns}/holder`);
    expect(condition(refused, 'Degraded')?.reason).toBe('IngressConflict');
    expect(refused.status?.externalURL).toBeUndefined();
    expect(await getOrUndefined<V1Ingress>(own.admin, path(T.ingresses, 'latecomer'))).toBeUndefined();
    // The holder keeps its route and its URL.
    const holder = await own.admin.get<McpServer>(path(T.mcpservers, 'holder'));
    expect(holder.status?.externalURL).toBe('http://tools.example.com/shared/mcp');

    await own.admin.delete(path(T.mcpservers, 'holder'));
    const ingressOf = await eventually(
      "the VirtualMcpServer's Ingress",
      () => getOrUndefined<V1Ingress>(own.admin, path(T.ingresses, 'latecomer')),
      { timeoutMs: 60_000 },
    );
    expect(ingressOf.spec?.rules?.[0]?.host).toBe('tools.example.com');
    const free = await eventually(
      'the external URL of the VirtualMcpServer',
      async () => {
        const v = await own.admin.get<VirtualMcpServer>(path(T.virtualmcpservers, 'latecomer'));
        return v.status?.externalURL ? v : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(free.status?.externalURL).toBe('http://tools.example.com/shared/mcp');
  });

  it("refuses an McpServer that comes after a VirtualMcpServer's Ingress, as before", async () => {
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('first', { servers: [{ name: 'memory' }], ingress: ingress('first.example.com', '/') }),
    );
    await eventually("the first VirtualMcpServer's Ingress", () =>
      getOrUndefined<V1Ingress>(own.admin, path(T.ingresses, 'first')),
    );
    await own.admin.create(path(T.mcpservers), stdioServer('second', { ingress: ingress('first.example.com', '/') }));
    const second = await readyReason(T.mcpservers, 'second', 'IngressConflict');
    expect(condition(second, 'Ready')?.message).toContain(`already served by Ingress ${own.ns}/first`);
    expect(second.status?.externalURL).toBeUndefined();
  });

  it('is deleted when the spec drops it, even while a missing Secret blocks the rest', async () => {
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('dropping', { servers: [{ name: 'memory' }], ingress: ingress('drop.example.com', '/') }),
    );
    await eventually('its Ingress', () => getOrUndefined<V1Ingress>(own.admin, path(T.ingresses, 'dropping')));
    await own.admin.mergePatch(path(T.virtualmcpservers, 'dropping'), {
      spec: { ingress: null, auth: { bearer: { secretRef: { name: 'not-yet', key: 'tokens' } } } },
    });
    await readyReason(T.virtualmcpservers, 'dropping', 'SecretNotFound');
    await eventually(
      'the Ingress gone while blocked',
      async () => ((await getOrUndefined(own.admin, path(T.ingresses, 'dropping'))) === undefined ? true : undefined),
      { timeoutMs: 30_000 },
    );
    expect(await getOrUndefined(own.admin, path(T.deployments, 'dropping'))).toBeDefined();
  });
});
