/**
 * Gateway benchmark (not a test): tools/call round trips through our gateway, through supergateway (stateful
 * Streamable HTTP) and directly over stdio, same server (server-everything `echo`), same client, same run; then
 * the memory of idle sessions. Loopback only, bounded in time.
 *
 *   node bench/gateway/run.ts            # prints the markdown section
 *   runGatewayBench() from bench/run.ts  # returns it
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { freePort } from '../../src/local-cluster/control-plane.ts';
import { type BenchClient, httpClient, idleSession, stdioClient } from './client.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = process.execPath;
const EVERYTHING = [NODE, join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
const SUPERGATEWAY = join(ROOT, 'node_modules/supergateway/dist/index.js');

export interface BenchOptions {
  concurrency?: number[];
  warmupMs?: number;
  measureMs?: number;
  idleSessions?: number[];
  /** Idle sessions to open on supergateway (each is a process there). */
  supergatewayIdleSessions?: number[];
  /** Alternating measurement rounds per concurrency level. */
  rounds?: number;
  log?: (line: string) => void;
}

interface Result {
  target: string;
  client: string;
  concurrency: number;
  calls: number;
  perSecond: number;
  p50: number;
  p99: number;
}

async function waitHttp(url: string, ok: (status: number) => boolean, timeoutMs = 30_000): Promise<void> {
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

interface Target {
  name: string;
  proc?: ChildProcess;
  endpoint?: string;
  stop(): Promise<void>;
}

async function stopProc(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  const timer = setTimeout(() => proc.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

async function startOurs(): Promise<Target> {
  const port = await freePort();
  const healthPort = await freePort();
  // Production settings: info-level logs, so the audit line per call is part of the measured cost.
  const proc = spawn(
    NODE,
    [
      join(ROOT, 'src/gateway/main.ts'),
      'stdio',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--health-port',
      String(healthPort),
      '--max-sessions',
      '2000',
      '--',
      ...EVERYTHING,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  await waitHttp(`http://127.0.0.1:${healthPort}/readyz`, (s) => s === 200);
  return { name: 'mcp-operator gateway', proc, endpoint: `http://127.0.0.1:${port}/mcp`, stop: () => stopProc(proc) };
}

async function startSupergateway(): Promise<Target> {
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
  return { name: 'supergateway 4.0.0', proc, endpoint: `http://127.0.0.1:${port}/mcp`, stop: () => stopProc(proc) };
}

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Runs `workers` loops of calls for warmup + measurement; each worker uses its own client. */
async function drive(clients: BenchClient[], warmupMs: number, measureMs: number) {
  const latencies: number[] = [];
  let measuring = false;
  let stop = false;
  const args = { message: 'benchmark payload' };
  const loops = clients.map(async (client) => {
    while (!stop) {
      const t = performance.now();
      await client.call('echo', args);
      if (measuring) latencies.push(performance.now() - t);
    }
  });
  await new Promise((r) => setTimeout(r, warmupMs));
  measuring = true;
  const start = performance.now();
  await new Promise((r) => setTimeout(r, measureMs));
  measuring = false;
  const elapsed = performance.now() - start;
  stop = true;
  await Promise.all(loops);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    latencies,
    elapsed,
    calls: latencies.length,
    perSecond: (latencies.length / elapsed) * 1000,
    p50: percentile(sorted, 0.5),
    p99: percentile(sorted, 0.99),
  };
}

/** The official SDK 1.x client, one session, sequential calls: what real applications see. */
async function driveSdk(endpoint: string | undefined, warmupMs: number, measureMs: number) {
  const client = new Client({ name: 'bench-sdk', version: '1.0.0' });
  await client.connect(
    endpoint
      ? new StreamableHTTPClientTransport(new URL(endpoint))
      : new StdioClientTransport({ command: EVERYTHING[0] as string, args: EVERYTHING.slice(1), stderr: 'ignore' }),
  );
  const r = await drive(
    [{ call: (name, args) => client.callTool({ name, arguments: args }), close: async () => {} }],
    warmupMs,
    measureMs,
  );
  await client.close();
  return r;
}

/** RSS in MB of a process and all its descendants (Linux /proc). */
export function treeRssMb(pid: number): number {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // gone
    }
  }
  let kb = 0;
  const visit = (p: number) => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p}/status`, 'utf8'));
      kb += Number(m?.[1] ?? 0);
    } catch {
      // gone
    }
    for (const c of children.get(p) ?? []) visit(c);
  };
  visit(pid);
  return kb / 1024;
}

function processRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** One 2026-07-28 request, so the modern leg (and the SDK behind it) is loaded before memory is measured. */
async function touchModern(endpoint: string): Promise<void> {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'server/discover',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'server/discover',
      params: {
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'bench', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    }),
  }).catch(() => undefined);
  await res?.body?.cancel();
}

async function idleRss(
  target: Target,
  sessions: number,
): Promise<{ sessions: number; rssMb: number; processMb: number }> {
  const open: Array<{ close(): void }> = [];
  // A few at a time: supergateway spawns a process per session.
  const batch = 10;
  for (let i = 0; i < sessions; i += batch) {
    const n = Math.min(batch, sessions - i);
    open.push(...(await Promise.all(Array.from({ length: n }, () => idleSession(target.endpoint as string)))));
  }
  await new Promise((r) => setTimeout(r, 1500));
  const rssMb = treeRssMb(target.proc?.pid as number);
  const processMb = processRssMb(target.proc?.pid as number);
  for (const s of open) s.close();
  await new Promise((r) => setTimeout(r, 1000));
  return { sessions, rssMb, processMb };
}

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

export async function runGatewayBench(options: BenchOptions = {}): Promise<string> {
  const concurrency = options.concurrency ?? [1, 8, 64];
  const warmupMs = options.warmupMs ?? 1000;
  const measureMs = options.measureMs ?? 4000;
  const idleCounts = options.idleSessions ?? [100, 1000];
  const sgIdle = options.supergatewayIdleSessions ?? [100];
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const rounds = options.rounds ?? 3;
  const results: Result[] = [];
  const started = Date.now();

  // Throughput and latency. The three targets run side by side and are measured in alternating rounds, so
  // load from other work on the machine hits them alike.
  const ours = await startOurs();
  const sgw = await startSupergateway();
  const direct = await stdioClient(EVERYTHING);
  try {
    for (const c of concurrency) {
      const oursClients: BenchClient[] = [];
      const sgClients: BenchClient[] = [];
      for (let i = 0; i < c; i++) {
        oursClients.push(await httpClient(ours.endpoint as string));
        sgClients.push(await httpClient(sgw.endpoint as string));
      }
      const directClients = Array.from({ length: c }, () => direct);
      const acc = new Map<string, number[][]>();
      const perRound = measureMs / rounds;
      for (let round = 0; round < rounds; round++) {
        for (const [name, clients] of [
          ['direct stdio', directClients],
          [ours.name, oursClients],
          [sgw.name, sgClients],
        ] as const) {
          const r = await drive(clients, round === 0 ? warmupMs : warmupMs / 4, perRound);
          const list = acc.get(name) ?? [];
          list.push(r.latencies);
          acc.set(name, list);
          const calls = acc.get(`${name}#calls`) ?? [];
          calls.push([r.calls, r.elapsed]);
          acc.set(`${name}#calls`, calls);
        }
      }
      for (const name of ['direct stdio', ours.name, sgw.name]) {
        const lat = (acc.get(name) ?? []).flat().sort((x, y) => x - y);
        let calls = 0;
        let elapsed = 0;
        for (const [n = 0, e = 0] of acc.get(`${name}#calls`) ?? []) {
          calls += n;
          elapsed += e;
        }
        const r = {
          calls: lat.length,
          perSecond: (calls / elapsed) * 1000,
          p50: percentile(lat, 0.5),
          p99: percentile(lat, 0.99),
        };
        results.push({ target: name, client: 'bench client', concurrency: c, ...r });
        log(`${name} c=${c}: ${f(r.perSecond)} calls/s p50 ${f(r.p50, 3)} ms p99 ${f(r.p99, 3)} ms`);
      }
      await Promise.all([...oursClients, ...sgClients].map((x) => x.close()));
    }
    // The official SDK client, one session, sequential calls.
    for (const [name, endpoint] of [
      ['direct stdio', undefined],
      [ours.name, ours.endpoint],
      [sgw.name, sgw.endpoint],
    ] as const) {
      const r = await driveSdk(endpoint, warmupMs, measureMs / 2);
      results.push({ target: name, client: 'SDK 1.x client', concurrency: 1, ...r });
      log(`${name} SDK client: ${f(r.perSecond)} calls/s p50 ${f(r.p50, 3)} ms`);
    }
  } finally {
    await direct.close();
    await ours.stop();
    await sgw.stop();
  }

  // Memory of idle sessions, on fresh instances (after a load test V8 keeps a larger heap for a while).
  const memory: Array<{ target: string; sessions: number; rssMb: number; processMb: number }> = [];
  for (const start of [startOurs, startSupergateway]) {
    const target = await start();
    try {
      const pid = target.proc?.pid as number;
      await new Promise((r) => setTimeout(r, 1000));
      memory.push({ target: target.name, sessions: 0, rssMb: treeRssMb(pid), processMb: processRssMb(pid) });
      for (const n of target.name.startsWith('supergateway') ? sgIdle : idleCounts) {
        const m = await idleRss(target, n);
        memory.push({ target: target.name, ...m });
        log(`${target.name} ${n} idle sessions: process ${f(m.processMb)} MB, tree ${f(m.rssMb)} MB`);
      }
      if (!target.name.startsWith('supergateway')) {
        await touchModern(target.endpoint as string);
        const n = idleCounts[idleCounts.length - 1] ?? 100;
        const m = await idleRss(target, n);
        memory.push({ target: `${target.name} (2026-07-28 leg loaded)`, ...m });
        log(`${target.name} ${n} idle sessions, modern leg loaded: process ${f(m.processMb)} MB`);
      }
    } finally {
      await target.stop();
    }
  }
  // Reference: what Node itself takes once it has loaded its TypeScript stripper (this repository runs .ts).
  {
    const ref = spawn(
      NODE,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(join(ROOT, 'src/gateway/jsonrpc.ts'))}); setTimeout(() => {}, 5000);`,
      ],
      { stdio: 'ignore' },
    );
    await new Promise((r) => setTimeout(r, 1500));
    memory.push({
      target: 'reference: bare node running one .ts module',
      sessions: 0,
      rssMb: Number.NaN,
      processMb: processRssMb(ref.pid as number),
    });
    await stopProc(ref);
  }

  const get = (target: string, c: number, client = 'bench client') =>
    results.find((r) => r.target === target && r.concurrency === c && r.client === client);
  const oursName = 'mcp-operator gateway';
  const sgName = 'supergateway 4.0.0';
  const lines: string[] = [];
  lines.push('## Gateway: tools/call round trip and idle-session memory');
  lines.push('');
  lines.push(
    `Command: \`node bench/gateway/run.ts\` (or \`npm run bench\`). Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, ` +
      `loopback only, ${new Date().toISOString().slice(0, 10)}. Server: @modelcontextprotocol/server-everything \`echo\`. ` +
      `Each cell: ${warmupMs / 1000} s warm-up, then ${measureMs / 1000} s measured in ${rounds} rounds that alternate between the three ` +
      'targets (all running side by side), so background load on the machine hits them alike. Our gateway runs with production settings ' +
      '(info logs: one audit line per call, metrics on); supergateway with `--stateful --outputTransport streamableHttp --logLevel none` ' +
      '(its quietest). "Bench client" is one minimal MCP client (bench/gateway/client.ts) used for all three targets: over ' +
      'HTTP each concurrent client has its own session and keep-alive connection; "direct stdio" is one server process ' +
      'with the same number of calls in flight on its pipe. Run time: RUNTIME.',
  );
  lines.push('');
  lines.push('| target | client | concurrency | calls/s | p50 ms | p99 ms |');
  lines.push('| --- | --- | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    lines.push(
      `| ${r.target} | ${r.client} | ${r.concurrency} | ${f(r.perSecond)} | ${f(r.p50, 3)} | ${f(r.p99, 3)} |`,
    );
  }
  lines.push('');
  lines.push('| ratio | concurrency | value | target |');
  lines.push('| --- | ---: | ---: | --- |');
  for (const c of concurrency) {
    const o = get(oursName, c);
    const s = get(sgName, c);
    const d = get('direct stdio', c);
    if (o && s) {
      const goal = c === 1 ? '≥ 4×' : c === 8 ? '≥ 3×' : '—';
      lines.push(`| ours / supergateway calls/s | ${c} | ${f(o.perSecond / s.perSecond, 2)}× | ${goal} |`);
      lines.push(`| ours / supergateway p99 | ${c} | ${f(o.p99 / s.p99, 2)} | ≤ 1 |`);
    }
    if (o && d) lines.push(`| ours − direct, p50 | ${c} | ${f(o.p50 - d.p50, 3)} ms | ${c === 1 ? '< 0.5 ms' : '—'} |`);
  }
  lines.push('');
  lines.push(
    '| target | idle sessions (handshake done, GET stream open) | gateway process RSS, MB | process tree RSS (with MCP server processes), MB |',
  );
  lines.push('| --- | ---: | ---: | ---: |');
  for (const m of memory) lines.push(`| ${m.target} | ${m.sessions} | ${f(m.processMb)} | ${f(m.rssMb)} |`);
  lines.push('');
  lines.push(
    `supergateway's stateful mode spawns one server process per session, so its idle-session memory is measured at ${sgIdle.join(', ')} ` +
      'sessions only (1,000 would mean 1,000 node processes).',
  );
  const runtime = `${Math.round((Date.now() - started) / 1000)} s`;
  return `${lines.join('\n').replace('RUNTIME', runtime)}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.stdout.write(await runGatewayBench());
}
