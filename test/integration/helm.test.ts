import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { V1Deployment } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { allCrds } from '../../src/api/crd.ts';
import type { McpServer } from '../../src/api/types.generated.ts';
import { VERSION } from '../../src/cli/defaults.ts';
import { controllerRules, gatewayApiRules, leaderElectionRules } from '../../src/controller/rbac.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { controlPlaneBinaries } from '../../src/local-cluster/control-plane.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { adminClient, eventually, getOrUndefined, resourcePath, T } from '../support/kube.ts';
import {
  applyAll,
  CHART,
  CI_VALUES,
  ciValues,
  containerArgs,
  expectNoWildcards,
  expectRestricted,
  helm,
  install,
  type K8sObject,
  namespace,
  ofKind,
  one,
  podSpec,
  RELEASE,
  reconciled,
  render,
  suite,
  valuesFile,
} from './helm-helpers.ts';

let admin: KubeClient;
const { created, controllers } = suite;

beforeAll(async () => {
  // Built from its Go module the first time (minutes), then cached beside the control-plane binaries.
  suite.helmBin = join(await controlPlaneBinaries(['helm']), 'helm');
  if (!existsSync(suite.helmBin))
    throw new Error(
      `no helm in ${suite.helmBin}: with KUBEBUILDER_ASSETS set, put a helm v3 binary there too (or unset it)`,
    );
  suite.work = mkdtempSync(join(tmpdir(), 'mcp-operator-helm-'));
  suite.admin = adminClient(inject('adminKubeconfig'));
  admin = suite.admin;
}, 30 * 60_000);

afterAll(async () => {
  for (const child of controllers) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const path of created.reverse()) await admin?.delete(path).catch(() => {});
  if (suite.work) rmSync(suite.work, { recursive: true, force: true });
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
