/**
 * `up` on a real local node (root on Linux): installs the node's packages when they are missing, builds the
 * Kubernetes binaries and the images the examples need (the node runs local images only, never pulls), starts the
 * single-node cluster of src/local-cluster/node-cluster.ts, installs the CRD and RBAC and runs the controller
 * in-process as its least-privilege user, applies the runnable examples, and prints for each server that becomes
 * Ready a URL on 127.0.0.1 that works at once. Stopping (the abort signal: Ctrl-C, SIGTERM) tears all of it down.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { KubeConfig } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import { Manager } from '../controller/manager.ts';
import { conditionOf } from '../controller/status.ts';
import { KubeClient, resourcePath } from '../kube/client.ts';
import { CONTROLLER_USER, controlPlaneBinaries, missingControlPlaneBinaries } from '../local-cluster/control-plane.ts';
import { type Forward, forward } from '../local-cluster/forward.ts';
import { installOperator } from '../local-cluster/install.ts';
import { type Cluster, startCluster } from '../local-cluster/node-cluster.ts';
import { buildahImageNames } from '../local-cluster/node-images.ts';
import { KUBE_PROCESSES } from '../local-cluster/node-teardown.ts';
import { ensureOperatorImage } from '../local-cluster/operator-image.ts';
import { run } from '../local-cluster/sh.ts';
import { createLogger } from '../observability/log.ts';
import { assignPorts, buildCommands, planExamples } from './up-examples.ts';
import { applyAll, demoSecrets, RESOURCES, readManifests, restrictedNamespace } from './up-manifests.ts';
import {
  credentialLines,
  loopbackUrl,
  readyServerLines,
  seconds,
  shellLine,
  skippedLines,
  stepLine,
  type Usual,
} from './up-output.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
const MCPSERVERS = RESOURCES.McpServer as { apiVersion: string; plural: string };

/** How long each step usually takes on 2 cores (bench/RESULTS.md, `npm run bench -- up`). */
const STEPS: Array<{ title: string; usual: Usual }> = [
  {
    title: 'checking the node packages (containerd, runc, iptables, CNI plugins)',
    usual: { first: '1 min', cached: '1 s' },
  },
  { title: 'Kubernetes binaries (built from their Go modules once)', usual: { first: '10 min', cached: '0 s' } },
  { title: 'building images (operator, examples)', usual: { first: '5 min', cached: '1 s' } },
  {
    title: 'starting the node (etcd, kube-apiserver, containerd, kubelet, kube-proxy)',
    usual: { first: '1 min', cached: '10 s' },
  },
  { title: 'installing the operator (CRD, RBAC, controller)', usual: { first: '3 s', cached: '3 s' } },
  { title: 'applying examples/', usual: { first: '1 s', cached: '1 s' } },
  { title: 'waiting for the servers to be Ready', usual: { first: '30 s', cached: '15 s' } },
];

export interface NodeUpOptions {
  examples: string;
  namespace: string;
  /** the node cluster's directory */
  nodeDir: string;
  /** first loopback port for the servers' URLs */
  portBase: number;
  once: boolean;
  out: (line: string) => void;
  /** aborted by Ctrl-C / SIGTERM */
  signal: AbortSignal;
  /** records the URLs for a second `up` to show */
  onUrls?: (urls: string[]) => void;
}

/** Not possible here (packages, runtime): `up` falls back to the control plane, saying why. */
export class NodeUnavailableError extends Error {}

class Stopped extends Error {}

export async function runNodeUp(options: NodeUpOptions): Promise<number> {
  const { out, signal } = options;
  const started = Date.now();
  let cluster: Cluster | undefined;
  let manager: Manager | undefined;
  const forwards: Forward[] = [];
  const teardown = async (): Promise<string[]> => {
    for (const f of forwards) await f.close();
    await manager?.stop();
    if (!cluster) return [];
    out('up: tearing down the node (processes, mounts, network namespaces, bridge, iptables/nft rules)...');
    const result = await cluster.stop();
    out(`up: node down in ${result.seconds.toFixed(1)} s${result.problems.length ? '' : ': nothing left running'}`);
    return result.problems;
  };
  let index = 0;
  const step = async <T>(action: () => Promise<T>): Promise<T> => {
    if (signal.aborted) throw new Stopped();
    const { title, usual } = STEPS[index] as (typeof STEPS)[number];
    out(stepLine(++index, STEPS.length, title, usual));
    const t = Date.now();
    const value = await action();
    out(`up:       done in ${seconds(Date.now() - t)}`);
    if (signal.aborted) throw new Stopped();
    return value;
  };

  try {
    await step(() => ensureNodePackages(out));
    const bin = await step(async () => {
      const components = [...KUBE_PROCESSES, 'kubectl'];
      const unbuilt = await missingControlPlaneBinaries(components);
      if (unbuilt.length > 0) out(`up:       building ${unbuilt.join(', ')} from their Go modules (cached after)`);
      return controlPlaneBinaries(components);
    });

    const manifests = readManifests(options.examples);
    const servers = manifests.filter((m) => m.kind === 'McpServer') as McpServer[];
    const { operatorImage, plans } = await step(async () => {
      const operatorImage = await ensureOperatorImage(REPO_ROOT, (line) => out(`up:       ${line}`));
      for (const command of buildCommands(planExamples(servers, await buildahImageNames()))) {
        await runScript(command, out);
      }
      return { operatorImage, plans: planExamples(servers, await buildahImageNames()) };
    });
    const runnable = plans.filter((p) => p.source.kind !== 'not-local');
    const exampleImages = [...new Set(runnable.map((p) => p.image))];

    const node = await step(async () => {
      try {
        // assigned at once: a stop requested meanwhile must still tear this node down
        cluster = await startCluster({
          dir: options.nodeDir,
          reuse: false,
          images: [operatorImage, ...exampleImages],
          log: (line) => out(`up:       ${line}`),
        });
        return cluster;
      } catch (err) {
        if (signal.aborted) throw new Stopped(); // Ctrl-C reached the commands the start ran
        throw new NodeUnavailableError(`the node did not start: ${(err as Error).message}`);
      }
    });

    const admin = await step(async () => {
      const adminConfig = new KubeConfig();
      adminConfig.loadFromFile(node.kubeconfig);
      const admin = new KubeClient(adminConfig);
      await installOperator(admin, CONTROLLER_USER);
      await restrictedNamespace(admin, options.namespace);
      const controllerConfig = new KubeConfig();
      controllerConfig.loadFromFile(node.controllerKubeconfig);
      manager = new Manager({
        kubeConfig: controllerConfig,
        namespaces: [options.namespace],
        gatewayImage: operatorImage,
        workers: 4,
        leaderElection: undefined,
        health: { host: '127.0.0.1', port: 0 },
        resyncMs: 0,
        log: createLogger({ name: 'controller', level: process.env.LOG_LEVEL ?? 'warn' }),
        onFatal: (reason) => {
          out(`up: the controller stopped: ${reason}`);
          process.kill(process.pid, 'SIGTERM');
        },
      });
      await manager.start();
      return admin;
    });

    const names = new Set(runnable.map((p) => p.name));
    await step(async () => {
      const applied = servers
        .filter((s) => names.has(s.metadata?.name ?? ''))
        // local images only: the kubelet must never reach for a registry
        .map((s) => ({ ...s, spec: { ...s.spec, imagePullPolicy: 'Never' as const } }));
      const others = manifests.filter((m) => m.kind !== 'McpServer');
      await applyAll(admin, options.namespace, [...demoSecrets(applied), ...others, ...applied]);
      out(`up:       ${applied.length} of ${servers.length} McpServers applied to namespace ${options.namespace}`);
    });
    const skipped = skippedLines(plans);
    if (skipped.length > 0) {
      out('up: not run (their images are not on this machine):');
      for (const line of skipped) out(line);
    }
    for (const line of credentialLines(plans)) out(line);

    const urls: string[] = [];
    await step(async () => {
      const pending = new Set(names);
      const deadline = Date.now() + 300_000;
      // the same port for the same example every run (by name), so a client's saved URL keeps working
      const ports = assignPorts(names, options.portBase);
      const readySince = new Map<string, number>();
      while (pending.size > 0 && Date.now() < deadline && !signal.aborted) {
        const list = (await admin.list<McpServer>(resourcePath(MCPSERVERS, { namespace: options.namespace }))).items;
        for (const m of list) {
          const name = m.metadata?.name ?? '';
          if (!pending.has(name) || conditionOf(m.status, 'Ready')?.status !== 'True') continue;
          // the controller lists the tools just after Ready: wait a little for them, for the heading
          if (!readySince.has(name)) readySince.set(name, Date.now());
          const waited = Date.now() - (readySince.get(name) ?? 0) > 15_000;
          if (!m.status?.tools?.length && !waited) continue;
          const service = await admin.get<{ spec?: { clusterIP?: string } }>(
            resourcePath({ apiVersion: 'v1', plural: 'services' }, { namespace: options.namespace, name }),
          );
          const port = ports.get(name) ?? options.portBase;
          const f = await forward({ port, target: { host: service.spec?.clusterIP ?? '', port: 8080 } });
          forwards.push(f);
          const url = loopbackUrl(f.port);
          await answers(url);
          pending.delete(name);
          urls.push(url);
          options.onUrls?.(urls);
          if (urls.length === 1) out(`up: first URL ${seconds(Date.now() - started)} after start`);
          out('');
          const credentials = plans.find((p) => p.name === name)?.credentials ?? [];
          const note = credentials.length > 0 ? 'placeholder credential' : undefined;
          for (const line of readyServerLines({ name, url, tools: m.status?.tools ?? [], note }, inspectorCommand())) {
            out(line);
          }
          out('');
        }
        if (pending.size > 0) await sleep(500);
      }
      for (const name of signal.aborted ? [] : pending) {
        const m = await admin.get<McpServer>(resourcePath(MCPSERVERS, { namespace: options.namespace, name }));
        const ready = conditionOf(m.status, 'Ready');
        out(`up: ${name} is not Ready: ${ready?.reason ?? 'no status'}: ${ready?.message ?? ''}`);
      }
    });

    out(`up: ${urls.length} servers on 127.0.0.1, ${seconds(Date.now() - started)} after start. kubectl:`);
    out(`  export KUBECONFIG=${node.kubeconfig}`);
    out(`  ${join(bin, 'kubectl')} get mcps,pods -n ${options.namespace}`);
    if (!options.once) {
      out('Press Ctrl-C to stop (tears down everything up started).');
      if (!signal.aborted) await new Promise((ok) => signal.addEventListener('abort', ok, { once: true }));
      out('\nup: stopping...');
    }
    const problems = await teardown();
    for (const p of problems) out(`up: teardown: ${p}`);
    return problems.length > 0 ? 1 : 0;
  } catch (err) {
    // Ctrl-C in a terminal also reaches the build commands, which then fail: a stop all the same
    const stopped = err instanceof Stopped || signal.aborted;
    if (stopped) out('\nup: stopping...');
    const problems = await teardown();
    for (const p of problems) out(`up: teardown: ${p}`);
    if (stopped) return problems.length > 0 ? 1 : 0;
    throw err;
  }
}

/** The Inspector CLI: the devDependency when installed, else npx. */
function inspectorCommand(): string[] {
  return ['npx', '@modelcontextprotocol/inspector'];
}

/** Waits until the URL answers HTTP (any status): kube-proxy has programmed the Service. */
async function answers(url: string): Promise<void> {
  for (let i = 0; i < 60; i++) {
    try {
      await fetch(url, { method: 'GET', signal: AbortSignal.timeout(2000) });
      return;
    } catch {
      await sleep(500);
    }
  }
}

/** Runs a build script from the repository root, its progress lines indented; returns its stdout. */
async function runScript(command: string[], out: (line: string) => void): Promise<string> {
  out(`up:       ${shellLine(command)}`);
  const [cmd = 'bash', ...args] = command;
  // spawns: bash (scripts/images.sh, scripts/example-images.sh)
  const res = await run(
    cmd,
    args.map((a) => (a.startsWith('scripts/') ? join(REPO_ROOT, a) : a)),
    {
      timeoutMs: 3_600_000,
    },
  );
  return res.stdout.trim();
}

/** The node's Debian packages: installed by test/e2e/install-deps.sh (apt-get) when a command is missing. */
async function ensureNodePackages(out: (line: string) => void): Promise<void> {
  const check = await run('sh', [join(REPO_ROOT, 'scripts/require-commands.sh'), 'base', 'e2e'], { allowFail: true });
  const cni = ['/usr/lib/cni/bridge', '/opt/cni/bin/bridge'].some((p) => existsSync(p));
  if (check.code === 0 && cni) return;
  out('up:       installing the missing Debian packages: sh test/e2e/install-deps.sh');
  const install = await run('sh', [join(REPO_ROOT, 'test/e2e/install-deps.sh')], {
    allowFail: true,
    timeoutMs: 1_800_000,
  });
  if (install.code !== 0) {
    throw new NodeUnavailableError(
      `the node's packages could not be installed (sh test/e2e/install-deps.sh):\n${install.stderr.trim().split('\n').slice(-5).join('\n')}`,
    );
  }
}
