/**
 * The Gateway API exposure on a real API server. The controller starts while the Gateway API CRDs are missing
 * (McpServers asking for a route get a condition that says how to install them), then the CRDs appear and it
 * creates the HTTPRoutes without a restart. The test writes the route status the way a Gateway's controller
 * does, and the McpServer's conditions and externalURL follow. A same-named route that is not ours is left alone.
 * The CRDs deleted while running, and an operator identity without the Gateway API rules, each become a condition.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { McpServer } from '../../src/api/types.generated.ts';
import { controllerRules, gatewayApiRules, leaderElectionRules } from '../../src/controller/rbac.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import type { HTTPRoute } from '../../src/render/route.ts';
import { stdioServer } from '../fixtures/manifests.ts';
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
const CONTROLLER_NAME = 'example.test/gateway-controller';

let admin: KubeClient;
let ns: string;
let gatewayNs: string;
let controller: ControllerProcess;
let installed: string[] = [];

const mcpPath = (name: string) => resourcePath(T.mcpservers, { namespace: ns, name });
const routePath = (name: string) => resourcePath(ROUTES, { namespace: ns, name });
const condition = (mcp: McpServer | undefined, type: string) => mcp?.status?.conditions?.find((c) => c.type === type);

/** Polls the McpServer until `check` holds for its current generation. */
function waitFor(name: string, what: string, check: (mcp: McpServer) => boolean, timeoutMs = 60_000) {
  return eventually(
    `${what} on ${ns}/${name}`,
    async () => {
      const mcp = await admin.get<McpServer>(mcpPath(name));
      return mcp.status?.observedGeneration === mcp.metadata?.generation && check(mcp) ? mcp : undefined;
    },
    { timeoutMs, intervalMs: 250 },
  );
}

const withRoute = (name: string, httpRoute: Record<string, unknown>) => {
  const m = stdioServer(name, { httpRoute });
  return { ...m, metadata: { ...m.metadata, namespace: ns } };
};

/** What a Gateway controller writes: one parent status with Accepted and ResolvedRefs. */
async function writeRouteStatus(name: string, accepted: { status: string; reason: string; message: string }) {
  const route = await admin.get<HTTPRoute & { metadata: { generation: number } }>(routePath(name));
  const at = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const condition = (type: string, c: { status: string; reason: string; message: string }) => ({
    type,
    ...c,
    observedGeneration: route.metadata.generation,
    lastTransitionTime: at,
  });
  await admin.mergePatch(`${routePath(name)}/status`, {
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
          controllerName: CONTROLLER_NAME,
          conditions: [
            condition('Accepted', accepted),
            condition('ResolvedRefs', { status: 'True', reason: 'ResolvedRefs', message: 'resolved' }),
          ],
        },
      ],
    },
  });
}

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  ns = await createRestrictedNamespace(admin, 'gwapi');
  gatewayNs = await createRestrictedNamespace(admin, 'gwsys');
  controller = startController({ kubeconfig: inject('controllerKubeconfig'), namespaces: [ns] });
  await controller.waitForLog((l) => l.msg === 'controller started');
});

afterAll(async () => {
  expect(await controller.stop()).toBe(0);
  await removeCrds(admin, installed); // the control plane is shared: leave it without the Gateway API
});

describe('spec.httpRoute on a real API server', () => {
  it('without the Gateway API CRDs: a condition naming them and how to install them', async () => {
    await admin.create(
      resourcePath(T.mcpservers, { namespace: ns }),
      withRoute('github', {
        parentRefs: [{ name: 'public', namespace: gatewayNs, sectionName: 'https' }],
        hostnames: ['mcp.example.test'],
        path: '/github',
      }),
    );
    const mcp = await waitFor(
      'github',
      'GatewayAPINotInstalled',
      (m) => condition(m, 'Ready')?.reason === 'GatewayAPINotInstalled',
    );
    expect(condition(mcp, 'Ready')?.status).toBe('False');
    expect(condition(mcp, 'Degraded')).toMatchObject({ status: 'True', reason: 'GatewayAPINotInstalled' });
    expect(condition(mcp, 'Ready')?.message).toContain('httproutes.gateway.networking.k8s.io');
    expect(condition(mcp, 'Ready')?.message).toMatch(/kubectl apply --server-side -f standard-install\.yaml/);
    // The rest of the server is there: only the route waits.
    expect(await getOrUndefined(admin, resourcePath(T.services, { namespace: ns, name: 'github' }))).toBeDefined();
  });

  it('when the CRDs appear, the HTTPRoute is created without a restart, Pending until a Gateway answers', async () => {
    installed = await installGatewayApiCrds(admin);
    const route = await eventually('the HTTPRoute', () => getOrUndefined<HTTPRoute>(admin, routePath('github')), {
      timeoutMs: 60_000,
    });
    const mcp = await admin.get<McpServer>(mcpPath('github'));
    expect(route.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'McpServer',
      uid: mcp.metadata?.uid,
      controller: true,
    });
    expect(route.spec?.parentRefs).toEqual([
      {
        group: 'gateway.networking.k8s.io',
        kind: 'Gateway',
        name: 'public',
        namespace: gatewayNs,
        sectionName: 'https',
      },
    ]);
    expect(route.spec?.hostnames).toEqual(['mcp.example.test']);
    expect(route.spec?.rules?.[0]).toMatchObject({
      matches: [{ path: { type: 'PathPrefix', value: '/github' } }],
      backendRefs: [{ name: 'github', port: 8080 }],
      timeouts: { request: '0s' },
    });
    // The Gateway does not exist yet: nobody will ever answer for it.
    const missing = await waitFor(
      'github',
      'GatewayNotFound',
      (m) => condition(m, 'RouteAccepted')?.reason === 'GatewayNotFound',
    );
    expect(condition(missing, 'RouteAccepted')?.message).toContain(
      `Gateway ${gatewayNs}/public/https (spec.httpRoute.parentRefs) does not exist`,
    );
    expect(condition(missing, 'Ready')).toMatchObject({ status: 'False', reason: 'GatewayNotFound' });

    await admin.create(resourcePath(GATEWAYS, { namespace: gatewayNs }), {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'Gateway',
      metadata: { name: 'public', namespace: gatewayNs },
      spec: {
        gatewayClassName: 'example',
        listeners: [
          { name: 'http', protocol: 'HTTP', port: 80 },
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
    const pending = await waitFor('github', 'Pending', (m) => condition(m, 'RouteAccepted')?.reason === 'Pending');
    expect(condition(pending, 'RouteAccepted')?.status).toBe('Unknown');
    expect(pending.status?.externalURL).toBeUndefined();
  });

  it("reads the Gateway controller's answer: Accepted gives the https externalURL, a refusal a condition", async () => {
    await writeRouteStatus('github', { status: 'True', reason: 'Accepted', message: 'accepted' });
    const accepted = await waitFor('github', 'RouteAccepted', (m) => condition(m, 'RouteAccepted')?.status === 'True');
    expect(condition(accepted, 'RouteResolvedRefs')).toMatchObject({ status: 'True', reason: 'ResolvedRefs' });
    expect(accepted.status?.externalURL).toBe('https://mcp.example.test/github/mcp');

    await writeRouteStatus('github', {
      status: 'False',
      reason: 'NotAllowedByListeners',
      message: `namespace ${ns} is not allowed by listener https`,
    });
    const refused = await waitFor('github', 'refusal', (m) => condition(m, 'RouteAccepted')?.status === 'False');
    expect(condition(refused, 'RouteAccepted')).toMatchObject({
      reason: 'NotAllowedByListeners',
      message: `Gateway ${gatewayNs}/public/https (${CONTROLLER_NAME}): namespace ${ns} is not allowed by listener https; let the listener's allowedRoutes admit HTTPRoutes from namespace ${ns} (on Gateway ${gatewayNs}/public/https), or attach spec.httpRoute.parentRefs to a Gateway that does`,
    });
    expect(condition(refused, 'Ready')).toMatchObject({ status: 'False', reason: 'RouteNotAccepted' });
    expect(refused.status?.externalURL).toBeUndefined();

    // As long a message as the Gateway API allows (32 KiB): quoted in part, so the McpServer's status still fits.
    await writeRouteStatus('github', { status: 'False', reason: 'NoMatchingParent', message: 'x'.repeat(32_768) });
    const long = await waitFor(
      'github',
      'a clipped message',
      (m) => condition(m, 'RouteAccepted')?.reason === 'NoMatchingParent',
    );
    expect(condition(long, 'RouteAccepted')?.message).toMatch(
      /^Gateway .*: x{1024}\.\.\.; spec\.httpRoute\.parentRefs sectionName/,
    );
  });

  it('a same-named HTTPRoute that is not ours: RouteConflict, and it is never overwritten', async () => {
    const foreign = {
      apiVersion: 'gateway.networking.k8s.io/v1',
      kind: 'HTTPRoute',
      metadata: { name: 'taken', namespace: ns },
      spec: {
        parentRefs: [{ name: 'other' }],
        rules: [
          {
            matches: [{ path: { type: 'PathPrefix', value: '/theirs' } }],
            backendRefs: [{ name: 'theirs', port: 80 }],
          },
        ],
      },
    };
    const before = await admin.create<HTTPRoute & { metadata: { resourceVersion: string } }>(
      routePath('').replace(/\/$/, ''),
      foreign,
    );
    await admin.create(
      resourcePath(T.mcpservers, { namespace: ns }),
      withRoute('taken', { parentRefs: [{ name: 'public', namespace: gatewayNs }] }),
    );
    const mcp = await waitFor('taken', 'RouteConflict', (m) => condition(m, 'Ready')?.reason === 'RouteConflict');
    expect(condition(mcp, 'Degraded')?.message).toContain(
      `HTTPRoute ${ns}/taken already exists and is not managed by this McpServer`,
    );
    const after = await admin.get<HTTPRoute & { metadata: { resourceVersion: string } }>(routePath('taken'));
    expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    expect(after.metadata.ownerReferences).toBeUndefined();

    // The user does what the message says: nothing watches a route that is not ours, yet the McpServer notices.
    await admin.delete(routePath('taken'));
    const ours = await eventually(
      'our HTTPRoute once theirs is gone',
      async () => {
        const r = await getOrUndefined<HTTPRoute>(admin, routePath('taken'));
        return r?.metadata?.ownerReferences?.length ? r : undefined;
      },
      { timeoutMs: 60_000 },
    );
    expect(ours.metadata?.ownerReferences?.[0]?.uid).toBe(mcp.metadata?.uid);
  });

  it('two McpServers on one host and path through one Gateway: the newcomer is refused, not routed elsewhere', async () => {
    await admin.create(
      resourcePath(T.mcpservers, { namespace: ns }),
      withRoute('first', {
        parentRefs: [{ name: 'public', namespace: gatewayNs, sectionName: 'https' }],
        hostnames: ['dup.example.test'],
        path: '/dup',
      }),
    );
    await eventually('the first HTTPRoute', () => getOrUndefined<HTTPRoute>(admin, routePath('first')), {
      timeoutMs: 60_000,
    });
    // Every listener of the Gateway (https included), the same host, the same prefix (a trailing slash matches alike).
    await admin.create(
      resourcePath(T.mcpservers, { namespace: ns }),
      withRoute('second', {
        parentRefs: [{ name: 'public', namespace: gatewayNs }],
        hostnames: ['other.example.test', 'dup.example.test'],
        path: '/dup/',
      }),
    );
    const refused = await waitFor(
      'second',
      'RoutePathConflict',
      (m) => condition(m, 'Ready')?.reason === 'RoutePathConflict',
    );
    expect(condition(refused, 'Degraded')?.message).toBe(
      `dup.example.test/dup/ through Gateway ${gatewayNs}/public is already routed by HTTPRoute ${ns}/first, which the Gateway serves first: pick another spec.httpRoute.hostnames or spec.httpRoute.path`,
    );
    expect(refused.status?.externalURL).toBeUndefined();
    expect(await getOrUndefined(admin, routePath('second'))).toBeUndefined();
    // The first keeps its route.
    expect(condition(await admin.get<McpServer>(mcpPath('first')), 'Ready')?.reason).not.toBe('RoutePathConflict');

    // The first goes: the second gets the route.
    await admin.delete(mcpPath('first'));
    await eventually('the second HTTPRoute', () => getOrUndefined<HTTPRoute>(admin, routePath('second')), {
      timeoutMs: 60_000,
    });
    await admin.delete(mcpPath('second'));
  });

  it('removing spec.httpRoute deletes the route it made', async () => {
    await admin.mergePatch(mcpPath('github'), { spec: { httpRoute: null } });
    await eventually(
      'the HTTPRoute gone',
      async () => ((await getOrUndefined(admin, routePath('github'))) === undefined ? true : undefined),
      { timeoutMs: 60_000 },
    );
    const mcp = await waitFor('github', 'no route conditions', (m) => !condition(m, 'RouteAccepted'));
    expect(mcp.status?.externalURL).toBeUndefined();
  });

  it('CRDs deleted while running: GatewayAPINotInstalled, then the route comes back when they return', async () => {
    await admin.create(
      resourcePath(T.mcpservers, { namespace: ns }),
      withRoute('survivor', { parentRefs: [{ name: 'public', namespace: gatewayNs }], path: '/survivor' }),
    );
    await eventually('the HTTPRoute', () => getOrUndefined<HTTPRoute>(admin, routePath('survivor')), {
      timeoutMs: 60_000,
    });
    await removeCrds(admin, installed);
    const gone = await waitFor(
      'survivor',
      'GatewayAPINotInstalled after the CRDs went',
      (m) => condition(m, 'Ready')?.reason === 'GatewayAPINotInstalled',
    );
    expect(condition(gone, 'Ready')?.message).toContain('httproutes.gateway.networking.k8s.io');
    expect(controller.child.exitCode).toBeNull();
    // Paused once, not in a loop (rechecks are rate-limited by discovery's cache).
    expect(
      controller.logs.filter((l) => l.msg === 'Gateway API CRDs gone: HTTPRoutes paused until they return').length,
    ).toBeLessThanOrEqual(3);

    installed = await installGatewayApiCrds(admin);
    await eventually('the HTTPRoute back', () => getOrUndefined<HTTPRoute>(admin, routePath('survivor')), {
      timeoutMs: 60_000,
    });
  });

  it('flag on but no Gateway API RBAC (a hand-made Role): Forbidden on the McpServer, naming the fix', async () => {
    const own = await createRestrictedNamespace(admin, 'gwnorbac');
    const rbac = (plural: string) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', plural });
    await admin.create(resourcePath(T.serviceaccounts, { namespace: own }), {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'operator' },
    });
    await admin.create(resourcePath(rbac('roles'), { namespace: own }), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'Role',
      metadata: { name: 'operator' },
      rules: [...controllerRules, ...leaderElectionRules],
    });
    await admin.create(resourcePath(rbac('rolebindings'), { namespace: own }), {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'operator' },
      subjects: [{ kind: 'ServiceAccount', name: 'operator', namespace: own }],
    });
    const { status } = await admin.create<{ status: { token: string } }>(
      `${resourcePath(T.serviceaccounts, { namespace: own, name: 'operator' })}/token`,
      { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
    );
    const { server } = parse(readFileSync(inject('adminKubeconfig'), 'utf8')).clusters[0].cluster;
    const dir = mkdtempSync(join(tmpdir(), 'mcp-operator-gwapi-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'operator', user: { token: status.token } }],
        contexts: [{ name: 'c', context: { cluster: 'c', user: 'operator' } }],
        'current-context': 'c',
      }),
      { mode: 0o600 },
    );
    const restricted = startController({ kubeconfig, namespaces: [own] });
    try {
      await restricted.waitForLog((l) => l.msg === 'controller started');
      const m = stdioServer('routed', { httpRoute: { parentRefs: [{ name: 'public', namespace: gatewayNs }] } });
      await admin.create(resourcePath(T.mcpservers, { namespace: own }), {
        ...m,
        metadata: { ...m.metadata, namespace: own },
      });
      const mcp = await eventually(
        `Forbidden on ${own}/routed`,
        async () => {
          const live = await admin.get<McpServer>(resourcePath(T.mcpservers, { namespace: own, name: 'routed' }));
          return condition(live, 'Ready')?.reason === 'Forbidden' ? live : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 250 },
      );
      expect(condition(mcp, 'Ready')?.message).toContain('gatewayAPI.enabled=true');
      expect(condition(mcp, 'Ready')?.message).toContain('--gateway-api=false');
    } finally {
      expect(await restricted.stop()).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Ingress to HTTPRoute and back: each switch leaves only the exposure asked for', async () => {
    const ingressPath = resourcePath(T.ingresses, { namespace: ns, name: 'switch' });
    const m = stdioServer('switch', { ingress: { host: 'switch.example.test', path: '/switch' } });
    await admin.create(resourcePath(T.mcpservers, { namespace: ns }), {
      ...m,
      metadata: { ...m.metadata, namespace: ns },
    });
    await eventually('the Ingress', () => getOrUndefined(admin, ingressPath), { timeoutMs: 60_000 });
    const gone = (path: string) => async () => ((await getOrUndefined(admin, path)) === undefined ? true : undefined);

    const httpRoute = {
      parentRefs: [{ name: 'public', namespace: gatewayNs }],
      hostnames: ['switch.example.test'],
      path: '/switch',
    };
    await admin.mergePatch(mcpPath('switch'), { spec: { ingress: null, httpRoute } });
    await eventually('the HTTPRoute', () => getOrUndefined(admin, routePath('switch')), { timeoutMs: 60_000 });
    await eventually('the Ingress gone', gone(ingressPath), { timeoutMs: 60_000 });
    const routed = await waitFor('switch', 'route conditions', (m) => !!condition(m, 'RouteAccepted'));
    expect(routed.status?.externalURL).toBeUndefined(); // not the Ingress's any more, and no Gateway answered

    await admin.mergePatch(mcpPath('switch'), {
      spec: { httpRoute: null, ingress: { host: 'switch.example.test', path: '/switch' } },
    });
    await eventually('the Ingress back', () => getOrUndefined(admin, ingressPath), { timeoutMs: 60_000 });
    await eventually('the HTTPRoute gone', gone(routePath('switch')), { timeoutMs: 60_000 });
    const back = await waitFor('switch', 'no route conditions', (m) => !condition(m, 'RouteAccepted'));
    expect(condition(back, 'Degraded')?.reason).not.toMatch(/^Route|^Gateway/);
    await admin.delete(mcpPath('switch'));
  });

  it('a blocked McpServer still withdraws the HTTPRoute and Ingress its spec dropped', async () => {
    const ingressPath = resourcePath(T.ingresses, { namespace: ns, name: 'withdraw' });
    const exposure = {
      ingress: { host: 'withdraw.example.test', path: '/withdraw' },
      httpRoute: { parentRefs: [{ name: 'public', namespace: gatewayNs }], path: '/withdraw' },
    };
    const m = stdioServer('withdraw', exposure);
    await admin.create(resourcePath(T.mcpservers, { namespace: ns }), {
      ...m,
      metadata: { ...m.metadata, namespace: ns },
    });
    await eventually('the Ingress', () => getOrUndefined(admin, ingressPath), { timeoutMs: 60_000 });
    await eventually('the HTTPRoute', () => getOrUndefined(admin, routePath('withdraw')), { timeoutMs: 60_000 });
    // Off the network now, in the same edit as a reference to a Secret that does not exist yet.
    const env = [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'not-yet', key: 'token' } } }];
    await admin.mergePatch(mcpPath('withdraw'), { spec: { ingress: null, httpRoute: null, env } });
    await waitFor('withdraw', 'SecretNotFound', (x) => condition(x, 'Ready')?.reason === 'SecretNotFound');
    const gone = (path: string) => async () => ((await getOrUndefined(admin, path)) === undefined ? true : undefined);
    await eventually('the Ingress gone while blocked', gone(ingressPath), { timeoutMs: 30_000 });
    await eventually('the HTTPRoute gone while blocked', gone(routePath('withdraw')), { timeoutMs: 30_000 });
    // The workload is held as it was: only what exposed it went.
    expect(await getOrUndefined(admin, resourcePath(T.deployments, { namespace: ns, name: 'withdraw' }))).toBeDefined();
    await admin.delete(mcpPath('withdraw'));
  });

  it('the Gateway API rules grant no verb the controller did not use above (least privilege)', async () => {
    // The controller's own count of its requests, by verb and resource, over every scenario of this file.
    const port = await controller.healthPort();
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const used = new Set<string>();
    for (const m of metrics.matchAll(/^mcp_operator_kube_requests_total\{([^}]*)\}/gm)) {
      const label = (name: string) => m[1]?.match(new RegExp(`${name}="([^"]*)"`))?.[1];
      const verb = label('verb');
      const resource = label('resource');
      // Server-side apply is a patch, and one that creates the object needs create too.
      for (const v of verb === 'apply' ? ['patch', 'create'] : [verb]) used.add(`${v} ${resource}`);
    }
    const granted = gatewayApiRules.flatMap((r) => r.resources.flatMap((res) => r.verbs.map((v) => `${v} ${res}`)));
    expect(granted.filter((g) => !used.has(g))).toEqual([]);
  });
});
