/**
 * Test harness: runs the real gateway as a child process (`node src/gateway/main.ts ...`) on loopback with
 * ephemeral ports, in front of real MCP servers from npm, and connects real SDK clients of each protocol era.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Client as Client2,
  type ClientCapabilities as ClientCapabilities2,
  StreamableHTTPClientTransport as StreamableHTTP2,
} from '@modelcontextprotocol/client';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { ClientCapabilities } from '@modelcontextprotocol/sdk/types.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The project's Node 24 (the system node may be older). */
export const NODE = join(ROOT, 'node_modules/.bin/node');
export const GATEWAY_MAIN = join(ROOT, 'src/gateway/main.ts');
const pkg = (name: string) => join(ROOT, 'node_modules/@modelcontextprotocol', name, 'dist/index.js');
export const EVERYTHING = [NODE, pkg('server-everything'), 'stdio'];
export const MEMORY = [NODE, pkg('server-memory')];
export const filesystem = (dir: string) => [NODE, pkg('server-filesystem'), dir];
export const INSPECTOR = join(ROOT, 'node_modules/.bin/mcp-inspector');

export interface LogLine {
  level: number;
  msg?: string;
  [k: string]: unknown;
}

export interface RunningGateway {
  proc: ChildProcess;
  port: number;
  healthPort: number;
  /** http://127.0.0.1:PORT (plus nothing: append /mcp, /sse). */
  url: string;
  health: string;
  logs: LogLine[];
  stderr: string[];
  exited: Promise<number | null>;
  waitForLog(predicate: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running = new Set<RunningGateway>();

export async function startGateway(
  args: string[],
  options: { env?: Record<string, string>; waitReady?: boolean; logLevel?: string; executable?: string } = {},
): Promise<RunningGateway> {
  const [file, ...pre] = options.executable ? [options.executable] : [NODE, GATEWAY_MAIN];
  // spawns: node, mcp-gateway (options.executable: the runtime that build-runtime made)
  const proc = spawn(file as string, [...pre, ...args], {
    cwd: ROOT,
    env: {
      ...process.env,
      MCP_GATEWAY_HOST: '127.0.0.1',
      MCP_GATEWAY_PORT: '0',
      MCP_GATEWAY_HEALTH_PORT: '0',
      MCP_GATEWAY_LOG_LEVEL: options.logLevel ?? 'info',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  const waiters = new Set<{ pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }>();
  let buf = '';
  proc.stdout?.on('data', (chunk: Buffer) => {
    buf += chunk.toString('utf8');
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      try {
        const parsed = JSON.parse(line) as LogLine;
        logs.push(parsed);
        for (const w of waiters) {
          if (w.pred(parsed)) {
            waiters.delete(w);
            w.resolve(parsed);
          }
        }
      } catch {
        stderr.push(`[stdout] ${line}`);
      }
    }
  });
  proc.stderr?.on('data', (chunk: Buffer) => stderr.push(chunk.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const waitForLog = (pred: (l: LogLine) => boolean, timeoutMs = 30_000) => {
    const found = logs.find(pred);
    if (found) return Promise.resolve(found);
    return new Promise<LogLine>((resolve, reject) => {
      const w = { pred, resolve };
      waiters.add(w);
      const timer = setTimeout(() => {
        waiters.delete(w);
        reject(new Error(`log line not seen within ${timeoutMs} ms; stderr: ${stderr.join('')}`));
      }, timeoutMs);
      const done = w.resolve;
      w.resolve = (l) => {
        clearTimeout(timer);
        done(l);
      };
    });
  };
  const listening = await Promise.race([
    waitForLog((l) => l.msg === 'gateway listening'),
    exited.then((code) => {
      throw new Error(`gateway exited with ${code}: ${stderr.join('')}`);
    }),
  ]);
  const port = listening.port as number;
  const healthPort = listening.healthPort as number;
  const gw: RunningGateway = {
    proc,
    port,
    healthPort,
    url: `http://127.0.0.1:${port}`,
    health: `http://127.0.0.1:${healthPort}`,
    logs,
    stderr,
    exited,
    waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      running.delete(gw);
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      const timer = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
  running.add(gw);
  if (options.waitReady !== false) await waitReady(gw);
  return gw;
}

export interface AuditLine {
  event: string;
  tool?: string;
  argumentKeys?: string[];
  client?: string;
  onBehalfOf?: string;
  backend?: string;
  session?: string;
  durationMs?: number;
  outcome?: string;
  errorCode?: number;
}

/** The next (or a past) audit line matching the predicate. */
export async function waitForAudit(
  gw: RunningGateway,
  pred: (a: AuditLine) => boolean = () => true,
): Promise<AuditLine> {
  const line = await gw.waitForLog((l) => {
    const a = l.audit as AuditLine | undefined;
    return a?.event === 'tool_call' && pred(a);
  });
  return line.audit as AuditLine;
}

export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((g) => g.stop()));
}

export async function waitReady(gw: RunningGateway, timeoutMs = 30_000): Promise<void> {
  await until(async () => (await fetch(`${gw.health}/readyz`)).status === 200, timeoutMs, 'gateway ready');
}

export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The direct child processes of a pid (the MCP servers a gateway spawned). */
export function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return [];
  }
}

export async function metricValue(gw: RunningGateway, name: string, labels: Record<string, string> = {}) {
  const text = await (await fetch(`${gw.health}/metrics`)).text();
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{([^}]*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const labelText = m[3] ?? '';
    if (Object.entries(labels).every(([k, v]) => labelText.includes(`${k}="${v}"`))) total += Number(m[4]);
  }
  return total;
}

/** A raw 2025-era `initialize` POST (for tests that inspect the HTTP exchange itself). */
export function postInitialize(
  url: string,
  protocolVersion = '2025-06-18',
  accept = 'application/json, text/event-stream',
) {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  });
}

// ---- clients of each era

const info = (name: string) => ({ name, version: '1.0.0' });

/** 2025-era Streamable HTTP session client (SDK 1.x). */
export async function client2025(
  url: string,
  options: { capabilities?: ClientCapabilities; headers?: Record<string, string>; name?: string } = {},
) {
  const client = new Client(info(options.name ?? 'sdk1-streamable'), { capabilities: options.capabilities ?? {} });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: options.headers ?? {} },
  });
  await client.connect(transport);
  return { client, transport };
}

/** Legacy HTTP+SSE (2024-11-05) client (SDK 1.x). */
export async function clientSse(
  sseUrl: string,
  options: { capabilities?: ClientCapabilities; headers?: Record<string, string> } = {},
) {
  const client = new Client(info('sdk1-sse'), { capabilities: options.capabilities ?? {} });
  const headers = options.headers ?? {};
  const transport = new SSEClientTransport(new URL(sseUrl), {
    requestInit: { headers },
    eventSourceInit: {
      fetch: (u, init) => fetch(u, { ...init, headers: { ...(init?.headers as Record<string, string>), ...headers } }),
    },
  });
  await client.connect(transport);
  return { client, transport };
}

/** 2026-07-28 stateless client (SDK 2.x, pinned to the modern revision). */
export async function client2026(
  url: string,
  options: {
    headers?: Record<string, string>;
    capabilities?: ClientCapabilities2;
    /** false: input_required results are not fulfilled automatically (manual multi-round-trip mode). */
    autoFulfill?: boolean;
    fetch?: (input: string | URL | Request, init?: RequestInit) => Promise<Response>;
  } = {},
) {
  const client = new Client2(info('sdk2-modern'), {
    versionNegotiation: { mode: { pin: '2026-07-28' } },
    capabilities: options.capabilities ?? {},
    ...(options.autoFulfill === undefined ? {} : { inputRequired: { autoFulfill: options.autoFulfill } }),
  });
  const transport = new StreamableHTTP2(new URL(`${url}/mcp`), {
    requestInit: { headers: options.headers ?? {} },
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  await client.connect(transport);
  return { client, transport };
}

/** SDK 2.x client in its default (2025 handshake) mode. */
export async function client2xLegacy(url: string) {
  const client = new Client2(info('sdk2-legacy'));
  const transport = new StreamableHTTP2(new URL(`${url}/mcp`));
  await client.connect(transport);
  return { client, transport };
}

export function textOf(result: unknown): string {
  const content = (result as { content?: Array<{ type: string; text?: string }> }).content ?? [];
  return content
    .filter((c) => c.type === 'text')
    .map((c) => c.text ?? '')
    .join('');
}

/** Reads an SSE response body into events. */
export async function* sseEvents(
  body: ReadableStream<Uint8Array>,
): AsyncGenerator<{ id?: string; event?: string; data: string; comment?: string }> {
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of body) {
    buf += decoder.decode(chunk, { stream: true });
    let sep = buf.indexOf('\n\n');
    while (sep >= 0) {
      const frame = buf.slice(0, sep);
      buf = buf.slice(sep + 2);
      sep = buf.indexOf('\n\n');
      const ev: { id?: string; event?: string; data: string; comment?: string } = { data: '' };
      const data: string[] = [];
      for (const line of frame.split('\n')) {
        if (line.startsWith(':')) ev.comment = line.slice(1).trim();
        else if (line.startsWith('id:')) ev.id = line.slice(3).trim();
        else if (line.startsWith('event:')) ev.event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      ev.data = data.join('\n');
      yield ev;
    }
  }
}
