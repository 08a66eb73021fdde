/**
 * The aggregate gateway (a VirtualMcpServer's pod) against its peer, the McpServer's own gateway reached
 * straight: tools/call through `gateway aggregate` -> backend gateway -> server-everything vs. straight to the
 * backend gateway, in alternating rounds at 1 and 8 clients (added p50, calls/s ratio); tools/list through an
 * aggregate of 20 backends x 50 tools; memory per idle session of the aggregate.
 * Run: `npm run bench -- virtual` (or `node bench/virtual.ts` to print the section only).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { type BenchClient, httpClient, idleSession } from './gateway/client.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE = join(ROOT, 'node_modules/.bin/node');
const MAIN = join(ROOT, 'src/gateway/main.ts');
const EVERYTHING = [NODE, join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Gw {
  proc: ChildProcess;
  url: string;
}

/** A real gateway process; resolves once it listens and /readyz answers 200. */
async function gateway(args: string[]): Promise<Gw> {
  // spawns: node (the gateway under the project's Node)
  const proc = spawn(NODE, [MAIN, ...args], {
    env: {
      ...process.env,
      MCP_GATEWAY_HOST: '127.0.0.1',
      MCP_GATEWAY_PORT: '0',
      MCP_GATEWAY_HEALTH_PORT: '0',
      MCP_GATEWAY_LOG_LEVEL: 'warn',
      MCP_GATEWAY_MAX_SESSIONS: '5000',
      MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT: '5000',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ports = await new Promise<{ port: number; healthPort: number }>((resolve, reject) => {
    let buf = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) {
        if (line.includes('"gateway listening"')) resolve(JSON.parse(line));
      }
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  for (let i = 0; i < 600; i++) {
    const ok = await fetch(`http://127.0.0.1:${ports.healthPort}/readyz`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) break;
    await sleep(50);
  }
  return { proc, url: `http://127.0.0.1:${ports.port}/mcp` };
}

async function stop(gw: Gw): Promise<void> {
  gw.proc.kill('SIGTERM');
  await new Promise((r) => gw.proc.once('exit', r));
}

function backendsFile(dir: string, backends: Array<{ name: string; url: string; prefix?: string }>): string {
  const path = join(dir, 'backends.json');
  const list = backends.map((b) => ({ ...b, transport: 'streamable-http' }));
  writeFileSync(path, JSON.stringify({ version: 1, backends: list }));
  return path;
}

/** Waits until the aggregate lists `count` tools (every backend connected and read). */
async function listed(url: string, count: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    if ((await listTools(url)) >= count) return;
    await sleep(100);
  }
  throw new Error(`the aggregate never listed ${count} tools`);
}

/** One stateless-looking tools/list: a sessionless 2025 POST (the gateway answers it as a one-shot). */
async function listTools(url: string): Promise<number> {
  const res = await fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-11-25',
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }),
  });
  const text = await res.text();
  const json = text.startsWith('{') ? text : (/^data: (.*)$/m.exec(text)?.[1] ?? '{}');
  return ((JSON.parse(json) as { result?: { tools?: unknown[] } }).result?.tools ?? []).length;
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;

async function drive(clients: BenchClient[], ms: number, latencies: number[]): Promise<number> {
  let stopAt = false;
  let calls = 0;
  const loops = clients.map(async (c) => {
    while (!stopAt) {
      const t = performance.now();
      await c.call('echo', { message: 'benchmark payload' });
      latencies.push(performance.now() - t);
      calls++;
    }
  });
  await sleep(ms);
  stopAt = true;
  await Promise.all(loops);
  return calls;
}

/** Alternating rounds, aggregate and direct, the order rotating: p50 and calls/s over all rounds. */
async function callRounds(targets: Record<string, string>, clients: number, rounds: number, ms: number) {
  const opened: Record<string, BenchClient[]> = {};
  for (const [name, url] of Object.entries(targets)) {
    opened[name] = await Promise.all(Array.from({ length: clients }, () => httpClient(url)));
    await drive(opened[name], 500, []);
  }
  const acc: Record<string, { lat: number[]; calls: number; ms: number }> = {};
  const names = Object.keys(targets);
  for (let r = 0; r < rounds; r++) {
    for (const name of r % 2 === 0 ? names : [...names].reverse()) {
      const a = acc[name] ?? { lat: [], calls: 0, ms: 0 };
      acc[name] = a;
      const t = performance.now();
      a.calls += await drive(opened[name] as BenchClient[], ms, a.lat);
      a.ms += performance.now() - t;
    }
  }
  for (const list of Object.values(opened)) await Promise.all(list.map((c) => c.close()));
  const out: Record<string, { p50: number; perSecond: number }> = {};
  for (const [name, a] of Object.entries(acc)) {
    out[name] = {
      p50: percentile(
        a.lat.sort((x, y) => x - y),
        0.5,
      ),
      perSecond: (a.calls / a.ms) * 1000,
    };
  }
  return out;
}

/** One process serving any number of MCP endpoints (/b<i>/mcp) of `tools` tools each (stateless SDK servers). */
async function manyBackends(tools: number): Promise<{ port: number; close(): void }> {
  const server = createServer(async (req, res) => {
    const mcp = new McpServer({ name: 'many', version: '1' });
    for (let j = 0; j < tools; j++) {
      mcp.registerTool(`tool_${j}`, { description: `tool ${j} of ${req.url}` }, async () => ({ content: [] }));
    }
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, close: () => server.close() };
}

const rssMb = (pid: number) =>
  Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

export async function virtualSection(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-virtual-'));
  const backend = await gateway(['stdio', '--', ...EVERYTHING]);
  const file = backendsFile(dir, [{ name: 'everything', url: backend.url }]);
  const aggregate = await gateway(['aggregate', '--backends-file', file]);
  await listed(aggregate.url, 1);
  const rows: string[] = [];
  for (const clients of [1, 8]) {
    const r = await callRounds({ aggregate: aggregate.url, direct: backend.url }, clients, 6, 1500);
    const a = r.aggregate as { p50: number; perSecond: number };
    const d = r.direct as { p50: number; perSecond: number };
    console.error(`tools/call x${clients}: aggregate ${a.p50.toFixed(2)} ms, direct ${d.p50.toFixed(2)} ms`);
    rows.push(
      `| ${clients} | ${d.p50.toFixed(2)} | ${a.p50.toFixed(2)} | +${(a.p50 - d.p50).toFixed(2)} | ${d.perSecond.toFixed(0)} | ${a.perSecond.toFixed(0)} | ${(a.perSecond / d.perSecond).toFixed(2)} |`,
    );
  }
  // Memory per idle session (handshake done, GET stream open), 500 sessions.
  const n = 500;
  await sleep(2000);
  const before = rssMb(aggregate.proc.pid as number);
  const sessions: Array<{ close(): void }> = [];
  for (let i = 0; i < n; i += 50) {
    sessions.push(...(await Promise.all(Array.from({ length: 50 }, () => idleSession(aggregate.url)))));
  }
  await sleep(2000);
  const after = rssMb(aggregate.proc.pid as number);
  for (const s of sessions) s.close();
  await stop(aggregate);

  const many = await manyBackends(50);
  const manyFile = backendsFile(
    dir,
    Array.from({ length: 20 }, (_, i) => ({
      name: `b${i}`,
      url: `http://127.0.0.1:${many.port}/b${i}/mcp`,
      prefix: `b${i}`,
    })),
  );
  const wide = await gateway(['aggregate', '--backends-file', manyFile]);
  await listed(wide.url, 1000);
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    await listTools(wide.url);
    lat.push(performance.now() - t);
  }
  lat.sort((x, y) => x - y);
  await stop(wide);
  many.close();
  await stop(backend);

  return [
    '## Virtual server: the aggregate gateway vs the McpServer straight',
    '',
    `Command: \`npm run bench -- virtual\` (bench/virtual.ts). ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, loopback. Backend: \`gateway stdio -- server-everything\`; aggregate: \`gateway aggregate\` over it; the same minimal Streamable HTTP client (one session per client, keep-alive) calls \`echo\` through each in 6 alternating rounds of 1.5 s.`,
    '',
    '| clients | direct p50, ms | aggregate p50, ms | added p50, ms | direct calls/s | aggregate calls/s | ratio |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `tools/list through an aggregate of 20 backends x 50 tools (1000 exposed, prefixed names; answered from the merged view, which is rebuilt only when a backend's lists change): p50 ${percentile(lat, 0.5).toFixed(2)} ms, p99 ${percentile(lat, 0.99).toFixed(2)} ms over 200 sessionless requests.`,
    '',
    `Memory per idle 2025 session of the aggregate (handshake done, GET stream open): ${(((after - before) * 1024) / n).toFixed(0)} KB (${n} sessions, RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB).`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await virtualSection());
  process.exit(0);
}
