/**
 * A VirtualMcpServer on a real node: three real third-party servers (server-everything, server-memory,
 * server-filesystem from the suite's server image) run as McpServers, and one VirtualMcpServer puts them behind one
 * Service with a prefix, renames, a deny and a rename that collides with another backend's tool. Through that
 * Service: the SDK clients of each era (2026-07-28, 2025 Streamable HTTP sessions, legacy SSE) and the MCP
 * Inspector CLI see one merged server; a backend scaled to zero leaves and comes back; two replicas serve one
 * session without sticky sessions; a membership change applies under an open session.
 *
 * The backends are built by `backend()` from BACKENDS, and the VirtualMcpServer's spec by `virtualSpec()`: a case
 * with one more backend (say, one with bearer auth) adds an entry to both and a describe block of its own.
 */
import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { McpServer, VirtualMcpServer } from '../../src/api/types.generated.ts';
import { installCrd } from '../../src/local-cluster/install.ts';
import { startCluster } from '../../src/local-cluster/node-cluster.ts';
import { buildProjectImages } from '../../src/local-cluster/node-images.ts';
import { client2025, client2026, clientSse, INSPECTOR, NODE, textOf } from '../gateway/helpers.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';

const execFileAsync = promisify(execFile);
const MODULES = '/usr/local/lib/node_modules/@modelcontextprotocol';
const VIRTUAL = 'team';
const DOCS_DIR = '/data';

/** The McpServers behind the aggregate: what each runs, in the server image. */
const BACKENDS: Record<string, { command: string[]; spec?: Record<string, unknown> }> = {
  everything: { command: ['node', `${MODULES}/server-everything/dist/index.js`, 'stdio'] },
  // Its knowledge graph file: the root filesystem is read-only, /tmp is the pod's emptyDir.
  memory: {
    command: ['node', `${MODULES}/server-memory/dist/index.js`],
    spec: { env: [{ name: 'MEMORY_FILE_PATH', value: '/tmp/memory.jsonl' }] },
  },
  filesystem: {
    command: ['node', `${MODULES}/server-filesystem/dist/index.js`, DOCS_DIR],
    spec: {
      pod: {
        volumes: [{ name: 'docs', configMap: { name: 'team-docs' } }],
        volumeMounts: [{ name: 'docs', mountPath: DOCS_DIR, readOnly: true }],
      },
    },
  },
};

/**
 * everything under the prefix ev; memory with a deny, a rename, and a rename into filesystem's read_file (memory
 * is listed first, so it keeps the name and filesystem's read_file is hidden: the conflict status reports).
 */
const SERVERS = [
  { name: 'everything', prefix: 'ev' },
  {
    name: 'memory',
    tools: { deny: ['delete_entities'], rename: { read_graph: 'graph', search_nodes: 'read_file' } },
  },
  { name: 'filesystem' },
];
const virtualSpec = (servers: unknown[] = SERVERS) => ({ servers });

type Kube = ReturnType<typeof adminClient>;
type Session = Awaited<ReturnType<typeof client2025>>;
let kube: Kube;
let namespace: string;
let controller: ControllerProcess;
let serverImage: string;
let kubectl: string;
let kubeconfig: string;

/** Retries `check` until it stops throwing (assertions included), then returns its value. */
async function until<V>(what: string, check: () => Promise<V>, timeoutMs: number, intervalMs = 1_000): Promise<V> {
  const box = await eventually(what, async () => ({ value: await check() }), { timeoutMs, intervalMs });
  return box.value;
}

const mcpPath = (name?: string) => resourcePath(T.mcpservers, { namespace, name });
const virtualPath = (name?: string) => resourcePath(T.virtualmcpservers, { namespace, name });
const getVirtual = () => kube.get<VirtualMcpServer>(virtualPath(VIRTUAL));
const condition = (v: { status?: { conditions?: Array<{ type: string }> } }, type: string) =>
  v.status?.conditions?.find((c) => c.type === type) as { status: string; reason: string; message: string } | undefined;
const current = (v: VirtualMcpServer | McpServer) => v.status?.observedGeneration === v.metadata?.generation;

function backend(name: string): McpServer {
  const { command, spec } = BACKENDS[name] as (typeof BACKENDS)[string];
  return {
    apiVersion: 'mcpoperator.io/v1alpha1',
    kind: 'McpServer',
    metadata: { name, namespace },
    spec: { image: serverImage, transport: 'stdio', command, ...spec },
  } as McpServer;
}

async function virtualPods(): Promise<V1Pod[]> {
  const selector = `app.kubernetes.io/name=virtual-mcp-server,app.kubernetes.io/instance=${VIRTUAL}`;
  const list = await kube.get<{ items: V1Pod[] }>(
    `${resourcePath(T.pods, { namespace })}?labelSelector=${encodeURIComponent(selector)}`,
  );
  return list.items.filter((p) => !p.metadata?.deletionTimestamp);
}

/** The VirtualMcpServer's Service as the host reaches it (kube-proxy rules), without /mcp. */
async function serviceBase(): Promise<string> {
  const svc = await kube.get<V1Service>(resourcePath(T.services, { namespace, name: VIRTUAL }));
  return `http://${svc.spec?.clusterIP}:8080`;
}

const toolNames = async (client: Session['client']) => (await client.listTools()).tools.map((t) => t.name);

/** The Inspector CLI against the Service, as a person would run it. */
const inspector = (args: string[]) =>
  execFileAsync(NODE, [INSPECTOR, '--cli', ...args], { timeout: 120_000, env: { ...process.env, HOME: tmpdir() } });

/** A gateway pod's counter, summed over the series whose labels include `labels`. */
async function podMetric(pod: V1Pod, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`http://${pod.status?.podIP}:9090/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (m?.[1] !== name) continue;
    if (Object.entries(labels).every(([k, v]) => (m[2] ?? '').includes(`${k}="${v}"`))) total += Number(m[3]);
  }
  return total;
}

beforeAll(async () => {
  const { operator, server } = await buildProjectImages();
  serverImage = server;
  const cluster = await startCluster({ images: [operator, server] });
  kubeconfig = cluster.kubeconfig;
  kubectl = join(cluster.binDir, 'kubectl');
  kube = adminClient(cluster.kubeconfig);
  await installCrd(kube);
  namespace = await createRestrictedNamespace(kube, 'vmcp');
  controller = startController({
    kubeconfig: cluster.kubeconfig,
    namespaces: [namespace],
    leaderElect: false,
    extraArgs: [`--gateway-image=${operator}`],
  });
  await kube.create(resourcePath(T.configmaps, { namespace }), {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'team-docs', namespace },
    data: { 'README.md': '# Team docs\nServed through the VirtualMcpServer.\n' },
  });
  for (const name of Object.keys(BACKENDS)) await kube.create(mcpPath(), backend(name));
  await kube.create(virtualPath(), {
    apiVersion: 'mcpoperator.io/v1alpha1',
    kind: 'VirtualMcpServer',
    metadata: { name: VIRTUAL, namespace },
    spec: virtualSpec(),
  });
}, 1_800_000);

afterAll(async () => {
  await controller?.stop();
  // The namespace and its pods gone before the next file: their servers must not be taken for another file's.
  if (kube && namespace) {
    await kube.delete(resourcePath(T.namespaces, { name: namespace })).catch(() => undefined);
    await eventually(
      `namespace ${namespace} deleted`,
      async () => {
        try {
          await kube.get(resourcePath(T.namespaces, { name: namespace }));
          return undefined;
        } catch {
          return true;
        }
      },
      { timeoutMs: 300_000, intervalMs: 1_000 },
    ).catch(() => undefined);
  }
});

describe('a VirtualMcpServer over three real servers on a real node', () => {
  test('status: every backend ready with its tool count, the merged names, the conflict and its fix', async () => {
    const servers = await until(
      'the three McpServers Ready with their tools',
      async () => {
        const list = await Promise.all(Object.keys(BACKENDS).map((n) => kube.get<McpServer>(mcpPath(n))));
        for (const m of list) {
          expect(condition(m, 'Ready')?.status, m.metadata?.name).toBe('True');
          expect(m.status?.tools?.length, m.metadata?.name).toBeGreaterThan(0);
        }
        return Object.fromEntries(list.map((m) => [m.metadata?.name, m.status?.tools ?? []]));
      },
      600_000,
    );
    const vmcp = await until(
      'the VirtualMcpServer Ready over 3/3 backends',
      async () => {
        const v = await getVirtual();
        expect(current(v)).toBe(true);
        expect(condition(v, 'Ready')?.status).toBe('True');
        expect(v.status?.readyBackends).toBe('3/3');
        return v;
      },
      300_000,
    );
    const status = vmcp.status ?? {};
    expect(status.url).toBe(`http://${VIRTUAL}.${namespace}.svc:8080/mcp`);
    // Counts: everything whole; memory less its denied tool; filesystem less the read_file memory took.
    expect(status.backends?.map((b) => [b.name, b.ready, b.toolCount])).toEqual([
      ['everything', true, servers.everything?.length],
      ['memory', true, (servers.memory?.length ?? 0) - 1],
      ['filesystem', true, (servers.filesystem?.length ?? 0) - 1],
    ]);
    expect(status.tools).toEqual(
      expect.arrayContaining(['ev_echo', 'create_entities', 'graph', 'read_file', 'list_directory']),
    );
    for (const absent of ['echo', 'read_graph', 'search_nodes', 'delete_entities']) {
      expect(status.tools).not.toContain(absent);
    }
    expect(status.conflictCount).toBe(1);
    expect(status.conflicts).toEqual([
      expect.objectContaining({
        kind: 'tool',
        name: 'read_file',
        server: 'memory',
        original: 'search_nodes',
        hiddenServer: 'filesystem',
        hiddenOriginal: 'read_file',
      }),
    ]);
    expect(status.conflicts?.[0]?.message).toMatch(/memory/);
    expect(status.conflicts?.[0]?.message).toMatch(/filesystem/);
    expect(status.conflicts?.[0]?.message).toMatch(/spec\.servers\[2\]\.prefix|rename/);
    expect(condition(vmcp, 'BackendsReady')).toMatchObject({ status: 'True', reason: 'AllBackendsReady' });
    expect(condition(vmcp, 'ToolNamesResolved')).toMatchObject({ status: 'False', reason: 'ToolNameConflict' });
    expect(condition(vmcp, 'Degraded')).toMatchObject({ status: 'True', reason: 'ToolNameConflict' });

    // spawns: kubectl
    const table = await execFileAsync(kubectl, ['--kubeconfig', kubeconfig, '-n', namespace, 'get', 'vmcps', VIRTUAL]);
    const [head, row] = table.stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/));
    expect(head).toEqual(['NAME', 'READY', 'BACKENDS', 'TOOLS', 'CONFLICTS', 'URL', 'AGE']);
    expect(row?.slice(0, 6)).toEqual([VIRTUAL, 'True', '3/3', String(status.toolCount), '1', status.url]);
    // The pod is ours, hardened like every child.
    const [pod] = await virtualPods();
    expect(pod?.spec?.securityContext?.runAsNonRoot).toBe(true);
    expect(pod?.spec?.containers[0]?.args).toEqual(['gateway', 'aggregate']);
  }, 900_000);

  test('every client era through the Service sees the merged names and reaches the right backend', async () => {
    const base = await serviceBase();
    // Until kube-proxy and the gateway's first connections settle, a fresh client per try, as a user would.
    const c25 = await until(
      'a 2025 session listing all three backends',
      async () => {
        const session = await client2025(base);
        const names = await toolNames(session.client).catch(async (err) => {
          await session.client.close();
          throw err;
        });
        if (!['ev_echo', 'graph', 'list_directory'].every((n) => names.includes(n))) await session.client.close();
        expect(names).toEqual(expect.arrayContaining(['ev_echo', 'graph', 'list_directory']));
        return session;
      },
      120_000,
    );
    const names = await toolNames(c25.client);
    expect(names.filter((n) => n === 'read_file')).toHaveLength(1);
    for (const absent of ['echo', 'read_graph', 'search_nodes', 'delete_entities']) expect(names).not.toContain(absent);
    expect(textOf(await c25.client.callTool({ name: 'ev_echo', arguments: { message: 'one endpoint' } }))).toBe(
      'Echo: one endpoint',
    );
    await c25.client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'e2e', entityType: 'test', observations: ['through the aggregate'] }] },
    });
    expect(textOf(await c25.client.callTool({ name: 'graph', arguments: {} }))).toContain('through the aggregate');
    // read_file is memory's search_nodes (the conflict's winner).
    expect(textOf(await c25.client.callTool({ name: 'read_file', arguments: { query: 'e2e' } }))).toContain(
      'through the aggregate',
    );
    expect(textOf(await c25.client.callTool({ name: 'list_directory', arguments: { path: DOCS_DIR } }))).toContain(
      'README.md',
    );
    await c25.client.close();

    const sse = await clientSse(`${base}/sse`);
    expect(await toolNames(sse.client)).toEqual(expect.arrayContaining(['ev_echo', 'graph', 'list_directory']));
    expect(textOf(await sse.client.callTool({ name: 'ev_echo', arguments: { message: 'sse' } }))).toBe('Echo: sse');
    await sse.client.close();

    const c26 = await client2026(base);
    expect((await c26.client.listTools()).tools.map((t) => t.name)).toEqual(
      expect.arrayContaining(['ev_echo', 'graph', 'list_directory']),
    );
    const read = await c26.client.callTool({ name: 'read_text_file', arguments: { path: `${DOCS_DIR}/README.md` } });
    expect(textOf(read)).toContain('Served through the VirtualMcpServer');
    await c26.client.close();

    const list = await inspector([`${base}/mcp`, '--transport', 'http', '--method', 'tools/list']);
    expect(list.stdout).toContain('"ev_echo"');
    expect(list.stdout).toContain('"list_directory"');
    expect(list.stdout).not.toContain('"delete_entities"');
    const call = await inspector([
      `${base}/mcp`,
      '--transport',
      'http',
      '--method',
      'tools/call',
      '--tool-name',
      'list_directory',
      '--tool-arg',
      `path=${DOCS_DIR}`,
    ]);
    expect(call.stdout).toContain('README.md');
    const sseCall = await inspector([
      `${base}/sse`,
      '--transport',
      'sse',
      '--method',
      'tools/call',
      '--tool-name',
      'ev_echo',
      '--tool-arg',
      'message=inspector',
    ]);
    expect(sseCall.stdout).toContain('Echo: inspector');
  }, 600_000);

  test('a denied tool is a distinct refusal naming the policy, not "not found"', async () => {
    const { client } = await client2025(await serviceBase());
    const denied = await client.callTool({ name: 'delete_entities', arguments: { entityNames: ['e2e'] } }).then(
      (r) => JSON.stringify(r),
      (e: Error) => String(e),
    );
    expect(denied).toMatch(/delete_entities is denied by the tools policy of backend memory/);
    expect(denied).not.toMatch(/unknown tool|not found/i);
    const unknown = await client.callTool({ name: 'no_such_tool', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => String(e),
    );
    expect(unknown).toMatch(/Unknown tool: no_such_tool/);
    await client.close();
  }, 600_000);

  // Scaled to zero through its McpServer (spec.replicas: 0), not a pod deleted: the Deployment would bring a new pod
  // back within seconds, racing the observation, and scaling the Deployment itself would be undone by the
  // controller. Zero replicas leave the Service without endpoints, as a crashed or evicted server does.
  test('a backend scaled to zero: its tools leave, calls name it, the others answer; scaled back, they return', async () => {
    const { client } = await client2025(await serviceBase());
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changes++;
    });
    await kube.mergePatch(mcpPath('memory'), { spec: { replicas: 0 } });
    await until(
      "memory's tools gone from tools/list",
      async () => expect(await toolNames(client)).not.toContain('create_entities'),
      180_000,
    );
    expect(changes).toBeGreaterThan(0);
    const names = await toolNames(client);
    expect(names).toEqual(expect.arrayContaining(['ev_echo', 'list_directory']));
    const down = await client.callTool({ name: 'graph', arguments: {} }).then(
      (r) => JSON.stringify(r),
      (e: Error) => String(e),
    );
    expect(down).toMatch(/graph belongs to backend memory, which is unavailable/);
    expect(textOf(await client.callTool({ name: 'ev_echo', arguments: { message: 'still here' } }))).toBe(
      'Echo: still here',
    );
    const degraded = await until(
      'status: memory not ready',
      async () => {
        const memory = await kube.get<McpServer>(mcpPath('memory'));
        expect(condition(memory, 'Ready'), 'the McpServer').toMatchObject({ status: 'False', reason: 'ScaledToZero' });
        const v = await getVirtual();
        expect(v.status?.backends?.find((b) => b.name === 'memory')).toMatchObject({
          ready: false,
          reason: 'ScaledToZero',
        });
        return v;
      },
      120_000,
    );
    expect(degraded.status?.readyBackends).toBe('2/3');
    expect(condition(degraded, 'BackendsReady')).toMatchObject({ status: 'False', reason: 'BackendNotReady' });
    expect(condition(degraded, 'BackendsReady')?.message).toContain('McpServer memory is not Ready');

    const seen = changes;
    await kube.mergePatch(mcpPath('memory'), { spec: { replicas: 1 } });
    await until(
      "memory's tools back in tools/list",
      async () => expect(await toolNames(client)).toContain('create_entities'),
      300_000,
    );
    expect(changes).toBeGreaterThan(seen);
    expect(textOf(await client.callTool({ name: 'graph', arguments: {} }))).toContain('entities');
    await client.close();
    await until(
      'status: 3/3 again',
      async () => expect((await getVirtual()).status?.readyBackends).toBe('3/3'),
      120_000,
    );
  }, 600_000);

  test('a membership change applies under an open session, and a prefix clears the conflict', async () => {
    const session = await client2025(await serviceBase());
    const { client, transport } = session;
    const sessionId = transport.sessionId;
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changes++;
    });
    expect(await toolNames(client)).toContain('list_directory');
    // filesystem leaves: the backends ConfigMap changes in place (the kubelet refreshes the volume; no new pod).
    const podsBefore = (await virtualPods()).map((p) => p.metadata?.name);
    await kube.mergePatch(virtualPath(VIRTUAL), { spec: virtualSpec(SERVERS.slice(0, 2)) });
    await until(
      'filesystem gone',
      async () => expect(await toolNames(client)).not.toContain('list_directory'),
      300_000,
      2_000,
    );
    // ... and joins again under a prefix, which is the fix the conflict named: both read_files are listed.
    await kube.mergePatch(virtualPath(VIRTUAL), {
      spec: virtualSpec([...SERVERS.slice(0, 2), { name: 'filesystem', prefix: 'fs' }]),
    });
    await until(
      'filesystem back, prefixed',
      async () =>
        expect(await toolNames(client)).toEqual(expect.arrayContaining(['fs_list_directory', 'fs_read_file'])),
      300_000,
      2_000,
    );
    expect(changes).toBeGreaterThanOrEqual(2);
    expect(transport.sessionId).toBe(sessionId);
    expect(textOf(await client.callTool({ name: 'ev_echo', arguments: { message: 'same session' } }))).toBe(
      'Echo: same session',
    );
    expect(textOf(await client.callTool({ name: 'fs_list_directory', arguments: { path: DOCS_DIR } }))).toContain(
      'README.md',
    );
    await client.close();
    expect((await virtualPods()).map((p) => p.metadata?.name)).toEqual(podsBefore);
    const fixed = await until(
      'status without the conflict',
      async () => {
        const v = await getVirtual();
        expect(current(v)).toBe(true);
        expect(v.status?.conflictCount).toBe(0);
        return v;
      },
      120_000,
    );
    expect(condition(fixed, 'ToolNamesResolved')).toMatchObject({ status: 'True', reason: 'NamesResolved' });
    expect(fixed.status?.tools).toEqual(expect.arrayContaining(['fs_list_directory', 'fs_read_file', 'read_file']));
  }, 600_000);

  test('two replicas: one session served by both, no sticky sessions', async () => {
    await kube.mergePatch(virtualPath(VIRTUAL), { spec: { replicas: 2 } });
    const pods = await until(
      'two ready replicas',
      async () => {
        const v = await getVirtual();
        expect(current(v)).toBe(true);
        expect(v.status?.readyReplicas).toBe(2);
        const ready = (await virtualPods()).filter((p) =>
          p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
        );
        expect(ready).toHaveLength(2);
        return ready;
      },
      300_000,
    );
    const calls = (pod: V1Pod) => podMetric(pod, 'mcp_gateway_backend_tool_calls_total', { backend: 'everything' });
    const before = await Promise.all(pods.map(calls));
    // A new connection per request: kube-proxy picks a replica for each, so the session's requests land on both.
    const spread = { connection: 'close' };
    const { client, transport } = await client2025(await serviceBase(), { headers: spread });
    const sessionId = transport.sessionId;
    for (let i = 0; i < 24; i++) {
      expect(textOf(await client.callTool({ name: 'ev_echo', arguments: { message: `r${i}` } }))).toBe(`Echo: r${i}`);
    }
    expect(transport.sessionId).toBe(sessionId);
    await client.close();
    const modern = await client2026(await serviceBase(), { headers: spread });
    for (let i = 0; i < 8; i++) {
      expect(textOf(await modern.client.callTool({ name: 'ev_echo', arguments: { message: `m${i}` } }))).toBe(
        `Echo: m${i}`,
      );
    }
    await modern.client.close();
    const after = await Promise.all(pods.map(calls));
    // Each replica answered some of the calls (the metrics of each pod, read on its own address).
    expect(after.map((n, i) => n - (before[i] ?? 0) > 0)).toEqual([true, true]);
    expect(after.reduce((a, b) => a + b, 0) - before.reduce((a, b) => a + b, 0)).toBe(32);
  }, 600_000);
});

describe('a backend with bearer auth behind a VirtualMcpServer', () => {
  const USER_TOKEN = 'guarded-user-token-0123456789';
  const FRONT = 'secured';
  const serviceOf = async (name: string) => {
    const svc = await kube.get<V1Service>(resourcePath(T.services, { namespace, name }));
    return `http://${svc.spec?.clusterIP}:8080`;
  };

  test('the operator’s minted credential gets the aggregate in; the backend audits it and the end client', async () => {
    await kube.create(resourcePath(T.secrets, { namespace }), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'guarded-users', namespace },
      stringData: { tokens: `${USER_TOKEN}\n` },
    });
    const guarded = backend('everything');
    await kube.create(mcpPath(), {
      ...guarded,
      metadata: { name: 'guarded', namespace },
      spec: { ...guarded.spec, auth: { bearer: { secretRef: { name: 'guarded-users', key: 'tokens' } } } },
    });
    await kube.create(virtualPath(), {
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'VirtualMcpServer',
      metadata: { name: FRONT, namespace },
      spec: { servers: [{ name: 'guarded', prefix: 'g' }] },
    });
    await until(
      'the secured VirtualMcpServer Ready over its backend',
      async () => {
        const v = await kube.get<VirtualMcpServer>(virtualPath(FRONT));
        expect(current(v)).toBe(true);
        expect(condition(v, 'Ready')?.status).toBe('True');
        expect(v.status?.readyBackends).toBe('1/1');
        return v;
      },
      600_000,
    );
    // Through the aggregate: no token from the client, the aggregate presents its own to the backend.
    const front = await until(
      'the aggregate lists the guarded backend’s tools',
      async () => {
        const base = await serviceOf(FRONT);
        let session: Session;
        try {
          session = await client2025(base);
        } catch (err) {
          // The SDK's error names no status: say it, and where the request went.
          throw new Error(`connecting to ${base}: ${String(err)} (HTTP ${(err as { code?: unknown }).code ?? '-'})`);
        }
        const names = await toolNames(session.client);
        if (!names.includes('g_echo')) {
          await session.client.close();
          throw new Error(`no g_echo yet: ${names.join(', ')}`);
        }
        return session;
      },
      300_000,
      2_000,
    ).catch(async (err) => {
      // What the aggregate itself said, for whoever reads a failure.
      // spawns: kubectl
      const logs = await execFileAsync(kubectl, [
        '--kubeconfig',
        kubeconfig,
        '-n',
        namespace,
        'logs',
        `deployment/${FRONT}`,
        '--tail=30',
      ]).then(
        (r) => r.stdout,
        (e) => String(e),
      );
      throw new Error(`${(err as Error).message}\n${FRONT}'s last log lines:\n${logs}`);
    });
    expect(textOf(await front.client.callTool({ name: 'g_echo', arguments: { message: 'minted' } }))).toBe(
      'Echo: minted',
    );
    await front.client.close();

    // The backend itself: refused without a token, open to its users' token.
    const direct = await serviceOf('guarded');
    await expect(client2025(direct)).rejects.toThrow(/401|Unauthorized/i);
    const user = await client2025(direct, { headers: { authorization: `Bearer ${USER_TOKEN}` } });
    expect(textOf(await user.client.callTool({ name: 'echo', arguments: { message: 'user' } }))).toBe('Echo: user');
    await user.client.close();

    // The backend's audit line names the aggregate and the client it called for; no user token was copied.
    const audit = await until(
      'the backend’s audit line for the aggregate’s call',
      async () => {
        // spawns: kubectl
        const { stdout } = await execFileAsync(kubectl, [
          '--kubeconfig',
          kubeconfig,
          '-n',
          namespace,
          'logs',
          'deployment/guarded',
          // stdio: the gateway is the server container's PID 1 and logs there.
          '-c',
          'server',
        ]);
        const line = stdout
          .split('\n')
          .filter((l) => l.includes('"tool_call"'))
          .map((l) => JSON.parse(l) as { audit: { client: string; onBehalfOf?: string; tool: string } })
          .find((l) => l.audit.client.startsWith('aggregate:'));
        if (!line) throw new Error('no audit line from the aggregate yet');
        return line.audit;
      },
      60_000,
    );
    expect(audit).toMatchObject({ client: `aggregate:${namespace}/${FRONT}`, tool: 'echo' });
    expect(audit.onBehalfOf).toMatch(/^ip:/);
    // The controller's own discovery lists the guarded server's tools with a credential of its own.
    const listed = await until(
      'status.tools of the guarded McpServer',
      async () => {
        const m = await kube.get<McpServer>(mcpPath('guarded'));
        expect(m.status?.tools).toContain('echo');
        return m;
      },
      120_000,
    );
    expect(listed.status?.serverInfo?.name).toMatch(/everything/i);
    const credentials = await kube.get<{ data?: Record<string, string> }>(
      resourcePath(T.secrets, { namespace, name: `${FRONT}-backend-credentials` }),
    );
    expect(Object.keys(credentials.data ?? {})).toEqual(['guarded']);
    expect(Buffer.from(credentials.data?.guarded ?? '', 'base64').toString()).not.toContain(USER_TOKEN);
  }, 1_200_000);
});
