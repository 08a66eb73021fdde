/** A VirtualMcpServer's children, rendered offline: pure, hardened, and the aggregate contract the gateway reads. */
import type { KubernetesObject, V1ConfigMap, V1Deployment, V1NetworkPolicy } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { McpServer } from '../../src/api/types.generated.ts';
import { parseMcpServer, parseVirtualMcpServer } from '../../src/api/validate.ts';
import { runRender } from '../../src/cli/render.ts';
import { AGGREGATE_VERB, type AggregateBackendsFile, BACKENDS_FILE_ENV } from '../../src/contract/aggregate.ts';
import { GATEWAY_ENV_PREFIX, GATEWAY_SETTINGS } from '../../src/contract/gateway.ts';
import { renderVirtualChildren, virtualServiceURL } from '../../src/render/virtual.ts';
import { backendsFile, matchesSelector, selectBackends } from '../../src/render/virtual-backends.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';

const inNamespace = (m: { metadata: object }, labels?: Record<string, string>) => ({
  ...m,
  metadata: { ...m.metadata, namespace: 'team', ...(labels ? { labels } : {}) },
});
const server = (m: object) => parseMcpServer(m) as McpServer;
const vmcp = (spec: Record<string, unknown>) =>
  parseVirtualMcpServer({ ...virtualServer('tools', spec), metadata: { name: 'tools', namespace: 'team' } });

const fleet = [
  server(inNamespace(stdioServer('memory'), { team: 'a' })),
  server(inNamespace(stdioServer('everything'), { team: 'a', tier: 'test' })),
  server(inNamespace(httpServer('legacy', { transport: 'sse', gateway: { enabled: false } }), { team: 'a' })),
  server({ ...stdioServer('elsewhere'), metadata: { name: 'elsewhere', namespace: 'other', labels: { team: 'a' } } }),
];

const byKind = <T>(objects: KubernetesObject[], kind: string) => objects.find((o) => o.kind === kind) as T;

describe('selectBackends', () => {
  it('takes spec.servers in order, then the selector’s McpServers of the namespace by name, once each', () => {
    const v = vmcp({
      servers: [{ name: 'everything', prefix: 'ev' }, { name: 'github' }],
      selector: { matchLabels: { team: 'a' } },
    });
    const selection = selectBackends(v, fleet);
    expect(
      selection.backends.map((b) => `${b.naming.name}:${b.server ? 'found' : 'missing'}:${b.naming.listedAt ?? '-'}`),
    ).toEqual(['everything:found:0', 'github:missing:1', 'legacy:found:-', 'memory:found:-']);
    expect(selection.missing).toEqual(['github']);
  });

  it.each([
    [{ matchLabels: { team: 'a' } }, { team: 'a' }, true],
    [{ matchLabels: { team: 'a' } }, { team: 'b' }, false],
    [{}, undefined, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['test'] }] }, { tier: 'test' }, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['test'] }] }, { tier: 'test' }, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'NotIn', values: ['test'] }] }, {}, true],
    [{ matchExpressions: [{ key: 'tier', operator: 'Exists' }] }, {}, false],
    [{ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist' }] }, {}, true],
  ] as const)('selector %j on labels %j: %s', (selector, labels, expected) => {
    expect(matchesSelector(labels, selector as never)).toBe(expected);
  });
});

describe('renderVirtualChildren', () => {
  const v = vmcp({
    servers: [
      { name: 'github', prefix: 'gh', tools: { deny: ['delete_repository'], rename: { create_issue: 'new_issue' } } },
    ],
    selector: { matchLabels: { team: 'a' } },
    tools: { deny: ['gh_merge_*'] },
    auth: { bearer: { secretRef: { name: 'team-tokens' } } },
    ingress: { host: 'mcp.example.com', path: '/team' },
    networkPolicy: { egress: [] },
    replicas: 2,
  });
  const file = backendsFile(v, selectBackends(v, fleet));
  const children = renderVirtualChildren(v, file, { gatewayImage: 'registry.test/mcp-operator:1' });

  it('is pure: the same input renders the same objects', () => {
    expect(renderVirtualChildren(v, file, { gatewayImage: 'registry.test/mcp-operator:1' })).toEqual(children);
  });

  it('renders a ServiceAccount, the backends ConfigMap, Service, Deployment, Ingress, NetworkPolicy, PDB', () => {
    expect(children.map((c) => c.kind)).toEqual([
      'ServiceAccount',
      'ConfigMap',
      'Service',
      'Deployment',
      'Ingress',
      'NetworkPolicy',
      'PodDisruptionBudget',
    ]);
    for (const c of children) {
      expect(c.metadata?.labels).toMatchObject({
        'app.kubernetes.io/name': 'virtual-mcp-server',
        'app.kubernetes.io/instance': 'tools',
        'app.kubernetes.io/managed-by': 'mcp-operator',
      });
    }
    expect(virtualServiceURL(v)).toBe('http://tools.team.svc:8080/mcp');
  });

  it('lists the backends for the gateway in priority order, by their Service URLs', () => {
    const config = byKind<V1ConfigMap>(children, 'ConfigMap');
    const parsed = JSON.parse(config.data?.['backends.json'] ?? '') as AggregateBackendsFile;
    expect(parsed).toEqual({
      version: 1,
      backends: [
        {
          name: 'github',
          url: 'http://github.team.svc:8080/mcp',
          transport: 'streamable-http',
          prefix: 'gh',
          tools: { deny: ['delete_repository'], rename: { create_issue: 'new_issue' } },
        },
        { name: 'everything', url: 'http://everything.team.svc:8080/mcp', transport: 'streamable-http' },
        // Without its gateway: the server's own path and transport.
        { name: 'legacy', url: 'http://legacy.team.svc:8080/sse', transport: 'sse' },
        { name: 'memory', url: 'http://memory.team.svc:8080/mcp', transport: 'streamable-http' },
      ],
    });
  });

  it('runs our image in aggregate mode, hardened as Pod Security "restricted" asks', () => {
    const deployment = byKind<V1Deployment>(children, 'Deployment');
    const pod = deployment.spec?.template.spec;
    expect(pod?.automountServiceAccountToken).toBe(false);
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod?.containers).toHaveLength(1);
    const [gateway] = pod?.containers ?? [];
    expect(gateway?.image).toBe('registry.test/mcp-operator:1');
    expect(gateway?.args).toEqual(['gateway', AGGREGATE_VERB]);
    expect(gateway?.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
    });
    const env = Object.fromEntries((gateway?.env ?? []).map((e) => [e.name, e.value]));
    expect(env).toMatchObject({
      MCP_GATEWAY_PORT: '8080',
      MCP_GATEWAY_HEALTH_PORT: '9090',
      MCP_GATEWAY_BASE_PATH: '/team',
      MCP_GATEWAY_TOOLS_DENY: 'gh_merge_*',
      MCP_GATEWAY_AUTH_TOKEN_FILE: '/var/run/mcp-gateway/auth/tokens',
      MCP_GATEWAY_SESSION_SECRET_FILE: '/var/run/mcp-gateway/session/session-key',
      MCP_GATEWAY_TRUST_PROXY: 'true',
      [BACKENDS_FILE_ENV]: '/var/run/mcp-gateway/backends/backends.json',
    });
    // The backends file is a whole-volume mount (no subPath), so the kubelet refreshes it without a rollout.
    expect(gateway?.volumeMounts).toContainEqual({
      name: 'mcp-backends',
      mountPath: '/var/run/mcp-gateway/backends',
      readOnly: true,
    });
    expect(gateway?.volumeMounts?.some((m) => m.subPath)).toBe(false);
    // Every variable is one of the gateway's settings (same meaning as in an McpServer's pod), or the backends file.
    const known = new Set<string>([...Object.values(GATEWAY_SETTINGS).map((s) => s.env), BACKENDS_FILE_ENV]);
    expect(Object.keys(env).filter((k) => k.startsWith(GATEWAY_ENV_PREFIX) && !known.has(k))).toEqual([
      'MCP_GATEWAY_POD_IP',
    ]);
    expect(gateway?.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
    // Membership is not part of the pod template: a backend joining rolls no pod.
    const other = renderVirtualChildren(
      v,
      { version: 1, backends: [] },
      { gatewayImage: 'registry.test/mcp-operator:1' },
    );
    expect(byKind<V1Deployment>(other, 'Deployment')).toEqual(deployment);
  });

  it('lets the pods reach their backends’ pods (and DNS, and each other) when egress is restricted', () => {
    const policy = byKind<V1NetworkPolicy>(children, 'NetworkPolicy');
    expect(policy.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    const toBackends = policy.spec?.egress?.find((r) =>
      r.to?.some((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/name'] === 'mcp-server'),
    );
    expect(toBackends?.ports).toEqual([{ port: 'mcp', protocol: 'TCP' }]);
    expect(toBackends?.to?.map((p) => p.podSelector?.matchLabels?.['app.kubernetes.io/instance'])).toEqual([
      'github',
      'everything',
      'legacy',
      'memory',
    ]);
    expect(policy.spec?.egress?.some((r) => r.ports?.some((p) => p.port === 53))).toBe(true);
  });
});

describe('backends with auth on', () => {
  const secured = server(
    inNamespace(stdioServer('github', { auth: { bearer: { secretRef: { name: 'gh-users', key: 'tokens' } } } })),
  );
  const v = vmcp({ servers: [{ name: 'github' }, { name: 'memory' }] });

  it('get a credential file each; the pod mounts the credentials Secret whole', () => {
    const file = backendsFile(v, selectBackends(v, [secured, ...fleet]));
    expect(file.backends.map((b) => [b.name, b.tokenFile])).toEqual([
      ['github', '/var/run/mcp-gateway/backend-credentials/github'],
      ['memory', undefined],
    ]);
    const deployment = byKind<V1Deployment>(renderVirtualChildren(v, file, { gatewayImage: 'img' }), 'Deployment');
    const pod = deployment.spec?.template.spec;
    expect(pod?.volumes).toContainEqual({
      name: 'mcp-backend-credentials',
      secret: { secretName: 'tools-backend-credentials', defaultMode: 0o440 },
    });
    expect(pod?.containers[0]?.volumeMounts).toContainEqual({
      name: 'mcp-backend-credentials',
      mountPath: '/var/run/mcp-gateway/backend-credentials',
      readOnly: true,
    });
    // Never the users' Secret of the backend.
    expect(JSON.stringify(deployment)).not.toContain('gh-users');
  });

  it('without one, no credentials volume', () => {
    const file = backendsFile(v, selectBackends(v, fleet));
    const deployment = byKind<V1Deployment>(renderVirtualChildren(v, file, { gatewayImage: 'img' }), 'Deployment');
    expect(deployment.spec?.template.spec?.volumes?.map((x) => x.name)).not.toContain('mcp-backend-credentials');
  });
});

describe('mcp-operator render with a VirtualMcpServer', () => {
  it('prints its children, its backends taken from the McpServers of the input, and says which it assumed', () => {
    const text = [stdioServer('memory'), virtualServer('tools', { servers: [{ name: 'memory' }, { name: 'github' }] })]
      .map((m) => stringify(m))
      .join('---\n');
    const out: string[] = [];
    const err: string[] = [];
    const code = runRender(['-f', 'all.yaml'], {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      readFile: () => text,
    });
    expect(code).toBe(0);
    const objects = parseAllDocuments(out.join('')).map((d) => d.toJS() as KubernetesObject);
    const config = objects.find((o) => o.kind === 'ConfigMap') as V1ConfigMap;
    expect(config.metadata?.name).toBe('tools-backends');
    expect(JSON.parse(config.data?.['backends.json'] ?? '').backends.map((b: { name: string }) => b.name)).toEqual([
      'memory',
      'github',
    ]);
    expect(err.join('')).toContain('McpServer github is not in the input');
  });

  it('says a listed VirtualMcpServer of the input is one, whichever document comes first', () => {
    const outer = virtualServer('outer', { servers: [{ name: 'inner' }] });
    const inner = virtualServer('inner', { servers: [{ name: 'memory' }] });
    for (const docs of [
      [outer, inner, stdioServer('memory')],
      [stdioServer('memory'), inner, outer],
    ]) {
      const err: string[] = [];
      const code = runRender(['-f', 'all.yaml'], {
        stdout: () => {},
        stderr: (t) => err.push(t),
        readFile: () => docs.map((m) => stringify(m)).join('---\n'),
      });
      expect(code).toBe(0);
      expect(err.join('')).toContain('inner is a VirtualMcpServer in the input, not an McpServer');
      expect(err.join('')).not.toContain('McpServer inner is not in the input');
    }
  });

  it('refuses an invalid VirtualMcpServer naming the field', () => {
    const err: string[] = [];
    const code = runRender(['-f', 'bad.yaml'], {
      stdout: () => {},
      stderr: (t) => err.push(t),
      readFile: () => stringify(virtualServer('tools', { servers: [{ name: 'a', prefix: 'no_underscores' }] })),
    });
    expect(code).toBe(1);
    expect(err.join('')).toContain('spec.servers[0].prefix');
  });
});
