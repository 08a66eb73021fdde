/**
 * `mcp-operator up` (what `npm start` runs): the quick start.
 * - A kubeconfig is configured ($KUBECONFIG, ~/.kube/config, in-cluster): install the CRD there and run the
 *   controller against that cluster.
 * - None: start a real local control plane (etcd, kube-apiserver, kube-controller-manager), install the CRD
 *   and RBAC, run the controller as its least-privilege user, apply examples/, print what was created and
 *   how to point kubectl at it. Ctrl-C stops everything cleanly.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { KubeConfig, type KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { McpServer } from '../api/types.generated.ts';
import { Manager } from '../controller/manager.ts';
import { conditionOf } from '../controller/status.ts';
import { KubeApiError, KubeClient, resourcePath } from '../kube/client.ts';
import {
  CONTROLLER_USER,
  ControlPlane,
  controlPlaneBinaries,
  missingControlPlaneBinaries,
} from '../local-cluster/control-plane.ts';
import { installControllerRbac, installCrd } from '../local-cluster/install.ts';
import { claimDir, ForeignDirError, releaseDir } from '../local-cluster/owned-dir.ts';
import { createLogger } from '../observability/log.ts';
import { DEFAULT_GATEWAY_IMAGE } from './defaults.ts';

const REPO_ROOT = resolve(import.meta.dirname, '../..');

export const UP_USAGE = `Usage: mcp-operator up [--local] [--examples DIR] [--namespace NS] [--dir DIR] [--once]

  --local          use a local control plane even when a kubeconfig is configured
  --examples DIR   manifests to apply on the local control plane (default: examples/)
  --namespace NS   namespace for them (default: demo)
  --dir DIR        where the local control plane keeps its data (default: ~/.cache/mcp-operator/up): a new or
                   empty directory, or one up made before; anything else is refused, never deleted
  --once           exit after printing the result instead of running until Ctrl-C`;

const RESOURCES: Record<string, { apiVersion: string; plural: string }> = {
  McpServer: { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' },
  Secret: { apiVersion: 'v1', plural: 'secrets' },
  ConfigMap: { apiVersion: 'v1', plural: 'configmaps' },
};

/** The local plane's components, and kubectl, so that the kubectl commands printed at the end work. */
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'];

/** A word for a POSIX shell: quoted only when it needs to be. */
function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
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

function configuredKubeconfig(): boolean {
  return (
    !!process.env.KUBECONFIG || existsSync(join(homedir(), '.kube', 'config')) || !!process.env.KUBERNETES_SERVICE_HOST
  );
}

/** The examples reference Secrets a real user creates by hand; the demo makes placeholders so everything converges. */
type PlaceholderSecret = KubernetesObject & { stringData: Record<string, string> };

function demoSecrets(servers: McpServer[]): PlaceholderSecret[] {
  const needed = new Map<string, Set<string>>();
  const add = (name: string, key: string) => needed.set(name, (needed.get(name) ?? new Set()).add(key));
  for (const s of servers) {
    for (const env of s.spec.env ?? [])
      if (env.valueFrom?.secretKeyRef) add(env.valueFrom.secretKeyRef.name, env.valueFrom.secretKeyRef.key);
    const bearer = s.spec.auth?.bearer?.secretRef;
    if (bearer) add(bearer.name, bearer.key ?? 'token');
  }
  return [...needed].map(([name, keys]) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, labels: { 'mcpoperator.io/demo': 'placeholder' } },
    stringData: Object.fromEntries([...keys].map((k) => [k, `placeholder-${k}`])),
  }));
}

function readManifests(dir: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const object = doc.toJS() as KubernetesObject | null;
      if (object?.kind && RESOURCES[object.kind]) objects.push(object);
    }
  }
  return objects;
}

async function applyAll(client: KubeClient, namespace: string, objects: KubernetesObject[]): Promise<void> {
  for (const object of objects) {
    const type = RESOURCES[object.kind as string];
    if (!type) continue;
    const name = object.metadata?.name;
    const body = { ...object, metadata: { ...object.metadata, namespace } };
    await client.apply(resourcePath(type, { namespace, name }), body, 'mcp-operator-up');
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function runUp(argv: string[]): Promise<number> {
  let values: { local?: boolean; examples?: string; namespace?: string; dir?: string; once?: boolean; help?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      options: {
        local: { type: 'boolean' },
        examples: { type: 'string', default: join(REPO_ROOT, 'examples') },
        namespace: { type: 'string', default: 'demo' },
        dir: { type: 'string', default: join(homedir(), '.cache', 'mcp-operator', 'up') },
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
  const out = (line: string) => process.stdout.write(`${line}\n`);

  if (!values.local && configuredKubeconfig()) {
    out('up: a kubeconfig is configured: installing the CRD and running the controller against that cluster.');
    const kc = new KubeConfig();
    kc.loadFromDefault();
    try {
      await installCrd(new KubeClient(kc));
    } catch (err) {
      if (!(err instanceof KubeApiError && err.status === 403)) throw err;
      out('up: not allowed to install the CRD; assuming it is installed (kubectl apply -f crds/).');
    }
    const { runController } = await import('./controller.ts');
    return runController(['--leader-elect=false']);
  }

  const examples = values.examples as string;
  const namespace = values.namespace as string;
  const dir = resolve(values.dir as string);
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
    await installCrd(admin);
    await installControllerRbac(admin, CONTROLLER_USER);
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
    if (values.once) {
      await stop();
      return 0;
    }
    out(`Point kubectl at it (built with the control plane, in ${bin}):`);
    out(`  export KUBECONFIG=${plane.kubeconfigs.admin}`);
    out(`  ${join(bin, 'kubectl')} get mcps -n ${namespace}`);
    out(`  ${join(bin, 'kubectl')} describe mcps github -n ${namespace}`);
    out('');
    out('Press Ctrl-C to stop.');
    await new Promise<void>((resolveStop) => {
      const onSignal = () => {
        out('\nup: stopping...');
        stop().then(() => resolveStop());
      };
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
    });
    return 0;
  } catch (err) {
    await stop();
    throw err;
  }
}
