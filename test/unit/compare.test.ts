/**
 * Deciding whether a child must be applied: zero writes at steady state, but every drift corrected.
 * The "live" objects here are what the API server hands back for what we applied: our fields plus its defaults,
 * bookkeeping and status, with quantities in canonical form.
 */
import type { KubernetesObject, V1Container, V1Deployment, V1Service } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseMcpServer } from '../../src/api/validate.ts';
import { canonicalJSON, isSubset, needsApply, withSpecHash } from '../../src/controller/compare.ts';
import { renderChildren } from '../../src/render/index.ts';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';

const SPEC_HASH = 'mcpoperator.io/spec-hash';

function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}`);
  return value;
}

/** The children as the controller applies them: rendered for an McpServer with a uid, spec hash set. */
function desiredChildren(manifest: Manifest): KubernetesObject[] {
  const mcp = parseMcpServer({ ...manifest, metadata: { ...manifest.metadata, namespace: 'team-a', uid: 'uid-1' } });
  return renderChildren(mcp, { gatewayImage: 'registry.test/mcp-operator:1', configHash: 'cafe' }).map(withSpecHash);
}

function desired<T extends KubernetesObject>(manifest: Manifest, kind: string): T {
  return must(desiredChildren(manifest).find((c) => c.kind === kind) as T | undefined, kind);
}

const serverMetadata = {
  uid: '0b6f9d4e-1111-4222-8333-444455556666',
  resourceVersion: '48213',
  generation: 1,
  creationTimestamp: new Date('2026-01-02T03:04:05Z'),
  managedFields: [
    {
      manager: 'mcp-operator',
      operation: 'Apply',
      apiVersion: 'apps/v1',
      time: new Date('2026-01-02T03:04:05Z'),
      fieldsType: 'FieldsV1',
      fieldsV1: { 'f:metadata': { 'f:labels': {} } },
    },
  ],
};

function withContainerDefaults(c: V1Container): V1Container {
  const probe = (p: V1Container['livenessProbe']) =>
    p && {
      ...p,
      successThreshold: 1,
      ...(p.httpGet ? { httpGet: { ...p.httpGet, scheme: 'HTTP' } } : {}),
    };
  return {
    ...c,
    imagePullPolicy: c.imagePullPolicy ?? 'IfNotPresent',
    terminationMessagePath: '/dev/termination-log',
    terminationMessagePolicy: 'File',
    ...(c.livenessProbe ? { livenessProbe: probe(c.livenessProbe) } : {}),
    ...(c.readinessProbe ? { readinessProbe: probe(c.readinessProbe) } : {}),
    ...(c.startupProbe ? { startupProbe: probe(c.startupProbe) } : {}),
  };
}

/** What GET returns for an applied Deployment: server defaults, bookkeeping and status added. */
function storedDeployment(applied: V1Deployment): V1Deployment {
  const d = structuredClone(applied);
  const spec = must(d.spec, 'spec');
  const pod = must(spec.template.spec, 'pod spec');
  return {
    ...d,
    metadata: {
      ...d.metadata,
      ...serverMetadata,
      annotations: { ...d.metadata?.annotations, 'deployment.kubernetes.io/revision': '1' },
    },
    spec: {
      ...spec,
      progressDeadlineSeconds: 600,
      template: {
        metadata: { ...spec.template.metadata, creationTimestamp: null as unknown as undefined },
        spec: {
          ...pod,
          dnsPolicy: 'ClusterFirst',
          restartPolicy: 'Always',
          schedulerName: 'default-scheduler',
          serviceAccount: pod.serviceAccountName,
          containers: pod.containers.map(withContainerDefaults),
          ...(pod.initContainers ? { initContainers: pod.initContainers.map(withContainerDefaults) } : {}),
        },
      },
    },
    status: {
      observedGeneration: 1,
      replicas: 1,
      updatedReplicas: 1,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [
        { type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable', message: 'ok' },
        { type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'ok' },
      ],
    },
  };
}

function storedService(applied: V1Service): V1Service {
  const s = structuredClone(applied);
  return {
    ...s,
    metadata: { ...s.metadata, ...serverMetadata },
    spec: {
      ...s.spec,
      clusterIP: '10.96.12.34',
      clusterIPs: ['10.96.12.34'],
      ipFamilies: ['IPv4'],
      ipFamilyPolicy: 'SingleStack',
      sessionAffinity: 'None',
      internalTrafficPolicy: 'Cluster',
    },
    status: { loadBalancer: {} },
  };
}

const serverContainerOf = (d: V1Deployment): V1Container =>
  must(
    d.spec?.template.spec?.containers.find((c) => c.name === 'server'),
    'the server container',
  );

describe('canonicalJSON', () => {
  it('does not depend on key order, at any depth', () => {
    const a = { kind: 'Deployment', spec: { replicas: 1, template: { b: [1, { y: 2, x: 1 }], a: 'x' } } };
    const b = { spec: { template: { a: 'x', b: [1, { x: 1, y: 2 }] }, replicas: 1 }, kind: 'Deployment' };
    expect(canonicalJSON(a)).toBe(canonicalJSON(b));
  });

  it('keeps array order significant and tells different values apart', () => {
    expect(canonicalJSON({ args: ['a', 'b'] })).not.toBe(canonicalJSON({ args: ['b', 'a'] }));
    expect(canonicalJSON({ replicas: 1 })).not.toBe(canonicalJSON({ replicas: 2 }));
    expect(canonicalJSON({ value: '1' })).not.toBe(canonicalJSON({ value: 1 }));
  });

  it('is JSON for the same value, with undefined fields left out as JSON does', () => {
    const value = { z: [1, 'two', null, true], a: { nested: { k: 'v' } }, gone: undefined };
    expect(JSON.parse(canonicalJSON(value))).toEqual(JSON.parse(JSON.stringify(value)));
    expect(canonicalJSON({ a: 1, gone: undefined })).toBe(canonicalJSON({ a: 1 }));
  });
});

describe('withSpecHash', () => {
  const service = (): KubernetesObject & { spec: unknown } => ({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: 's', annotations: { keep: 'me' } },
    spec: { type: 'ClusterIP', ports: [{ name: 'mcp', port: 8080 }] },
  });

  it('adds the spec-hash annotation and keeps the others, without touching its input', () => {
    const input = service();
    const before = structuredClone(input);
    const hashed = withSpecHash(input);
    expect(hashed.metadata?.annotations?.keep).toBe('me');
    expect(hashed.metadata?.annotations?.[SPEC_HASH]).toMatch(/^[0-9a-f]{16,}$/);
    expect(input).toEqual(before);
  });

  it('hashes the same object the same whatever its key order, and a changed object differently', () => {
    const a = withSpecHash(service());
    const reordered = withSpecHash({
      spec: { ports: [{ port: 8080, name: 'mcp' }], type: 'ClusterIP' },
      metadata: { annotations: { keep: 'me' }, name: 's' },
      kind: 'Service',
      apiVersion: 'v1',
    } as KubernetesObject);
    expect(reordered.metadata?.annotations?.[SPEC_HASH]).toBe(a.metadata?.annotations?.[SPEC_HASH]);
    const changed = withSpecHash({ ...service(), spec: { type: 'ClusterIP', ports: [{ name: 'mcp', port: 8081 }] } });
    expect(changed.metadata?.annotations?.[SPEC_HASH]).not.toBe(a.metadata?.annotations?.[SPEC_HASH]);
  });
});

describe('quantities under resources, by value', () => {
  const same = (desired: unknown, live: unknown) => isSubset({ resources: { q: desired } }, { resources: { q: live } });

  it.each([
    ['500m', 0.5],
    ['1Gi', 2 ** 30],
    ['128Mi', 128 * 2 ** 20],
    ['1', 1],
    ['1.5', 1.5],
    ['2e3', 2000],
    ['1k', 1000],
    ['2M', 2_000_000],
    ['1G', 1e9],
    ['250000000n', 0.25],
    ['0.5Gi', 2 ** 29],
    [4, 4],
  ] as const)('reads %s as %d', (q, n) => {
    expect(same(q, String(n))).toBe(true);
    expect(same(q, n)).toBe(true);
    expect(same(q, String(n + 1))).toBe(false);
  });

  it.each([
    ['1Ki', 1024],
    ['1536Ki', 1536 * 1024],
  ] as const)('reads the binary suffix Ki: %s is %d', (q, n) => {
    expect(same(q, String(n))).toBe(true);
    expect(same(q, String(n + 1))).toBe(false);
  });

  it('tells apart amounts a floating-point comparison would merge', () => {
    expect(same('1000000001', '1G')).toBe(false);
    expect(same('1000000000', '1G')).toBe(true);
  });

  it.each([
    ['garbage', '0'],
    ['', '0'],
    ['1Xi', '1'],
    ['12mm', '0.012'],
    ['Gi', '0'],
    ['1 2', '12'],
    ['--1', '1'],
    [undefined, '0'],
    [null, '0'],
    [{}, '0'],
    [true, '1'],
  ])('refuses %j: it equals no quantity', (q, live) => {
    expect(same(q, live)).toBe(false);
  });
});

describe('isSubset', () => {
  it('tolerates fields the server added, at any depth', () => {
    expect(isSubset({ a: 1, b: { c: 'x' } }, { a: 1, extra: true, b: { c: 'x', d: [1] } })).toBe(true);
    expect(isSubset([{ name: 'a' }], [{ name: 'a', protocol: 'TCP' }])).toBe(true);
  });

  it('sees a missing or changed field', () => {
    expect(isSubset({ a: 1, b: 2 }, { a: 1 })).toBe(false);
    expect(isSubset({ a: { b: 'x' } }, { a: { b: 'y' } })).toBe(false);
    expect(isSubset({ a: 1 }, { a: '1' })).toBe(false);
    expect(isSubset({ a: { b: 1 } }, { a: 'b' })).toBe(false);
    expect(isSubset({ a: { b: 1 } }, { a: [{ b: 1 }] })).toBe(false);
    expect(isSubset({ a: [1] }, { a: { 0: 1 } })).toBe(false);
    expect(isSubset({ a: false }, { a: true })).toBe(false);
  });

  it('treats empty arrays and objects like absent fields (the server drops them)', () => {
    expect(isSubset({ a: 1, list: [], map: {} }, { a: 1 })).toBe(true);
    expect(isSubset({ emptyDir: {} }, { emptyDir: {} })).toBe(true);
    expect(isSubset({ a: { b: [] } }, { a: {} })).toBe(true);
  });

  it('does not treat an empty list as matching a non-empty one', () => {
    expect(isSubset({ list: [] }, { list: [1] })).toBe(false);
    expect(isSubset({ list: [{}] }, {})).toBe(false);
  });

  it('sees arrays of different length as different', () => {
    expect(isSubset({ args: ['a'] }, { args: ['a', 'b'] })).toBe(false);
    expect(isSubset({ args: ['a', 'b'] }, { args: ['a'] })).toBe(false);
    expect(isSubset({ args: ['a', 'b'] }, { args: ['b', 'a'] })).toBe(false);
  });

  it('compares a resourceFieldRef divisor by value, in env and in downward API volumes', () => {
    const env = (divisor: string) => ({
      env: [{ name: 'MEM', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor } } }],
    });
    expect(isSubset(env('1024Ki'), env('1Mi'))).toBe(true);
    expect(isSubset(env('1000m'), env('1'))).toBe(true);
    expect(isSubset(env('1Ki'), env('1k'))).toBe(false);
    const item = (divisor: string) => ({
      downwardAPI: { items: [{ path: 'mem', resourceFieldRef: { resource: 'limits.memory', divisor } }] },
    });
    expect(isSubset(item('1024Ki'), item('1Mi'))).toBe(true);
  });

  it('compares quantities by value under resources and sizeLimit', () => {
    const res = (cpu: string, memory: string) => ({ spec: { resources: { limits: { cpu, memory } } } });
    expect(isSubset(res('1000m', '1024Mi'), res('1', '1Gi'))).toBe(true);
    expect(isSubset(res('0.5', '512Mi'), res('500m', '0.5Gi'))).toBe(true);
    expect(isSubset({ emptyDir: { sizeLimit: '256Mi' } }, { emptyDir: { sizeLimit: '0.25Gi' } })).toBe(true);
    expect(isSubset(res('500m', '1Gi'), res('1', '1Gi'))).toBe(false);
    expect(isSubset(res('1', '1Gi'), res('1', '1G'))).toBe(false);
  });

  it('compares strings exactly anywhere else', () => {
    expect(isSubset({ metadata: { annotations: { a: '1000m' } } }, { metadata: { annotations: { a: '1' } } })).toBe(
      false,
    );
    expect(isSubset({ env: [{ name: 'N', value: '1024Mi' }] }, { env: [{ name: 'N', value: '1Gi' }] })).toBe(false);
  });

  it('compares decimal CPU with its canonical milli form (0.7 is stored as 700m)', () => {
    const res = (cpu: string) => ({ resources: { requests: { cpu } } });
    for (const [mine, canonical] of [
      ['0.7', '700m'],
      ['1.9', '1900m'],
      ['0.35', '350m'],
    ] as const) {
      expect(isSubset(res(mine), res(canonical)), `${mine} vs ${canonical}`).toBe(true);
    }
  });

  it('compares Ki memory with its canonical form (1024Ki is stored as 1Mi)', () => {
    expect(
      isSubset({ resources: { limits: { memory: '1024Ki' } } }, { resources: { limits: { memory: '1Mi' } } }),
    ).toBe(true);
  });
});

describe('needsApply', () => {
  it('is true when the child does not exist', () => {
    expect(needsApply(desired(stdioServer(), 'Deployment'), undefined)).toBe(true);
  });

  it('is false for every child when the live object is the applied one plus server defaults', () => {
    const manifest = stdioServer('full', {
      replicas: 2,
      env: [{ name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'github', key: 'token' } } }],
      auth: { bearer: { secretRef: { name: 'tokens' } } },
      ingress: { className: 'nginx', host: 'mcp.example.com', tls: { secretName: 'cert' } },
      networkPolicy: { ingressFrom: [{ podSelector: {} }], egress: [{ to: [{ podSelector: {} }] }] },
    });
    for (const child of desiredChildren(manifest)) {
      const live =
        child.kind === 'Deployment'
          ? storedDeployment(child as V1Deployment)
          : child.kind === 'Service'
            ? storedService(child as V1Service)
            : { ...structuredClone(child), metadata: { ...structuredClone(child.metadata), ...serverMetadata } };
      expect(needsApply(child, live), child.kind).toBe(false);
    }
  });

  it('is false for an HTTP server with a sidecar stored with defaults', () => {
    const d = desired<V1Deployment>(httpServer(), 'Deployment');
    expect(needsApply(d, storedDeployment(d))).toBe(false);
  });

  it('is false when the server canonicalized the quantities we asked for', () => {
    const d = desired<V1Deployment>(
      stdioServer('q', { resources: { requests: { cpu: '1000m', memory: '1024Mi' }, limits: { memory: '2048Mi' } } }),
      'Deployment',
    );
    const live = storedDeployment(d);
    serverContainerOf(live).resources = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi' } };
    expect(needsApply(d, live)).toBe(false);
  });

  it('is false when the server dropped an empty env value (value is omitempty)', () => {
    const d = desired<V1Deployment>(stdioServer('e', { env: [{ name: 'EMPTY', value: '' }] }), 'Deployment');
    const live = storedDeployment(d);
    const server = serverContainerOf(live);
    server.env = server.env?.map((e) => (e.value === '' ? { name: e.name } : e));
    expect(needsApply(d, live)).toBe(false);
  });

  it('is true when the spec-hash annotation differs or is missing', () => {
    const d = desired<V1Deployment>(stdioServer(), 'Deployment');
    const stale = storedDeployment(d);
    stale.metadata = { ...stale.metadata, annotations: { ...stale.metadata?.annotations, [SPEC_HASH]: 'old' } };
    expect(needsApply(d, stale)).toBe(true);
    const unannotated = storedDeployment(d);
    unannotated.metadata = { ...unannotated.metadata, annotations: {} };
    expect(needsApply(d, unannotated)).toBe(true);
  });

  it('is true when what we would apply changed (new spec), even if the old object is healthy', () => {
    const before = desired<V1Deployment>(stdioServer('x', { replicas: 1 }), 'Deployment');
    const after = desired<V1Deployment>(stdioServer('x', { replicas: 2 }), 'Deployment');
    expect(needsApply(after, storedDeployment(before))).toBe(true);
  });

  it.each([
    [
      'replicas scaled by hand',
      (live: V1Deployment) => {
        must(live.spec, 'spec').replicas = 5;
      },
    ],
    [
      'image edited',
      (live: V1Deployment) => {
        serverContainerOf(live).image = 'evil.example/image:latest';
      },
    ],
    [
      'read-only root filesystem turned off',
      (live: V1Deployment) => {
        const sc = must(serverContainerOf(live).securityContext, 'securityContext');
        sc.readOnlyRootFilesystem = false;
      },
    ],
    [
      'an arg appended',
      (live: V1Deployment) => {
        serverContainerOf(live).args?.push('--debug');
      },
    ],
    [
      'a label removed',
      (live: V1Deployment) => {
        delete live.metadata?.labels?.['app.kubernetes.io/managed-by'];
      },
    ],
    [
      'the ownerReference removed',
      (live: V1Deployment) => {
        must(live.metadata, 'metadata').ownerReferences = [];
      },
    ],
    [
      'the config-hash annotation changed',
      (live: V1Deployment) => {
        const meta = must(must(live.spec, 'spec').template.metadata, 'template metadata');
        meta.annotations = { ...meta.annotations, 'mcpoperator.io/config-hash': 'other' };
      },
    ],
  ])('is true when a field drifted: %s', (_what, drift) => {
    const d = desired<V1Deployment>(stdioServer(), 'Deployment');
    const live = storedDeployment(d);
    drift(live);
    expect(needsApply(d, live)).toBe(true);
  });

  it('is true when the Service port was retargeted to 9090', () => {
    const s = desired<V1Service>(stdioServer(), 'Service');
    const live = storedService(s);
    const port = must(live.spec?.ports?.[0], 'a port');
    port.targetPort = 9090;
    expect(needsApply(s, live)).toBe(true);
  });
});
