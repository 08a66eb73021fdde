/**
 * The gateway bench's targets as processes: our gateway (bundled runtime or sources), supergateway, and the
 * reference bridges, each started on a free loopback port and stopped by the bench (bench/gateway/run.ts).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../src/local-cluster/control-plane.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const NODE = process.execPath;
export const EVERYTHING = [
  NODE,
  join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'),
  'stdio',
];
const SUPERGATEWAY = join(ROOT, 'node_modules/supergateway/dist/index.js');

/** bundled: the single-executable runtime the operator ships; source: `node src/gateway/main.ts`. */
export type Runtime = 'bundled' | 'source';

export const OURS: Record<Runtime, string> = {
  bundled: 'mcp-operator gateway (bundled runtime)',
  source: 'mcp-operator gateway (node src/gateway/main.ts)',
};
export const SUPERGATEWAY_NAME = 'supergateway 4.0.0';
export const BASELINE_NAME = 'baseline: mcp-operator gateway (bundled runtime given by --baseline)';

export const EVERYTHING_KIND = 'server-everything';
export const FASTMCP_KIND = 'Python FastMCP';

export async function waitHttp(url: string, ok: (status: number) => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      await res.body?.cancel();
      if (ok(res.status)) return;
    } catch {
      // not up yet
    }
    if (Date.now() > end) throw new Error(`${url} did not come up`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export interface Target {
  name: string;
  proc?: ChildProcess;
  endpoint?: string;
  stop(): Promise<void>;
}

/** SIGTERM, then SIGKILL after 10 s; a process spawned `detached` is killed with its process group. */
export async function stopProc(proc: ChildProcess, group = false): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  const kill = (signal: NodeJS.Signals) => {
    try {
      if (group && proc.pid !== undefined) process.kill(-proc.pid, signal);
      else proc.kill(signal);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
  if (group) kill('SIGKILL'); // what the leader left behind in its group
}

export interface GatewayProcessOptions {
  runtime: Runtime;
  /** The bundled runtime (runtime 'bundled'). */
  binary?: string;
  name: string;
  /** The mode and what follows the common flags: `['stdio', '--', ...command]`, `['aggregate', '--backends-file', f]`. */
  mode: [string, ...string[]];
  /** Own process group, so that stop() (and a caller's cleanup) also kills what the gateway started. */
  detached?: boolean;
  /** Added to the inherited environment (NODE_OPTIONS for a profile, say). */
  env?: Record<string, string>;
  /** Told the process as soon as it is spawned (before it is ready), for a caller's cleanup. */
  onSpawn?: (proc: ChildProcess) => void;
  readyTimeoutMs?: number;
}

/**
 * Our gateway on free loopback ports with production settings (info-level logs, so the audit line per call is
 * part of the measured cost), ready when /readyz answers 200. A gateway that exits or never gets ready is
 * stopped and the error names it.
 */
export async function startGateway(o: GatewayProcessOptions): Promise<Target> {
  const port = await freePort();
  const healthPort = await freePort();
  const command = o.runtime === 'bundled' ? [o.binary as string] : [NODE, join(ROOT, 'src/gateway/main.ts')];
  const [verb, ...rest] = o.mode;
  // spawns: node, mcp-gateway (the source form, or the bundled runtime that build-runtime made)
  const proc = spawn(
    command[0] as string,
    [
      ...command.slice(1),
      verb,
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--health-port',
      String(healthPort),
      '--max-sessions',
      '2000',
      // The idle-session rows open every session from one address.
      '--max-sessions-per-client',
      '2000',
      ...rest,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'], detached: o.detached ?? false, env: { ...process.env, ...o.env } },
  );
  o.onSpawn?.(proc);
  const stop = () => stopProc(proc, o.detached ?? false);
  const exited = new Promise<never>((_, reject) =>
    proc.once('exit', (code, signal) => reject(new Error(`${o.name} exited (${signal ?? code}) before it was ready`))),
  );
  try {
    await Promise.race([waitHttp(`http://127.0.0.1:${healthPort}/readyz`, (s) => s === 200, o.readyTimeoutMs), exited]);
  } catch (err) {
    await stop();
    throw err;
  } finally {
    exited.catch(() => {});
  }
  return { name: o.name, proc, endpoint: `http://127.0.0.1:${port}/mcp`, stop };
}

export function startOurs(
  runtime: Runtime,
  binary: string | undefined,
  name = OURS[runtime],
  server = EVERYTHING,
): Promise<Target> {
  return startGateway({ runtime, binary, name, mode: ['stdio', '--', ...server] });
}

/** The bundled runtime, built the way the image build does (`gateway build-runtime`). */
export async function buildBundled(log: (line: string) => void): Promise<{ binary: string; cleanup: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'mcp-gateway-bench-'));
  const started = Date.now();
  const { buildRuntime } = await import('../../src/gateway/runtime.ts');
  const binary = await buildRuntime(dir);
  log(`built the bundled runtime in ${((Date.now() - started) / 1000).toFixed(1)} s: ${binary}`);
  return { binary, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function startSupergateway(): Promise<Target> {
  const port = await freePort();
  const proc = spawn(
    NODE,
    [
      SUPERGATEWAY,
      '--stdio',
      EVERYTHING.map((a) => `"${a}"`).join(' '),
      '--outputTransport',
      'streamableHttp',
      '--stateful',
      '--port',
      String(port),
      '--logLevel',
      'none',
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitHttp(`http://127.0.0.1:${port}/healthz`, (s) => s > 0);
  return { name: SUPERGATEWAY_NAME, proc, endpoint: `http://127.0.0.1:${port}/mcp`, stop: () => stopProc(proc) };
}

/**
 * The reference targets: not gateways, but the bounds a gateway's figures are read against. A Node HTTP server
 * answering with no MCP server behind it, and the least stdio-to-HTTP bridge in Node and (when Go is installed) in
 * Go. Each is driven by the same bench client, in the same alternating rounds.
 */
export const REFERENCE = {
  canned: 'reference: Node HTTP server, canned answer, no MCP server',
  nodeBridge: 'reference: least Node bridge (id rewrite only)',
  goBridge: 'reference: least Go bridge (id rewrite only)',
};

/**
 * The Node references as one plain JavaScript file each, as our gateway runs bundled: run as .ts, Node would load
 * its TypeScript stripper, about 17 MB of RSS that no gateway in production carries (the memory rows read it).
 */
export async function bundleReferences(dir: string): Promise<{ canned: string; bridge: string }> {
  const { build } = await import('rolldown');
  const one = async (source: string, file: string) => {
    await build({
      input: join(ROOT, 'bench/gateway/reference', source),
      platform: 'node',
      logLevel: 'warn',
      output: { format: 'esm', file: join(dir, file), codeSplitting: false },
    });
    return join(dir, file);
  };
  return { canned: await one('canned.ts', 'canned.mjs'), bridge: await one('minimal-proxy.ts', 'minimal-proxy.mjs') };
}

export async function startReference(name: string, command: string[]): Promise<Target> {
  const port = await freePort();
  const [cmd = '', ...args] = command.map((a) => a.replace('PORT', String(port)));
  // spawns: node, minimal-proxy (the Node references, and the Go bridge built below)
  const proc = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitHttp(`http://127.0.0.1:${port}/mcp`, (s) => s > 0);
  return { name, proc, endpoint: `http://127.0.0.1:${port}/mcp`, stop: () => stopProc(proc) };
}

/** The least Node bridge (bundled by bundleReferences) in front of `server`. */
export function startNodeBridge(bridge: string, server: string[]): Promise<Target> {
  return startReference(REFERENCE.nodeBridge, [NODE, bridge, 'PORT', '--', ...server]);
}

export async function startReferences(dir: string, log: (line: string) => void): Promise<Target[]> {
  const started: Target[] = [];
  const start = async (name: string, command: string[]) => {
    started.push(await startReference(name, command));
  };
  const bundled = await bundleReferences(dir);
  await start(REFERENCE.canned, [NODE, bundled.canned, 'PORT']);
  started.push(await startNodeBridge(bundled.bridge, EVERYTHING));
  const goBinary = join(dir, 'minimal-proxy');
  const built = spawnSync('go', ['build', '-o', goBinary, join(ROOT, 'bench/gateway/reference/minimal-proxy.go')], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, GO111MODULE: 'off' },
  });
  if (built.status === 0) await start(REFERENCE.goBridge, [goBinary, 'PORT', '--', ...EVERYTHING]);
  else log(`no Go bridge reference: go build failed (${built.error?.message ?? built.stderr?.toString().trim()})`);
  return started;
}
