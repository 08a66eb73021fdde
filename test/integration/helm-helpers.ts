/**
 * The Helm chart suite's helpers (helm.test.ts): helm itself, rendering with values, the chart's objects by kind,
 * the restricted-pod and no-wildcard checks, applying rendered objects, and installing a controller from them.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { V1Deployment, V1Pod, V1PodSpec, V1PolicyRule, V1ReplicaSet } from '@kubernetes/client-node';
import { expect, inject } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import type { McpServer } from '../../src/api/types.generated.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { createRestrictedNamespace, eventually, getOrUndefined, resourcePath, T } from '../support/kube.ts';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CHART = join(ROOT, 'charts/mcp-operator');
export const MAIN = join(ROOT, 'src/cli/main.ts');
export const CI_VALUES = ['default', 'namespaced', 'no-crds', 'servicemonitor', 'networkpolicy'];
export const RELEASE = 'mcp-operator';

export type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [key: string]: unknown;
};

/** What the helpers share with the suite: set in its beforeAll, cleaned up in its afterAll. */
export const suite = {
  helmBin: '',
  work: '',
  admin: undefined as unknown as KubeClient,
  /** Everything the suite creates on the shared API server, removed in afterAll. */
  created: [] as string[],
  controllers: [] as ChildProcess[],
};

export function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    // helm's cache, config and data stay in the test's directory.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HELM_CACHE_HOME: suite.work,
      HELM_CONFIG_HOME: suite.work,
      HELM_DATA_HOME: suite.work,
    };
    delete env.KUBECONFIG;
    // spawns: helm
    execFile(suite.helmBin, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      ok({ code, stdout, stderr });
    });
  });
}

export function valuesFile(name: string, values: unknown): string {
  const path = join(suite.work, `${name}.yaml`);
  writeFileSync(path, stringify(values));
  return path;
}

/** `helm template` → the rendered objects. */
export async function render(
  options: { values?: string; release?: string; namespace?: string } = {},
): Promise<K8sObject[]> {
  const args = [
    'template',
    options.release ?? RELEASE,
    CHART,
    '--namespace',
    options.namespace ?? 'mcp-operator-system',
  ];
  if (options.values) args.push('-f', options.values);
  const { code, stdout, stderr } = await helm(args);
  expect(code, stderr).toBe(0);
  return parseAllDocuments(stdout)
    .map((d) => d.toJSON() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

export const ciValues = (name: string) => join(CHART, 'ci', `${name}-values.yaml`);
export const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
export const one = <O = K8sObject>(objects: K8sObject[], kind: string): O => {
  const found = ofKind(objects, kind);
  expect(
    found.map((o) => o.metadata.name),
    kind,
  ).toHaveLength(1);
  return found[0] as O;
};
export const podSpec = (objects: K8sObject[]) =>
  (one<V1Deployment>(objects, 'Deployment').spec?.template.spec ?? {}) as V1PodSpec;
export const containerArgs = (objects: K8sObject[]) => podSpec(objects).containers[0]?.args ?? [];

/** Pod Security Standards "restricted", checked on a pod spec (the API server checks it again on real pods). */
export function expectRestricted(spec: V1PodSpec): void {
  expect(spec.securityContext).toMatchObject({
    runAsNonRoot: true,
    runAsUser: 65532,
    seccompProfile: { type: 'RuntimeDefault' },
  });
  expect(spec.hostNetwork ?? false).toBe(false);
  expect(spec.hostPID ?? false).toBe(false);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    expect(c.securityContext, c.name).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.securityContext?.privileged ?? false).toBe(false);
    expect(c.securityContext?.capabilities?.add ?? []).toEqual([]);
  }
  for (const v of spec.volumes ?? []) expect(Object.keys(v).sort(), v.name).toEqual(['emptyDir', 'name']);
}

export function expectNoWildcards(objects: K8sObject[]): void {
  const rules = objects
    .filter((o) => o.kind === 'Role' || o.kind === 'ClusterRole')
    .flatMap((o) => (o.rules as V1PolicyRule[]) ?? []);
  expect(rules.length).toBeGreaterThan(0);
  for (const rule of rules) {
    for (const field of [rule.verbs, rule.resources ?? [], rule.apiGroups ?? [], rule.nonResourceURLs ?? []])
      expect(
        field.some((v) => v.includes('*')),
        JSON.stringify(rule),
      ).toBe(false);
  }
}

/** REST path of an object, from the API server's discovery (undefined when its group/version is not served). */
export const discovery = new Map<string, Array<{ name: string; kind: string; namespaced: boolean }> | null>();
export async function pathOf(object: K8sObject): Promise<string | undefined> {
  const { apiVersion, kind, metadata } = object;
  if (!discovery.has(apiVersion)) {
    const groups = await suite.admin.get<{ groups: Array<{ versions: Array<{ groupVersion: string }> }> }>('/apis');
    const served =
      apiVersion === 'v1' || groups.groups.some((g) => g.versions.some((v) => v.groupVersion === apiVersion));
    const list = served
      ? await suite.admin.get<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>(
          apiVersion === 'v1' ? '/api/v1' : `/apis/${apiVersion}`,
        )
      : undefined;
    discovery.set(apiVersion, list?.resources ?? null);
  }
  const resources = discovery.get(apiVersion);
  if (!resources) return undefined;
  const resource = resources.find((r) => r.kind === kind && !r.name.includes('/'));
  if (!resource) throw new Error(`the API server does not serve ${kind} in ${apiVersion}`);
  return resourcePath(
    { apiVersion, plural: resource.name },
    { namespace: resource.namespaced ? metadata.namespace : undefined, name: metadata.name },
  );
}

/** Server-side apply of rendered objects, in Helm's install order; `dryRun` sends dryRun=All. */
export async function applyAll(objects: K8sObject[], options: { dryRun: boolean }): Promise<void> {
  const order = ['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role'];
  const rank = (kind: string) => (order.includes(kind) ? order.indexOf(kind) : order.length);
  for (const object of [...objects].sort((a, b) => rank(a.kind) - rank(b.kind))) {
    const path = await pathOf(object);
    if (!path) {
      // Only the ServiceMonitor may be skipped: the Prometheus Operator's CRDs are not on this API server.
      expect(object.kind).toBe('ServiceMonitor');
      continue;
    }
    await suite.admin.request('apply', 'PATCH', path, {
      query: {
        fieldManager: 'helm-test',
        force: true,
        fieldValidation: 'Strict',
        dryRun: options.dryRun ? 'All' : undefined,
      },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
    // Cluster-scoped RBAC is removed afterwards; the CRD is shared with the other test files and stays.
    if (!options.dryRun && object.kind.startsWith('Cluster')) suite.created.push(path);
  }
}

export async function namespace(prefix: string): Promise<string> {
  const name = await createRestrictedNamespace(suite.admin, prefix);
  suite.created.push(resourcePath(T.namespaces, { name }));
  return name;
}

/**
 * Installs a release from its rendered objects and runs the controller as its pod would: with a token of the
 * chart's ServiceAccount (TokenRequest API) and exactly the container's args (health on a loopback port).
 */
export async function install(release: string, values: unknown, releaseNs: string) {
  const objects = await render({ release, namespace: releaseNs, values: valuesFile(release, values) });
  await applyAll(objects, { dryRun: false });

  // The real ReplicaSet controller creates the controller's pods, admitted under Pod Security "restricted".
  const deployment = one<V1Deployment>(objects, 'Deployment');
  const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  await eventually('the chart’s controller pods, admitted', async () => {
    const pods = await suite.admin.list<V1Pod>(resourcePath(T.pods, { namespace: releaseNs }), {
      labelSelector: selector,
    });
    if (pods.items.length === deployment.spec?.replicas) return pods.items;
    // Say why, when the ReplicaSet controller could not create them (e.g. refused by Pod Security admission).
    const sets = await suite.admin.list<V1ReplicaSet>(resourcePath(T.replicasets, { namespace: releaseNs }), {
      labelSelector: selector,
    });
    const failure = sets.items.flatMap((r) => r.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
    if (failure) throw new Error(failure.message);
    return undefined;
  });

  const pod = deployment.spec?.template.spec as V1PodSpec;
  const account = pod.serviceAccountName as string;
  const { status } = await suite.admin.create<{ status: { token: string } }>(
    `${resourcePath(T.serviceaccounts, { namespace: releaseNs, name: account })}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  const { server } = parse(readFileSync(inject('adminKubeconfig'), 'utf8')).clusters[0].cluster;
  const kubeconfig = join(suite.work, `${release}.kubeconfig`);
  writeFileSync(
    kubeconfig,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'cluster', cluster: { server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: account, user: { token: status.token } }],
      contexts: [{ name: 'chart', context: { cluster: 'cluster', user: account } }],
      'current-context': 'chart',
    }),
    { mode: 0o600 },
  );

  const args = (pod.containers[0]?.args ?? []).map((a) =>
    a.startsWith('--health-addr=') ? '--health-addr=127.0.0.1:0' : a,
  );
  // What the downward API gives the pod: its namespace and ServiceAccount.
  const env: NodeJS.ProcessEnv = { ...process.env, POD_NAMESPACE: releaseNs, POD_SERVICE_ACCOUNT: account };
  for (const key of ['KUBECONFIG', 'WATCH_NAMESPACES', 'GATEWAY_IMAGE', 'LOG_LEVEL']) delete env[key];
  const child = spawn(process.execPath, [MAIN, ...args, `--kubeconfig=${kubeconfig}`], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  suite.controllers.push(child);
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', ok));
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`controller not started in 60 s; stderr: ${stderr}`)), 60_000);
    exited.then((code) => {
      const last = logs.slice(-5).map((l) => JSON.stringify(l));
      fail(new Error(`controller exited ${code}; last logs: ${last.join('\n')}; stderr: ${stderr}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        logs.push(JSON.parse(line));
      } catch {
        logs.push({ msg: line });
      }
      if (logs.at(-1)?.msg === 'controller started') {
        clearTimeout(timer);
        ok();
      }
    });
  });
  return {
    objects,
    args,
    logs,
    pid: child.pid,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

/** Creates an McpServer and waits until the controller applied its Deployment and wrote its status. */
export async function reconciled(ns: string, name: string) {
  await suite.admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer(name));
  const deployment = await eventually(`deployment ${ns}/${name}`, () =>
    getOrUndefined<V1Deployment>(suite.admin, resourcePath(T.deployments, { namespace: ns, name })),
  );
  const mcp = await eventually(`status of ${ns}/${name}`, async () => {
    const live = await suite.admin.get<McpServer>(resourcePath(T.mcpservers, { namespace: ns, name }));
    return live.status?.observedGeneration === live.metadata?.generation && live.status?.conditions ? live : undefined;
  });
  return { deployment, mcp };
}
