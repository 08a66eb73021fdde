/**
 * The image, for real: `scripts/images.sh` builds the operator image from the Dockerfile with buildah and two
 * third-party server images: server-everything (Node) on Debian slim, and a static Go MCP server on a glibc-only
 * distroless-style base (no shell, no libstdc++, no Node). Then, exactly as in a stdio McpServer pod:
 *   1. the init container step runs the operator image's `mcp-operator gateway install-runtime --to /opt/mcp-gateway`
 *      as uid 65532 on a read-only root filesystem, into an empty directory (the emptyDir);
 *   2. the server image runs `/opt/mcp-gateway/mcp-gateway stdio -- <the server's command>` from that copied
 *      path, as uid 65532, read-only root, no capabilities, no new privileges;
 *   3. an MCP client calls a tool through it.
 * Containers run under runc (containerd's runtime) without containerd; see test/support/runc.ts.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../src/local-cluster/control-plane.ts';
import { client2025, client2026, ROOT, textOf } from '../gateway/helpers.ts';
import { type MountedImage, mountImage, type RunningContainer, runContainer } from '../support/runc.ts';

const run = promisify(execFile);
const SERVER = '/usr/local/lib/node_modules/@modelcontextprotocol/server-everything/dist/index.js';

let images: { operator: string; debian: string; distroless: string };
const SERVER_COMMAND = {
  debian: ['node', SERVER, 'stdio'],
  distroless: ['/usr/local/bin/echo-server'],
};
let runtimeDir: string;
const mounted: MountedImage[] = [];
const containers: RunningContainer[] = [];

async function mount(image: string) {
  const m = await mountImage(image);
  mounted.push(m);
  return m.rootfs;
}

async function until(check: () => Promise<boolean>, timeoutMs: number, what: string, logs: () => string) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}; container output:\n${logs().slice(-4000)}`);
}

beforeAll(async () => {
  // First run builds everything (several minutes); later runs reuse buildah's layer cache.
  const { stdout } = await run('bash', [join(ROOT, 'scripts/images.sh'), 'all'], { maxBuffer: 64 * 1024 * 1024 });
  const names = stdout.trim().split(/\s+/);
  const find = (pattern: RegExp) => {
    const name = names.find((n) => pattern.test(n));
    if (!name) throw new Error(`scripts/images.sh all did not print an image matching ${pattern}: ${stdout}`);
    return name;
  };
  images = {
    operator: find(/\/mcp-operator:/),
    debian: find(/\/server-everything:/),
    distroless: find(/\/echo-server:distroless$/),
  };

  // The emptyDir: owned by root, world-writable like a kubelet-made emptyDir, empty.
  runtimeDir = await mkdtemp(join(tmpdir(), 'mcp-gateway-emptydir-'));
  await chmod(runtimeDir, 0o777);
  const init = await runContainer({
    rootfs: await mount(images.operator),
    args: ['mcp-operator', 'gateway', 'install-runtime', '--to', '/opt/mcp-gateway'],
    mounts: [{ source: runtimeDir, destination: '/opt/mcp-gateway' }],
    cwd: '/app',
  });
  containers.push(init);
  const code = await init.exited;
  if (code !== 0) throw new Error(`install-runtime exited ${code}:\n${init.output()}`);
}, 1_800_000);

afterAll(async () => {
  for (const c of containers) await c.stop();
  for (const m of mounted) await m.release();
  if (runtimeDir) await rm(runtimeDir, { recursive: true, force: true });
});

describe('operator image', () => {
  test('runs as numeric non-root with the mcp-operator entrypoint and OCI labels', async () => {
    const { stdout } = await run('buildah', ['inspect', '--type', 'image', images.operator]);
    const config = (JSON.parse(stdout) as { OCIv1: { config: Record<string, unknown> } }).OCIv1.config;
    expect(config.User).toBe('65532:65532');
    expect(config.Entrypoint).toEqual(['mcp-operator']);
    const labels = config.Labels as Record<string, string>;
    expect(labels['org.opencontainers.image.title']).toBe('mcp-operator');
    expect(labels['org.opencontainers.image.version']).toMatch(/^\d+\.\d+\.\d+/);
    expect(labels['org.opencontainers.image.base.name']).toMatch(/node:24\.\d+\.\d+-bookworm-slim$/);
    // Production dependencies only: no test runner, linter or build tools in the image.
    const rootfs = await mount(images.operator);
    for (const dev of ['vitest', '@biomejs/biome', 'typescript', 'rolldown', 'postject', 'node']) {
      await expect(stat(join(rootfs, 'app/node_modules', dev))).rejects.toThrow(/ENOENT/);
    }
    expect((await stat(join(rootfs, 'app/node_modules/@kubernetes/client-node/package.json'))).isFile()).toBe(true);
  });

  test('the init step copied the runtime and its C++ libraries into the empty directory', async () => {
    const exe = join(runtimeDir, 'mcp-gateway');
    const s = await stat(exe);
    expect(s.isFile()).toBe(true);
    expect(s.mode & 0o111).toBe(0o111);
    expect(s.uid).toBe(65532); // written by the init container's user, not root
    for (const lib of ['libstdc++.so.6', 'libgcc_s.so.1']) {
      expect((await stat(join(runtimeDir, 'lib', lib))).isFile()).toBe(true);
    }
  });
});

describe.each([
  ['Debian slim', 'debian' as const],
  ['distroless-style glibc-only base (no shell, no libstdc++)', 'distroless' as const],
])('the copied runtime inside a third-party %s image', (_name, which) => {
  let port: number;
  let container: RunningContainer;

  beforeAll(async () => {
    const rootfs = await mount(images[which]);
    if (which === 'distroless') {
      await expect(stat(join(rootfs, 'bin/sh'))).rejects.toThrow(/ENOENT/);
      await expect(stat(join(rootfs, 'usr/bin/apt-get'))).rejects.toThrow(/ENOENT/);
      // What Node links and glibc-only images lack: the runtime brings its own (RUNPATH $ORIGIN/lib).
      await expect(stat(join(rootfs, 'usr/lib/x86_64-linux-gnu/libstdc++.so.6'))).rejects.toThrow(/ENOENT/);
    }
    port = await freePort();
    const healthPort = await freePort();
    container = await runContainer({
      rootfs,
      args: [
        '/opt/mcp-gateway/mcp-gateway',
        'stdio',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--health-port',
        String(healthPort),
        '--',
        ...SERVER_COMMAND[which],
      ],
      mounts: [{ source: runtimeDir, destination: '/opt/mcp-gateway', readOnly: true }],
    });
    containers.push(container);
    await until(
      async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).status === 200,
      60_000,
      '/readyz',
      container.output,
    );
  }, 120_000);

  test('the gateway runs as uid 65532 with no capabilities on a read-only root', async () => {
    const pid = await container.pid();
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    expect(status).toMatch(/^Uid:\s+65532\s+65532\s+65532\s+65532$/m);
    expect(status).toMatch(/^CapEff:\s+0+$/m);
    expect(status).toMatch(/^NoNewPrivs:\s+1$/m);
    const exe = await readFile(`/proc/${pid}/cmdline`, 'utf8');
    expect(exe.split('\0')[0]).toBe('/opt/mcp-gateway/mcp-gateway');
    const mountinfo = await readFile(`/proc/${pid}/mountinfo`, 'utf8');
    const rootMount = mountinfo.split('\n').find((l) => l.split(' ')[4] === '/');
    expect(rootMount?.split(' ')[5]).toMatch(/(^|,)ro(,|$)/);
  });

  test('a 2025 session client and a 2026 client call a tool through it', async () => {
    const url = `http://127.0.0.1:${port}`;
    const { client } = await client2025(url);
    try {
      const listed = await client.listTools();
      expect(listed.tools.map((t) => t.name)).toContain('echo');
      const result = await client.callTool({ name: 'echo', arguments: { message: `from ${which}` } });
      expect(textOf(result)).toBe(`Echo: from ${which}`);
    } finally {
      await client.close();
    }
    const modern = await client2026(url);
    try {
      const result = await modern.client.callTool({ name: 'echo', arguments: { message: 'stateless' } });
      expect(textOf(result)).toContain('stateless');
    } finally {
      await modern.client.close();
    }
  });
});
