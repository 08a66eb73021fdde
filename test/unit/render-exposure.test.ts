/**
 * The renderer, exposure and companions: the Service, the Ingress, the NetworkPolicy, the PodDisruptionBudget
 * and the ServiceAccount of a defaulted McpServer.
 */
import type {
  V1Deployment,
  V1Ingress,
  V1NetworkPolicy,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPort,
  V1PodDisruptionBudget,
  V1Service,
  V1ServiceAccount,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';
import { containersOf, find, must, podSpecOf, render } from './render-helpers.ts';

describe('Service', () => {
  for (const [label, manifest] of [
    ['stdio', stdioServer()],
    ['streamable-http', httpServer()],
    ['gateway disabled', httpServer('bare', { gateway: { enabled: false } })],
  ] as const) {
    it(`is a ClusterIP exposing only mcp 8080 -> the pod's mcp port (${label})`, () => {
      const children = render(manifest);
      const svc = must(find<V1Service>(children, 'Service'), 'a Service');
      expect(svc.spec?.type ?? 'ClusterIP').toBe('ClusterIP');
      expect(svc.spec?.ports).toEqual([expect.objectContaining({ name: 'mcp', port: 8080, targetPort: 'mcp' })]);
      const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
      const podLabels = d.spec?.template.metadata?.labels ?? {};
      expect(Object.keys(svc.spec?.selector ?? {}).length).toBeGreaterThan(0);
      expect(podLabels).toMatchObject(svc.spec?.selector ?? {});
      // The named target resolves to a port in the pod.
      expect(containersOf(d).some((c) => c.ports?.some((p) => p.name === 'mcp'))).toBe(true);
    });
  }

  it('never routes to the health port 9090', () => {
    const svc = must(find<V1Service>(render(stdioServer()), 'Service'), 'a Service');
    for (const p of svc.spec?.ports ?? []) {
      expect(p.port).not.toBe(9090);
      expect(p.targetPort).not.toBe(9090);
      expect(p.targetPort).not.toBe('health');
    }
  });
});

describe('Ingress', () => {
  const ingressOf = (manifest: Manifest) => find<V1Ingress>(render(manifest), 'Ingress');

  it('exists only when spec.ingress is set', () => {
    expect(ingressOf(stdioServer())).toBeUndefined();
    expect(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } }))).toBeDefined();
  });

  it('sets class, host, a Prefix path to the mcp Service port, and TLS', () => {
    const ing = must(
      ingressOf(
        stdioServer('github', {
          ingress: { className: 'nginx', host: 'mcp.example.com', path: '/github', tls: { secretName: 'mcp-cert' } },
        }),
      ),
      'an Ingress',
    );
    expect(ing.spec?.ingressClassName).toBe('nginx');
    expect(ing.spec?.rules).toHaveLength(1);
    const rule = must(ing.spec?.rules?.[0], 'a rule');
    expect(rule.host).toBe('mcp.example.com');
    expect(rule.http?.paths).toEqual([
      {
        path: '/github',
        pathType: 'Prefix',
        backend: { service: { name: 'github', port: { name: 'mcp' } } },
      },
    ]);
    expect(ing.spec?.tls).toEqual([{ hosts: ['mcp.example.com'], secretName: 'mcp-cert' }]);
  });

  it('with auth under a prefix, also routes the RFC 9728 metadata at the host root to the gateway', () => {
    const bearer = { bearer: { secretRef: { name: 'tokens' } } };
    const pathsOf = (manifest: Manifest) =>
      must(ingressOf(manifest), 'an Ingress').spec?.rules?.[0]?.http?.paths.map((p) => [p.path, p.pathType]);
    // RFC 9728 §3.1: https://host/github/mcp is described at https://host/.well-known/oauth-protected-resource/github/mcp,
    // which the /github prefix does not match.
    expect(pathsOf(stdioServer('github', { auth: bearer, ingress: { host: 'h.example', path: '/github/' } }))).toEqual([
      ['/github/', 'Prefix'],
      ['/.well-known/oauth-protected-resource/github', 'Prefix'],
    ]);
    const ing = must(ingressOf(stdioServer('github', { auth: bearer, ingress: { path: '/github' } })), 'an Ingress');
    for (const p of ing.spec?.rules?.[0]?.http?.paths ?? []) {
      expect(p.backend).toEqual({ service: { name: 'github', port: { name: 'mcp' } } });
    }
    // At the root the prefix path already covers /.well-known; without auth there is no metadata to route.
    expect(pathsOf(stdioServer('root', { auth: bearer, ingress: { host: 'h.example' } }))).toEqual([['/', 'Prefix']]);
    expect(pathsOf(stdioServer('open', { ingress: { host: 'h.example', path: '/open' } }))).toEqual([
      ['/open', 'Prefix'],
    ]);
  });

  it('routes / by default and has no TLS or class unless asked', () => {
    const ing = must(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } })), 'an Ingress');
    expect(ing.spec?.rules?.[0]?.http?.paths?.[0]?.path).toBe('/');
    expect(ing.spec?.tls ?? []).toEqual([]);
    expect(ing.spec?.ingressClassName).toBeUndefined();
  });

  it('carries the streaming annotations for ingress-nginx and F5 NGINX, as strings', () => {
    const ing = must(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } })), 'an Ingress');
    const a = ing.metadata?.annotations ?? {};
    expect(a).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'nginx.org/proxy-buffering': 'False',
      'nginx.org/proxy-read-timeout': '3600s',
    });
    for (const [k, v] of Object.entries(a)) expect(typeof v, k).toBe('string');
  });

  it('never uses snippet annotations', () => {
    const ing = must(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } })), 'an Ingress');
    for (const k of Object.keys(ing.metadata?.annotations ?? {})) expect(k).not.toMatch(/snippet/i);
  });

  it("lets the user's annotations override ours and adds theirs", () => {
    const ing = must(
      ingressOf(
        stdioServer('x', {
          ingress: {
            host: 'mcp.example.com',
            annotations: {
              'nginx.ingress.kubernetes.io/proxy-read-timeout': '86400',
              'cert-manager.io/cluster-issuer': 'letsencrypt',
            },
          },
        }),
      ),
      'an Ingress',
    );
    const a = ing.metadata?.annotations ?? {};
    expect(a['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('86400');
    expect(a['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
    expect(a['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
  });
});

describe('NetworkPolicy', () => {
  const policyOf = (manifest: Manifest) => find<V1NetworkPolicy>(render(manifest), 'NetworkPolicy');
  const clients = [{ namespaceSelector: { matchLabels: { team: 'agents' } } }];
  const prometheus = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
  /** The wire field is `from` (client-node's type calls it `_from`). */
  const peersOf = (rule: V1NetworkPolicyIngressRule) => (rule as { from?: unknown }).from;
  /** A policy port reaching the gateway's mcp (8080) or health (9090) port, by number or by name, over TCP. */
  const reaches = (p: V1NetworkPolicyPort | undefined, name: 'mcp' | 'health') =>
    (p?.protocol ?? 'TCP') === 'TCP' && (p?.port === name || p?.port === (name === 'mcp' ? 8080 : 9090));

  it('exists only when asked for', () => {
    expect(policyOf(stdioServer())).toBeUndefined();
    expect(policyOf(stdioServer('np', { networkPolicy: {} }))).toBeDefined();
  });

  it('selects the pods and opens 8080 to ingressFrom; 9090 stays closed without metricsFrom', () => {
    const children = render(stdioServer('np', { networkPolicy: { ingressFrom: clients } }));
    const np = must(find<V1NetworkPolicy>(children, 'NetworkPolicy'), 'a NetworkPolicy');
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(d.spec?.template.metadata?.labels).toMatchObject(
      np.spec?.podSelector?.matchLabels ?? { missing: 'selector' },
    );
    expect(np.spec?.policyTypes).toEqual(['Ingress']);
    expect(np.spec?.egress).toBeUndefined();
    expect(np.spec?.ingress).toHaveLength(2);
    const rule = must(np.spec?.ingress?.[0], 'an ingress rule');
    expect(peersOf(rule)).toEqual(clients);
    expect(rule.ports).toHaveLength(1);
    expect(reaches(rule.ports?.[0], 'mcp')).toBe(true);
    // Sibling replicas relay sessions to each other on the mcp port.
    const siblings = must(np.spec?.ingress?.[1], 'the sibling rule');
    expect(peersOf(siblings)).toEqual([{ podSelector: { matchLabels: np.spec?.podSelector?.matchLabels } }]);
    expect(siblings.ports?.every((p) => reaches(p, 'mcp'))).toBe(true);
  });

  it('opens 9090 to metricsFrom only', () => {
    const np = must(
      policyOf(stdioServer('np', { networkPolicy: { ingressFrom: clients, metricsFrom: prometheus } })),
      'a NetworkPolicy',
    );
    const rules = np.spec?.ingress ?? [];
    const health = rules.filter((r) => r.ports?.some((p) => reaches(p, 'health')));
    expect(health.map(peersOf)).toEqual([prometheus]);
    expect(health[0]?.ports?.every((p) => reaches(p, 'health'))).toBe(true);
    const mcp = rules.filter((r) => r.ports?.some((p) => reaches(p, 'mcp')));
    expect(mcp.map(peersOf)).toEqual([clients, [{ podSelector: { matchLabels: np.spec?.podSelector?.matchLabels } }]]);
    expect(mcp[0]?.ports?.every((p) => reaches(p, 'mcp'))).toBe(true);
  });

  it('adds the Egress policy type with the user rules plus DNS on 53 UDP and TCP', () => {
    const egress = [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 5432, protocol: 'TCP' }] }];
    const np = must(policyOf(stdioServer('np', { networkPolicy: { egress } })), 'a NetworkPolicy');
    expect(np.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    const rules = np.spec?.egress ?? [];
    expect(rules.slice(0, 1)).toEqual(egress);
    expect(rules).toHaveLength(3);
    const dns = must(rules[1], 'the DNS rule');
    // The last rule lets the gateway relay sessions to sibling replicas.
    expect(rules[2]).toEqual({
      to: [{ podSelector: { matchLabels: np.spec?.podSelector?.matchLabels } }],
      ports: [{ port: 'mcp', protocol: 'TCP' }],
    });
    expect(dns.ports).toEqual(
      expect.arrayContaining([
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ]),
    );
    expect(dns.ports).toHaveLength(2);
  });

  it("admits the controller's namespace to the MCP port when ingressFrom narrows it (tool discovery)", () => {
    const operator = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mcp-operator-system' } } }];
    const mcpRules = (np: V1NetworkPolicy | undefined) =>
      (np?.spec?.ingress ?? []).filter((r) => r.ports?.some((p) => reaches(p, 'mcp')));
    const withOperator = (manifest: Manifest) =>
      find<V1NetworkPolicy>(render(manifest, { operatorNamespace: 'mcp-operator-system' }), 'NetworkPolicy');
    const narrowed = mcpRules(withOperator(stdioServer('np', { networkPolicy: { ingressFrom: clients } })));
    expect(narrowed.map(peersOf)).toContainEqual(operator);
    expect(narrowed.find((r) => JSON.stringify(peersOf(r)) === JSON.stringify(operator))?.ports).toEqual([
      { port: 'mcp', protocol: 'TCP' },
    ]);
    // The server's own port when there is no gateway: discovery calls it there.
    const bare = mcpRules(
      withOperator(httpServer('bare', { gateway: { enabled: false }, networkPolicy: { ingressFrom: clients } })),
    );
    expect(bare.map(peersOf)).toContainEqual(operator);
    // An empty ingressFrom admits everyone already: no rule to add. Without the namespace: nothing invented.
    const open = mcpRules(withOperator(stdioServer('np', { networkPolicy: {} })));
    expect(open.map(peersOf)).toEqual([undefined]);
    expect(
      mcpRules(policyOf(stdioServer('np', { networkPolicy: { ingressFrom: clients } }))).map(peersOf),
    ).not.toContainEqual(operator);
    // Metrics stay closed to the controller: it only calls the MCP port.
    const health = (
      withOperator(stdioServer('np', { networkPolicy: { ingressFrom: clients } }))?.spec?.ingress ?? []
    ).filter((r) => r.ports?.some((p) => reaches(p, 'health')));
    expect(health).toEqual([]);
  });

  it('with the gateway disabled, opens the port the server actually listens on', () => {
    // NetworkPolicy ports are pod ports: without the gateway nothing listens on 8080, the server's own
    // port (named mcp, the Service's target) is what clients must reach.
    const children = render(
      httpServer('bare', { gateway: { enabled: false }, networkPolicy: { ingressFrom: clients } }),
    );
    const np = must(find<V1NetworkPolicy>(children, 'NetworkPolicy'), 'a NetworkPolicy');
    const allowed = (np.spec?.ingress ?? []).flatMap((r) => r.ports ?? []).map((p) => p.port);
    expect(
      allowed.some((p) => p === 3000 || p === 'mcp'),
      `allowed pod ports: ${JSON.stringify(allowed)}`,
    ).toBe(true);
  });
});

describe('PodDisruptionBudget and ServiceAccount', () => {
  it('has a PDB only with more than one replica', () => {
    expect(find(render(stdioServer()), 'PodDisruptionBudget')).toBeUndefined();
    expect(find(render(stdioServer('zero', { replicas: 0 })), 'PodDisruptionBudget')).toBeUndefined();
    const children = render(stdioServer('ha', { replicas: 3 }));
    const pdb = must(find<V1PodDisruptionBudget>(children, 'PodDisruptionBudget'), 'a PDB');
    // One pod at a time may go: never all of them.
    if (pdb.spec?.maxUnavailable !== undefined) expect(pdb.spec.maxUnavailable).toBe(1);
    else expect(pdb.spec?.minAvailable).toBe(2);
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.template.metadata?.labels).toMatchObject(pdb.spec?.selector?.matchLabels ?? { missing: 'selector' });
  });

  it('creates a ServiceAccount the pod runs as', () => {
    const children = render(stdioServer('sa'));
    const sa = must(find<V1ServiceAccount>(children, 'ServiceAccount'), 'a ServiceAccount');
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(podSpecOf(d).serviceAccountName).toBe(sa.metadata?.name);
  });

  it("creates no ServiceAccount when the user brings one, and runs the pod as the user's", () => {
    const children = render(stdioServer('own', { pod: { serviceAccountName: 'github-reader' } }));
    expect(find(children, 'ServiceAccount')).toBeUndefined();
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(podSpecOf(d).serviceAccountName).toBe('github-reader');
    expect(podSpecOf(d).automountServiceAccountToken).toBe(false);
  });
});
