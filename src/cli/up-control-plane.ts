/**
 * `up` with no cluster and no node possible (not root, not Linux, or no container runtime): a real local control
 * plane (etcd, kube-apiserver, kube-controller-manager) with no node. The CRD and RBAC are installed, the
 * controller runs as its least-privilege user, examples/ are applied; pods are admitted but never run.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import { Manager } from '../controller/manager.ts';
import { conditionOf } from '../controller/status.ts';
import { KubeClient, resourcePath } from '../kube/client.ts';
import {
  CONTROLLER_USER,
  ControlPlane,
  controlPlaneBinaries,
  missingControlPlaneBinaries,
} from '../local-cluster/control-plane.ts';
import { installOperator } from '../local-cluster/install.ts';
import { claimDir, ForeignDirError, releaseDir } from '../local-cluster/owned-dir.ts';
import { createLogger } from '../observability/log.ts';
import { DEFAULT_GATEWAY_IMAGE } from './defaults.ts';
import { applyAll, demoSecrets, RESOURCES, readManifests, table } from './up-manifests.ts';
import { shellWord } from './up-output.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

/** The local plane's components, and kubectl, so that the kubectl commands printed at the end work. */
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'];

export interface ControlPlaneUpOptions {
  examples: string;
  namespace: string;
  dir: string;
  once: boolean;
  out: (line: string) => void;
  /** resolves when the user asks to stop (SIGINT/SIGTERM) */
  stopRequested: Promise<void>;
}

/**
 * How to call a tool right now, without a node: the gateway on this machine in front of the `everything` example's
 * server (the installed devDependency when there is one, else npx), and the Inspector CLI calling its echo tool.
 */
function gatewayTryOut(port = 8080): { gateway: string[]; call: string[]; url: string } {
  const node = process.execPath;
  const everything = join(REPO_ROOT, 'node_modules/@modelcontextprotocol/server-everything/dist/index.js');
  const inspector = join(REPO_ROOT, 'node_modules/.bin/mcp-inspector');
  const url = `http://127.0.0.1:${port}/mcp`;
  const server = existsSync(everything)
    ? [node, everything, 'stdio']
    : ['npx', '-y', '@modelcontextprotocol/server-everything'];
  const client = existsSync(inspector) ? [node, inspector] : ['npx', '-y', '@modelcontextprotocol/inspector'];
  return {
    gateway: [
      node,
      join(REPO_ROOT, 'src/cli/main.ts'),
      'gateway',
      'stdio',
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--',
      ...server,
    ],
    call: [
      ...client,
      '--cli',
      url,
      '--transport',
      'http',
      '--method',
      'tools/call',
      '--tool-name',
      'echo',
      '--tool-arg',
      'message=hello',
    ],
    url,
  };
}

export async function runControlPlaneUp(options: ControlPlaneUpOptions): Promise<number> {
  const { examples, namespace, once, out } = options;
  const dir = resolve(options.dir);
  try {
    claimDir(dir); // before anything else: a directory of someone else's is refused, untouched
  } catch (err) {
    if (!(err instanceof ForeignDirError)) throw err;
    process.stderr.write(`up: --dir ${dir}: ${err.reason} (the default is ~/.cache/mcp-operator/up)\n`);
    return 2;
  }
  out('up: no kubeconfig configured: starting a local control plane (etcd, kube-apiserver, kube-controller-manager).');
  const unbuilt = await missingControlPlaneBinaries(COMPONENTS);
  if (unbuilt.length > 0) {
    out(`up: building ${unbuilt.join(', ')} from their Go modules first (about 10 minutes on 2 cores; cached after)`);
  }
  const bin = await controlPlaneBinaries(COMPONENTS).catch((err: unknown) => {
    releaseDir(dir);
    throw err;
  });
  const plane = new ControlPlane({ dir, binDir: bin });
  await plane.start().catch(async (err: unknown) => {
    await plane.stop();
    throw err;
  });
  const log = createLogger({ name: 'controller', level: process.env.LOG_LEVEL ?? 'warn' });
  let manager: Manager | undefined;
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      await manager?.stop();
      await plane.stop({ keepDir: false });
    })();
    return stopping;
  };
  try {
    const adminConfig = new KubeConfig();
    adminConfig.loadFromFile(plane.kubeconfigs.admin);
    const admin = new KubeClient(adminConfig);
    await installOperator(admin, CONTROLLER_USER);
    await admin.create(resourcePath({ apiVersion: 'v1', plural: 'namespaces' }), {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });

    const controllerConfig = new KubeConfig();
    controllerConfig.loadFromFile(plane.kubeconfigs.controller);
    manager = new Manager({
      kubeConfig: controllerConfig,
      namespaces: [namespace],
      gatewayImage: DEFAULT_GATEWAY_IMAGE,
      workers: 4,
      leaderElection: undefined,
      health: { host: '127.0.0.1', port: 0 },
      resyncMs: 0,
      log,
      onFatal: () => void stop(),
    });
    await manager.start();

    const manifests = readManifests(examples);
    const servers = manifests.filter((m) => m.kind === 'McpServer') as McpServer[];
    const placeholders = demoSecrets(servers);
    await applyAll(admin, namespace, [...placeholders, ...manifests]);
    if (placeholders.length > 0) {
      const names = placeholders.map((p) => `${p.metadata?.name} (${Object.keys(p.stringData).join(', ')})`);
      out(`up: created ${placeholders.length} placeholder Secrets that the examples reference: ${names.join(', ')}.`);
      out('    They hold "placeholder-KEY", not credentials: replace them with real values to use those servers.');
    }
    out(
      `up: applied ${servers.length} McpServers from ${examples} to namespace ${namespace}; waiting for the controller...`,
    );

    const type = RESOURCES.McpServer as { apiVersion: string; plural: string };
    let list: McpServer[] = [];
    for (let i = 0; i < 300; i++) {
      list = (await admin.list<McpServer>(resourcePath(type, { namespace }))).items;
      if (list.length >= servers.length && list.every((m) => m.status?.observedGeneration === m.metadata?.generation))
        break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const rows = [['NAME', 'TRANSPORT', 'READY', 'REASON', 'URL']];
    for (const m of list) {
      const ready = conditionOf(m.status, 'Ready');
      rows.push([
        m.metadata?.name ?? '',
        m.spec.transport,
        ready?.status ?? '-',
        ready?.reason ?? '-',
        m.status?.url ?? '-',
      ]);
    }
    out('');
    out(table(rows));
    out('');
    out('Children created by the controller (Deployment, Service, ServiceAccount, Ingress, NetworkPolicy, PDB):');
    for (const kind of ['deployments', 'services', 'ingresses', 'networkpolicies', 'poddisruptionbudgets']) {
      const group =
        kind === 'deployments'
          ? 'apps/v1'
          : kind === 'services'
            ? 'v1'
            : kind === 'poddisruptionbudgets'
              ? 'policy/v1'
              : 'networking.k8s.io/v1';
      const names = (
        await admin.list<KubernetesObject>(resourcePath({ apiVersion: group, plural: kind }, { namespace }))
      ).items.map((o) => o.metadata?.name);
      out(`  ${kind.padEnd(22)} ${names.join(', ') || '-'}`);
    }
    out('');
    out('This control plane has no nodes, so pods are admitted (Pod Security "restricted") but never run:');
    out('Ready stays False with reason DeploymentUnavailable.');
    out('');
    const tryOut = gatewayTryOut();
    out("Call a tool now: run the gateway on this machine in front of the 'everything' example's server:");
    out(`  ${tryOut.gateway.map(shellWord).join(' ')}`);
    out(`and in another terminal call its echo tool at ${tryOut.url} (the MCP Inspector CLI):`);
    out(`  ${tryOut.call.map(shellWord).join(' ')}`);
    out('');
    if (once) {
      await stop();
      return 0;
    }
    out(`Point kubectl at it (built with the control plane, in ${bin}):`);
    out(`  export KUBECONFIG=${plane.kubeconfigs.admin}`);
    out(`  ${join(bin, 'kubectl')} get mcps -n ${namespace}`);
    out(`  ${join(bin, 'kubectl')} describe mcps github -n ${namespace}`);
    out('');
    out('Press Ctrl-C to stop.');
    await options.stopRequested;
    out('\nup: stopping...');
    await stop();
    return 0;
  } catch (err) {
    await stop();
    throw err;
  }
}
