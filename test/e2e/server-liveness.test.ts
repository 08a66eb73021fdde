/**
 * The server container's default liveness behind the gateway, on a real node: an HTTP MCP server that listens on
 * 127.0.0.1 only (FastMCP's default; here server-everything's streamableHttp with its listen pinned to loopback) is
 * unreachable on the pod IP, where the kubelet probes. The default check is the gateway's /livez/upstream on 9090,
 * which reaches the server on loopback: the startup probe passes and the server is never restarted, where a TCP
 * probe of the pod IP would have failed for 5 minutes and then restarted it in a loop.
 */
import { connect } from 'node:net';
import type { V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { installCrd } from '../../src/local-cluster/install.ts';
import { startCluster } from '../../src/local-cluster/node-cluster.ts';
import { buildProjectImages } from '../../src/local-cluster/node-images.ts';
import { client2025, textOf } from '../gateway/helpers.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';

const SERVER_JS = '/usr/local/lib/node_modules/@modelcontextprotocol/server-everything/dist/index.js';
const MCPSERVERS = { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' };
const NAME = 'loopback';
const PORT = 3001;
/** Preloaded into the server: every listen(port) binds 127.0.0.1, as a server with a loopback default does. */
const LOOPBACK_ONLY = `data:text/javascript,${encodeURIComponent(
  [
    "import net from 'node:net';",
    'const listen = net.Server.prototype.listen;',
    'net.Server.prototype.listen = function (port, ...rest) {',
    "  if (typeof port !== 'number' && typeof port !== 'string') return listen.call(this, port, ...rest);",
    "  return listen.call(this, Number(port), '127.0.0.1', ...rest.filter((a) => typeof a === 'function'));",
    '};',
  ].join('\n'),
)}`;

let client: ReturnType<typeof adminClient>;
let namespace: string;
let controller: ControllerProcess;

async function until<V>(what: string, check: () => Promise<V>, timeoutMs: number): Promise<V> {
  const box = await eventually(what, async () => ({ value: await check() }), { timeoutMs, intervalMs: 1000 });
  return box.value;
}

async function serverPod(): Promise<V1Pod> {
  const list = await client.get<{ items: V1Pod[] }>(
    `${resourcePath(T.pods, { namespace })}?labelSelector=${encodeURIComponent(`app.kubernetes.io/instance=${NAME}`)}`,
  );
  const pod = list.items.find((p) => !p.metadata?.deletionTimestamp);
  if (!pod) throw new Error('no pod yet');
  return pod;
}

/** 'open', 'refused', 'timeout' or the error code of a TCP connect from the node to host:port. */
function tcpConnect(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: 3000 });
    const settle = (outcome: string) => {
      socket.destroy();
      resolve(outcome);
    };
    socket.once('connect', () => settle('open'));
    socket.once('timeout', () => settle('timeout'));
    socket.on('error', (err: NodeJS.ErrnoException) => settle(err.code === 'ECONNREFUSED' ? 'refused' : `${err.code}`));
  });
}

beforeAll(async () => {
  const { operator, server } = await buildProjectImages();
  const cluster = await startCluster({ images: [operator, server] });
  client = adminClient(cluster.kubeconfig);
  await installCrd(client);
  namespace = await createRestrictedNamespace(client, 'e2e-liveness');
  controller = startController({
    kubeconfig: cluster.kubeconfig,
    namespaces: [namespace],
    leaderElect: false,
    extraArgs: [`--gateway-image=${operator}`],
  });
  await client.create(resourcePath(MCPSERVERS, { namespace }), {
    apiVersion: 'mcpoperator.io/v1alpha1',
    kind: 'McpServer',
    metadata: { name: NAME, namespace },
    spec: {
      image: server,
      transport: 'streamable-http',
      port: PORT,
      command: ['node', '--import', LOOPBACK_ONLY, SERVER_JS, 'streamableHttp'],
      env: [{ name: 'PORT', value: String(PORT) }],
    },
  });
}, 1_800_000);

afterAll(async () => {
  await client?.delete(resourcePath(MCPSERVERS, { namespace, name: NAME })).catch(() => undefined);
  await controller?.stop();
});

describe('an HTTP server bound to 127.0.0.1 behind the gateway', () => {
  test('passes its default startup and liveness checks, through the gateway, and is never restarted', {
    timeout: 360_000,
  }, async () => {
    // The kubelet runs the startup probe from the server container to the gateway's port: it must pass (with the old
    // default, a TCP probe of the pod IP, it fails for 5 minutes, and the pod is never Ready meanwhile).
    const server = await until(
      'the server container started (its startup probe passed)',
      async () => {
        const status = (await serverPod()).status?.containerStatuses?.find((c) => c.name === 'server');
        expect(status?.started).toBe(true);
        return status;
      },
      180_000,
    );
    await until(
      'Ready',
      async () => {
        const mcp = await client.get<McpServer>(resourcePath(MCPSERVERS, { namespace, name: NAME }));
        expect(mcp.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
      },
      60_000,
    );
    const pod = await serverPod();
    const probe = pod.spec?.containers.find((c) => c.name === 'server')?.livenessProbe;
    expect(probe?.httpGet).toMatchObject({ path: '/livez/upstream', port: 9090 });
    // The server is not on the pod IP: a TCP probe there could never pass.
    const podIP = pod.status?.podIP as string;
    expect(await tcpConnect(podIP, PORT)).toBe('refused');
    expect(await tcpConnect(podIP, 9090)).toBe('open');
    expect(server?.restartCount).toBe(0);
    // Three liveness periods later, still the same container.
    await new Promise((r) => setTimeout(r, 35_000));
    const later = (await serverPod()).status?.containerStatuses?.find((c) => c.name === 'server');
    expect(later?.restartCount).toBe(0);
    expect(later?.ready).toBe(true);
    const svc = await client.get<{ spec?: { clusterIP?: string } }>(
      resourcePath(T.services, { namespace, name: NAME }),
    );
    const { client: mcp } = await client2025(`http://${svc.spec?.clusterIP}:8080`);
    expect(textOf(await mcp.callTool({ name: 'echo', arguments: { message: 'loopback' } }))).toBe('Echo: loopback');
    await mcp.close();
  });
});
