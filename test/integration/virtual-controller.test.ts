/**
 * VirtualMcpServers reconciled by the real controller CLI (with exactly its RBAC) against a real API server: the
 * children, status and conditions for missing and not-ready backends, a conflict reported with its fix, and
 * membership that follows McpServers created and labelled. (No kubelet here: McpServers never become Ready, so
 * their tools come from status.tools, set as discovery would.)
 */

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { V1ConfigMap, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, inject, it } from 'vitest';
import type { McpServer, VirtualMcpServer } from '../../src/api/types.generated.ts';
import { verifyCredential } from '../../src/contract/aggregate-credential.ts';
import { controlPlaneBinaries } from '../../src/local-cluster/control-plane.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';
import { eventually, getOrUndefined, resourcePath, T } from '../support/kube.ts';
import { useControllerIn } from './controller-suite.ts';

const own = useControllerIn('vctl');
const path = (type: { apiVersion: string; plural: string }, name?: string, subresource?: string) =>
  resourcePath(type, { namespace: own.ns, name, ...(subresource ? { subresource } : {}) });
const getVirtual = (name: string) => own.admin.get<VirtualMcpServer>(path(T.virtualmcpservers, name));
const condition = (v: VirtualMcpServer, type: string) => v.status?.conditions?.find((c) => c.type === type);

/** The status once it satisfies `until` (the controller writes it as inputs change). */
function statusOf(name: string, until: (v: VirtualMcpServer) => boolean, what: string): Promise<VirtualMcpServer> {
  return eventually(
    `${what} on ${own.ns}/${name}`,
    async () => {
      const v = await getVirtual(name);
      return v.status?.observedGeneration === v.metadata?.generation && until(v) ? v : undefined;
    },
    { timeoutMs: 30_000 },
  );
}

async function createMcpServer(name: string, labels?: Record<string, string>): Promise<McpServer> {
  const manifest = stdioServer(name);
  return own.admin.create<McpServer>(path(T.mcpservers), {
    ...manifest,
    metadata: { ...manifest.metadata, ...(labels ? { labels } : {}) },
  });
}

/** What discovery writes once a server answers: its tool names. */
async function reportTools(name: string, tools: string[]): Promise<void> {
  await eventually(`status of McpServer ${name}`, async () => {
    const mcp = await own.admin.get<McpServer>(path(T.mcpservers, name));
    return mcp.status?.conditions ? mcp : undefined;
  });
  await own.admin.mergePatch(path(T.mcpservers, name, 'status'), { status: { tools } });
}

describe('a VirtualMcpServer on a real API server', () => {
  it('gets its gateway, backend list and session key, and names a missing and a not-ready backend', async () => {
    await createMcpServer('memory');
    const created = await own.admin.create<VirtualMcpServer>(
      path(T.virtualmcpservers),
      virtualServer('team', { servers: [{ name: 'memory' }, { name: 'github', prefix: 'gh' }] }),
    );

    const status = await statusOf(
      'team',
      (v) => condition(v, 'BackendsReady')?.reason === 'BackendNotFound',
      'BackendNotFound',
    );
    expect(status.status?.backends).toEqual([
      expect.objectContaining({ name: 'memory', ready: false }),
      expect.objectContaining({ name: 'github', ready: false, reason: 'BackendNotFound' }),
    ]);
    expect(status.status?.readyBackends).toBe('0/2');
    expect(status.status?.url).toBe(`http://team.${own.ns}.svc:8080/mcp`);
    const backends = condition(status, 'BackendsReady');
    expect(backends?.status).toBe('False');
    expect(backends?.message).toContain(
      `spec.servers[1] names McpServer github, which does not exist in namespace ${own.ns}`,
    );
    expect(backends?.message).toContain('McpServer memory is not Ready');
    expect(condition(status, 'Degraded')).toMatchObject({ status: 'True' });
    expect(condition(status, 'Ready')?.status).toBe('False');

    const deployment = await eventually('Deployment', () =>
      getOrUndefined<V1Deployment>(own.admin, path(T.deployments, 'team')),
    );
    expect(deployment.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: 'VirtualMcpServer',
      uid: created.metadata?.uid,
    });
    expect(deployment.spec?.template.spec?.containers[0]?.args).toEqual(['gateway', 'aggregate']);
    // The real ReplicaSet controller creates the pod: the namespace enforces Pod Security "restricted", so it is
    // admitted only when the hardening is right.
    const pods = await eventually('the gateway pod, admitted', async () => {
      const list = await own.admin.list<{ metadata: { name: string } }>(path(T.pods), {
        labelSelector: 'app.kubernetes.io/name=virtual-mcp-server,app.kubernetes.io/instance=team',
      });
      return list.items.length ? list.items : undefined;
    });
    expect(pods).toHaveLength(1);
    const list = await eventually('backends ConfigMap', () =>
      getOrUndefined<V1ConfigMap>(own.admin, path(T.configmaps, 'team-backends')),
    );
    expect(JSON.parse(list.data?.['backends.json'] ?? '{}').backends).toEqual([
      { name: 'memory', url: `http://memory.${own.ns}.svc:8080/mcp`, transport: 'streamable-http' },
      { name: 'github', url: `http://github.${own.ns}.svc:8080/mcp`, transport: 'streamable-http', prefix: 'gh' },
    ]);
    const key = await eventually('session key', () =>
      getOrUndefined<{ data: Record<string, string> }>(own.admin, path(T.secrets, 'team-aggregate-session')),
    );
    expect(Buffer.from(key.data['session-key'] ?? '', 'base64')).toHaveLength(32);
    const event = await eventually('BackendNotFound Event', async () => {
      const events = await own.admin.list<{ reason: string; involvedObject: { kind: string; name: string } }>(
        path(T.events),
      );
      return events.items.find((e) => e.reason === 'BackendNotFound' && e.involvedObject.kind === 'VirtualMcpServer');
    });
    expect(event.involvedObject.name).toBe('team');

    // The missing McpServer appears: the McpServer watch wakes the aggregate, which now waits for readiness only.
    await createMcpServer('github');
    const later = await statusOf(
      'team',
      (v) => condition(v, 'BackendsReady')?.reason === 'BackendNotReady',
      'BackendNotReady',
    );
    expect(later.status?.backends?.every((b) => b.reason !== 'BackendNotFound')).toBe(true);
    expect(condition(later, 'BackendsReady')?.message).toContain('McpServer github is not Ready');
  });

  it('reports two backends exposing one tool name, with the fix, and clears it once fixed', async () => {
    await createMcpServer('alpha');
    await createMcpServer('beta');
    await reportTools('alpha', ['search', 'read']);
    await reportTools('beta', ['search', 'write']);
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('both', { servers: [{ name: 'alpha' }, { name: 'beta' }] }),
    );

    const conflicted = await statusOf('both', (v) => (v.status?.conflictCount ?? 0) > 0, 'a conflict');
    expect(conflicted.status?.conflicts).toEqual([
      expect.objectContaining({ kind: 'tool', name: 'search', server: 'alpha', hiddenServer: 'beta' }),
    ]);
    expect(conflicted.status?.conflicts?.[0]?.message).toContain('spec.servers[1].prefix');
    expect(condition(conflicted, 'ToolNamesResolved')).toMatchObject({ status: 'False', reason: 'ToolNameConflict' });
    expect(conflicted.status?.backends?.map((b) => [b.name, b.toolCount])).toEqual([
      ['alpha', 2],
      ['beta', 1],
    ]);

    // What a person sees: kubectl get vmcps, with the columns to act on.
    const bin = await controlPlaneBinaries(['kubectl']);
    const table = execFileSync(
      join(bin, 'kubectl'),
      ['--kubeconfig', inject('adminKubeconfig'), '-n', own.ns, 'get', 'vmcps', 'both'],
      { encoding: 'utf8' },
    );
    const [head, row] = table
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    expect(head).toEqual(['NAME', 'READY', 'BACKENDS', 'TOOLS', 'CONFLICTS', 'URL', 'AGE']);
    expect(row?.slice(0, 6)).toEqual(['both', 'False', '0/2', '0', '1', `http://both.${own.ns}.svc:8080/mcp`]);

    // The fix the message names: a prefix on the later server. Every name is its own again.
    await own.admin.mergePatch(path(T.virtualmcpservers, 'both'), {
      spec: { servers: [{ name: 'alpha' }, { name: 'beta', prefix: 'b' }] },
    });
    const fixed = await statusOf('both', (v) => v.status?.conflictCount === 0, 'no conflict');
    expect(condition(fixed, 'ToolNamesResolved')).toMatchObject({ status: 'True', reason: 'NamesResolved' });
    expect(fixed.status?.backends?.map((b) => [b.name, b.toolCount])).toEqual([
      ['alpha', 2],
      ['beta', 2],
    ]);
  });

  it('follows its label selector as McpServers are labelled and unlabelled', async () => {
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('selected', { selector: { matchLabels: { team: 'a' } } }),
    );
    const none = await statusOf(
      'selected',
      (v) => condition(v, 'BackendsReady')?.reason === 'NoBackends',
      'NoBackends',
    );
    expect(none.status?.backends).toEqual([]);

    await createMcpServer('gamma');
    await own.admin.mergePatch(path(T.mcpservers, 'gamma'), { metadata: { labels: { team: 'a' } } });
    const joined = await statusOf('selected', (v) => v.status?.backends?.length === 1, 'gamma joined');
    expect(joined.status?.backends?.[0]?.name).toBe('gamma');
    const list = await eventually('gamma in the backend list', async () => {
      const cm = await getOrUndefined<V1ConfigMap>(own.admin, path(T.configmaps, 'selected-backends'));
      return cm?.data?.['backends.json']?.includes('"gamma"') ? cm : undefined;
    });
    expect(list).toBeDefined();

    await own.admin.mergePatch(path(T.mcpservers, 'gamma'), { metadata: { labels: { team: null } } });
    const left = await statusOf('selected', (v) => v.status?.backends?.length === 0, 'gamma left');
    expect(condition(left, 'BackendsReady')?.reason).toBe('NoBackends');
    await eventually('BackendsChanged Event', async () => {
      const events = await own.admin.list<{ reason: string; message: string; involvedObject: { name: string } }>(
        path(T.events),
      );
      return events.items.find(
        (e) =>
          e.reason === 'BackendsChanged' && e.involvedObject.name === 'selected' && e.message.includes('left: gamma'),
      );
    });
  });

  it('leaves out a selected McpServer of its own name (the aggregate would call itself), and says so', async () => {
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('loop', { selector: { matchLabels: { ring: 'loop' } } }),
    );
    await statusOf('loop', (v) => condition(v, 'BackendsReady')?.reason === 'NoBackends', 'NoBackends');
    await createMcpServer('loop', { ring: 'loop' });
    await createMcpServer('epsilon', { ring: 'loop' });
    const v = await statusOf('loop', (x) => x.status?.backends?.length === 1, 'epsilon joined');
    expect(v.status?.backends?.map((b) => b.name)).toEqual(['epsilon']);
    expect(condition(v, 'Degraded')).toMatchObject({ status: 'True', reason: 'BackendNamedLikeSelf' });
    expect(condition(v, 'Degraded')?.message).toContain('McpServer loop');
    const cm = await own.admin.get<V1ConfigMap>(path(T.configmaps, 'loop-backends'));
    const backends = JSON.parse(cm.data?.['backends.json'] ?? '{}') as { backends: Array<{ name: string }> };
    expect(backends.backends.map((b) => b.name)).toEqual(['epsilon']);
  });

  it('mints a credential for a backend with auth on from its own key, without copying the users’ Secret', async () => {
    await own.admin.create(path(T.secrets), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'guarded-users' },
      stringData: { tokens: 'a-user-token-never-copied' },
    });
    const manifest = stdioServer('guarded', {
      auth: { bearer: { secretRef: { name: 'guarded-users', key: 'tokens' } } },
    });
    await own.admin.create(path(T.mcpservers), manifest);
    await createMcpServer('plain');
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('front', { servers: [{ name: 'guarded' }, { name: 'plain' }] }),
    );
    const secretOf = (name: string) =>
      getOrUndefined<{ data?: Record<string, string>; metadata: { ownerReferences?: Array<{ kind: string }> } }>(
        own.admin,
        path(T.secrets, name),
      );
    const minted = await eventually('the credentials Secret', async () => {
      const s = await secretOf('front-backend-credentials');
      return s?.data?.guarded ? s : undefined;
    });
    expect(Object.keys(minted.data ?? {})).toEqual(['guarded']);
    expect(minted.metadata.ownerReferences?.[0]?.kind).toBe('VirtualMcpServer');
    const token = Buffer.from(minted.data?.guarded as string, 'base64').toString();
    expect(token).not.toContain('a-user-token');
    const key = Buffer.from((await secretOf('guarded-gateway-session'))?.data?.['session-key'] as string, 'base64');
    expect(verifyCredential(key, token, Math.floor(Date.now() / 1000))).toMatchObject({
      ok: true,
      claims: { namespace: own.ns, aggregate: 'front', backend: 'guarded' },
    });
    const deployment = await eventually('Deployment front', () =>
      getOrUndefined<V1Deployment>(own.admin, path(T.deployments, 'front')),
    );
    expect(deployment.spec?.template.spec?.volumes?.map((v) => v.name)).toContain('mcp-backend-credentials');
    const config = await own.admin.get<V1ConfigMap>(path(T.configmaps, 'front-backends'));
    expect(JSON.parse(config.data?.['backends.json'] ?? '{}').backends).toMatchObject([
      { name: 'guarded', tokenFile: '/var/run/mcp-gateway/backend-credentials/guarded' },
      { name: 'plain' },
    ]);

    // The backend's key replaced (its Secret deleted; its controller makes a new one): minted again from it.
    await own.admin.delete(path(T.secrets, 'guarded-gateway-session'));
    await eventually('the credential minted from the new key', async () => {
      const fresh = await secretOf('guarded-gateway-session');
      const value = fresh?.data?.['session-key'];
      if (!value) return undefined;
      const newKey = Buffer.from(value, 'base64');
      if (newKey.equals(key)) return undefined;
      const now = await secretOf('front-backend-credentials');
      const minted = Buffer.from(now?.data?.guarded ?? '', 'base64').toString();
      return verifyCredential(newKey, minted, Math.floor(Date.now() / 1000)).ok ? true : undefined;
    });

    // The backend leaves: its credential goes with it.
    await own.admin.mergePatch(path(T.virtualmcpservers, 'front'), { spec: { servers: [{ name: 'plain' }] } });
    await eventually('the credential removed', async () => {
      const s = await secretOf('front-backend-credentials');
      return s && !s.data?.guarded ? s : undefined;
    });
  });

  it('an McpServer and a VirtualMcpServer of one name, created at once: one keeps it, the other waits', async () => {
    const [mcp, vmcp] = await Promise.all([
      own.admin.create<McpServer>(path(T.mcpservers), stdioServer('twin')),
      own.admin.create<VirtualMcpServer>(
        path(T.virtualmcpservers),
        virtualServer('twin', { servers: [{ name: 'delta' }] }),
      ),
    ]);
    const uids = { McpServer: mcp.metadata?.uid, VirtualMcpServer: vmcp.metadata?.uid };
    const paths = { McpServer: path(T.mcpservers, 'twin'), VirtualMcpServer: path(T.virtualmcpservers, 'twin') };
    const readyOf = async (kind: keyof typeof paths) =>
      (await own.admin.get<McpServer | VirtualMcpServer>(paths[kind])).status?.conditions?.find(
        (c) => c.type === 'Ready',
      );
    const deploymentOwnedBy = (uid: string | undefined) =>
      eventually(`Deployment twin owned by ${uid}`, async () => {
        const d = await getOrUndefined<V1Deployment>(own.admin, path(T.deployments, 'twin'));
        return d?.metadata?.ownerReferences?.some((r) => r.uid === uid) ? d : undefined;
      });
    // Exactly one wins: its children stand, and the other says which one holds the name.
    const settled = await eventually('one running, the other waiting', async () => {
      const d = await getOrUndefined<V1Deployment>(own.admin, path(T.deployments, 'twin'));
      const owner = d?.metadata?.ownerReferences?.[0]?.kind as keyof typeof paths | undefined;
      if (!owner) return undefined;
      const other: keyof typeof paths = owner === 'McpServer' ? 'VirtualMcpServer' : 'McpServer';
      const ready = await readyOf(other);
      return ready?.reason === 'ChildConflict' ? { winner: owner, loser: other, message: ready.message } : undefined;
    });
    expect(settled.message).toContain(`${settled.winner} ${own.ns}/twin has this name`);
    expect((await readyOf(settled.winner))?.reason).not.toBe('ChildConflict');
    for (const plural of [T.services, T.serviceaccounts]) {
      const child = await own.admin.get<{ metadata: { ownerReferences?: Array<{ uid: string }> } }>(
        path(plural, 'twin'),
      );
      expect(child.metadata.ownerReferences?.map((r) => r.uid)).toEqual([uids[settled.winner]]);
    }
    // The winner goes: the other takes the name.
    await own.admin.delete(paths[settled.winner]);
    await deploymentOwnedBy(uids[settled.loser]);
  });

  it('never takes over a user object of a child name: ChildConflict, and the object is left as it was', async () => {
    await own.admin.create(path(T.configmaps), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'mine-backends' },
      data: { note: 'the user own' },
    });
    await createMcpServer('delta');
    await own.admin.create(path(T.virtualmcpservers), virtualServer('mine', { servers: [{ name: 'delta' }] }));
    const blocked = await statusOf('mine', (v) => condition(v, 'Ready')?.reason === 'ChildConflict', 'ChildConflict');
    expect(condition(blocked, 'Ready')?.message).toContain('ConfigMap');
    expect(condition(blocked, 'Ready')?.message).toContain('rename the VirtualMcpServer');
    const untouched = await own.admin.get<V1ConfigMap>(path(T.configmaps, 'mine-backends'));
    expect(untouched.data).toEqual({ note: 'the user own' });
    expect(untouched.metadata?.ownerReferences).toBeUndefined();
  });

  it('puts back a child someone deleted: the children’s watch wakes the VirtualMcpServer', async () => {
    const service = await eventually('Service team', () =>
      getOrUndefined<{ metadata: { uid: string } }>(own.admin, path(T.services, 'team')),
    );
    // Past the 5 s status recheck that follows an applied Deployment, so that only the watch can wake it.
    await new Promise((resolve) => setTimeout(resolve, 6_000));
    await own.admin.delete(path(T.services, 'team'));
    const back = await eventually('Service team recreated', async () => {
      const now = await getOrUndefined<{ metadata: { uid: string } }>(own.admin, path(T.services, 'team'));
      return now && now.metadata.uid !== service.metadata.uid ? now : undefined;
    });
    expect(back).toBeDefined();
  });

  it('follows a backend status the McpServer controller writes itself (written through, so no watch event)', async () => {
    // A Secret the McpServer needs is missing: its own controller says SecretNotFound.
    const manifest = stdioServer('waits', {
      env: [{ name: 'TOKEN', valueFrom: { secretKeyRef: { name: 'waits-env', key: 'token' } } }],
    });
    await own.admin.create(path(T.mcpservers), manifest);
    await own.admin.create(path(T.virtualmcpservers), virtualServer('follows', { servers: [{ name: 'waits' }] }));
    await statusOf('follows', (v) => v.status?.backends?.[0]?.reason === 'SecretNotFound', 'SecretNotFound');
    // The Secret appears: the Secret's event wakes the McpServer (not the aggregate), whose controller writes a new
    // status; only that write can tell the aggregate.
    await own.admin.create(path(T.secrets), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'waits-env' },
      stringData: { token: 'x' },
    });
    await eventually('McpServer past SecretNotFound', async () => {
      const mcp = await own.admin.get<McpServer>(path(T.mcpservers, 'waits'));
      const reason = mcp.status?.conditions?.find((c) => c.type === 'Ready')?.reason;
      return reason && reason !== 'SecretNotFound' ? reason : undefined;
    });
    const followed = await statusOf(
      'follows',
      (v) => !!v.status?.backends?.[0]?.reason && v.status.backends[0].reason !== 'SecretNotFound',
      'the backend past SecretNotFound',
    );
    expect(condition(followed, 'BackendsReady')?.message).not.toContain('SecretNotFound');
  });

  it('exposes itself through its own streaming Ingress, and says so in externalURL', async () => {
    await own.admin.create(
      path(T.virtualmcpservers),
      virtualServer('exposed', {
        servers: [{ name: 'memory' }],
        ingress: { host: 'tools.example.test', path: '/tools' },
      }),
    );
    const exposed = await statusOf('exposed', (v) => v.status?.externalURL !== undefined, 'externalURL');
    expect(exposed.status?.externalURL).toBe('http://tools.example.test/tools/mcp');
    const ingress = await own.admin.get<{
      metadata: { annotations: Record<string, string>; ownerReferences: Array<{ kind: string }> };
      spec: { rules: Array<{ host: string; http: { paths: Array<{ path: string; backend: unknown }> } }> };
    }>(path(T.ingresses, 'exposed'));
    expect(ingress.metadata.ownerReferences[0]?.kind).toBe('VirtualMcpServer');
    expect(ingress.metadata.annotations['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    expect(ingress.spec.rules[0]?.http.paths[0]).toMatchObject({
      path: '/tools',
      backend: { service: { name: 'exposed', port: { name: 'mcp' } } },
    });
    const deployment = await own.admin.get<V1Deployment>(path(T.deployments, 'exposed'));
    const env = deployment.spec?.template.spec?.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === 'MCP_GATEWAY_BASE_PATH')?.value).toBe('/tools');
  });
});
