/**
 * `mcp-operator up` (what `npm start` runs): the quick start.
 * - A kubeconfig is configured ($KUBECONFIG, ~/.kube/config, in-cluster): install the CRD there and run the
 *   controller against that cluster.
 * - None, as root on Linux: a real single-node cluster on this machine (up-node.ts) running examples/, each Ready
 *   server printed with a URL on 127.0.0.1.
 * - None, and no node possible (not root, not Linux, no runtime): a local control plane with no node
 *   (up-control-plane.ts), saying why and what to do.
 * One `up` at a time (a lock); Ctrl-C or SIGTERM stops everything it started.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeApiError, KubeClient } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { installCrd } from '../local-cluster/install.ts';
import { checkNodeDir } from '../local-cluster/node-layout.ts';
import { acquireLock, type UpLock } from '../local-cluster/up-lock.ts';
import { printable } from './printable.ts';
import { runControlPlaneUp } from './up-control-plane.ts';
import { readManifests } from './up-manifests.ts';
import { NodeUnavailableError, runNodeUp } from './up-node.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');
/** Host-wide: the node's bridge, rules and cgroups are the host's, so one node `up` per host. */
export const NODE_LOCK = '/run/mcp-operator-up.lock';

export const UP_USAGE = `Usage: mcp-operator up [--local] [--no-node] [--examples DIR] [--namespace NS] [--dir DIR]
                        [--node-dir DIR] [--port PORT] [--once]

  --local          use a local cluster even when a kubeconfig is configured
  --no-node        a control plane only (no node: nothing runs), even as root
  --examples DIR   manifests to apply (default: examples/)
  --namespace NS   namespace for them (default: demo)
  --node-dir DIR   where the local node keeps its data (default: /var/lib/mcp-operator-up); its image store and logs
                   stay there after a stop, so the next up is faster
  --port PORT      first loopback port of the servers' URLs (default: 8800; the next free ones after it)
  --dir DIR        where the control plane without a node keeps its data (default: ~/.cache/mcp-operator/up): a new
                   or empty directory, or one up made before; anything else is refused, never deleted
  --once           stop and exit after printing the result instead of running until Ctrl-C`;

function configuredKubeconfig(): boolean {
  return (
    !!process.env.KUBECONFIG || existsSync(join(homedir(), '.kube', 'config')) || !!process.env.KUBERNETES_SERVICE_HOST
  );
}

/** Why this machine cannot run a local node, and what to do; undefined when it can (packages are installed). */
export function nodeBlocker(platform: string, uid: number | undefined): string | undefined {
  if (platform !== 'linux') {
    return 'a local node needs Linux (containerd, a kubelet, network namespaces); on this machine nothing runs the servers. Point up at a cluster instead (KUBECONFIG)';
  }
  if (uid !== 0) {
    return 'a local node needs root (containerd, a kubelet, network namespaces, iptables). Run `sudo npm start` to run the servers for real';
  }
  return undefined;
}

export async function runUp(argv: string[]): Promise<number> {
  let values: {
    local?: boolean;
    'no-node'?: boolean;
    examples?: string;
    namespace?: string;
    dir?: string;
    'node-dir'?: string;
    port?: string;
    once?: boolean;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        local: { type: 'boolean' },
        'no-node': { type: 'boolean' },
        examples: { type: 'string', default: join(REPO_ROOT, 'examples') },
        namespace: { type: 'string', default: 'demo' },
        dir: { type: 'string', default: join(homedir(), '.cache', 'mcp-operator', 'up') },
        'node-dir': { type: 'string', default: '/var/lib/mcp-operator-up' },
        port: { type: 'string', default: '8800' },
        once: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    process.stderr.write(`up: ${(err as Error).message}\n\n${UP_USAGE}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(`${UP_USAGE}\n`);
    return 0;
  }
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    process.stderr.write(`up: --port ${values.port}: a TCP port (1-65535) is needed, e.g. --port 8800\n`);
    return 2;
  }
  const namespace = values.namespace as string;
  if (namespace.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace)) {
    process.stderr.write(
      `up: --namespace ${printable(JSON.stringify(namespace))}: a namespace name is lowercase letters, digits and -, at most 63 (e.g. demo)\n`,
    );
    return 2;
  }
  try {
    readManifests(values.examples as string); // read again where they are applied; refused here before anything starts
  } catch (err) {
    process.stderr.write(`up: ${printable((err as Error).message)}\n`);
    return 2;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);

  if (!values.local && configuredKubeconfig()) {
    out('up: a kubeconfig is configured: installing the CRD and running the controller against that cluster.');
    let kc: KubeConfig;
    try {
      kc = loadKubeConfig(undefined);
    } catch (err) {
      process.stderr.write(`up: ${(err as Error).message} (or run up --local for a cluster on this machine)\n`);
      return 1;
    }
    try {
      await installCrd(new KubeClient(kc));
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 403)) throw err;
      out('up: not allowed to install the CRD; assuming it is installed (kubectl apply -f crds/).');
    }
    const { runController } = await import('./controller.ts');
    return runController(['--leader-elect=false']);
  }

  const blocker = values['no-node'] ? undefined : nodeBlocker(process.platform, process.getuid?.());
  const mode = values['no-node'] || blocker ? 'control-plane' : 'node';
  if (mode === 'node') {
    // before anything starts: the node's cleanup empties its directory, so it must be the node's own
    const foreign = checkNodeDir(resolve(values['node-dir'] as string));
    if (foreign) {
      process.stderr.write(`up: --node-dir: ${printable(foreign)}\n`);
      return 2;
    }
  }
  // one node per host (its bridge and rules are the host's); a control plane per directory
  const controlPlaneDir = resolve(values.dir as string);
  const lockPath =
    mode === 'node' ? NODE_LOCK : join(dirname(controlPlaneDir), `.${basename(controlPlaneDir)}.up.lock`);
  const taken = acquireLock(lockPath, mode);
  if (!taken.ok) {
    const h = taken.holder;
    process.stderr.write(
      `up: another mcp-operator up is running (pid ${h.pid}, ${h.mode ?? 'local'} mode, since ${h.startedAt}); it is left alone.\n` +
        (h.urls?.length ? `up: its servers:\n${h.urls.map((u) => `  ${u}`).join('\n')}\n` : '') +
        `up: stop it first (Ctrl-C in its terminal, or kill -INT ${h.pid}), or use its URLs.\n`,
    );
    return 3;
  }
  const lock: UpLock = taken.lock;
  const abort = new AbortController();
  let signals = 0;
  const onSignal = (name: string) => {
    if (++signals > 1) {
      out(`up: ${name} again: still tearing down, please wait (a kill -9 now would leave the node running)`);
      return;
    }
    abort.abort();
  };
  const onInt = () => onSignal('SIGINT');
  const onTerm = () => onSignal('SIGTERM');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  const stopRequested = new Promise<void>((ok) => abort.signal.addEventListener('abort', () => ok(), { once: true }));
  const controlPlane = () =>
    runControlPlaneUp({
      examples: values.examples as string,
      namespace: values.namespace as string,
      dir: controlPlaneDir,
      once: !!values.once,
      out,
      stopRequested,
    });
  try {
    if (mode === 'control-plane') {
      if (blocker) {
        out(`up: no servers will run: ${blocker}.`);
        out('up: meanwhile, a control plane without a node: the examples are created and admitted, never run.');
      }
      return await controlPlane();
    }
    try {
      return await runNodeUp({
        examples: values.examples as string,
        namespace: values.namespace as string,
        nodeDir: resolve(values['node-dir'] as string),
        portBase: port,
        once: !!values.once,
        out,
        signal: abort.signal,
        onUrls: (urls) => lock.update({ urls }),
      });
    } catch (err) {
      if (!(err instanceof NodeUnavailableError)) throw err;
      out(`up: no servers will run: ${err.message}`);
      out('up: fix that and run up again (or pass --no-node); meanwhile, a control plane without a node.');
      return await controlPlane();
    }
  } finally {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    lock.release();
  }
}
