/**
 * The controller against a real kube-apiserver + etcd + kube-controller-manager, continued (controller.test.ts):
 * objects it does not own (a user's Service, another tool's object, another McpServer's Ingress route), a
 * namesake left deleting, and a burst of edits to a referenced Secret.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import { readAudit, writesSince } from '../support/audit.ts';
import { eventually, getOrUndefined, T } from '../support/kube.ts';
import { condition, createServer, getServer, observed, path, suite, useController } from './controller-suite.ts';

useController();

let admin: KubeClient;
let ns: string;

beforeAll(() => {
  ({ admin, ns } = suite);
});

describe('an McpServer applied to a real API server: what it does not own', () => {
  it('refuses to take over an object it does not own, and says so', async () => {
    await admin.create(path(T.services), {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'taken' },
      spec: { ports: [{ port: 80 }] },
    });
    await createServer(stdioServer('taken'));
    const mcp = await eventually('ChildConflict', async () => {
      const m = await getServer('taken');
      return condition(m, 'Ready')?.reason === 'ChildConflict' ? m : undefined;
    });
    expect(condition(mcp, 'Ready')?.message).toMatch(
      /Service .*taken already exists and is not managed by this McpServer/,
    );
    const service = await admin.get<V1Service>(path(T.services, 'taken'));
    expect(service.metadata?.ownerReferences).toBeUndefined();
    expect(service.spec?.ports?.[0]?.port).toBe(80);

    // Once the user's Service is gone, the McpServer gets its own without waiting out a backoff.
    await admin.delete(path(T.services, 'taken'));
    const freed = await eventually('the Service ours', async () => {
      const s = await getOrUndefined<V1Service>(admin, path(T.services, 'taken'));
      return s?.metadata?.ownerReferences?.[0]?.uid ? s : undefined;
    });
    expect(freed.metadata?.ownerReferences?.[0]?.name).toBe('taken');
    // The status write follows the applies of the same pass: read it once it has landed.
    const after = await eventually('the conflict gone from status', async () => {
      const m = await getServer('taken');
      return condition(m, 'Ready')?.reason !== 'ChildConflict' ? m : undefined;
    });
    expect(condition(after, 'Degraded')?.status).toBe('False');
  });

  it('a burst of 50 edits to a referenced Secret rolls the pods once or twice, to the last value', async () => {
    const HASH = 'mcpoperator.io/config-hash';
    const token = (value: string) => admin.mergePatch(path(T.secrets, 'burst'), { stringData: { token: value } });
    await admin.create(path(T.secrets), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'burst' },
      stringData: { token: 'v0' },
    });
    await createServer(
      stdioServer('burst', { env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'burst', key: 'token' } } }] }),
    );
    await observed('burst');
    const before = await admin.get<V1Deployment>(path(T.deployments, 'burst'));
    const since = new Date().toISOString();
    await Promise.all(Array.from({ length: 50 }, (_, i) => token(`v${i + 1}`)));
    const settled = async () => {
      const writes = () =>
        writesSince(inject('auditLog'), ns, since).filter((e) => e.objectRef?.resource === 'deployments').length;
      let seen = -1;
      await eventually(
        'no more Deployment writes',
        async () => {
          const n = writes();
          const quiet = n === seen && n > 0;
          seen = n;
          return quiet ? true : undefined;
        },
        { intervalMs: 2_000 },
      );
      return admin.get<V1Deployment>(path(T.deployments, 'burst'));
    };
    const after = await settled();
    const rollouts = (after.metadata?.generation ?? 0) - (before.metadata?.generation ?? 0);
    expect(rollouts).toBeGreaterThanOrEqual(1);
    expect(rollouts).toBeLessThanOrEqual(3); // one per settle window, not one per edit
    const hash = (d: V1Deployment) => d.spec?.template.metadata?.annotations?.[HASH];
    expect(hash(after)).not.toBe(hash(before));
    // The last value counts: back to the first one, the hash is the first one's again.
    await token('v0');
    await eventually('the first hash again', async () => {
      const d = await admin.get<V1Deployment>(path(T.deployments, 'burst'));
      return hash(d) === hash(before) ? d : undefined;
    });
  });

  it('re-created at once, it waits for what its deleted namesake left, saying so, then converges', async () => {
    // What a delete and re-create finds while the garbage collector works; a finalizer keeps it from ending here.
    const left = {
      metadata: {
        finalizers: ['example.com/hold'],
        ownerReferences: [
          {
            apiVersion: 'mcpoperator.io/v1alpha1',
            kind: 'McpServer',
            name: 'again',
            uid: '5f0c1d2e-0000-4000-8000-000000000001',
            controller: true,
          },
        ],
      },
    };
    await admin.create(path(T.secrets), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { ...left.metadata, name: 'again-gateway-session' },
      data: { 'session-key': Buffer.alloc(32, 1).toString('base64') },
    });
    await admin.create(path(T.serviceaccounts), {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { ...left.metadata, name: 'again' },
    });
    const created = await createServer(httpServer('again'));
    const waiting = async (what: string) =>
      eventually(`waiting for the ${what}`, async () => {
        const ready = condition(await getServer('again'), 'Ready');
        return ready?.reason === 'ChildConflict' && ready.message?.startsWith(what) ? ready : undefined;
      });
    const secret = await waiting(`Secret ${ns}/again-gateway-session`);
    expect(secret.message).toMatch(/left by a deleted McpServer of this name; the garbage collector deletes it/);
    expect(secret.message).not.toMatch(/delete it or rename/);
    await admin.mergePatch(path(T.secrets, 'again-gateway-session'), { metadata: { finalizers: null } });
    const account = await waiting(`ServiceAccount ${ns}/again`);
    expect(account.message).toMatch(/left by a deleted McpServer/);
    await admin.mergePatch(path(T.serviceaccounts, 'again'), { metadata: { finalizers: null } });
    const deployment = await eventually('the Deployment of the new one', () =>
      getOrUndefined<V1Deployment>(admin, path(T.deployments, 'again')),
    );
    expect(deployment.metadata?.ownerReferences?.[0]?.uid).toBe(created.metadata?.uid);
  });

  it('refuses an object another tool manages (managed-by another value), and reads only that one', async () => {
    const since = new Date().toISOString();
    await admin.create(path(T.deployments), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'helmed', labels: { 'app.kubernetes.io/managed-by': 'Helm' } },
      spec: {
        replicas: 0,
        selector: { matchLabels: { app: 'helmed' } },
        template: { metadata: { labels: { app: 'helmed' } }, spec: { containers: [{ name: 'c', image: 'x' }] } },
      },
    });
    await createServer(stdioServer('helmed'));
    const mcp = await eventually('ChildConflict', async () => {
      const m = await getServer('helmed');
      return condition(m, 'Ready')?.reason === 'ChildConflict' ? m : undefined;
    });
    expect(condition(mcp, 'Ready')?.message).toMatch(/Deployment .*helmed already exists/);
    const deployment = await admin.get<V1Deployment>(path(T.deployments, 'helmed'));
    expect(deployment.metadata?.ownerReferences).toBeUndefined();
    expect(deployment.spec?.template.spec?.containers[0]?.image).toBe('x');
    // The controller knows which names are free from its caches: it read the one a user holds, nothing else.
    const reads = readAudit(inject('auditLog')).filter(
      (e) =>
        Date.parse(e.requestReceivedTimestamp) >= Date.parse(since) &&
        e.verb === 'get' &&
        e.userAgent?.startsWith('mcp-operator/controller') &&
        e.objectRef?.namespace === ns &&
        ['serviceaccounts', 'services', 'deployments'].includes(e.objectRef?.resource ?? ''),
    );
    expect(new Set(reads.map((e) => `${e.objectRef?.resource}/${e.objectRef?.name}`))).toEqual(
      new Set(['deployments/helmed']),
    );
  });

  it('refuses an Ingress route another McpServer already serves, naming the holder', async () => {
    const ingress = { className: 'nginx', host: 'shared.example.com', path: '/tools' };
    await createServer(stdioServer('first-route', { ingress }));
    await eventually('first Ingress', () => getOrUndefined(admin, path(T.ingresses, 'first-route')));
    await createServer(stdioServer('second-route', { ingress }));
    const second = await eventually('IngressConflict', async () => {
      const m = await getServer('second-route');
      return condition(m, 'Ready')?.reason === 'IngressConflict' ? m : undefined;
    });
    expect(condition(second, 'Ready')?.message).toMatch(
      /shared.example.com\/tools is already served by Ingress .*\/first-route/,
    );
    expect(await getOrUndefined(admin, path(T.ingresses, 'second-route'))).toBeUndefined();
    // The holder is undisturbed, and moving the newcomer to a free path resolves it.
    expect(condition(await observed('first-route'), 'Degraded')?.status).toBe('False');
    await admin.mergePatch(path(T.mcpservers, 'second-route'), { spec: { ingress: { path: '/other' } } });
    await eventually('second Ingress', () => getOrUndefined(admin, path(T.ingresses, 'second-route')));
  });
});

describe('an McpServer applied to a real API server: what the API server writes back another way', () => {
  it('converges once on a divisor the API server stores in another notation, and writes status', async () => {
    const since = new Date().toISOString();
    // Stored as "1Mi": read as text, the Deployment differed on every event and was applied again forever.
    const divisor = { resource: 'limits.memory', divisor: '1024Ki' };
    await createServer(stdioServer('divisor', { env: [{ name: 'MEM', valueFrom: { resourceFieldRef: divisor } }] }));
    const mcp = await observed('divisor');
    expect(condition(mcp, 'Ready')?.reason).not.toBe('ApplyFailed');
    const deploymentApplies = () =>
      writesSince(inject('auditLog'), ns, since).filter(
        (e) => e.objectRef?.resource === 'deployments' && e.objectRef.name === 'divisor' && !e.objectRef.subresource,
      ).length;
    const first = deploymentApplies();
    // Two status rechecks (5 s each) and the Deployment controller's updates: a loop would apply again by now.
    await new Promise((r) => setTimeout(r, 12_000));
    expect(first).toBe(1);
    expect(deploymentApplies()).toBe(1);
  });

  it('cuts a refusal longer than a condition may hold, so the status write still lands', async () => {
    // 256 peers the API server refuses one by one (/33): its message runs past metav1.Condition's 32768 bytes.
    const egress = Array.from({ length: 8 }, (_, r) => ({
      to: Array.from({ length: 32 }, (_, i) => ({ ipBlock: { cidr: `10.${r}.${i}.0/33` } })),
    }));
    await createServer(stdioServer('long-refusal', { networkPolicy: { egress } }));
    const mcp = await eventually('ApplyFailed in status', async () => {
      const m = await getServer('long-refusal');
      return condition(m, 'Ready')?.reason === 'ApplyFailed' ? m : undefined;
    });
    const message = condition(mcp, 'Ready')?.message ?? '';
    expect(message).toContain('the API server refused the NetworkPolicy');
    expect(message).toContain('spec.networkPolicy.egress[0].to[0].ipBlock.cidr');
    expect(message).toMatch(/…\[\d+ more characters\]$/);
    expect(Buffer.byteLength(message)).toBeLessThanOrEqual(32768);
  });
});
