/** The reconcile gates (src/controller/gates.ts) and tool discovery's decisions (discovery-runner.ts), as tables. */
import type { KubernetesObject, V1Ingress } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { parseMcpServer } from '../../src/api/validate.ts';
import {
  type DiscoveryState,
  discoveryRetryMs,
  discoveryStep,
  discoveryTarget,
  MAX_CONCURRENT_DISCOVERIES,
} from '../../src/controller/discovery-runner.ts';
import {
  childConflict,
  ingressConflict,
  missingReference,
  nameHeldByOther,
  operatorAccountGate,
  parseSpec,
  type ReferencedObject,
  reservedEnvFromKey,
  routeKey,
  sessionSecretGate,
} from '../../src/controller/gates.ts';
import type { Cached } from '../../src/kube/informer.ts';
import { renderIngress } from '../../src/render/network.ts';
import type { ObjectReference } from '../../src/render/references.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';

const UID = 'uid-mine';
const server = (spec: Record<string, unknown> = {}, make = stdioServer) =>
  ({
    ...parseMcpServer({ ...make('s', spec), metadata: { name: 's', namespace: 'ns' } }),
    metadata: { name: 's', namespace: 'ns', uid: UID, generation: 2 },
  }) as McpServer & Cached;
const owned = (uid: string, name = 's') => ({
  ownerReferences: [{ apiVersion: 'v1', kind: 'McpServer', name, uid, controller: true }],
});

describe('parseSpec', () => {
  it.each([
    ['a valid spec passes with its defaults', stdioServer('s'), undefined],
    ['an invalid one is InvalidSpec naming the field', stdioServer('s', { replicas: -1 }), /spec\.replicas/],
  ])('%s', (_name, manifest, says) => {
    const parsed = parseSpec({ ...manifest, metadata: { name: 's', namespace: 'ns' } } as unknown as McpServer);
    if (!says) return expect(parsed).toHaveProperty('spec.spec.replicas', 1);
    expect(parsed).toMatchObject({ blocker: { reason: 'InvalidSpec', message: expect.stringMatching(says) } });
  });
});

describe('missingReference', () => {
  const secret: ReferencedObject = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'gh' },
    keys: ['token'],
    hash: 'h',
  };
  const ref = (over: Partial<ObjectReference>): ObjectReference => ({
    kind: 'Secret',
    name: 'gh',
    key: 'token',
    optional: false,
    field: 'spec.env[0].valueFrom.secretKeyRef',
    ...over,
  });
  it.each<[string, ObjectReference[], ReferencedObject | undefined, string | undefined, RegExp | undefined]>([
    ['no references', [], undefined, undefined, undefined],
    ['present with its key', [ref({})], secret, undefined, undefined],
    ['absent', [ref({})], undefined, 'SecretNotFound', /kubectl -n ns create secret generic gh --from-literal=token=/],
    ['absent but optional', [ref({ optional: true })], undefined, undefined, undefined],
    ['without the key', [ref({ key: 'other' })], secret, 'SecretKeyNotFound', /no key "other".*it has: token/],
    [
      'a ConfigMap absent',
      [ref({ kind: 'ConfigMap', name: 'cfg' })],
      undefined,
      'ConfigMapNotFound',
      /create configmap cfg/,
    ],
  ])('%s', (_name, refs, object, reason, says) => {
    const blocker = missingReference('ns', refs, () => object);
    expect(blocker?.reason).toBe(reason);
    if (says) expect(blocker?.message).toMatch(says);
  });
});

describe('ingressConflict', () => {
  const desired = [{ kind: 'Ingress', spec: { rules: [{ host: 'a.test', http: { paths: [{ path: '/x' }] } }] } }];
  const ingress = (
    name: string,
    uid: string,
    created: string,
    host = 'a.test',
    path = '/x',
    ingressUid = `ing-${name}`,
  ): V1Ingress & Cached => ({
    kind: 'Ingress',
    metadata: { name, namespace: 'ns', uid: ingressUid, creationTimestamp: created as unknown as Date, ...owned(uid) },
    spec: { rules: [{ host, http: { paths: [{ path, pathType: 'Prefix', backend: {} }] } }] },
  });
  it.each<[string, KubernetesObject[], Array<V1Ingress & Cached>, boolean]>([
    ['no Ingress wanted', [], [ingress('other', 'u2', '2026-01-01')], false],
    ['nobody else serves the route', desired, [ingress('s', UID, '2026-01-02')], false],
    [
      'an older Ingress serves it',
      desired,
      [ingress('s', UID, '2026-01-02'), ingress('other', 'u2', '2026-01-01')],
      true,
    ],
    ['ours came first', desired, [ingress('s', UID, '2026-01-01'), ingress('other', 'u2', '2026-01-02')], false],
    ['ours not made yet: any other holds it', desired, [ingress('other', 'u2', '2026-01-02')], true],
    ['another host', desired, [ingress('other', 'u2', '2026-01-01', 'b.test')], false],
    ['the host in other case', desired, [ingress('other', 'u2', '2026-01-01', 'A.Test')], true],
    ['the path with a trailing slash', desired, [ingress('other', 'u2', '2026-01-01', 'a.test', '/x/')], true],
    ['a longer path is another route', desired, [ingress('other', 'u2', '2026-01-01', 'a.test', '/xy')], false],
    [
      'the same second: the smaller uid keeps it (theirs)',
      desired,
      [
        ingress('s', UID, '2026-01-01T00:00:00Z', 'a.test', '/x', 'b'),
        ingress('other', 'u2', '2026-01-01T00:00:00Z', 'a.test', '/x', 'a'),
      ],
      true,
    ],
    [
      'the same second: the smaller uid keeps it (ours)',
      desired,
      [
        ingress('s', UID, '2026-01-01T00:00:00Z', 'a.test', '/x', 'a'),
        ingress('other', 'u2', '2026-01-01T00:00:00Z', 'a.test', '/x', 'b'),
      ],
      false,
    ],
  ])('%s', (_name, wanted, cached, conflict) => {
    const blocker = ingressConflict(server(), wanted, cached);
    expect(blocker?.reason).toBe(conflict ? 'IngressConflict' : undefined);
    if (conflict) expect(blocker?.message).toMatch(/a\.test\/x is already served by Ingress ns\/other/);
  });

  it('compares routes within one ingress class: two named classes are two controllers', () => {
    const classed = (name: string, created: string, ingressClassName?: string, annotation?: string) => {
      const i = ingress(name, name === 's' ? UID : 'u2', created);
      if (ingressClassName) i.spec = { ...i.spec, ingressClassName };
      if (annotation) i.metadata.annotations = { 'kubernetes.io/ingress.class': annotation };
      return i;
    };
    const want = (ingressClassName?: string) => [{ ...desired[0], spec: { ...desired[0]?.spec, ingressClassName } }];
    const older = (cls?: string, annotation?: string) => [classed('other', '2026-01-01', cls, annotation)];
    const verdict = (wanted: KubernetesObject[], cached: Array<V1Ingress & Cached>) =>
      ingressConflict(server(), wanted, cached)?.reason;
    expect(verdict(want('internal'), older('public'))).toBeUndefined();
    expect(verdict(want('internal'), older(undefined, 'public'))).toBeUndefined();
    expect(verdict(want('public'), older('public'))).toBe('IngressConflict');
    expect(verdict(want('public'), older(undefined, 'public'))).toBe('IngressConflict');
    // The default class may be either named one.
    expect(verdict(want(undefined), older('public'))).toBe('IngressConflict');
    expect(verdict(want('public'), older())).toBe('IngressConflict');
  });

  it('compares every path: with auth, the protected-resource metadata path is one another Ingress may hold', () => {
    const withAuth = server({
      ingress: { host: 'a.test', path: '/github' },
      auth: { oidc: { issuer: 'https://id.example.com', audience: 'mcp' } },
    });
    const mine = renderIngress(withAuth) as V1Ingress;
    const metadataPath = mine.spec?.rules?.[0]?.http?.paths[1]?.path;
    expect(metadataPath).toMatch(/^\/\.well-known\/oauth-protected-resource\/github/);
    // An older Ingress squatting only the metadata path would answer clients with its own issuer.
    const squatter = ingress('other', 'u2', '2026-01-01', 'a.test', metadataPath);
    const blocker = ingressConflict(withAuth, [mine], [squatter]);
    expect(blocker?.reason).toBe('IngressConflict');
    expect(blocker?.message).toContain(`a.test${metadataPath} is already served by Ingress ns/other`);
    expect(ingressConflict(withAuth, [mine], [ingress('other', 'u2', '2026-01-01', 'a.test', '/gitlab')])).toBe(
      undefined,
    );
  });

  it('a tie of two servers created in the same second has exactly one winner', () => {
    const a = ingress('a', 'uid-a', '2026-01-01T00:00:00Z', 'a.test', '/x', 'ing-1');
    const b = ingress('b', 'uid-b', '2026-01-01T00:00:00Z', 'a.test', '/x/', 'ing-2');
    const serverNamed = (name: string, uid: string) =>
      ({ ...server(), metadata: { name, namespace: 'ns', uid, generation: 1 } }) as McpServer & Cached;
    const refused = [
      ingressConflict(serverNamed('a', 'uid-a'), desired, [a, b]),
      ingressConflict(serverNamed('b', 'uid-b'), desired, [a, b]),
    ].filter(Boolean);
    expect(refused).toHaveLength(1);
  });

  it.each([
    ['/base', '/base/', '*'],
    ['/', '', '*'],
  ])('routeKey: %s and %s are one route', (p, q) => {
    expect(routeKey('H.example', p)).toBe(routeKey('h.example', q));
  });
});

describe('reservedEnvFromKey', () => {
  const cm = (keys: string[]): ReferencedObject => ({ kind: 'ConfigMap', metadata: { name: 'cfg' }, keys, hash: 'h' });
  it.each<[string, Record<string, unknown>, string[], RegExp | undefined]>([
    ['no envFrom', {}, ['MCP_GATEWAY_TRUST_PROXY'], undefined],
    ['ordinary keys', { envFrom: [{ configMapRef: { name: 'cfg' } }] }, ['LOG_LEVEL'], undefined],
    [
      'a key in the gateway namespace',
      { envFrom: [{ configMapRef: { name: 'cfg' } }] },
      ['A', 'MCP_GATEWAY_TRUST_PROXY'],
      /ConfigMap ns\/cfg \(spec\.envFrom\[0\]\) has the key "MCP_GATEWAY_TRUST_PROXY"/,
    ],
    [
      'a prefix and a key that join into it',
      { envFrom: [{ prefix: 'MCP_', configMapRef: { name: 'cfg' } }] },
      ['GATEWAY_PORT'],
      /becomes MCP_GATEWAY_PORT/,
    ],
  ])('%s', (_name, spec, keys, says) => {
    const blocker = reservedEnvFromKey('ns', server(spec), () => cm(keys));
    expect(blocker?.reason).toBe(says ? 'ReservedEnvName' : undefined);
    if (says) expect(blocker?.message).toMatch(says);
  });

  it('an HTTP server runs apart from the gateway: its envFrom is its own', () => {
    const mcp = server({ envFrom: [{ configMapRef: { name: 'cfg' } }] }, httpServer);
    expect(reservedEnvFromKey('ns', mcp, () => cm(['MCP_GATEWAY_PORT']))).toBeUndefined();
  });
});

describe('sessionSecretGate', () => {
  const secret = (uid: string, keys = ['session-key'], shortKeys?: string[]): ReferencedObject => ({
    kind: 'Secret',
    metadata: { name: 's-gateway-session', ...owned(uid) },
    keys,
    hash: 'h',
    ...(shortKeys ? { shortKeys } : {}),
  });
  it.each<[string, boolean, ReferencedObject | undefined, string | undefined]>([
    ['no gateway (HTTP): no Secret', false, undefined, undefined],
    ['absent: create it', true, undefined, 'create'],
    ['ours exists: pass', true, secret(UID), undefined],
    ['ours lost its key: repair', true, secret(UID, ['other']), 'repair'],
    ['ours holds a short key: repair', true, secret(UID, ['session-key'], ['session-key']), 'repair'],
    ['someone else holds the name', true, secret('u2'), 'ChildConflict'],
  ])('%s', (_name, enabled, existing, answer) => {
    const gate = sessionSecretGate(server(), enabled, 's-gateway-session', existing);
    expect(typeof gate === 'object' ? gate.reason : gate).toBe(answer);
  });
});

describe('childConflict', () => {
  const child = { kind: 'Service', metadata: { name: 's' } };
  it.each<[string, KubernetesObject | undefined, boolean]>([
    ['absent', undefined, false],
    ['ours', { ...child, metadata: { name: 's', ...owned(UID) } }, false],
    ['not ours', { ...child, metadata: { name: 's', ...owned('u2', 'other') } }, true],
    ['unowned', child, true],
  ])('%s', (_name, live, conflict) => {
    const blocker = childConflict(server(), new Map([[child, live]]));
    expect(blocker?.reason).toBe(conflict ? 'ChildConflict' : undefined);
    if (conflict) expect(blocker?.message).toMatch(/Service ns\/s already exists and is not managed by this McpServer/);
  });

  it('says what a deleted McpServer of this name left is for the garbage collector, not the user', () => {
    const left = { kind: 'Service', metadata: { name: 's', ...owned('u-deleted') } };
    expect(childConflict(server(), new Map([[child, left]]))).toEqual({
      reason: 'ChildConflict',
      message:
        'Service ns/s: left by a deleted McpServer of this name; the garbage collector deletes it (after any finalizers), then this one converges',
    });
  });

  it('names every taken child in one message', () => {
    const other = { metadata: { name: 's', ...owned('u2', 'other') } };
    const live = new Map<KubernetesObject, KubernetesObject | undefined>([
      [
        { kind: 'ServiceAccount', metadata: { name: 's' } },
        { kind: 'ServiceAccount', ...other },
      ],
      [{ kind: 'Service', metadata: { name: 's' } }, undefined],
      [
        { kind: 'Deployment', metadata: { name: 's' } },
        { kind: 'Deployment', ...other },
      ],
    ]);
    expect(childConflict(server(), live)?.message).toBe(
      'ServiceAccount ns/s, Deployment ns/s already exist and are not managed by this McpServer: delete them or rename the McpServer',
    );
  });
});

describe('tool discovery decisions', () => {
  it.each<[string, Record<string, unknown>, string | undefined, string | undefined]>([
    ['a cluster IP: its URL', {}, '10.96.0.7', 'http://10.96.0.7:8080/mcp'],
    ['IPv6', {}, 'fd00::7', 'http://[fd00::7]:8080/mcp'],
    ['headless', {}, 'None', undefined],
    ['no Service yet', {}, undefined, undefined],
    [
      'a token is required: asked with a minted credential',
      { auth: { bearer: { secretRef: { name: 't', key: 'k' } } } },
      '10.96.0.7',
      'http://10.96.0.7:8080/mcp',
    ],
  ])('target: %s', (_name, spec, clusterIP, url) => {
    const mcp = server(spec);
    const target = discoveryTarget(mcp, mcp, { metadata: { generation: 3 } }, clusterIP);
    expect(target?.url).toBe(url);
    if (url) expect(target).toMatchObject({ key: 'ns/s', fingerprint: `${UID}/2/3` });
    expect(target?.credential).toBe('auth' in spec ? true : undefined);
  });

  const state = (s: DiscoveryState['state'], fingerprint = 'f1'): DiscoveryState => ({ fingerprint, state: s });
  it.each<[string, DiscoveryState | undefined, number, string]>([
    ['never tried', undefined, 0, 'start'],
    ['found for this rollout', state('found'), 0, 'none'],
    ['in flight', state('running'), 0, 'none'],
    ['failed, retry pending', state('waiting'), 0, 'none'],
    ['retry due', state('retry'), 0, 'start'],
    ['a new rollout', state('found', 'f0'), 0, 'start'],
    ['too many at once', undefined, MAX_CONCURRENT_DISCOVERIES, 'defer'],
  ])('step: %s', (_name, known, running, step) => {
    expect(discoveryStep(known, 'f1', running)).toBe(step);
  });

  it.each([
    [1, 2_000],
    [2, 4_000],
    [9, 300_000],
  ])('retry after failure %i: %i ms', (failures, ms) => {
    expect(discoveryRetryMs(failures)).toBe(ms);
  });
});

describe('nameHeldByOther: an McpServer and a VirtualMcpServer of one name', () => {
  const at = (uid: string, creationTimestamp: string, deleting = false): Cached =>
    ({
      metadata: {
        name: 'twin',
        namespace: 'ns',
        uid,
        creationTimestamp,
        ...(deleting ? { deletionTimestamp: 'x' } : {}),
      },
    }) as unknown as Cached;
  const service = (ownerUid: string): Cached =>
    ({
      metadata: {
        name: 'twin',
        ownerReferences: [{ apiVersion: 'v', kind: 'K', name: 'twin', uid: ownerUid, controller: true }],
      },
    }) as unknown as Cached;
  const older = at('b-uid', '2026-12-01T10:00:00Z');
  const newer = at('a-uid', '2026-12-01T10:00:05Z');
  it.each<[string, Cached, Cached | undefined, Cached | undefined, boolean]>([
    ['no other', newer, undefined, undefined, false],
    ['the other is older, no Service yet', newer, older, undefined, true],
    ['the other is newer', older, newer, undefined, false],
    ['the newcomer never displaces one whose Service stands', older, newer, service('a-uid'), true],
    ['one whose Service stands keeps it against an older one', newer, older, service('a-uid'), false],
    ['the other is being deleted', newer, at('b-uid', '2026-12-01T10:00:00Z', true), undefined, false],
    ['same second: the smaller uid', at('b-uid', 'T'), at('a-uid', 'T'), undefined, true],
    ['same second, the other way', at('a-uid', 'T'), at('b-uid', 'T'), undefined, false],
    ['a Service of someone else decides nothing', newer, older, service('c-uid'), true],
  ])('%s', (_name, self, other, svc, held) => {
    expect(nameHeldByOther(self, other, svc)).toBe(held);
  });
});

describe('operatorAccountGate', () => {
  const operator = { namespace: 'mcp-operator-system', serviceAccount: 'mcp-operator' };
  it.each([
    [
      'its own ServiceAccount in its namespace',
      'mcp-operator-system',
      'mcp-operator',
      operator,
      'ReservedServiceAccount',
    ],
    ['another ServiceAccount in its namespace', 'mcp-operator-system', 'github-reader', operator, undefined],
    ['the same name in another namespace', 'tools', 'mcp-operator', operator, undefined],
    ['no ServiceAccount named (the server gets its own)', 'mcp-operator-system', undefined, operator, undefined],
    ['an operator that does not know its ServiceAccount', 'mcp-operator-system', 'mcp-operator', {}, undefined],
    [
      'only the namespace known',
      'mcp-operator-system',
      'mcp-operator',
      { namespace: 'mcp-operator-system' },
      undefined,
    ],
  ] as const)('%s', (_, namespace, serviceAccountName, identity, reason) => {
    const pod = serviceAccountName ? { serviceAccountName } : undefined;
    expect(operatorAccountGate('McpServer', namespace, pod, identity)?.reason).toBe(reason);
  });

  it('names the field, the account, why, and the fix', () => {
    const blocker = operatorAccountGate(
      'VirtualMcpServer',
      'mcp-operator-system',
      { serviceAccountName: 'mcp-operator' },
      operator,
    );
    expect(blocker?.message).toBe(
      'spec.pod.serviceAccountName: "mcp-operator" is the operator\'s own ServiceAccount in mcp-operator-system, which may read Secrets cluster-wide; remove the field (the VirtualMcpServer then gets its own ServiceAccount) or name one made for this server',
    );
  });
});
