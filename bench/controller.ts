/**
 * Controller benchmark (not a test): convergence of N McpServers on a real local control plane, API requests
 * per McpServer and writes at steady state from the API server's audit log, controller RSS. Compared in the
 * same run with the idiomatic client-node path (KubernetesObjectApi server-side apply of the same rendered
 * children): the floor of just writing the objects, and its steady state if it re-applies on every resync.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig, KubernetesObjectApi, PatchStrategy } from '@kubernetes/client-node';
import type { McpServer } from '../src/api/types.generated.ts';
import { parseMcpServer } from '../src/api/validate.ts';
import { buildControllerBundle, CONTROLLER_BUNDLE_ENV } from '../src/cli/controller-bundle.ts';
import { withSpecHash } from '../src/controller/compare.ts';
import { KubeClient, resourcePath } from '../src/kube/client.ts';
import { type Cached, Informer } from '../src/kube/informer.ts';
import { CONTROLLER_USER, ControlPlane, freePort } from '../src/local-cluster/control-plane.ts';
import { installOperator } from '../src/local-cluster/install.ts';
import { createLogger } from '../src/observability/log.ts';
import { renderChildren } from '../src/render/index.ts';

const MAIN = resolve(import.meta.dirname, '../src/cli/main.ts');
const BIN = resolve(import.meta.dirname, '../bin/mcp-operator.js');
/** The runtime settings of the operator image (Dockerfile ENV), so the controller runs here as it does there. */
export function imageRuntimeEnv(dockerfile = readFileSync(resolve(import.meta.dirname, '../Dockerfile'), 'utf8')) {
  const env: Record<string, string> = {};
  for (const m of dockerfile.replaceAll('\\\n', ' ').matchAll(/^ENV (.+)$/gm)) {
    for (const pair of (m[1] as string).trim().split(/\s+/)) {
      const name = pair.slice(0, pair.indexOf('='));
      if (name === 'NODE_OPTIONS' || name === 'MALLOC_ARENA_MAX' || name === CONTROLLER_BUNDLE_ENV)
        env[name] = pair.slice(name.length + 1);
    }
  }
  return env;
}
const MCPSERVERS = { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' };
const MUTATING = new Set(['create', 'update', 'patch', 'delete']);
const CHILD_TYPES = {
  ServiceAccount: { apiVersion: 'v1', plural: 'serviceaccounts' },
  Service: { apiVersion: 'v1', plural: 'services' },
  Deployment: { apiVersion: 'apps/v1', plural: 'deployments' },
};

interface Audit {
  verb: string;
  user: { username: string };
  objectRef?: { namespace?: string; resource?: string };
  requestReceivedTimestamp: string;
}

function audit(path: string, namespace: string, fromMs: number, toMs = Number.POSITIVE_INFINITY): Audit[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Audit)
    .filter((e) => {
      const t = Date.parse(e.requestReceivedTimestamp);
      return t >= fromMs && t <= toMs && (e.objectRef?.namespace === namespace || e.objectRef?.namespace === undefined);
    });
}

const manifest = (i: number) => ({
  apiVersion: 'mcpoperator.io/v1alpha1',
  kind: 'McpServer',
  metadata: { name: `bench-${i}` },
  spec: { image: 'node:24-slim', command: ['npx', '-y', '@modelcontextprotocol/server-everything'] },
});

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function namespace(admin: KubeClient, name: string) {
  await admin.create(resourcePath({ apiVersion: 'v1', plural: 'namespaces' }), {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
  });
}

/** Milliseconds from `started` until every McpServer's status.observedGeneration matches and n Deployments exist. */
async function converged(admin: KubeClient, ns: string, n: number, started: number): Promise<number> {
  const log = createLogger({ name: 'bench', level: 'warn' });
  let done = 0;
  let resolveDone: () => void = () => {};
  const finished = new Promise<void>((r) => {
    resolveDone = r;
  });
  const check = () => {
    const mcps = mcpservers.list() as Array<McpServer & Cached>;
    const observed = mcps.filter((m) => m.status?.observedGeneration === m.metadata?.generation).length;
    if (observed === n && deployments.size === n && !done) {
      done = Date.now() - started;
      resolveDone();
    }
  };
  const mcpservers = new Informer<Cached>({ client: admin, type: MCPSERVERS, namespace: ns, onEvent: check, log });
  const deployments = new Informer<Cached>({
    client: admin,
    type: { apiVersion: 'apps/v1', plural: 'deployments' },
    namespace: ns,
    onEvent: check,
    log,
  });
  try {
    await Promise.all([mcpservers.start(), deployments.start()]);
    check();
    await finished;
    return done;
  } finally {
    mcpservers.stop();
    deployments.stop();
  }
}

function statusMiB(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`${field}:\\s+(\\d+) kB`));
  return Number(line?.[1] ?? 0) / 1024;
}

/** User + system CPU seconds of a process so far (clock ticks of 1/100 s). */
function cpuSec(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** How the controller runs: as the image runs it (the bundle, bin/mcp-operator.js), or from the sources. */
export type ControllerRuntime = 'bundle' | 'sources';

interface OursRun {
  convergeSec: number;
  requestsPerServer: number;
  writesPerServer: number;
  cpuSec: number;
  reconcilesPerServer: number;
  rssMiB: number;
  peakRssMiB: number;
  heapMiB: number;
  steadyWritesPerHour?: number;
}

interface Round {
  floorSec: number;
  ours: Partial<Record<ControllerRuntime, OursRun>>;
}

interface Row {
  n: number;
  rounds: Round[];
  peerApplySec: number;
  peerWritesPerResync: number;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** A control plane for one phase, with our CRD and the controller's RBAC, stopped and removed after it. */
interface Plane {
  plane: ControlPlane;
  admin: KubeClient;
}

/**
 * Runs one phase on a control plane of its own. On a shared one, whatever ran later paid for what ran before it:
 * even with each phase's namespace deleted and waited for, the same 3,000 applies took the floor 31 s as the first
 * phase and 37-43 s later on (session 18), and ours / floor was 1.8-1.9x with the floor first and 1.1x with ours
 * first. A fresh plane starts every phase from the same empty etcd, API server and kube-controller-manager.
 */
async function onFreshPlane<T>(label: string, work: (p: Plane) => Promise<T>): Promise<T> {
  const plane = new ControlPlane({ dir: join(tmpdir(), `mcp-operator-bench-${process.pid}-${label}`), audit: true });
  try {
    await plane.start();
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigs.admin);
    const admin = new KubeClient(kc);
    await installOperator(admin, CONTROLLER_USER);
    return await work({ plane, admin });
  } finally {
    await plane.stop();
  }
}

/** A client with the controller's identity (its RBAC, its audited user name). */
function controllerClient(plane: ControlPlane): KubeClient {
  const kc = new KubeConfig();
  kc.loadFromFile(plane.kubeconfigs.controller);
  return new KubeClient(kc);
}

async function runOne(
  n: number,
  runtimes: ControllerRuntime[],
  roundCount: number,
  bundle: string,
  log: (s: string) => void,
): Promise<Row> {
  const ids = Array.from({ length: n }, (_, i) => i);
  const rendered = (ns: string) =>
    ids.flatMap((i) => {
      const mcp = parseMcpServer({ ...manifest(i), metadata: { name: `bench-${i}`, namespace: ns } });
      return renderChildren(mcp, { gatewayImage: 'ghcr.io/mcp-operator/mcp-operator:0.1.0' }).map(withSpecHash);
    });

  // The floor: the same children written with our pooled client, no controller, no status, no events.
  const floor = (round: number) =>
    onFreshPlane(`${n}-${round}-floor`, async ({ plane, admin }) => {
      const floorNs = `floor-${n}-${round}`;
      await namespace(admin, floorNs);
      const floorClient = controllerClient(plane);
      const floorObjects = rendered(floorNs);
      const floorStart = Date.now();
      await pool(floorObjects, 8, (o) =>
        floorClient.apply(
          resourcePath(CHILD_TYPES[o.kind as keyof typeof CHILD_TYPES], { namespace: floorNs, name: o.metadata?.name }),
          o,
          'floor',
        ),
      );
      const sec = (Date.now() - floorStart) / 1000;
      log(`  ${n} round ${round}: floor, ${floorObjects.length} children, pooled client: ${sec.toFixed(1)} s`);
      return sec;
    });

  // Ours: N McpServers, then the controller converges them. `steady`: also measure writes at steady state.
  const ours = (round: number, runtime: ControllerRuntime, steady: boolean): Promise<OursRun> =>
    onFreshPlane(`${n}-${round}-${runtime}`, async ({ plane, admin }) => {
      const ns = `bench-${n}-${round}-${runtime}`;
      await namespace(admin, ns);
      await pool(ids, 8, (i) => admin.create(resourcePath(MCPSERVERS, { namespace: ns }), manifest(i)));
      const started = Date.now();
      const healthPort = await freePort();
      const flags = [
        `--kubeconfig=${plane.kubeconfigs.controller}`,
        `--namespaces=${ns}`,
        '--leader-elect=false',
        `--health-addr=127.0.0.1:${healthPort}`,
        '--resync=10',
        '--workers=8',
      ];
      const env: NodeJS.ProcessEnv = { ...process.env, ...imageRuntimeEnv(), LOG_LEVEL: 'warn' };
      // The image runs bin/mcp-operator.js with the bundle named in its ENV; the sources run as in development.
      if (runtime === 'bundle') env[CONTROLLER_BUNDLE_ENV] = bundle;
      else delete env[CONTROLLER_BUNDLE_ENV];
      const controller = spawn(process.execPath, [runtime === 'bundle' ? BIN : MAIN, 'controller', ...flags], {
        stdio: 'ignore',
        env,
      });
      try {
        // Watched, not polled: listing 1,000 McpServers and Deployments every 250 ms loaded the API server that
        // the controller shares (the floor is timed with no such load), so the bench slowed what it measured.
        const convergeSec = (await converged(admin, ns, n, started)) / 1000;
        const pid = controller.pid as number;
        const controllerCpuSec = cpuSec(pid);
        const reconciles = [
          ...(await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text()).matchAll(
            /^mcp_operator_reconcile_total\{[^}]*\} (\S+)/gm,
          ),
        ].reduce((sum, m) => sum + Number(m[1]), 0);
        log(
          `  ${n} round ${round}: ours (${runtime}) converged in ${convergeSec.toFixed(1)} s (CPU ${controllerCpuSec.toFixed(1)} s)`,
        );
        // Let the Deployment controller's status updates finish echoing through our status, then measure quiet.
        await new Promise((r) => setTimeout(r, 15_000));
        const audited = audit(plane.auditLog, ns, started).filter(
          (e) => e.user.username === CONTROLLER_USER && e.objectRef?.resource !== 'leases',
        );
        let steadyWritesPerHour: number | undefined;
        if (steady) {
          const steadyFrom = Date.now();
          await new Promise((r) => setTimeout(r, 30_000)); // three full resyncs (--resync=10)
          steadyWritesPerHour =
            audit(plane.auditLog, ns, steadyFrom).filter(
              (e) => e.user.username === CONTROLLER_USER && MUTATING.has(e.verb) && e.objectRef?.resource !== 'leases',
            ).length * 120;
        }
        const metrics = await (await fetch(`http://127.0.0.1:${healthPort}/metrics`)).text();
        return {
          convergeSec,
          requestsPerServer: audited.length / n,
          writesPerServer: audited.filter((e) => MUTATING.has(e.verb)).length / n,
          cpuSec: controllerCpuSec,
          reconcilesPerServer: reconciles / n,
          rssMiB: statusMiB(pid, 'VmRSS'),
          peakRssMiB: statusMiB(pid, 'VmHWM'),
          heapMiB: Number(/^nodejs_heap_size_used_bytes (\S+)/m.exec(metrics)?.[1] ?? 0) / 2 ** 20,
          ...(steadyWritesPerHour === undefined ? {} : { steadyWritesPerHour }),
        };
      } finally {
        controller.kill('SIGKILL');
      }
    });

  // Rounds alternate the order (floor first, then ours first...), so load on the host that comes and goes weighs
  // on both alike; each phase has its own control plane, so none inherits another's objects.
  const rounds: Round[] = [];
  for (let round = 1; round <= roundCount; round++) {
    const last = round === roundCount;
    const result: Round = { floorSec: 0, ours: {} };
    const runOurs = async () => {
      for (const runtime of round % 2 ? runtimes : [...runtimes].reverse()) {
        result.ours[runtime] = await ours(round, runtime, last && runtime === runtimes[0]);
      }
    };
    if (round % 2) {
      result.floorSec = await floor(round);
      await runOurs();
    } else {
      await runOurs();
      result.floorSec = await floor(round);
    }
    rounds.push(result);
  }

  // The peer path: the same children, applied with client-node's KubernetesObjectApi (server-side apply).
  const peer = await onFreshPlane(`${n}-peer`, async ({ plane }) => {
    const peerNs = `peer-${n}`;
    const objects = rendered(peerNs);
    // Same audited identity and RBAC as our controller, so its requests are counted the same way.
    const peerConfig = new KubeConfig();
    peerConfig.loadFromFile(plane.kubeconfigs.controller);
    const api = KubernetesObjectApi.makeApiClient(peerConfig);
    const apply = (o: (typeof objects)[number]) =>
      api.patch(o, undefined, undefined, 'peer', true, PatchStrategy.ServerSideApply);
    const kc = new KubeConfig();
    kc.loadFromFile(plane.kubeconfigs.admin);
    await namespace(new KubeClient(kc), peerNs);
    const peerStart = Date.now();
    await pool(objects, 8, apply);
    const peerApplySec = (Date.now() - peerStart) / 1000;
    log(
      `  ${n}: client-node KubernetesObjectApi applied the same ${objects.length} children in ${peerApplySec.toFixed(1)} s`,
    );
    // A re-apply-everything resync: every child is a PATCH, even though nothing changed.
    const resyncFrom = Date.now();
    await pool(objects, 8, apply);
    const peerWritesPerResync = audit(plane.auditLog, peerNs, resyncFrom).filter(
      (e) => e.user.username === CONTROLLER_USER && MUTATING.has(e.verb),
    ).length;
    return { peerApplySec, peerWritesPerResync };
  });
  return { n, rounds, ...peer };
}

export interface ControllerBenchOptions {
  sizes?: number[];
  /** Controller runtimes measured in every round; the first also measures steady state. Default: the bundle. */
  runtimes?: ControllerRuntime[];
  rounds?: number;
  log?: (s: string) => void;
}

export async function runControllerBench(options: ControllerBenchOptions = {}): Promise<string> {
  const { sizes = [200, 1000], runtimes = ['bundle'], rounds = 3, log = console.log } = options;
  const work = await mkdtemp(join(tmpdir(), 'mcp-operator-bench-bundle-'));
  const bundle = join(work, 'controller.cjs');
  const rows: Row[] = [];
  try {
    log(`  bundled the controller (${await buildControllerBundle(bundle)} bytes), as the image does`);
    for (const n of sizes) rows.push(await runOne(n, runtimes, rounds, bundle, log));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  const fmt = (r: OursRun | undefined, floorSec: number) =>
    r
      ? `${r.convergeSec.toFixed(1)} | ${(r.convergeSec / floorSec).toFixed(2)}x | ${r.requestsPerServer.toFixed(1)} | ${r.writesPerServer.toFixed(1)} | ${r.reconcilesPerServer.toFixed(1)} | ${r.cpuSec.toFixed(1)} | ${r.rssMiB.toFixed(0)} / ${r.peakRssMiB.toFixed(0)} / ${r.heapMiB.toFixed(0)}`
      : '| | | | | |';
  const lines = [
    '## Controller: convergence on a real control plane',
    '',
    `Command: \`npm run bench -- controller\` (bench/controller.ts), ${new Date().toISOString().slice(0, 10)}.`,
    '',
    'etcd + kube-apiserver + kube-controller-manager v1.34.4 on loopback, audit log on, 2 cores shared by everything.',
    'N McpServers (stdio, 1 replica) created first, then the controller starts (8 workers) and converges them: every',
    'child exists and every status.observedGeneration matches (seen by a watch, so the bench adds no load of its own).',
    'Requests and writes are counted from the API server',
    "audit log for the controller's user. Floor: the same rendered children server-side applied by our pooled client,",
    '8 in flight, no controller, no status, no events: the least work that creates them. Floor and ours alternate in',
    `${rounds} rounds (odd rounds floor first, even rounds ours first), every phase on a fresh control plane of its`,
    "own (none inherits another's objects), so load on the host that comes and goes weighs on both; the ratio is per round, and",
    'the median of the rounds is the figure. The controller runs as the operator image runs it: bin/mcp-operator.js',
    `with the bundle (src/cli/controller-bundle.ts, built here as the Dockerfile builds it) and the image's runtime settings (Dockerfile ENV: ${
      Object.entries(imageRuntimeEnv())
        .filter(([k]) => k !== CONTROLLER_BUNDLE_ENV)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ') || 'none'
    }); "sources": \`node src/cli/main.ts controller\` (type stripping), as in development.`,
    'Controller CPU and reconciles: from the start to convergence. RSS: 15 s after convergence (in the last round',
    'after 30 s more of steady state with a full resync every 10 s); peak: VmHWM. Peer: the same children with',
    'client-node `KubernetesObjectApi.patch` (the idiomatic TypeScript path); a naive operator that re-applies on every',
    'resync writes all of them again each time (measured: one such pass).',
    '',
    `| McpServers | round | floor (s) | ${runtimes.map((r) => `ours, ${r}: converge (s) | ours / floor | API requests per McpServer | writes per McpServer | reconciles per McpServer | controller CPU (s) | RSS / peak / heap used (MiB)`).join(' | ')} |`,
    `| ---: | ---: | ---: | ${runtimes.map(() => '---: | ---: | ---: | ---: | ---: | ---: | ---:').join(' | ')} |`,
  ];
  for (const row of rows) {
    for (const [i, round] of row.rounds.entries()) {
      lines.push(
        `| ${row.n} | ${i + 1} | ${round.floorSec.toFixed(1)} | ${runtimes.map((rt) => fmt(round.ours[rt], round.floorSec)).join(' | ')} |`,
      );
    }
    const ratios = runtimes.map((rt) =>
      median(row.rounds.map((r) => (r.ours[rt]?.convergeSec ?? Number.NaN) / r.floorSec)).toFixed(2),
    );
    lines.push(
      `| ${row.n} | median | ${median(row.rounds.map((r) => r.floorSec)).toFixed(1)} | ${runtimes.map((rt, i) => `${median(row.rounds.map((r) => r.ours[rt]?.convergeSec ?? Number.NaN)).toFixed(1)} | **${ratios[i]}x** | | | | | ${median(row.rounds.map((r) => r.ours[rt]?.rssMiB ?? Number.NaN)).toFixed(0)} RSS`).join(' | ')} |`,
    );
  }
  lines.push(
    '',
    '| McpServers | peer: client-node KubernetesObjectApi (s) | ours / peer (median) | steady-state writes per hour: ours | peer writes per resync |',
    '| ---: | ---: | ---: | ---: | ---: |',
    ...rows.map((row) => {
      const first = runtimes[0] as ControllerRuntime;
      const oursSec = median(row.rounds.map((r) => r.ours[first]?.convergeSec ?? Number.NaN));
      const steady = row.rounds.at(-1)?.ours[first]?.steadyWritesPerHour ?? Number.NaN;
      return `| ${row.n} | ${row.peerApplySec.toFixed(1)} | ${(oursSec / row.peerApplySec).toFixed(2)}x | ${steady} | ${row.peerWritesPerResync} |`;
    }),
  );
  return lines.join('\n');
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const sizes = args.map(Number).filter(Boolean);
  const runtimes = args.includes('--sources') ? (['bundle', 'sources'] as ControllerRuntime[]) : undefined;
  const rounds = Number(args.find((a) => a.startsWith('--rounds='))?.slice('--rounds='.length)) || undefined;
  console.log(
    await runControllerBench({
      ...(sizes.length ? { sizes } : {}),
      ...(runtimes ? { runtimes } : {}),
      ...(rounds ? { rounds } : {}),
    }),
  );
}
