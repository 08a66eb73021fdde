/**
 * The whole path on a real node: the controller (the real CLI) turns an McpServer into a pod on containerd
 * under Pod Security "restricted"; the operator image's init container copies the gateway runtime into a
 * third-party server image (server-everything on Debian slim); clients reach tools through the Service (kube-proxy
 * rules) and through nginx buffering like F5 NGINX by default. Then the things users rely on: a crashed MCP child comes
 * back, a rotated Secret rolls the pods, two replicas keep serving, and deleting the McpServer removes everything.
 * Measurements (apply-to-Ready, image sizes, pod memory) go to $MCP_E2E_RESULTS (default
 * /tmp/mcp-operator-e2e-results.json) for bench/RESULTS.md.
 */
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { V1Pod, V1Secret, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { installCrd } from '../../src/local-cluster/install.ts';
import { startCluster } from '../../src/local-cluster/node-cluster.ts';
import { buildProjectImages } from '../../src/local-cluster/node-images.ts';
import { client2025, client2026, textOf } from '../gateway/helpers.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import {
  adminClient,
  createRestrictedNamespace,
  eventually,
  getOrUndefined,
  resourcePath,
  T,
} from '../support/kube.ts';
import { bufferedLocation, type RunningNginx, startNginx } from '../support/nginx.ts';

const run = promisify(execFile);
const SERVER_JS = '/usr/local/lib/node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const MCPSERVERS = { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' };
const NAME = 'everything';

type Client = ReturnType<typeof adminClient>;
let client: Client;
let namespace: string;
let controller: ControllerProcess;
let images: { operator: string; server: string };
let nginx: RunningNginx | undefined;
const results: Record<string, unknown> = {};

/** Retries `check` until it stops throwing (assertions included), then returns its value. */
async function until<V>(what: string, check: () => Promise<V>, timeoutMs: number, intervalMs = 500): Promise<V> {
  const box = await eventually(what, async () => ({ value: await check() }), { timeoutMs, intervalMs });
  return box.value;
}

const mcpPath = () => resourcePath(MCPSERVERS, { namespace, name: NAME });
const getMcp = () => client.get<McpServer>(mcpPath());
const ready = (mcp: McpServer | undefined) =>
  mcp?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' &&
  mcp.status.observedGeneration === mcp.metadata?.generation;

async function pods(): Promise<V1Pod[]> {
  const list = await client.get<{ items: V1Pod[] }>(
    `${resourcePath(T.pods, { namespace })}?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${NAME}`)}`,
  );
  return list.items;
}
const podReady = (p: V1Pod) =>
  !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

async function serviceURL(): Promise<string> {
  const svc = await client.get<V1Service>(resourcePath(T.services, { namespace, name: NAME }));
  return `http://${svc.spec?.clusterIP}:8080`;
}

async function callEcho(base: string, message: string): Promise<string> {
  const { client: mcp } = await client2025(base);
  try {
    return textOf(await mcp.callTool({ name: 'echo', arguments: { message } }));
  } finally {
    await mcp.close();
  }
}

/** The gateway (pid 1 of the server container) and its MCP child, found on the host by their command lines. */
function gatewayChildren(podUid: string | undefined): Array<{ gateway: number; child: number }> {
  const found: Array<{ gateway: number; child: number }> = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (!cmd.includes(SERVER_JS)) continue;
      // This test's pod only: other files' pods (a VirtualMcpServer's backends) may run the same server.
      if (!podUid || !readFileSync(`/proc/${entry}/cgroup`, 'utf8').includes(`pod${podUid}`)) continue;
      const ppid = Number(/^PPid:\s+(\d+)$/m.exec(readFileSync(`/proc/${entry}/status`, 'utf8'))?.[1]);
      const parent = readFileSync(`/proc/${ppid}/cmdline`, 'utf8').split('\0');
      if (parent[0] === '/opt/mcp-gateway/mcp-gateway') found.push({ gateway: ppid, child: Number(entry) });
    } catch {
      // the process ended while we looked
    }
  }
  return found;
}

/** Memory of the pod's cgroup (v1 memory controller, kubelet's cgroupfs layout), in MiB. */
function podMemoryMiB(uid: string): number | undefined {
  const root = '/sys/fs/cgroup/memory/kubepods';
  const want = `pod${uid}`;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop() as string;
    let entries: string[] = [];
    try {
      entries = readdirSync(dir);
    } catch {
      continue;
    }
    for (const e of entries) {
      if (e === want || e === want.replaceAll('-', '_')) {
        const stat = readFileSync(join(dir, e, 'memory.stat'), 'utf8');
        const rss = Number(/^total_rss (\d+)$/m.exec(stat)?.[1] ?? 0);
        const cache = Number(/^total_cache (\d+)$/m.exec(stat)?.[1] ?? 0);
        const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
        return Math.round(((rss + cache - inactive) / 1048576) * 10) / 10; // the working set, as kubelet counts it
      }
      if (e.startsWith('pod') || e === 'besteffort' || e === 'burstable') stack.push(join(dir, e));
    }
  }
  return undefined;
}

beforeAll(async () => {
  const { names, operator, server } = await buildProjectImages();
  images = { operator, server };
  const sizes = await run('buildah', ['images', '--format', '{{.Name}}:{{.Tag}} {{.Size}}']);
  results.imageSizes = Object.fromEntries(
    sizes.stdout
      .trim()
      .split('\n')
      .map((l) => /^(\S+)\s+(.+)$/.exec(l.trim())?.slice(1) ?? [])
      .filter(([n]) => n && (names.includes(n) || n.startsWith('localhost/pause:'))),
  );
  const cluster = await startCluster({ images: [images.operator, images.server] });
  client = adminClient(cluster.kubeconfig);
  await installCrd(client);
  namespace = await createRestrictedNamespace(client, 'e2e');
  controller = startController({
    kubeconfig: cluster.kubeconfig,
    namespaces: [namespace],
    leaderElect: false,
    extraArgs: [`--gateway-image=${images.operator}`],
  });
  await client.create(resourcePath(T.secrets, { namespace }), {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'everything-env', namespace },
    stringData: { 'api-key': 'first' },
  });
}, 1_800_000);

afterAll(async () => {
  await nginx?.stop();
  await controller?.stop();
  const file = process.env.MCP_E2E_RESULTS ?? join(tmpdir(), 'mcp-operator-e2e-results.json');
  writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
  process.stderr.write(`e2e measurements (${file}):\n${JSON.stringify(results, null, 2)}\n`);
});

describe('a stdio McpServer on a real node', () => {
  test('reaches Ready under enforce=restricted, and status lists its tools', async () => {
    const applied = Date.now();
    await client.create(resourcePath(MCPSERVERS, { namespace }), {
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'McpServer',
      metadata: { name: NAME, namespace },
      spec: {
        image: images.server,
        transport: 'stdio',
        command: ['node', SERVER_JS, 'stdio'],
        env: [{ name: 'API_KEY', valueFrom: { secretKeyRef: { name: 'everything-env', key: 'api-key' } } }],
      },
    });
    await until('Ready', async () => expect(ready(await getMcp())).toBe(true), 300_000);
    results.applyToReadySeconds = (Date.now() - applied) / 1000;
    const mcp = await until(
      'status.tools',
      async () => {
        const m = await getMcp();
        expect(m.status?.tools).toContain('echo');
        return m;
      },
      60_000,
      500,
    );
    expect(mcp.status?.tools).toContain('trigger-long-running-operation');
    // The catalog shows these: what the server itself says each tool does.
    expect(mcp.status?.toolDescriptions?.echo).toMatch(/echo/i);
    expect(mcp.status?.serverInfo?.name).toMatch(/everything/i);
    const [pod] = await pods();
    expect(pod?.spec?.securityContext?.runAsNonRoot).toBe(true);
    results.podMemoryMiB = pod?.metadata?.uid ? podMemoryMiB(pod.metadata.uid) : undefined;
  });

  test('a client calls tools through the Service, with progress streaming', async () => {
    const base = await serviceURL();
    expect(await callEcho(base, 'via service')).toBe('Echo: via service');
    const { client: mcp } = await client2025(base);
    const progress: number[] = [];
    const result = await mcp.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress), timeout: 30_000 },
    );
    await mcp.close();
    expect(textOf(result)).toMatch(/completed/i);
    expect(progress.length).toBeGreaterThanOrEqual(4);
    const modern = await client2026(base);
    expect(textOf(await modern.client.callTool({ name: 'echo', arguments: { message: '2026' } }))).toBe('Echo: 2026');
    await modern.client.close();
  });

  // Real controllers read the operator's Ingress and HTTPRoute in exposure.test.ts (Traefik). This hand-configured
  // nginx stays for the one thing those do not cover: F5 NGINX-style response buffering, on by default, which only
  // the gateway's X-Accel-Buffering: no header turns off for event streams.
  test('through nginx with F5 NGINX-style buffering on by default, progress arrives while the call runs', async () => {
    const upstream = (await serviceURL()).replace('http://', '');
    nginx = await startNginx(bufferedLocation('/everything', upstream));
    const front = `${nginx.url}/everything`;
    await until('nginx', async () => expect(await callEcho(front, 'via nginx')).toBe('Echo: via nginx'), 15_000, 300);
    const { client: mcp } = await client2025(front);
    const arrivals: number[] = [];
    const started = Date.now();
    const result = await mcp.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } },
      undefined,
      { onprogress: () => arrivals.push(Date.now() - started), timeout: 30_000 },
    );
    const finished = Date.now() - started;
    await mcp.close();
    expect(textOf(result)).toMatch(/completed/i);
    expect(arrivals.length).toBeGreaterThanOrEqual(3);
    // Streamed, not buffered: the first progress event arrived well before the result.
    expect(arrivals[0]).toBeLessThan(finished - 1_000);
  });

  test('kill -9 of the MCP child: the gateway restarts it, counts it, and readiness recovers', async () => {
    const [pod] = await pods();
    const [pair] = gatewayChildren(pod?.metadata?.uid);
    expect(pair).toBeDefined();
    const podIP = pod?.status?.podIP;
    const restarts = async () => {
      const text = await (await fetch(`http://${podIP}:9090/metrics`)).text();
      return Number(/^mcp_gateway_child_restarts_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? 0);
    };
    const before = await restarts();
    process.kill(pair?.child as number, 'SIGKILL');
    await until('a counted restart', async () => expect(await restarts()).toBeGreaterThan(before), 60_000, 300);
    await until(
      'readiness',
      async () => expect((await fetch(`http://${podIP}:9090/readyz`)).status).toBe(200),
      60_000,
      300,
    );
    const [after] = gatewayChildren(pod?.metadata?.uid);
    expect(after?.gateway).toBe(pair?.gateway); // the same gateway: the pod did not restart
    expect(after?.child).not.toBe(pair?.child);
    expect(await callEcho(await serviceURL(), 'after crash')).toBe('Echo: after crash');
  });

  test('rotating a referenced Secret rolls the pods, and the server sees the new value', async () => {
    const before = (await pods()).map((p) => p.metadata?.name);
    await client.mergePatch(resourcePath(T.secrets, { namespace, name: 'everything-env' }), {
      stringData: { 'api-key': 'second' },
    } satisfies Partial<V1Secret>);
    await until(
      'a new pod',
      async () => {
        const now = (await pods()).filter(podReady).map((p) => p.metadata?.name);
        expect(now.length).toBe(1);
        expect(before).not.toContain(now[0]);
      },
      180_000,
      500,
    );
    await until('Ready again', async () => expect(ready(await getMcp())).toBe(true), 120_000);
    // Until kube-proxy has the new endpoint (a second or two after Ready), a new connection may still be sent
    // to the old pod's address: retry with a fresh client, as a user would.
    const env = await until(
      'the server to report the new value',
      async () => {
        const { client: mcp } = await client2025(await serviceURL());
        try {
          const text = textOf(await mcp.callTool({ name: 'get-env', arguments: {} }, undefined, { timeout: 5_000 }));
          expect(text).toContain('"API_KEY": "second"');
          return text;
        } finally {
          await mcp.close();
        }
      },
      60_000,
      1_000,
    );
    expect(env).not.toContain('"API_KEY": "first"');
  });

  test('scaled to 2 replicas, calls keep working', async () => {
    await client.mergePatch(mcpPath(), { spec: { replicas: 2 } });
    await until(
      'two ready replicas',
      async () => {
        const m = await getMcp();
        expect(ready(m)).toBe(true);
        expect(m.status?.readyReplicas).toBe(2);
      },
      180_000,
      500,
    );
    const base = await serviceURL();
    const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => callEcho(base, `call ${i}`)));
    expect(replies).toEqual(Array.from({ length: 12 }, (_, i) => `Echo: call ${i}`));
    // One session, many calls: whichever replica kube-proxy picks, the session's owner answers.
    const { client: mcp } = await client2025(base);
    for (let i = 0; i < 10; i++) {
      expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: `s${i}` } }))).toBe(`Echo: s${i}`);
    }
    await mcp.close();
  });

  test('deleting the McpServer removes everything it made', async () => {
    await client.delete(mcpPath());
    await until(
      'everything gone',
      async () => {
        expect(await getOrUndefined(client, mcpPath())).toBeUndefined();
        expect(await pods()).toEqual([]);
        for (const type of [T.deployments, T.services, T.serviceaccounts, T.secrets]) {
          const list = await client.get<{ items: unknown[] }>(
            `${resourcePath(type, { namespace })}?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${NAME}`)}`,
          );
          expect(list.items).toEqual([]);
        }
      },
      180_000,
      1_000,
    );
    // The user's own Secret stays.
    expect(await getOrUndefined(client, resourcePath(T.secrets, { namespace, name: 'everything-env' }))).toBeDefined();
  });
});
