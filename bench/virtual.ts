/**
 * The aggregate gateway (a VirtualMcpServer's pod) against its peer, the McpServer's own gateway reached
 * straight. Every target is a real process on loopback, measured side by side in alternating rounds
 * (bench/gateway/run.ts `alternate`), figures as ratios with their spread over the rounds:
 * - tools/call: `gateway aggregate` -> `gateway stdio` -> server-everything vs. straight to that `gateway stdio`
 *   (the McpServer's Service), at 1 and 8 clients: added p50 and the calls/s ratio, the CPU per call of each
 *   gateway process (/proc), and a V8 profile of one more aggregate broken down by part (where the time goes);
 * - tools/list: an aggregate of 20 backends x 50 tools vs. one `gateway stdio` whose server lists the same 1000
 *   tools (same names, same descriptions, so the same answer);
 * - memory: RSS per idle session of a fresh aggregate, beside a fresh `gateway stdio`.
 *
 * Bounded: every process it starts is in its own process group, registered as it is spawned and killed at the
 * end, on failure, on SIGINT/SIGTERM and at process exit; an overall deadline kills them all and fails the run.
 *
 *   npm run bench -- virtual                                    # rewrites its section of bench/RESULTS.md
 *   node bench/virtual.ts [--runtime bundled|source] [--binary PATH] [--deadline 12m]   # prints the section
 * Its MCP servers and processes are bench/virtual-servers.ts; what it measures beyond the gateway bench,
 * bench/virtual-measure.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BenchClient, httpClient } from './gateway/client.ts';
import { type Alternated, alternate, cpuTicks } from './gateway/measure.ts';
import { buildBundled, EVERYTHING, type Runtime, startGateway, type Target } from './gateway/targets.ts';
import { cpuBreakdown, cpuPerCall, perSession, range, spread } from './virtual-measure.ts';
import { Processes, SERVERS, startHttpBackends } from './virtual-servers.ts';

const NODE = process.execPath;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : 'n/a');

export interface VirtualBenchOptions {
  /** Both gateways as the bundled runtime (`mcp-gateway`, default) or as `node src/gateway/main.ts`. */
  runtime?: Runtime;
  /** A prebuilt bundled runtime; without it one is built into a temporary directory. */
  binary?: string;
  rounds?: number;
  /** tools/call: measured time per target per concurrency, split over the rounds. */
  callMs?: number;
  /** tools/list: the same. */
  listMs?: number;
  warmupMs?: number;
  backends?: number;
  toolsPerBackend?: number;
  sessions?: number;
  /** Calls per target and round for the CPU-per-call figure. */
  cpuCalls?: number;
  /** Calls through the profiled aggregate. */
  profileCalls?: number;
  /** The whole run: past it every process is killed and the run fails. */
  deadlineMs?: number;
  log?: (line: string) => void;
}

// ---- measuring -------------------------------------------------------------------------------------------------

type HttpBenchClient = Awaited<ReturnType<typeof httpClient>>;

const toolsOf = (result: unknown) => ((result as { tools?: Array<{ name: string }> }).tools ?? []).map((t) => t.name);

/** Polls tools/list in one session until it holds `want` tools (every backend connected and read). */
async function untilListed(endpoint: string, want: number, timeoutMs = 60_000): Promise<string[]> {
  const client = await httpClient(endpoint);
  try {
    const end = Date.now() + timeoutMs;
    let names: string[] = [];
    while (Date.now() < end) {
      names = toolsOf(await client.rpc('tools/list', {}));
      if (names.length >= want) return names;
      await sleep(100);
    }
    throw new Error(`${endpoint} listed ${names.length} tools after ${timeoutMs / 1000} s, not ${want}`);
  } finally {
    await client.close();
  }
}

interface Figures {
  /** The profiled aggregate's CPU per call by part. */
  profile: Array<{ part: string; usPerCall: number }>;
  call: Array<{
    clients: number;
    aggregate: Alternated;
    direct: Alternated;
    /** Per target: microseconds of CPU per call of the aggregate process and of the backend gateway process. */
    cpu: { aggregate: Record<string, number>; direct: Record<string, number> };
  }>;
  list: { aggregate: Alternated; straight: Alternated; tools: number };
  memory: Array<{ target: string; before: number; after: number; kb: number }>;
}

async function measure(
  o: Required<Omit<VirtualBenchOptions, 'binary'>> & { binary?: string },
  procs: Processes,
  dir: string,
) {
  const { log } = o;
  const targets: Target[] = [];
  const gateway = async (name: string, mode: [string, ...string[]]) => {
    const t = await startGateway({
      runtime: o.runtime,
      binary: o.binary,
      name,
      mode,
      detached: true,
      onSpawn: procs.add,
    });
    targets.push(t);
    return t;
  };
  const stopTarget = async (t: Target) => {
    targets.splice(targets.indexOf(t), 1);
    await t.stop();
  };
  const backendsFile = (name: string, list: Array<{ name: string; url: string; prefix?: string }>) => {
    const path = join(dir, name);
    const backends = list.map((b) => ({ ...b, transport: 'streamable-http' }));
    writeFileSync(path, JSON.stringify({ version: 1, backends }));
    return path;
  };
  const figures: Figures = {
    profile: [],
    call: [],
    list: { aggregate: {}, straight: {} } as Figures['list'],
    memory: [],
  };
  const opened: BenchClient[] = [];
  try {
    // tools/call: the McpServer's gateway, and an aggregate whose one backend it is.
    log('virtual: starting the backend gateway (server-everything) and the aggregate over it');
    const backend = await gateway('backend gateway', ['stdio', '--', ...EVERYTHING]);
    const file = backendsFile('one.json', [{ name: 'everything', url: backend.endpoint as string }]);
    const aggregate = await gateway('aggregate', ['aggregate', '--backends-file', file]);
    const names = await untilListed(aggregate.endpoint as string, 1);
    if (!names.includes('echo')) throw new Error(`the aggregate lists no echo tool: ${names.join(', ')}`);
    for (const clients of [1, 8]) {
      const open = async (endpoint: string) => {
        const list = await Promise.all(Array.from({ length: clients }, () => httpClient(endpoint)));
        opened.push(...list);
        return list;
      };
      const order: Array<[string, BenchClient[]]> = [
        ['aggregate', await open(aggregate.endpoint as string)],
        ['direct', await open(backend.endpoint as string)],
      ];
      const echoed = await order[0]?.[1][0]?.call('echo', { message: 'through the aggregate' });
      if (!JSON.stringify(echoed).includes('through the aggregate')) {
        throw new Error(`echo through the aggregate answered ${JSON.stringify(echoed)}`);
      }
      log(`virtual: tools/call, ${clients} client(s), ${o.rounds} alternating rounds`);
      const r = await alternate(order, o.rounds, o.warmupMs, o.callMs);
      const a = r.get('aggregate') as Alternated;
      const d = r.get('direct') as Alternated;
      const pids = { aggregate: aggregate.proc?.pid as number, gateway: backend.proc?.pid as number };
      const cpu = await cpuPerCall(order, pids, o.cpuCalls, 4);
      const cpuOf = (name: string) => cpu.get(name) as Record<string, number>;
      figures.call.push({
        clients,
        aggregate: a,
        direct: d,
        cpu: { aggregate: cpuOf('aggregate'), direct: cpuOf('direct') },
      });
      log(`  CPU per call, us: ${JSON.stringify(Object.fromEntries(cpu))}`);
      log(
        `  aggregate ${f(a.perSecond)} calls/s p50 ${f(a.p50, 3)} ms; direct ${f(d.perSecond)} calls/s p50 ${f(d.p50, 3)} ms`,
      );
      for (const [, list] of order) for (const c of list) await c.close();
      opened.length = 0;
    }
    await stopTarget(aggregate);

    // Where the aggregate's CPU goes: a profiled aggregate (sources, so frames name their modules) over the same
    // backend, 8 clients.
    log(`virtual: profiling an aggregate for ${o.profileCalls} calls`);
    const profDir = join(dir, 'profile');
    const profiled = await startGateway({
      runtime: 'source',
      name: 'profiled aggregate',
      mode: ['aggregate', '--backends-file', file],
      detached: true,
      onSpawn: procs.add,
      env: { NODE_OPTIONS: `--cpu-prof --cpu-prof-dir=${profDir}` },
    });
    targets.push(profiled);
    await untilListed(profiled.endpoint as string, 1);
    const profClients = await Promise.all(Array.from({ length: 8 }, () => httpClient(profiled.endpoint as string)));
    opened.push(...profClients);
    let left = o.profileCalls;
    await Promise.all(
      profClients.map(async (c) => {
        while (left-- > 0) await c.call('echo', { message: 'benchmark payload' });
      }),
    );
    for (const c of profClients) await c.close();
    opened.length = 0;
    await stopTarget(profiled); // the profile is written as it exits
    figures.profile = cpuBreakdown(profDir, o.profileCalls);
    await stopTarget(backend);

    // tools/list: 20 backends x 50 tools behind one aggregate vs the same 1000 tools from one server, straight.
    const total = o.backends * o.toolsPerBackend;
    log(
      `virtual: starting ${o.backends} HTTP backends x ${o.toolsPerBackend} tools, the aggregate, the straight gateway`,
    );
    const port = await startHttpBackends(procs, o.backends, o.toolsPerBackend);
    const wideFile = backendsFile(
      'wide.json',
      Array.from({ length: o.backends }, (_, i) => ({
        name: `b${i}`,
        url: `http://127.0.0.1:${port}/b${i}/mcp`,
        prefix: `b${i}`,
      })),
    );
    const straightMode: [string, ...string[]] = [
      'stdio',
      '--',
      NODE,
      SERVERS,
      '--serve-stdio',
      String(o.backends),
      String(o.toolsPerBackend),
    ];
    const wide = await gateway('aggregate', ['aggregate', '--backends-file', wideFile]);
    const straight = await gateway('straight gateway', straightMode);
    const wideNames = await untilListed(wide.endpoint as string, total);
    const straightNames = await untilListed(straight.endpoint as string, total);
    if (wideNames.join() !== straightNames.join()) {
      throw new Error('the aggregate and the straight gateway list different tools: the comparison would be unfair');
    }
    const lister = async (endpoint: string): Promise<BenchClient> => {
      const c: HttpBenchClient = await httpClient(endpoint);
      opened.push(c);
      return { call: () => c.rpc('tools/list', {}), close: () => c.close() };
    };
    log(`virtual: tools/list of ${total} tools, ${o.rounds} alternating rounds`);
    const lists = await alternate(
      [
        ['aggregate', [await lister(wide.endpoint as string)]],
        ['straight', [await lister(straight.endpoint as string)]],
      ],
      o.rounds,
      o.warmupMs,
      o.listMs,
    );
    for (const c of opened) await c.close();
    opened.length = 0;
    figures.list = {
      aggregate: lists.get('aggregate') as Alternated,
      straight: lists.get('straight') as Alternated,
      tools: total,
    };
    log(`  aggregate p50 ${f(figures.list.aggregate.p50, 2)} ms; straight p50 ${f(figures.list.straight.p50, 2)} ms`);
    await stopTarget(wide);
    await stopTarget(straight);

    // Memory per idle session, on fresh processes (after load V8 keeps a larger heap for a while).
    for (const [name, mode] of [
      ['aggregate (20 backends x 50 tools)', ['aggregate', '--backends-file', wideFile]],
      ['straight gateway (one server, 1000 tools)', straightMode],
    ] as Array<[string, [string, ...string[]]]>) {
      log(`virtual: ${o.sessions} idle sessions on a fresh ${name}`);
      const t = await gateway(name, mode);
      await untilListed(t.endpoint as string, total);
      const m = await perSession(t, o.sessions);
      figures.memory.push({ target: name, ...m });
      log(`  ${f(m.before)} -> ${f(m.after)} MB, ${f(m.kb)} KB per session`);
      await stopTarget(t);
    }
    return figures;
  } finally {
    await Promise.all(opened.map((c) => c.close().catch(() => {})));
    await Promise.all(targets.map((t) => t.stop()));
  }
}

function section(o: VirtualBenchOptions & { rounds: number }, x: Figures, run: string): string {
  const forms =
    o.runtime === 'source'
      ? 'both gateways run from the TypeScript sources (`node src/gateway/main.ts`)'
      : 'both gateways are the bundled runtime (`mcp-gateway`, built by `gateway build-runtime` at the start; its aggregate mode is the same `runGateway` the image runs as `mcp-operator gateway aggregate`)';
  const lines = [
    '## Virtual server: the aggregate gateway vs the McpServer straight',
    '',
    `Command: \`flock -w 1800 /work/bench.lock ./node_modules/.bin/node bench/run.ts virtual\` (the same as \`npm run bench -- virtual\`; bench/virtual.ts). ${new Date().toISOString().slice(0, 10)}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, loopback only; ${forms}; production settings (info logs, one audit line per call). The targets run side by side and are measured in ${o.rounds} alternating rounds (the order rotating; bench/gateway/run.ts \`alternate\`), so load from other work hits them alike. Each figure is over all rounds; [a to b] is the range of the same figure taken round by round. The machine is shared (2 cores, other helpers' builds and tests beside it): absolute figures are noisy, the ratios less so, and CPU per call (from /proc) least. ${run}`,
    '',
    `tools/call of server-everything \`echo\`: "direct" is the McpServer's gateway (\`gateway stdio -- server-everything\`, standing in for its Service); "aggregate" is \`gateway aggregate\` with that gateway as its one backend (one more HTTP hop; the aggregate's one session to the backend carries every client). Same minimal client (bench/gateway/client.ts) for both: one session and one keep-alive connection per client, calls back to back; ${(o.callMs ?? 0) / 1000} s measured per target and concurrency. CPU per call: ${o.cpuCalls ?? 0} calls per target in each of 4 more alternating rounds, the CPU time of each gateway process divided by the calls.`,
    '',
    '| clients | direct p50, ms | aggregate p50, ms | added p50, ms [per round] | direct calls/s | aggregate calls/s | aggregate / direct calls/s [per round] | CPU per call, µs: direct (gateway) | aggregate (aggregate + gateway) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const { clients, aggregate: a, direct: d, cpu } of x.call) {
    const added = range(
      a.rounds.map((r, i) => r.p50 - (d.rounds[i]?.p50 ?? Number.NaN)),
      3,
    );
    const ca = cpu.aggregate;
    lines.push(
      `| ${clients} | ${f(d.p50, 3)} | ${f(a.p50, 3)} | ${f(a.p50 - d.p50, 3)} ${added} | ${f(d.perSecond)} | ${f(a.perSecond)} | ${f(a.perSecond / d.perSecond, 2)} ${spread(a, d, (r) => r.perSecond, 2)} | ${f(cpu.direct.gateway ?? Number.NaN)} | ${f(ca.aggregate ?? Number.NaN)} + ${f(ca.gateway ?? Number.NaN)} |`,
    );
  }
  const profiled = x.profile.reduce((sum, p) => sum + p.usPerCall, 0);
  lines.push(
    '',
    `Where the aggregate's CPU goes: one more aggregate, run from the sources with \`--cpu-prof\` (so frames name their modules), over the same backend, ${o.profileCalls} calls from 8 clients; its V8 profile, idle and startup left out, ${f(profiled)} µs per call under the profiler, by the part of the gateway the stack is in:`,
    '',
    '| part | µs per call | share |',
    '| --- | ---: | ---: |',
    ...x.profile.map((p) => `| ${p.part} | ${f(p.usPerCall)} | ${f((p.usPerCall / profiled) * 100)}% |`),
    '',
    "The backend leg is src/gateway/upstream/streamable-http.ts: one POST per message on node:http keep-alive connections (in the upstream row). It replaced the SDK's StreamableHTTPClientTransport over WHATWG fetch, which the same bench measured at 0.18 of direct calls/s [0.05 to 0.29] at 1 and 8 clients, with an added p50 of 0.79 ms at 1 client and 3.17 ms at 8, and 590 + 165 µs CPU per call at 1 client; undici's fetch was 51% of the aggregate's CPU per call then. The aggregate's own naming and routing (src/gateway/aggregate) are in the mux row.",
  );
  const { aggregate: la, straight: ls, tools } = x.list;
  lines.push(
    '',
    `tools/list of ${tools} tools, one session, requests back to back, ${(o.listMs ?? 0) / 1000} s measured per target: "aggregate" has ${o.backends} backends x ${o.toolsPerBackend} tools (stateless SDK servers in one child process, each backend with a prefix, so ${tools} exposed names; the aggregate answers from its merged view); "straight" is one \`gateway stdio\` whose stdio server lists the same ${tools} tools under the same names and descriptions (the same answer; the bench checks the names match).`,
    '',
    '| target | p50, ms | p99, ms | lists/s | p50 / straight p50 [per round] |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| straight gateway | ${f(ls.p50, 2)} | ${f(ls.p99, 2)} | ${f(ls.perSecond)} | 1 |`,
    `| aggregate | ${f(la.p50, 2)} | ${f(la.p99, 2)} | ${f(la.perSecond)} | ${f(la.p50 / ls.p50, 2)} ${spread(la, ls, (r) => r.p50, 2)} |`,
    '',
    `Memory per idle session (2025 handshake done, GET stream open, as SDK clients leave it): ${o.sessions} sessions opened 50 at a time on a fresh process, gateway process RSS 2 s before and 2 s after.`,
    '',
    '| target | RSS before, MB | RSS after, MB | per session, KB |',
    '| --- | ---: | ---: | ---: |',
    ...x.memory.map((m) => `| ${m.target} | ${f(m.before)} | ${f(m.after)} | ${f(m.kb)} |`),
  );
  return lines.join('\n');
}

/** The whole benchmark, bounded by its deadline; every process it started is gone when it returns or throws. */
export async function virtualSection(options: VirtualBenchOptions = {}): Promise<string> {
  const o = {
    runtime: options.runtime ?? 'bundled',
    binary: options.binary,
    rounds: options.rounds ?? 8,
    callMs: options.callMs ?? 8000,
    listMs: options.listMs ?? 4000,
    warmupMs: options.warmupMs ?? 1000,
    backends: options.backends ?? 20,
    toolsPerBackend: options.toolsPerBackend ?? 50,
    sessions: options.sessions ?? 1000,
    cpuCalls: options.cpuCalls ?? 1000,
    profileCalls: options.profileCalls ?? 4000,
    deadlineMs: options.deadlineMs ?? 12 * 60_000,
    log: options.log ?? ((l: string) => process.stderr.write(`${l}\n`)),
  } satisfies VirtualBenchOptions;
  const procs = new Processes();
  const dir = mkdtempSync(join(tmpdir(), 'bench-virtual-'));
  let cleanup = () => {};
  // The backends files, the profile and the bundled runtime go with the processes, whichever way the run ends.
  const removeFiles = () => {
    rmSync(dir, { recursive: true, force: true });
    cleanup();
  };
  const killAll = () => {
    procs.killAll();
    removeFiles();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    killAll();
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('exit', killAll);
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const started = Date.now();
  const ticks = cpuTicks();
  const load = loadavg()[0] ?? 0;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      procs.killAll();
      reject(
        new Error(`virtual bench: past its deadline of ${o.deadlineMs / 1000} s; every process it started was killed`),
      );
      // Whatever still holds the event loop (a request to a killed process, say) must not keep the run alive.
      setTimeout(() => process.exit(1), 15_000).unref();
    }, o.deadlineMs);
  });
  try {
    const run = async () => {
      if (o.runtime === 'bundled' && !o.binary) {
        const built = await buildBundled(o.log);
        o.binary = built.binary;
        cleanup = built.cleanup;
      }
      return measure(o, procs, dir);
    };
    const figures = await Promise.race([run(), deadline]);
    const t = cpuTicks();
    const steal = ((t.steal - ticks.steal) / Math.max(1, t.total - ticks.total)) * 100;
    const runNote = `Run time ${Math.round((Date.now() - started) / 1000)} s; load average ${f(load, 1)} at the start, ${f(loadavg()[0] ?? 0, 1)} at the end; CPU stolen by the hypervisor ${f(steal, 1)}%.`;
    return section(o, figures, runNote);
  } finally {
    clearTimeout(timer);
    await procs.stopAll();
    removeFiles();
    process.off('exit', killAll);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--runtime bundled|source`, `--binary PATH`, `--deadline DURATION` (seconds, or with s/m). */
function cliOptions(argv: string[]): VirtualBenchOptions {
  const o: VirtualBenchOptions = {};
  for (let i = 0; i < argv.length; i++) {
    const [flag = '', inline] = (argv[i] ?? '').split('=', 2);
    const value = inline ?? argv[++i] ?? '';
    const duration = /^(\d+)(s|m)?$/.exec(value);
    if (flag === '--runtime' && (value === 'bundled' || value === 'source')) o.runtime = value;
    else if (flag === '--binary' && value) o.binary = value;
    else if (flag === '--deadline' && duration)
      o.deadlineMs = Number(duration[1]) * (duration[2] === 'm' ? 60_000 : 1000);
    else {
      throw new Error(
        'usage: node bench/virtual.ts [--runtime bundled|source] [--binary PATH] [--deadline 12m] (the run is killed past the deadline)',
      );
    }
  }
  return o;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(await virtualSection(cliOptions(process.argv.slice(2))));
  process.exit(0);
}
