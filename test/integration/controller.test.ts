/**
 * The controller, run as the real CLI with exactly its RBAC, against a real kube-apiserver + etcd +
 * kube-controller-manager. Namespaces enforce Pod Security "restricted", so the pods the real ReplicaSet
 * controller creates are admitted only when the hardening is right.
 */
import type {
  V1Deployment,
  V1Ingress,
  V1Pod,
  V1ReplicaSet,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import { describeWrites, writesSince } from '../support/audit.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { eventually, getOrUndefined, T } from '../support/kube.ts';
import { condition, createServer, getServer, observed, path, suite, useController } from './controller-suite.ts';

useController();

let admin: KubeClient;
let ns: string;
let otherNs: string;
let unwatchedNs: string;
let controller: ControllerProcess;

beforeAll(() => {
  ({ admin, ns, otherNs, unwatchedNs, controller } = suite);
});

describe('an McpServer applied to a real API server', () => {
  it('gets a hardened set of children, admitted under Pod Security "restricted"', async () => {
    const created = await createServer(
      stdioServer('everything', { ingress: { className: 'nginx', host: 'mcp.example.com', path: '/everything' } }),
    );
    const uid = created.metadata?.uid;
    const deployment = await eventually('deployment', () =>
      getOrUndefined<V1Deployment>(admin, path(T.deployments, 'everything')),
    );
    const service = await eventually('service', () => getOrUndefined<V1Service>(admin, path(T.services, 'everything')));
    const account = await eventually('sa', () =>
      getOrUndefined<V1ServiceAccount>(admin, path(T.serviceaccounts, 'everything')),
    );
    const ingress = await eventually('ingress', () =>
      getOrUndefined<V1Ingress>(admin, path(T.ingresses, 'everything')),
    );

    for (const child of [deployment, service, account, ingress]) {
      expect(child.metadata?.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'McpServer',
          name: 'everything',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        }),
      ]);
      expect(child.metadata?.labels).toMatchObject({
        'app.kubernetes.io/name': 'mcp-server',
        'app.kubernetes.io/instance': 'everything',
        'app.kubernetes.io/component': 'mcp-server',
        'app.kubernetes.io/managed-by': 'mcp-operator',
        'app.kubernetes.io/part-of': 'mcp-operator',
      });
    }
    expect(account.automountServiceAccountToken).toBe(false);
    // The replicas' shared session-signing key: created by the controller, owned, 32 random bytes.
    const sessionKey = await eventually('session Secret', () =>
      getOrUndefined<{ data: Record<string, string>; metadata: { ownerReferences?: Array<{ uid: string }> } }>(
        admin,
        path(T.secrets, 'everything-gateway-session'),
      ),
    );
    expect(sessionKey.metadata.ownerReferences?.[0]?.uid).toBe(uid);
    expect(Buffer.from(sessionKey.data['session-key'] ?? '', 'base64')).toHaveLength(32);
    const pod = deployment.spec?.template.spec;
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    const server = pod?.containers[0];
    expect(server?.command).toEqual(['/opt/mcp-gateway/mcp-gateway']);
    expect(server?.args).toEqual(['stdio', '--', 'npx', '-y', '@modelcontextprotocol/server-everything']);
    expect(server?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
    expect(server?.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
    expect(server?.env).toContainEqual({ name: 'MCP_GATEWAY_BASE_PATH', value: '/everything' });
    expect(server?.env).toContainEqual({ name: 'MCP_GATEWAY_ADVERTISE_ADDRESS', value: '$(MCP_GATEWAY_POD_IP):8080' });
    expect(pod?.volumes).toContainEqual(
      expect.objectContaining({
        name: 'mcp-session',
        secret: expect.objectContaining({ secretName: 'everything-gateway-session' }),
      }),
    );
    expect(pod?.initContainers?.[0]?.image).toBe('registry.test/mcp-operator:test');
    expect(service.spec?.ports).toEqual([expect.objectContaining({ name: 'mcp', port: 8080, targetPort: 'mcp' })]);
    expect(ingress.metadata?.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.org/proxy-buffering': 'False',
    });
    expect(ingress.spec?.rules?.[0]?.http?.paths[0]).toMatchObject({ path: '/everything', pathType: 'Prefix' });

    // The real ReplicaSet controller created the pod and PodSecurity admission let it in.
    const pods = await eventually('an admitted pod', async () => {
      const list = await admin.list<V1Pod>(path(T.pods), { labelSelector: 'app.kubernetes.io/instance=everything' });
      return list.items.length ? list.items : undefined;
    });
    expect(pods[0]?.spec?.containers.every((c) => c.securityContext?.allowPrivilegeEscalation === false)).toBe(true);

    const mcp = await observed('everything');
    expect(mcp.status?.url).toBe(`http://everything.${ns}.svc:8080/mcp`);
    expect(mcp.status?.externalURL).toBe('http://mcp.example.com/everything/mcp');
    expect(condition(mcp, 'Ready')).toMatchObject({ status: 'False', reason: 'DeploymentUnavailable' });
    expect(condition(mcp, 'Progressing')).toMatchObject({ status: 'True' });
    expect(condition(mcp, 'Degraded')).toMatchObject({ status: 'False' });
  });

  it('is not the reason pods get in: a pod without the hardening is refused in the same namespace', async () => {
    await admin.create(path(T.deployments), {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'unhardened' },
      spec: {
        selector: { matchLabels: { app: 'unhardened' } },
        template: {
          metadata: { labels: { app: 'unhardened' } },
          spec: { containers: [{ name: 'c', image: 'busybox' }] },
        },
      },
    });
    const failure = await eventually('a refused pod', async () => {
      const list = await admin.list<V1ReplicaSet>(path(T.replicasets), { labelSelector: 'app=unhardened' });
      return list.items[0]?.status?.conditions?.find((c) => c.type === 'ReplicaFailure')?.message;
    });
    expect(failure).toMatch(/violates PodSecurity "restricted/);
  });

  it('rolls spec changes out to the children and advances observedGeneration', async () => {
    await createServer(httpServer('remote', { replicas: 1 }));
    const first = await observed('remote');
    expect(await getOrUndefined(admin, path(T.poddisruptionbudgets, 'remote'))).toBeUndefined();

    await admin.mergePatch(path(T.mcpservers, 'remote'), {
      spec: { replicas: 3, env: [{ name: 'LOG_LEVEL', value: 'debug' }], ingress: { host: 'remote.example.com' } },
    });
    const second = await observed('remote');
    expect(second.status?.observedGeneration).toBeGreaterThan(first.status?.observedGeneration ?? 0);
    const deployment = await admin.get<V1Deployment>(path(T.deployments, 'remote'));
    expect(deployment.spec?.replicas).toBe(3);
    expect(deployment.spec?.template.spec?.containers[0]?.env).toContainEqual({ name: 'LOG_LEVEL', value: 'debug' });
    expect(deployment.spec?.template.spec?.containers[1]?.name).toBe('gateway');
    expect(await admin.get(path(T.poddisruptionbudgets, 'remote'))).toMatchObject({ spec: { maxUnavailable: 1 } });
    expect(await admin.get(path(T.ingresses, 'remote'))).toBeDefined();

    // Taking things away removes them: no Ingress, no PDB, no stale env var left behind.
    await admin.request('patch', 'PATCH', path(T.mcpservers, 'remote'), {
      body: [
        { op: 'remove', path: '/spec/ingress' },
        { op: 'remove', path: '/spec/env' },
        { op: 'replace', path: '/spec/replicas', value: 1 },
      ],
      contentType: 'application/json-patch+json',
    });
    await observed('remote');
    await eventually('ingress and PDB deleted', async () =>
      (await getOrUndefined(admin, path(T.ingresses, 'remote'))) === undefined &&
      (await getOrUndefined(admin, path(T.poddisruptionbudgets, 'remote'))) === undefined
        ? true
        : undefined,
    );
    const trimmed = await admin.get<V1Deployment>(path(T.deployments, 'remote'));
    expect(trimmed.spec?.template.spec?.containers[0]?.env?.map((e) => e.name)).not.toContain('LOG_LEVEL');
    expect((await getServer('remote')).status?.externalURL).toBeUndefined();
  });

  it('reports a missing Secret, then converges without a restart when it appears, and rolls pods on rotation', async () => {
    await createServer(
      stdioServer('github', {
        env: [{ name: 'GITHUB_PERSONAL_ACCESS_TOKEN', valueFrom: { secretKeyRef: { name: 'gh', key: 'token' } } }],
      }),
    );
    const waiting = await eventually('SecretNotFound', async () => {
      const mcp = await getServer('github');
      return condition(mcp, 'Ready')?.reason === 'SecretNotFound' ? mcp : undefined;
    });
    expect(condition(waiting, 'Ready')?.message).toMatch(
      /Secret .*\/gh .*spec.env\[0\].valueFrom.secretKeyRef.*kubectl -n .* create secret generic gh/,
    );
    expect(condition(waiting, 'Degraded')).toMatchObject({ status: 'True', reason: 'SecretNotFound' });
    expect(await getOrUndefined(admin, path(T.deployments, 'github'))).toBeUndefined(); // nothing half-configured
    // The Event follows the status write: poll for it.
    const warning = await eventually('a SecretNotFound Warning event', async () => {
      const events = await admin.list<{ reason: string; type: string; involvedObject: { name: string } }>(
        path(T.events),
      );
      return events.items.find((e) => e.reason === 'SecretNotFound' && e.involvedObject.name === 'github');
    });
    expect(warning.type).toBe('Warning');

    await admin.create(path(T.secrets), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'gh' },
      stringData: { token: 'first' },
    });
    const deployment = await eventually('deployment after the secret appears', () =>
      getOrUndefined<V1Deployment>(admin, path(T.deployments, 'github')),
    );
    const hash = deployment.spec?.template.metadata?.annotations?.['mcpoperator.io/config-hash'];
    expect(hash).toMatch(/^[0-9a-f]{32}$/);
    expect(deployment.spec?.template.spec?.containers[0]?.env).toContainEqual({
      name: 'GITHUB_PERSONAL_ACCESS_TOKEN',
      valueFrom: { secretKeyRef: { name: 'gh', key: 'token' } },
    });
    expect(JSON.stringify(deployment)).not.toContain('first'); // the value itself never lands in the Deployment

    await admin.mergePatch(path(T.secrets, 'gh'), { stringData: { token: 'rotated' } });
    const rolled = await eventually('a new config hash', async () => {
      const d = await admin.get<V1Deployment>(path(T.deployments, 'github'));
      const h = d.spec?.template.metadata?.annotations?.['mcpoperator.io/config-hash'];
      return h && h !== hash ? d : undefined;
    });
    expect(rolled.metadata?.generation).toBeGreaterThan(deployment.metadata?.generation ?? 0);
    expect(condition(await observed('github'), 'Degraded')?.status).toBe('False');
  });

  it('watches only its namespaces', async () => {
    await createServer(stdioServer('elsewhere'), otherNs);
    expect((await observed('elsewhere', otherNs)).status?.url).toBe(`http://elsewhere.${otherNs}.svc:8080/mcp`);
    await createServer(stdioServer('ignored'), unwatchedNs);
    // Give the controller time it would need, then check it stayed away (its reconciles are counted below).
    await observed('elsewhere', otherNs);
    await new Promise((r) => setTimeout(r, 2000));
    expect((await getServer('ignored', unwatchedNs)).status).toBeUndefined();
    expect(await getOrUndefined(admin, path(T.deployments, 'ignored', unwatchedNs))).toBeUndefined();
  });

  it('makes zero writes when nothing changed: restart and resync reconcile everything and write nothing', async () => {
    // Wait for the world to settle: every McpServer observed, the audit log quiet for our namespace.
    for (const name of ['everything', 'remote', 'github']) await observed(name);
    await eventually(
      'quiet',
      async () => {
        const recent = writesSince(inject('auditLog'), ns, new Date(Date.now() - 3000).toISOString());
        return recent.length === 0 ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    const since = new Date().toISOString();

    expect(await controller.stop()).toBe(0);
    // The suite's afterAll stops this one.
    suite.controller = startController({
      kubeconfig: inject('controllerKubeconfig'),
      namespaces: [ns, otherNs],
      extraArgs: ['--resync=1'],
    });
    controller = suite.controller;
    const port = await controller.healthPort();
    expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
    await eventually('readyz', async () =>
      (await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200 ? true : undefined,
    );
    // A restart lists everything and reconciles each McpServer; --resync=1 does it again every second.
    const reconciles = await eventually('several full resyncs', async () => {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const n = Number(/mcp_operator_reconcile_total\{result="success"\} (\d+)/.exec(text)?.[1] ?? 0);
      return n >= 15 ? n : undefined;
    });
    expect(reconciles).toBeGreaterThanOrEqual(15);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    for (const name of [
      'mcp_operator_reconcile_duration_seconds_bucket',
      'mcp_operator_workqueue_depth',
      'mcp_operator_kube_requests_total',
    ]) {
      expect(metrics).toContain(name);
    }
    expect(metrics).toMatch(/mcp_operator_mcpservers\{condition="Ready",status="False"\} [1-9]/);
    const writes = writesSince(inject('auditLog'), ns, since);
    expect(describeWrites(writes)).toEqual([]);
  });

  it('held by a foreign finalizer, a deleted McpServer says Deleting, once, for its last generation', async () => {
    await createServer(stdioServer('held'));
    const before = await observed('held');
    await admin.mergePatch(path(T.mcpservers, 'held'), { metadata: { finalizers: ['example.com/hold'] } });
    const since = new Date().toISOString();
    await admin.delete(path(T.mcpservers, 'held'));
    const deleting = await eventually('status says Deleting', async () => {
      const mcp = await getServer('held');
      return condition(mcp, 'Ready')?.reason === 'Deleting' ? mcp : undefined;
    });
    expect(condition(deleting, 'Ready')).toMatchObject({
      status: 'False',
      message: expect.stringContaining('example.com/hold'),
      observedGeneration: deleting.metadata?.generation,
    });
    expect(deleting.status?.observedGeneration).toBe(deleting.metadata?.generation);
    expect(deleting.metadata?.generation).toBeGreaterThan(before.metadata?.generation ?? 0);
    // Its own status write comes back as an update: the next pass finds nothing to change.
    await new Promise((r) => setTimeout(r, 2_000));
    const statusWrites = writesSince(inject('auditLog'), ns, since).filter(
      (e) => e.objectRef?.name === 'held' && e.objectRef?.subresource === 'status',
    );
    expect(describeWrites(statusWrites)).toEqual(['patch mcpservers/held/status']);
    await admin.mergePatch(path(T.mcpservers, 'held'), { metadata: { finalizers: null } });
    await eventually('held gone', async () =>
      (await getOrUndefined(admin, path(T.mcpservers, 'held'))) ? undefined : true,
    );
  });

  it('deletes every child when the McpServer is deleted (garbage collection by owner)', async () => {
    await admin.delete(path(T.mcpservers, 'remote'));
    await eventually('children gone', async () => {
      for (const type of [T.deployments, T.services, T.serviceaccounts]) {
        if (await getOrUndefined(admin, path(type, 'remote'))) return undefined;
      }
      return true;
    });
    expect(await getOrUndefined(admin, path(T.mcpservers, 'remote'))).toBeUndefined();
  });
});
