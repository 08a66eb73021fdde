/**
 * How the gateway bench measures: clients driven for a time, targets alternated in rounds, CPU ticks from
 * /proc/stat, and the RSS of a process (tree) while idle sessions are held open (bench/gateway/run.ts).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type BenchClient, idleSession } from './client.ts';
import { EVERYTHING, type Target } from './targets.ts';

/** Aggregate CPU ticks from /proc/stat: total and steal (time the hypervisor gave this VM's CPUs to others). */
export function cpuTicks(): { total: number; steal: number } {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), steal: fields[7] ?? 0 };
  } catch {
    return { total: 0, steal: 0 };
  }
}

export function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

/** Runs `workers` loops of calls for warmup + measurement; each worker uses its own client. */
export async function drive(clients: BenchClient[], warmupMs: number, measureMs: number) {
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
export async function sdkClient(endpoint: string | undefined): Promise<BenchClient> {
  const client = new Client({ name: 'bench-sdk', version: '1.0.0' });
  await client.connect(
    endpoint
      ? new StreamableHTTPClientTransport(new URL(endpoint))
      : new StdioClientTransport({ command: EVERYTHING[0] as string, args: EVERYTHING.slice(1), stderr: 'ignore' }),
  );
  return { call: (name, args) => client.callTool({ name, arguments: args }), close: () => client.close() };
}

/** One target's figures over all rounds, and each round's alone (its spread). */
export interface Alternated {
  calls: number;
  perSecond: number;
  p50: number;
  p99: number;
  rounds: Array<{ perSecond: number; p50: number }>;
}

/**
 * Measures each target's clients in `rounds` alternating rounds of `measureMs` each (the first with the full
 * warm-up, the order rotating), so load from other work on the machine hits every target alike; percentiles over
 * all rounds' calls, and each round's calls/s for ratios paired by round (pairedRatio).
 */
export async function alternate(
  order: Array<[string, BenchClient[]]>,
  rounds: number,
  warmupMs: number,
  measureMs: number,
): Promise<Map<string, Alternated>> {
  const acc = new Map<
    string,
    { latencies: number[][]; calls: number; elapsed: number; rounds: Alternated['rounds'] }
  >();
  for (let round = 0; round < rounds; round++) {
    // Each round starts with a different target, so none always runs right after the same neighbour.
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const [name, list] of rotated) {
      const r = await drive(list, round === 0 ? warmupMs : warmupMs / 4, measureMs);
      const a = acc.get(name) ?? { latencies: [], calls: 0, elapsed: 0, rounds: [] };
      a.latencies.push(r.latencies);
      a.calls += r.calls;
      a.elapsed += r.elapsed;
      a.rounds.push({ perSecond: r.perSecond, p50: r.p50 });
      acc.set(name, a);
    }
  }
  const out = new Map<string, Alternated>();
  for (const [name, a] of acc) {
    const lat = a.latencies.flat().sort((x, y) => x - y);
    out.set(name, {
      calls: lat.length,
      perSecond: (a.calls / a.elapsed) * 1000,
      p50: percentile(lat, 0.5),
      p99: percentile(lat, 0.99),
      rounds: a.rounds,
    });
  }
  return out;
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

export function processRssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return Number(m?.[1] ?? 0) / 1024;
  } catch {
    return Number.NaN;
  }
}

/** One 2026-07-28 request, so the modern leg (and the SDK behind it) is loaded before memory is measured. */
export async function touchModern(endpoint: string): Promise<void> {
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

export async function idleRss(
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
