/**
 * The renderer's children as a set: their metadata and owners, the URLs a client uses, the references the
 * controller watches, and that rendering is pure.
 */
import { describe, expect, it } from 'vitest';
import { parseMcpServer } from '../../src/api/validate.ts';
import { missingReference } from '../../src/controller/gates.ts';
import { externalURL, referencedObjects, renderChildren, serviceURL } from '../../src/render/index.ts';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';
import { deploymentOf, EXPECTED_LABELS, GATEWAY_IMAGE, render, withMeta } from './render-helpers.ts';

describe('metadata of every child', () => {
  const everything = (name: string) =>
    stdioServer(name, {
      replicas: 2,
      ingress: { host: 'mcp.example.com', tls: { secretName: 'cert' } },
      networkPolicy: { ingressFrom: [] },
    });

  it('renders all six kinds for a spec that asks for them, ServiceAccount before the Deployment', () => {
    const kinds = render(everything('all')).map((c) => c.kind);
    expect([...kinds].sort()).toEqual(
      ['Deployment', 'Ingress', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'].sort(),
    );
    expect(kinds.indexOf('ServiceAccount')).toBeLessThan(kinds.indexOf('Deployment'));
  });

  it('renders ServiceAccount, Service and Deployment only, for a minimal spec', () => {
    expect(
      render(stdioServer())
        .map((c) => c.kind)
        .sort(),
    ).toEqual(['Deployment', 'Service', 'ServiceAccount']);
  });

  it('names each child after the McpServer, in its namespace, with the five app.kubernetes.io labels', () => {
    for (const child of render(withMeta(everything('github'), { namespace: 'team-a' }))) {
      expect(child.metadata?.name, child.kind).toBe('github');
      expect(child.metadata?.namespace, child.kind).toBe('team-a');
      const labels = child.metadata?.labels ?? {};
      expect(labels, child.kind).toEqual(EXPECTED_LABELS('github'));
    }
  });

  it('labels the pods too, and the Deployment selector matches them', () => {
    const d = deploymentOf(withMeta(everything('github'), { namespace: 'team-a' }));
    const podLabels = d.spec?.template.metadata?.labels ?? {};
    expect(podLabels).toMatchObject(EXPECTED_LABELS('github'));
    expect(podLabels).toMatchObject(d.spec?.selector.matchLabels ?? { missing: 'selector' });
  });

  it('refuses pod.labels that would override the selector labels, and keeps the others', () => {
    expect(() =>
      deploymentOf(
        stdioServer('github', {
          pod: { labels: { 'app.kubernetes.io/instance': 'other', 'app.kubernetes.io/name': 'x', team: 'a' } },
        }),
      ),
    ).toThrow(/spec.pod.labels: pod.labels may not set app.kubernetes.io\/name: the operator sets/);
    const d = deploymentOf(stdioServer('github', { pod: { labels: { team: 'a' } } }));
    const podLabels = d.spec?.template.metadata?.labels ?? {};
    expect(podLabels).toMatchObject(d.spec?.selector.matchLabels ?? { missing: 'selector' });
    expect(podLabels['app.kubernetes.io/instance']).toBe('github');
    expect(podLabels.team).toBe('a');
  });

  it('gives every child a controller ownerReference to the McpServer when it has a uid', () => {
    const uid = '6f1e4c1a-0000-4000-8000-000000000001';
    for (const child of render(withMeta(everything('github'), { namespace: 'team-a', uid }))) {
      expect(child.metadata?.ownerReferences, child.kind).toEqual([
        {
          apiVersion: 'mcpoperator.io/v1alpha1',
          kind: 'McpServer',
          name: 'github',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it('has no ownerReference when rendering offline (no uid)', () => {
    for (const child of render(everything('github')))
      expect(child.metadata?.ownerReferences, child.kind).toBeUndefined();
  });
});

describe('serviceURL and externalURL', () => {
  const parse = (m: Manifest) => parseMcpServer(m);

  it('points inside the cluster at the Service on 8080 and /mcp', () => {
    expect(serviceURL(parse(withMeta(stdioServer('github'), { namespace: 'team-a' })))).toBe(
      'http://github.team-a.svc:8080/mcp',
    );
    expect(serviceURL(parse(withMeta(httpServer('legacy', { transport: 'sse' }), { namespace: 'x' })))).toBe(
      'http://legacy.x.svc:8080/mcp',
    );
  });

  it("uses the server's own path when the gateway is disabled", () => {
    const bare = (spec: Record<string, unknown>) =>
      parse(withMeta(httpServer('bare', { gateway: { enabled: false }, ...spec }), { namespace: 'ns' }));
    expect(serviceURL(bare({}))).toBe('http://bare.ns.svc:8080/mcp');
    expect(serviceURL(bare({ transport: 'sse' }))).toBe('http://bare.ns.svc:8080/sse');
    expect(serviceURL(bare({ path: '/api/mcp' }))).toBe('http://bare.ns.svc:8080/api/mcp');
    expect(externalURL(bare({ path: '/api/mcp', ingress: { host: 'bare.example.com' } }))).toBe(
      'http://bare.example.com/api/mcp',
    );
  });

  it('has no external URL without an Ingress host', () => {
    expect(externalURL(parse(stdioServer()))).toBeUndefined();
    expect(externalURL(parse(stdioServer('x', { ingress: { className: 'nginx' } })))).toBeUndefined();
  });

  it('is https with TLS and keeps the path prefix, with /mcp for the gateway', () => {
    expect(externalURL(parse(stdioServer('x', { ingress: { host: 'mcp.example.com' } })))).toBe(
      'http://mcp.example.com/mcp',
    );
    expect(
      externalURL(
        parse(stdioServer('x', { ingress: { host: 'mcp.example.com', path: '/github', tls: { secretName: 'c' } } })),
      ),
    ).toBe('https://mcp.example.com/github/mcp');
    expect(externalURL(parse(stdioServer('x', { ingress: { host: 'mcp.example.com', path: '/github/' } })))).toBe(
      'http://mcp.example.com/github/mcp',
    );
  });
});

describe('referencedObjects', () => {
  it('lists every Secret and ConfigMap reference with its field and optional flag', () => {
    const mcp = parseMcpServer(
      stdioServer('refs', {
        env: [
          { name: 'PLAIN', value: 'x' },
          { name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'github', key: 'token' } } },
          { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode', optional: true } } },
        ],
        envFrom: [{ secretRef: { name: 'db', optional: true } }, { configMapRef: { name: 'common' } }],
        auth: { bearer: { secretRef: { name: 'mcp-tokens' } } },
        pod: {
          volumes: [
            { name: 'certs', secret: { secretName: 'ca-bundle' } },
            { name: 'conf', configMap: { name: 'server-conf', optional: true } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      }),
    );
    const refs = referencedObjects(mcp);
    const expected = [
      { kind: 'Secret', name: 'github', key: 'token', optional: false, field: 'spec.env[1].valueFrom.secretKeyRef' },
      {
        kind: 'ConfigMap',
        name: 'settings',
        key: 'mode',
        optional: true,
        field: 'spec.env[2].valueFrom.configMapKeyRef',
      },
      { kind: 'Secret', name: 'db', optional: true, field: 'spec.envFrom[0].secretRef' },
      { kind: 'ConfigMap', name: 'common', optional: false, field: 'spec.envFrom[1].configMapRef' },
      { kind: 'Secret', name: 'mcp-tokens', key: 'token', optional: false, field: 'spec.auth.bearer.secretRef' },
      { kind: 'Secret', name: 'ca-bundle', optional: false, field: 'spec.pod.volumes[0].secret' },
      { kind: 'ConfigMap', name: 'server-conf', optional: true, field: 'spec.pod.volumes[1].configMap' },
    ];
    expect(refs).toHaveLength(expected.length);
    for (const e of expected) expect(refs).toContainEqual(e.key ? e : { ...e, key: undefined });
  });

  it('lists each key a volume picks with items, so a missing one is reported before the mount fails', () => {
    const mcp = parseMcpServer(
      stdioServer('items', {
        pod: {
          volumes: [
            { name: 'certs', secret: { secretName: 'tls', items: [{ key: 'ca.crt', path: 'ca' }] } },
            {
              name: 'bundle',
              projected: {
                sources: [{ configMap: { name: 'conf', optional: true, items: [{ key: 'a', path: 'a' }] } }],
              },
            },
          ],
        },
      }),
    );
    const refs = referencedObjects(mcp);
    expect(refs).toContainEqual({
      kind: 'Secret',
      name: 'tls',
      key: 'ca.crt',
      optional: false,
      field: 'spec.pod.volumes[0].secret.items[0].key',
    });
    expect(refs).toContainEqual({
      kind: 'ConfigMap',
      name: 'conf',
      key: 'a',
      optional: true,
      field: 'spec.pod.volumes[1].projected.sources[0].configMap.items[0].key',
    });
    const blocker = missingReference('team', refs, (kind, name) =>
      kind === 'Secret' && name === 'tls' ? { metadata: { name }, keys: ['tls.crt'], hash: 'h' } : undefined,
    );
    expect(blocker).toMatchObject({ reason: 'SecretKeyNotFound' });
    expect(blocker?.message).toContain('has no key "ca.crt" (referenced by spec.pod.volumes[0].secret.items[0].key)');
  });

  it('lists nothing for a server without references', () => {
    expect(referencedObjects(parseMcpServer(stdioServer('plain', { env: [{ name: 'A', value: 'b' }] })))).toEqual([]);
  });

  it('lists the Secrets and ConfigMaps a projected volume reads', () => {
    const refs = referencedObjects(
      parseMcpServer(
        stdioServer('projected', {
          pod: {
            volumes: [
              {
                name: 'bundle',
                projected: {
                  sources: [{ secret: { name: 'client-cert' } }, { configMap: { name: 'ca', optional: true } }],
                },
              },
            ],
          },
        }),
      ),
    );
    expect(refs.map((r) => `${r.kind}/${r.name}/${r.optional}`).sort()).toEqual([
      'ConfigMap/ca/true',
      'Secret/client-cert/false',
    ]);
  });
});

describe('determinism and purity', () => {
  const rich = withMeta(
    stdioServer('rich', {
      replicas: 3,
      env: [{ name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'github', key: 'token' } } }],
      tools: { allow: ['a', 'b'] },
      rateLimit: { requestsPerMinute: 10, perTool: { a: 1, b: 2 } },
      auth: { bearer: { secretRef: { name: 'tokens' } } },
      ingress: { host: 'mcp.example.com', path: '/rich', tls: { secretName: 'cert' }, annotations: { a: 'b' } },
      networkPolicy: { ingressFrom: [{ podSelector: {} }], egress: [{ to: [{ podSelector: {} }] }] },
      pod: { nodeSelector: { pool: 'mcp' }, tolerations: [{ key: 'k', operator: 'Exists' }] },
    }),
    { namespace: 'team-a', uid: 'u-1' },
  );

  it('renders the same input twice to deep-equal output', () => {
    for (const m of [stdioServer(), httpServer(), rich]) {
      expect(render(m, { configHash: 'h' })).toStrictEqual(render(m, { configHash: 'h' }));
    }
  });

  it('does not modify the McpServer it renders', () => {
    const mcp = parseMcpServer(rich);
    const before = structuredClone(mcp);
    renderChildren(mcp, { gatewayImage: GATEWAY_IMAGE, configHash: 'h' });
    expect(mcp).toStrictEqual(before);
  });
});
