/**
 * The controller under failure, on real API servers: killed mid-rollout, replaced by a standby, and cut
 * off from an API server that restarts (its watches fail and resume, possibly with 410 Gone).
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment, V1ReplicaSet, V1Service, V1ServiceAccount } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { CONTROLLER_USER, ControlPlane } from '../../src/local-cluster/control-plane.ts';
import { installOperator } from '../../src/local-cluster/install.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { readAudit } from '../support/audit.ts';
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
const running: ControllerProcess[] = [];
const start = (options: Parameters<typeof startController>[0]) => {
  const c = startController(options);
  running.push(c);
  return c;
};

beforeAll(() => {
  admin = adminClient(inject('adminKubeconfig'));
});
afterAll(async () => {
  await Promise.all(running.map((c) => c.stop('SIGKILL')));
});

const MANAGED = 'app.kubernetes.io/managed-by=mcp-operator';

describe('the controller under failure', () => {
  it('killed with SIGKILL mid-rollout of many McpServers, a restarted one converges with no duplicates or orphans', async () => {
    const ns = await createRestrictedNamespace(admin, 'crash');
    const count = 120;
    for (let i = 0; i < count; i++) {
      await admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer(`s${i}`));
    }
    const first = start({ kubeconfig: inject('controllerKubeconfig'), namespaces: [ns], extraArgs: ['--workers=1'] });
    const partial = await eventually(
      'a partial rollout',
      async () => {
        const n = (await admin.list(resourcePath(T.deployments, { namespace: ns }), { labelSelector: MANAGED })).items
          .length;
        return n >= 5 ? n : undefined;
      },
      { intervalMs: 20 },
    );
    first.child.kill('SIGKILL');
    await first.exited;
    const afterKill = (await admin.list(resourcePath(T.deployments, { namespace: ns }), { labelSelector: MANAGED }))
      .items.length;
    expect(partial).toBeLessThan(count);
    expect(afterKill).toBeLessThan(count); // it really died mid-way

    start({ kubeconfig: inject('controllerKubeconfig'), namespaces: [ns] });
    await eventually(
      'every McpServer observed',
      async () => {
        const list = await admin.list<McpServer>(resourcePath(T.mcpservers, { namespace: ns }));
        return list.items.every((m) => m.status?.observedGeneration === 1) ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const servers = (await admin.list<McpServer>(resourcePath(T.mcpservers, { namespace: ns }))).items;
    const uids = new Map(servers.map((m) => [m.metadata?.name, m.metadata?.uid]));
    for (const type of [T.deployments, T.services, T.serviceaccounts]) {
      const children = (
        await admin.list<V1Deployment | V1Service | V1ServiceAccount>(resourcePath(type, { namespace: ns }), {
          labelSelector: MANAGED,
        })
      ).items;
      expect(children, type.plural).toHaveLength(count);
      for (const child of children) {
        const owner = child.metadata?.ownerReferences?.find((r) => r.controller);
        expect(owner?.uid, `${type.plural}/${child.metadata?.name} owned by its McpServer`).toBe(
          uids.get(child.metadata?.name),
        );
      }
    }
    // Nothing was rolled out twice: one generation, one ReplicaSet per Deployment.
    const deployments = (
      await admin.list<V1Deployment>(resourcePath(T.deployments, { namespace: ns }), { labelSelector: MANAGED })
    ).items;
    expect(deployments.filter((d) => d.metadata?.generation !== 1).map((d) => d.metadata?.name)).toEqual([]);
    await eventually('one ReplicaSet per Deployment', async () => {
      const sets = (
        await admin.list<V1ReplicaSet>(resourcePath(T.replicasets, { namespace: ns }), {
          labelSelector: 'app.kubernetes.io/name=mcp-server',
        })
      ).items;
      return sets.length === count ? sets : undefined;
    });
  });

  it('with two controllers, only the leader acts, and the standby takes over when the leader stops or dies', async () => {
    const ns = await createRestrictedNamespace(admin, 'leader');
    const options = { kubeconfig: inject('controllerKubeconfig'), namespaces: [ns] };
    const a = start(options);
    const leaderA = await a.waitForLog((l) => l.msg === 'became leader');
    const b = start(options);
    await b.waitForLog((l) => l.msg === 'caches synced');

    const created = (name: string) => admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer(name));
    const reconciled = (name: string) =>
      eventually(`${name} reconciled`, () =>
        getOrUndefined<V1Deployment>(admin, resourcePath(T.deployments, { namespace: ns, name })),
      );
    const writers = (name: string) =>
      new Set(
        readAudit(inject('auditLog'))
          .filter((e) => e.objectRef?.namespace === ns && e.objectRef?.name === name && e.verb === 'patch')
          .map((e) => /\((.+)\)/.exec(e.userAgent ?? '')?.[1]),
      );

    await created('one');
    await reconciled('one');
    expect([...writers('one')]).toEqual([leaderA.identity]);
    expect(b.logs.some((l) => l.msg === 'became leader')).toBe(false);

    // Graceful stop releases the lease: the standby leads at once, not after the lease expires.
    expect(await a.stop()).toBe(0);
    const leaderB = await b.waitForLog((l) => l.msg === 'became leader', 10_000);
    await created('two');
    await reconciled('two');
    expect([...writers('two')]).toEqual([leaderB.identity]);

    // A crash leaves the lease held: a new standby waits for it to expire, then takes over.
    const c = start(options);
    await c.waitForLog((l) => l.msg === 'caches synced');
    b.child.kill('SIGKILL');
    const leaderC = await c.waitForLog((l) => l.msg === 'became leader', 40_000);
    await created('three');
    await reconciled('three');
    expect([...writers('three')]).toEqual([leaderC.identity]);
  });

  it('survives its API server restarting: watches fail and resume, and new work is picked up by the same process', async () => {
    const plane = new ControlPlane({ dir: join(tmpdir(), `mcp-operator-restart-${process.pid}`) });
    await plane.start();
    try {
      const local = adminClient(plane.kubeconfigs.admin);
      await installOperator(local, CONTROLLER_USER);
      const ns = await createRestrictedNamespace(local, 'restart');
      const controller = start({ kubeconfig: plane.kubeconfigs.controller, namespaces: [ns] });
      await controller.waitForLog((l) => l.msg === 'controller started');
      await local.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer('before'));
      await eventually('before reconciled', () =>
        getOrUndefined(local, resourcePath(T.deployments, { namespace: ns, name: 'before' })),
      );

      await plane.restart('kube-apiserver', 1000);
      await controller.waitForLog(
        (l) => /watch failed|watch could not start|relist failed/.test(String(l.msg)),
        30_000,
      );
      await local.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer('after'));
      const deployment = await eventually(
        'after reconciled by the same process',
        () => getOrUndefined<V1Deployment>(local, resourcePath(T.deployments, { namespace: ns, name: 'after' })),
        { timeoutMs: 90_000 },
      );
      expect(deployment.metadata?.ownerReferences?.[0]?.name).toBe('after');
      expect(controller.child.exitCode).toBeNull();
    } finally {
      await plane.stop();
    }
  });
});
