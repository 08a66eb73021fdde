/**
 * How the virtual bench measures beyond bench/gateway/measure.ts: CPU per call of each gateway process from /proc,
 * RSS per idle session, a V8 CPU profile broken down by part, and the spread of a ratio over the rounds.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type BenchClient, idleSession } from './gateway/client.ts';
import { type Alternated, processRssMb } from './gateway/measure.ts';
import type { Target } from './gateway/targets.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

/** Each round's a/b ratio of a figure, as "[min to max]" over the rounds. */
export function spread(
  a: Alternated,
  b: Alternated,
  figure: (r: Alternated['rounds'][number]) => number,
  d: number,
): string {
  return range(
    a.rounds.map((r, i) => figure(r) / figure(b.rounds[i] as Alternated['rounds'][number])),
    d,
  );
}

export function range(values: number[], d: number): string {
  const sorted = [...values].sort((x, y) => x - y);
  return `[${f(sorted[0] ?? Number.NaN, d)} to ${f(sorted[sorted.length - 1] ?? Number.NaN, d)}]`;
}

/** CPU time (user + system, ms) a process has used, from /proc (10 ms ticks). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/**
 * CPU per call of each gateway process, which the machine's load skews far less than latency: per target,
 * `calls` calls spread over its clients, in alternating rounds; the CPU each process used divided by the calls.
 */
export async function cpuPerCall(
  order: Array<[string, BenchClient[]]>,
  pids: Record<string, number>,
  calls: number,
  rounds: number,
): Promise<Map<string, Record<string, number>>> {
  const used = new Map<string, Record<string, number>>();
  for (let round = 0; round < rounds; round++) {
    const rotated = [...order.slice(round % order.length), ...order.slice(0, round % order.length)];
    for (const [name, clients] of rotated) {
      const before = Object.fromEntries(Object.entries(pids).map(([p, pid]) => [p, cpuMs(pid)]));
      let left = calls;
      await Promise.all(
        clients.map(async (c) => {
          while (left-- > 0) await c.call('echo', { message: 'benchmark payload' });
        }),
      );
      const acc = used.get(name) ?? {};
      for (const [p, pid] of Object.entries(pids)) acc[p] = (acc[p] ?? 0) + cpuMs(pid) - (before[p] as number);
      used.set(name, acc);
    }
  }
  for (const acc of used.values())
    for (const p of Object.keys(acc)) acc[p] = ((acc[p] as number) * 1000) / (calls * rounds);
  return used;
}

/** RSS before and after opening `n` idle sessions (handshake done, GET stream open), 50 at a time. */
export async function perSession(target: Target, n: number): Promise<{ before: number; after: number; kb: number }> {
  const pid = target.proc?.pid as number;
  await sleep(2000);
  const before = processRssMb(pid);
  const open: Array<{ close(): void }> = [];
  try {
    for (let i = 0; i < n; i += 50) {
      const batch = Math.min(50, n - i);
      open.push(...(await Promise.all(Array.from({ length: batch }, () => idleSession(target.endpoint as string)))));
    }
    await sleep(2000);
    const after = processRssMb(pid);
    return { before, after, kb: ((after - before) * 1024) / n };
  } finally {
    for (const s of open) s.close();
  }
}

/** The parts of the gateway a profile sample is counted in, by its frames' URLs (startup first). */
export const PARTS: Array<[string, (url: string) => boolean]> = [
  ['startup', (u) => u.includes('internal/modules/') || u.includes('internal/main/')],
  ['backend leg: fetch (undici)', (u) => u.includes('undici')],
  [
    "backend leg: the SDK's StreamableHTTPClientTransport",
    (u) => u.includes('sdk/dist/esm/client/') || u.includes('sdk/dist/esm/shared/transport'),
  ],
  [
    'logging, audit, metrics',
    (u) => /pino|sonic-boom|prom-client|observability\/|gateway\/(audit|metrics)\.ts/.test(u),
  ],
  [
    'front: HTTP, sessions, streams (as in every gateway)',
    (u) => /gateway\/http\/|_http_(server|outgoing|incoming)/.test(u),
  ],
  ['mux, routing, aggregate, upstream', (u) => /gateway\/(mux|aggregate|upstream)\//.test(u)],
];

/** The aggregate's CPU per call by part, from its V8 CPU profile (idle and startup left out). */
export function cpuBreakdown(profDir: string, calls: number): Array<{ part: string; usPerCall: number }> {
  const file = readdirSync(profDir).find((n) => n.endsWith('.cpuprofile'));
  if (!file) throw new Error(`the profiled aggregate wrote no profile into ${profDir}`);
  const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string }; children?: number[] }>;
    samples: number[];
    timeDeltas: number[];
  };
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const us = new Map<string, number>();
  profile.samples.forEach((leaf, i) => {
    const name = byId.get(leaf)?.callFrame.functionName;
    if (name === '(idle)') return;
    const urls: string[] = [];
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id))
      urls.push(byId.get(id)?.callFrame.url ?? '');
    // Startup anywhere in the stack; otherwise the frame nearest the leaf that is in a known part.
    const [startup, ...parts] = PARTS;
    const inPart = (url: string) => parts.find(([, test]) => test(url))?.[0];
    const nearest = urls.map(inPart).find((p) => p !== undefined);
    const part =
      name === '(garbage collector)'
        ? 'GC'
        : startup && urls.some(startup[1])
          ? 'startup'
          : (nearest ?? 'other (V8, Node internals)');
    us.set(part, (us.get(part) ?? 0) + (profile.timeDeltas[i] ?? 0));
  });
  us.delete('startup');
  return [...us].sort((a, b) => b[1] - a[1]).map(([part, total]) => ({ part, usPerCall: total / calls }));
}
