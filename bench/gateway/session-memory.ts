/**
 * Memory per session of the real gateway (node src/gateway/main.ts in front of server-everything), the figure the
 * default session limits are sized from: a fresh gateway per kind of session, RSS before and after opening N.
 * Kinds: an abandoned handshake (one initialize POST, nothing after), an idle 2025 session as SDK clients leave
 * it (handshake done, GET stream open), an idle legacy SSE session (stream open, handshake done).
 * Run: `npm run bench -- sessions` (or `node bench/gateway/session-memory.ts [N]` to print the section only).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, type IncomingMessage, request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NODE = join(ROOT, 'node_modules/.bin/node');
const EVERYTHING = [NODE, join(ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js'), 'stdio'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0) / 1024;
}

interface Exchange {
  res: IncomingMessage;
  body: Promise<string>;
}

function send(port: number, method: string, path: string, headers: Record<string, string>, body?: string) {
  return new Promise<Exchange>((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      const done = new Promise<string>((r) => {
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => r(Buffer.concat(chunks).toString('utf8')));
        res.on('close', () => r(Buffer.concat(chunks).toString('utf8')));
      });
      resolve({ res, body: done });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const INIT = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'bench', version: '1' } },
});
const INITIALIZED = JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' });

async function abandonedHandshake(port: number): Promise<void> {
  const r = await send(port, 'POST', '/mcp', JSON_HEADERS, INIT);
  await r.body;
}

async function idleStreamable(port: number): Promise<void> {
  const init = await send(port, 'POST', '/mcp', JSON_HEADERS, INIT);
  await init.body;
  const sid = init.res.headers['mcp-session-id'] as string;
  const headers = { ...JSON_HEADERS, 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' };
  await (await send(port, 'POST', '/mcp', headers, INITIALIZED)).body;
  await send(port, 'GET', '/mcp', { accept: 'text/event-stream', 'mcp-session-id': sid }); // held open
}

async function idleSse(port: number): Promise<void> {
  // The stream is held open; its first event names the endpoint to post to.
  const endpoint = await new Promise<string>((resolve, reject) => {
    const req = request({ agent, host: '127.0.0.1', port, path: '/sse', headers: { accept: 'text/event-stream' } });
    req.on('response', (res) => {
      let buf = '';
      const onData = (c: Buffer) => {
        buf += c.toString('utf8');
        const m = /event: endpoint\ndata: (\S+)\n\n/.exec(buf);
        if (m) {
          res.off('data', onData);
          res.resume();
          resolve(m[1] as string);
        }
      };
      res.on('data', onData);
    });
    req.on('error', reject);
    req.end();
  });
  await (await send(port, 'POST', endpoint, JSON_HEADERS, INIT)).body;
  await (await send(port, 'POST', endpoint, JSON_HEADERS, INITIALIZED)).body;
}

const KINDS: Record<string, (port: number) => Promise<void>> = {
  'abandoned handshake (initialize only)': abandonedHandshake,
  'idle 2025 session (handshake done, GET stream open)': idleStreamable,
  'idle legacy SSE session (stream open, handshake done)': idleSse,
};

async function measure(open: (port: number) => Promise<void>, n: number) {
  const proc = spawn(
    NODE,
    [
      join(ROOT, 'src/gateway/main.ts'),
      'stdio',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--health-port',
      '0',
      '--max-sessions',
      String(n * 2),
      '--max-sessions-per-client',
      String(n * 2),
      '--handshake-timeout',
      '1h',
      '--',
      ...EVERYTHING,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve) => {
    let buf = '';
    proc.stdout?.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const m = /"port":(\d+)/.exec(buf);
      if (m) resolve(Number(m[1]));
    });
  });
  proc.stdout?.resume();
  await sleep(3000); // the server starts and the gateway settles
  const before = rssMb(proc.pid as number);
  for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: Math.min(50, n - i) }, () => open(port)));
  await sleep(3000);
  const after = rssMb(proc.pid as number);
  proc.kill('SIGKILL');
  return { before, after, perSessionKb: ((after - before) * 1024) / n };
}

export async function sessionMemorySection(n = 1000): Promise<string> {
  const rows: string[] = [];
  const perKb: number[] = [];
  for (const [kind, open] of Object.entries(KINDS)) {
    const m = await measure(open, n);
    perKb.push(m.perSessionKb);
    console.error(`${kind}: ${m.before.toFixed(0)} -> ${m.after.toFixed(0)} MB, ${m.perSessionKb.toFixed(0)} KB each`);
    rows.push(`| ${kind} | ${n} | ${m.before.toFixed(0)} | ${m.after.toFixed(0)} | ${m.perSessionKb.toFixed(0)} |`);
  }
  return [
    '## Gateway: memory per session (sizes the session limits)',
    '',
    `Command: \`npm run bench -- sessions\` (bench/gateway/session-memory.ts). ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, loopback. A fresh \`node src/gateway/main.ts stdio -- server-everything\` per row (shared mode); gateway process RSS 3 s after start and 3 s after opening the sessions (50 at a time, one connection each).`,
    '',
    '| session kind | sessions | RSS before, MB | RSS after, MB | per session, KB |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `Sizing (src/gateway/config.ts): at the costliest kind measured here, ${Math.max(...perKb).toFixed(0)} KB, the shared-mode default of 1000 sessions takes about ${((Math.max(...perKb) * 1000) / 1024).toFixed(0)} MB, a tenth of the 512 Mi the operator gives the server container by default (gateway and server share it); 100 per client. Sessions that buffer events for resumption use more, bounded per session by the event store (512 events, 4 MiB).`,
  ].join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await sessionMemorySection(Number(process.argv[2] ?? 1000)));
  agent.destroy();
  process.exit(0);
}
