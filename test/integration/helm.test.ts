/**
 * The Helm chart (charts/mcp-operator), with a real helm built from its Go module (scripts/k8s-binaries.sh helm)
 * and the real API server of the integration tests: lint, render with the chart's ci/ values files, schema
 * refusals, a server-side dry-run of the rendered objects, and the controller installed from the rendered chart
 * (its ServiceAccount, its RBAC, its exact args) reconciling McpServers, in both RBAC modes.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { V1Deployment, V1Pod, V1PodSpec, V1PolicyRule, V1ReplicaSet } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse, parseAllDocuments, stringify } from 'yaml';
import { allCrds } from '../../src/api/crd.ts';
import type { McpServer } from '../../src/api/types.generated.ts';
import { VERSION } from '../../src/cli/defaults.ts';
import { controllerRules, gatewayApiRules, leaderElectionRules } from '../../src/controller/rbac.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { controlPlaneBinaries } from '../../src/local-cluster/control-plane.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import {
  adminClient,
  createRestrictedNamespace,
  eventually,
  getOrUndefined,
  resourcePath,
  T,
} from '../support/kube.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const CHART = join(ROOT, 'charts/mcp-operator');
const MAIN = join(ROOT, 'src/cli/main.ts');
const CI_VALUES = ['default', 'namespaced', 'no-crds', 'servicemonitor', 'networkpolicy'];
const RELEASE = 'mcp-operator';

type K8sObject = {
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

let helmBin: string;
let work: string;
let admin: KubeClient;
/** Everything this file creates on the shared API server, removed in afterAll. */
const created: string[] = [];
const controllers: ChildProcess[] = [];

function helm(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((ok) => {
    // helm's cache, config and data stay in the test's directory.
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      HELM_CACHE_HOME: work,
      HELM_CONFIG_HOME: work,
      HELM_DATA_HOME: work,
    };
    delete env.KUBECONFIG;
    // spawns: helm
    execFile(helmBin, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      ok({ code, stdout, stderr });
    });
  });
}

function valuesFile(name: string, values: unknown): string {
  const path = join(work, `${name}.yaml`);
  writeFileSync(path, stringify(values));
  return path;
}

/** `helm template` → the rendered objects. */
async function render(options: { values?: string; release?: string; namespace?: string } = {}): Promise<K8sObject[]> {
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

const ciValues = (name: string) => join(CHART, 'ci', `${name}-values.yaml`);
const ofKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const one = <O = K8sObject>(objects: K8sObject[], kind: string): O => {
  const found = ofKind(objects, kind);
  expect(
    found.map((o) => o.metadata.name),
    kind,
  ).toHaveLength(1);
  return found[0] as O;
};
const podSpec = (objects: K8sObject[]) =>
  (one<V1Deployment>(objects, 'Deployment').spec?.template.spec ?? {}) as V1PodSpec;
const containerArgs = (objects: K8sObject[]) => podSpec(objects).containers[0]?.args ?? [];

/** Pod Security Standards "restricted", checked on a pod spec (the API server checks it again on real pods). */
function expectRestricted(spec: V1PodSpec): void {
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

function expectNoWildcards(objects: K8sObject[]): void {
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
const discovery = new Map<string, Array<{ name: string; kind: string; namespaced: boolean }> | null>();
async function pathOf(object: K8sObject): Promise<string | undefined> {
  const { apiVersion, kind, metadata } = object;
  if (!discovery.has(apiVersion)) {
    const groups = await admin.get<{ groups: Array<{ versions: Array<{ groupVersion: string }> }> }>('/apis');
    const served =
      apiVersion === 'v1' || groups.groups.some((g) => g.versions.some((v) => v.groupVersion === apiVersion));
    const list = served
      ? await admin.get<{ resources: Array<{ name: string; kind: string; namespaced: boolean }> }>(
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
async function applyAll(objects: K8sObject[], options: { dryRun: boolean }): Promise<void> {
  const order = ['CustomResourceDefinition', 'ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'Role'];
  const rank = (kind: string) => (order.includes(kind) ? order.indexOf(kind) : order.length);
  for (const object of [...objects].sort((a, b) => rank(a.kind) - rank(b.kind))) {
    const path = await pathOf(object);
    if (!path) {
      // Only the ServiceMonitor may be skipped: the Prometheus Operator's CRDs are not on this API server.
      expect(object.kind).toBe('ServiceMonitor');
      continue;
    }
    await admin.request('apply', 'PATCH', path, {
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
    if (!options.dryRun && object.kind.startsWith('Cluster')) created.push(path);
  }
}

async function namespace(prefix: string): Promise<string> {
  const name = await createRestrictedNamespace(admin, prefix);
  created.push(resourcePath(T.namespaces, { name }));
  return name;
}

/**
 * Installs a release from its rendered objects and runs the controller as its pod would: with a token of the
 * chart's ServiceAccount (TokenRequest API) and exactly the container's args (health on a loopback port).
 */
async function install(release: string, values: unknown, releaseNs: string) {
  const objects = await render({ release, namespace: releaseNs, values: valuesFile(release, values) });
  await applyAll(objects, { dryRun: false });

  // The real ReplicaSet controller creates the controller's pods, admitted under Pod Security "restricted".
  const deployment = one<V1Deployment>(objects, 'Deployment');
  const selector = Object.entries(deployment.spec?.selector.matchLabels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  await eventually('the chart’s controller pods, admitted', async () => {
    const pods = await admin.list<V1Pod>(resourcePath(T.pods, { namespace: releaseNs }), { labelSelector: selector });
    if (pods.items.length === deployment.spec?.replicas) return pods.items;
    // Say why, when the ReplicaSet controller could not create them (e.g. refused by Pod Security admission).
    const sets = await admin.list<V1ReplicaSet>(resourcePath(T.replicasets, { namespace: releaseNs }), {
      labelSelector: selector,
    });
    const failure = sets.items.flatMap((r) => r.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
    if (failure) throw new Error(failure.message);
    return undefined;
  });

  const pod = deployment.spec?.template.spec as V1PodSpec;
  const account = pod.serviceAccountName as string;
  const { status } = await admin.create<{ status: { token: string } }>(
    `${resourcePath(T.serviceaccounts, { namespace: releaseNs, name: account })}/token`,
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  const { server } = parse(readFileSync(inject('adminKubeconfig'), 'utf8')).clusters[0].cluster;
  const kubeconfig = join(work, `${release}.kubeconfig`);
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
  controllers.push(child);
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
async function reconciled(ns: string, name: string) {
  await admin.create(resourcePath(T.mcpservers, { namespace: ns }), stdioServer(name));
  const deployment = await eventually(`deployment ${ns}/${name}`, () =>
    getOrUndefined<V1Deployment>(admin, resourcePath(T.deployments, { namespace: ns, name })),
  );
  const mcp = await eventually(`status of ${ns}/${name}`, async () => {
    const live = await admin.get<McpServer>(resourcePath(T.mcpservers, { namespace: ns, name }));
    return live.status?.observedGeneration === live.metadata?.generation && live.status?.conditions ? live : undefined;
  });
  return { deployment, mcp };
}

beforeAll(async () => {
  // Built from its Go module the first time (minutes), then cached beside the control-plane binaries.
  helmBin = join(await controlPlaneBinaries(['helm']), 'helm');
  if (!existsSync(helmBin))
    throw new Error(`no helm in ${helmBin}: with KUBEBUILDER_ASSETS set, put a helm v3 binary there too (or unset it)`);
  work = mkdtempSync(join(tmpdir(), 'mcp-operator-helm-'));
  admin = adminClient(inject('adminKubeconfig'));
}, 30 * 60_000);

afterAll(async () => {
  for (const child of controllers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const path of created.reverse()) await admin?.delete(path).catch(() => {});
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the Helm chart', () => {
  it('passes helm lint --strict with each of its ci/ values files', async () => {
    const { stdout } = await helm(['version', '--short']);
    expect(stdout).toMatch(/^v3\./);
    for (const name of CI_VALUES) {
      const { code, stdout, stderr } = await helm(['lint', '--strict', CHART, '-f', ciValues(name)]);
      expect(code, `${name}: ${stdout}${stderr}`).toBe(0);
    }
    const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8'));
    expect(chart).toMatchObject({ apiVersion: 'v2', name: 'mcp-operator', version: '0.1.0', appVersion: VERSION });
  });

  it('renders the defaults: the generated CRD kept on uninstall, a ClusterRole, a restricted leader-elected controller', async () => {
    const objects = await render({ values: ciValues('default') });
    expect(objects.map((o) => o.kind).sort()).toEqual(
      [
        'ClusterRole',
        'ClusterRoleBinding',
        'CustomResourceDefinition',
        'CustomResourceDefinition',
        'Deployment',
        'Role',
        'RoleBinding',
        'Service',
        'ServiceAccount',
      ].sort(),
    );
    for (const o of objects) {
      if (!['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(o.kind))
        expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('mcp-operator-system');
    }

    // The CRDs are the ones src/api/schema.ts generates (McpServer, VirtualMcpServer), kept on `helm uninstall`.
    const crds = ofKind(objects, 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name)).toEqual(allCrds().map((c) => c.metadata.name));
    for (const [i, crd] of crds.entries()) {
      expect(crd.metadata.annotations).toEqual({ 'helm.sh/resource-policy': 'keep' });
      expect((crd as { spec?: unknown }).spec).toEqual(JSON.parse(JSON.stringify(allCrds()[i]?.spec)));
    }

    // RBAC: src/controller/rbac.ts, cluster-wide objects named per release and namespace.
    const clusterRole = one(objects, 'ClusterRole');
    expect(clusterRole.metadata.name).toBe('mcp-operator-mcp-operator-system');
    expect(clusterRole.rules).toEqual([...controllerRules, ...gatewayApiRules]);
    expect(one(objects, 'ClusterRoleBinding')).toMatchObject({
      roleRef: { kind: 'ClusterRole', name: 'mcp-operator-mcp-operator-system' },
      subjects: [{ kind: 'ServiceAccount', name: 'mcp-operator', namespace: 'mcp-operator-system' }],
    });
    expect(one(objects, 'Role')).toMatchObject({ metadata: { namespace: 'mcp-operator-system' } });
    expect(one(objects, 'Role').rules).toEqual(leaderElectionRules);
    expectNoWildcards(objects);

    // Only the controller's pod gets a token.
    expect(one(objects, 'ServiceAccount').automountServiceAccountToken).toBe(false);
    const deployment = one<V1Deployment>(objects, 'Deployment');
    expect(deployment.spec?.replicas).toBe(2);
    const pod = podSpec(objects);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.serviceAccountName).toBe('mcp-operator');
    expectRestricted(pod);
    const container = pod.containers[0];
    expect(pod.containers).toHaveLength(1);
    expect(container?.image).toBe(`ghcr.io/mcp-operator/mcp-operator:${VERSION}`);
    expect(container?.args).toEqual([
      'controller',
      '--leader-elect=true',
      '--leader-election-namespace=mcp-operator-system',
      '--leader-election-id=mcp-operator',
      '--health-addr=0.0.0.0:8081',
      `--gateway-image=ghcr.io/mcp-operator/mcp-operator:${VERSION}`,
      '--workers=4',
      '--resync=600',
      '--log-level=info',
      '--gateway-api=true',
    ]);
    expect(container?.env).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
    ]);
    expect(container?.ports).toEqual([{ name: 'metrics', containerPort: 8081, protocol: 'TCP' }]);
    expect(container?.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(container?.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    expect(container?.resources).toMatchObject({
      requests: { cpu: '50m', memory: '128Mi' },
      limits: { memory: '512Mi' },
    });

    // The metrics Service selects the controller's pods.
    const service = one(objects, 'Service') as K8sObject & {
      spec: { selector: Record<string, string>; ports: unknown[] };
    };
    expect(service.spec.ports).toEqual([{ name: 'metrics', port: 8081, targetPort: 'metrics', protocol: 'TCP' }]);
    expect(deployment.spec?.template.metadata?.labels).toMatchObject(service.spec.selector);
    expect(deployment.spec?.selector.matchLabels).toEqual(service.spec.selector);
  });

  it('renders namespace-scoped RBAC: a Role and RoleBinding per watched namespace, no ClusterRole', async () => {
    const objects = await render({ values: ciValues('namespaced') });
    expect(ofKind(objects, 'ClusterRole')).toEqual([]);
    expect(ofKind(objects, 'ClusterRoleBinding')).toEqual([]);
    const roles = ofKind(objects, 'Role');
    const where = (o: K8sObject) => `${o.metadata.namespace}/${o.metadata.name}`;
    expect(roles.map(where).sort()).toEqual([
      'mcp-operator-system/mcp-operator-leader-election',
      'team-a/mcp-operator',
      'team-b/mcp-operator',
    ]);
    for (const role of roles)
      expect(role.rules).toEqual(
        role.metadata.namespace === 'mcp-operator-system'
          ? leaderElectionRules
          : [...controllerRules, ...gatewayApiRules],
      );
    const bindings = ofKind(objects, 'RoleBinding');
    expect(bindings.map(where).sort()).toEqual(roles.map(where).sort());
    for (const binding of bindings) {
      expect(binding).toMatchObject({
        roleRef: { kind: 'Role', name: binding.metadata.name },
        subjects: [{ kind: 'ServiceAccount', name: 'mcp-operator', namespace: 'mcp-operator-system' }],
      });
    }
    expectNoWildcards(objects);
    expect(containerArgs(objects)).toContain('--namespaces=team-a,team-b');
    expectRestricted(podSpec(objects));
  });

  it('gatewayAPI.enabled=false: no HTTPRoute or Gateway grants, and the controller is told not to use them', async () => {
    const off = valuesFile('no-gateway-api', { gatewayAPI: { enabled: false } });
    const cluster = await render({ values: off });
    expect(one(cluster, 'ClusterRole').rules).toEqual(controllerRules);
    expect(containerArgs(cluster)).toContain('--gateway-api=false');
    const namespaced = valuesFile('no-gateway-api-namespaced', {
      gatewayAPI: { enabled: false },
      rbac: { namespaced: true },
      watchNamespaces: ['team-a'],
    });
    const roles = ofKind(await render({ values: namespaced }), 'Role');
    expect(roles.find((r) => r.metadata.namespace === 'team-a')?.rules).toEqual(controllerRules);
  });

  it('renders the optional parts: no CRD, a ServiceMonitor, a NetworkPolicy', async () => {
    const noCrds = await render({ values: ciValues('no-crds') });
    expect(ofKind(noCrds, 'CustomResourceDefinition')).toEqual([]);
    expect(ofKind(noCrds, 'Deployment')).toHaveLength(1);

    const monitored = await render({ values: ciValues('servicemonitor') });
    const monitor = one(monitored, 'ServiceMonitor') as K8sObject & {
      spec: { selector: { matchLabels: Record<string, string> }; endpoints: unknown[] };
    };
    expect(monitor.metadata.labels).toMatchObject({ release: 'prometheus' });
    expect(one(monitored, 'Service').metadata.labels).toMatchObject(monitor.spec.selector.matchLabels);
    expect(monitor.spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', scheme: 'http', interval: '15s', scrapeTimeout: '10s' },
    ]);

    const locked = await render({ values: ciValues('networkpolicy') });
    const policy = one(locked, 'NetworkPolicy') as K8sObject & {
      spec: {
        podSelector: { matchLabels: Record<string, string> };
        ingress: unknown[];
        egress: unknown[];
        policyTypes: string[];
      };
    };
    expect(one<V1Deployment>(locked, 'Deployment').spec?.template.metadata?.labels).toMatchObject(
      policy.spec.podSelector.matchLabels,
    );
    expect(policy.spec.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(policy.spec.ingress).toEqual([
      {
        ports: [{ port: 8081, protocol: 'TCP' }],
        from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      },
    ]);
    expect(policy.spec.egress).toEqual([
      {
        ports: [
          { port: 443, protocol: 'TCP' },
          { port: 6443, protocol: 'TCP' },
        ],
        to: [{ ipBlock: { cidr: '10.0.0.1/32' } }],
      },
      // Tool discovery reaches every MCP server's pod on its `mcp` port (the gateway's, or the server's own).
      {
        to: [
          { namespaceSelector: {}, podSelector: { matchLabels: { 'app.kubernetes.io/managed-by': 'mcp-operator' } } },
        ],
        ports: [{ port: 'mcp', protocol: 'TCP' }],
      },
    ]);
    const apiOnly = await render({
      values: valuesFile('netpol-api-only', { networkPolicy: { enabled: true, toolDiscovery: false } }),
    });
    expect((one(apiOnly, 'NetworkPolicy') as K8sObject & { spec: { egress: unknown[] } }).spec.egress).toHaveLength(1);
  });

  it('refuses values that break values.schema.json, naming the value', async () => {
    const cases: Array<[unknown, RegExp]> = [
      [{ replicas: 'two' }, /at '\/replicas': got string, want integer/],
      [{ replicaCount: 3 }, /additional properties 'replicaCount' not allowed/],
      [{ rbac: { namespaced: true } }, /at '\/watchNamespaces': minItems/],
      [{ controller: { logLevel: 'verbose' } }, /at '\/controller\/logLevel'/],
      [{ image: { tag: '1.0', pulPolicy: 'Always' } }, /at '\/image': additional properties 'pulPolicy' not allowed/],
      // The catalog's resources are checked like the controller's: a typo is not silently dropped.
      [
        { catalog: { resources: { limts: { memory: '1Gi' } } } },
        /at '\/catalog\/resources': additional properties 'limts' not allowed/,
      ],
      [{ resources: { limits: { memory: 'lots' } } }, /at '\/resources\/limits\/memory'/],
      // Both reach a flag: a Lease name with a space, an image with " #" (YAML's comment) are refused, not cut.
      [{ controller: { leaderElectionId: 'Not A Lease!' } }, /at '\/controller\/leaderElectionId'/],
      [{ controller: { gatewayImage: 'reg.example.com/gw #v2' } }, /at '\/controller\/gatewayImage'/],
      [{ networkPolicy: { toolDiscovery: 'always' } }, /at '\/networkPolicy\/toolDiscovery': got string, want boolean/],
      [{ catalog: { resources: { requests: { cpu: -1 } } } }, /at '\/catalog\/resources\/requests\/cpu'/],
      // The catalog's exposure takes what an McpServer's does: else a typo is dropped or the route refused late.
      [
        { catalog: { httpRoute: { parentRefs: [{ name: 'gw', sectionNme: 'https' }] } } },
        /at '\/catalog\/httpRoute\/parentRefs\/0': additional properties 'sectionNme' not allowed/,
      ],
      [
        { catalog: { httpRoute: { parentRefs: [{ name: 'gw' }], hostnames: ['Catalog.Example.com'] } } },
        /at '\/catalog\/httpRoute\/hostnames\/0'/,
      ],
      [{ catalog: { ingress: { host: 'catalog.example.com.' } } }, /at '\/catalog\/ingress\/host'/],
      [{ catalog: { ingress: { host: '10.0.0.1' } } }, /at '\/catalog\/ingress\/host'/],
    ];
    for (const [i, [values, message]] of cases.entries()) {
      const { code, stderr } = await helm(['template', RELEASE, CHART, '-f', valuesFile(`invalid-${i}`, values)]);
      expect(code, JSON.stringify(values)).not.toBe(0);
      expect(stderr).toMatch(/values don't meet the specifications of the schema/);
      expect(stderr).toMatch(message);
    }
  });

  it('is accepted by the real API server (server-side dry-run, strict field validation)', async () => {
    const releaseNs = await namespace('mcp-operator-system');
    const defaults = await render({ namespace: releaseNs, values: ciValues('default') });
    await applyAll(defaults, { dryRun: true });
    // The optional objects too; the ServiceMonitor is skipped when the Prometheus Operator's API is absent.
    const optional = await render({
      namespace: releaseNs,
      values: valuesFile('optional', {
        metrics: { serviceMonitor: { enabled: true } },
        networkPolicy: { enabled: true, apiServer: { cidrs: ['10.0.0.1/32'] } },
      }),
    });
    await applyAll(
      optional.filter((o) => ['NetworkPolicy', 'ServiceMonitor'].includes(o.kind)),
      { dryRun: true },
    );
    // Dry-run: nothing was created.
    const clusterRole = one(defaults, 'ClusterRole');
    expect(
      await getOrUndefined(admin, resourcePath(T.clusterroles, { name: clusterRole.metadata.name })),
    ).toBeUndefined();
  });

  it('installs, upgrades and uninstalls with helm itself on the real API server', async () => {
    const releaseNs = await namespace('mcp-operator-helm');
    const kubeconfig = ['--kubeconfig', inject('adminKubeconfig'), '--namespace', releaseNs];
    // The CRD stays with the global setup: helm would refuse to adopt an object it did not create.
    const values = valuesFile('helm-install', { crds: { install: false }, watchNamespaces: [releaseNs] });
    let notes = '';
    for (const verb of ['install', 'upgrade']) {
      const { code, stdout, stderr } = await helm([verb, 'it', CHART, '-f', values, ...kubeconfig]);
      expect(code, `${verb}: ${stderr}`).toBe(0);
      expect(stdout).toMatch(/STATUS: deployed/);
      notes = stdout;
    }
    // NOTES.txt shows a first McpServer (a heredoc for the first watched namespace) that the API server accepts.
    const heredoc = notes.match(/kubectl apply -n (\S+) -f - <<'YAML'\n([\s\S]*?)\n\s*YAML\n/);
    expect(heredoc?.[1]).toBe(releaseNs);
    const first = parse((heredoc?.[2] ?? '').replace(/^ {2}/gm, ''));
    expect(first).toMatchObject({ kind: 'McpServer', metadata: { name: 'everything' } });
    await admin.create(resourcePath(T.mcpservers, { namespace: releaseNs }), first, {
      dryRun: 'All',
      fieldValidation: 'Strict',
    });
    expect(notes).toContain(`kubectl -n ${releaseNs} get mcps everything -o jsonpath='{.status.url}`);
    const clusterRole = resourcePath(T.clusterroles, { name: `it-mcp-operator-${releaseNs}` });
    created.push(clusterRole);
    expect(await getOrUndefined(admin, clusterRole)).toBeDefined();
    const deployment = resourcePath(T.deployments, { namespace: releaseNs, name: 'it-mcp-operator' });
    expect(await getOrUndefined(admin, deployment)).toBeDefined();
    const { code, stderr } = await helm(['uninstall', 'it', ...kubeconfig]);
    expect(code, stderr).toBe(0);
    expect(await getOrUndefined(admin, clusterRole)).toBeUndefined();
  });

  it('installs a controller whose ServiceAccount and RBAC are enough to reconcile McpServers, in both RBAC modes', async () => {
    const releaseNs = await namespace('mcp-operator');
    const [watched, teamA, teamB] = [await namespace('helm-ws'), await namespace('helm-a'), await namespace('helm-b')];

    // ClusterRole mode (watching one namespace, so leftovers of other test files stay out of it).
    const cluster = await install(RELEASE, { watchNamespaces: [watched] }, releaseNs);
    expect(cluster.args).toContain(`--namespaces=${watched}`);
    const first = await reconciled(watched, 'everything');
    expect(first.deployment.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'McpServer', name: 'everything' });
    expect(first.mcp.status?.url).toBe(`http://everything.${watched}.svc:8080/mcp`);
    expect(first.mcp.status?.conditions?.find((c) => c.type === 'Ready')).toMatchObject({
      status: 'False',
      reason: 'DeploymentUnavailable', // no kubelet: pods are admitted, never run
    });
    const lease = await admin.get<{ spec: { holderIdentity?: string } }>(
      resourcePath(T.leases, { namespace: releaseNs, name: 'mcp-operator' }),
    );
    expect(lease.spec.holderIdentity).toBe(`${hostname()}_${cluster.pid}`); // this very process leads
    expect(await cluster.stop()).toBe(0);

    // Namespace-scoped mode: a second release in the same namespace, the CRD left to the first one.
    const scoped = await install(
      'scoped',
      { crds: { install: false }, rbac: { namespaced: true }, watchNamespaces: [teamA, teamB] },
      releaseNs,
    );
    expect(ofKind(scoped.objects, 'ClusterRole')).toEqual([]);
    expect(scoped.args).toContain('--leader-election-id=scoped-mcp-operator');
    for (const ns of [teamA, teamB]) {
      const { mcp } = await reconciled(ns, 'everything');
      expect(mcp.status?.url).toBe(`http://everything.${ns}.svc:8080/mcp`);
    }
    expect(scoped.logs.filter((l) => Number(l.level) >= 50)).toEqual([]);
    expect(await scoped.stop()).toBe(0);
  });

  it('gatewayAPI.enabled=false: an McpServer with spec.httpRoute gets GatewayAPIDisabled, not Forbidden', async () => {
    const releaseNs = await namespace('mcp-operator');
    const watched = await namespace('helm-nogw');
    const off = await install(
      'nogw',
      {
        crds: { install: false },
        rbac: { namespaced: true },
        watchNamespaces: [watched],
        gatewayAPI: { enabled: false },
      },
      releaseNs,
    );
    expect(off.args).toContain('--gateway-api=false');
    await admin.create(
      resourcePath(T.mcpservers, { namespace: watched }),
      stdioServer('routed', { httpRoute: { parentRefs: [{ name: 'public' }] } }),
    );
    const mcp = await eventually(`GatewayAPIDisabled on ${watched}/routed`, async () => {
      const live = await admin.get<McpServer>(resourcePath(T.mcpservers, { namespace: watched, name: 'routed' }));
      const ready = live.status?.conditions?.find((c) => c.type === 'Ready');
      return live.status?.observedGeneration === live.metadata?.generation && ready?.reason === 'GatewayAPIDisabled'
        ? live
        : undefined;
    });
    expect(mcp.status?.conditions?.find((c) => c.type === 'Ready')?.message).toContain('gatewayAPI.enabled');
    // The rest of the server is there, and nothing asked for what the chart did not grant.
    expect(await getOrUndefined(admin, resourcePath(T.services, { namespace: watched, name: 'routed' }))).toBeDefined();
    // Timestamps and pids are left out: a clock reading such as ...368403 must not look like a 403.
    const refused = off.logs.filter(({ time, pid, ...line }) => /forbidden|\b403\b/i.test(JSON.stringify(line)));
    expect(refused).toEqual([]);
    expect(await off.stop()).toBe(0);
  });
});
