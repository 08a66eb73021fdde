/**
 * Differential test of the offline validator (`render`, src/api/validate.ts) against the real API server with
 * the generated CRD: every valid example and fixture, mutated one field at a time (wrong types, out-of-range
 * values, typos in keys, unknown fields, empty strings, removed fields), must be accepted by both or refused
 * by both naming the same fields. Server-side dry run with strict field validation, as `kubectl apply` sends.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { mcpServerSchema } from '../../src/api/schema.ts';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import type { KubeClient } from '../../src/kube/client.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import { passThroughServer } from '../fixtures/pass-through.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';
import { distinctMutants, type Mutant } from '../support/mutants.ts';

/**
 * A bound on the run (about 1,800 distinct mutants today, each a few milliseconds): above it, mutants are
 * sampled evenly. DIFFERENTIAL_LIMIT raises it when hunting.
 */
const LIMIT = Number(process.env.DIFFERENTIAL_LIMIT ?? 2500);

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'differential');
});

function seeds(): object[] {
  const dir = join(import.meta.dirname, '../../examples');
  const examples = readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => d.toJS()))
    .filter((m) => m?.kind === 'McpServer')
    .map(({ metadata: { namespace: _ignored, ...metadata }, ...rest }) => ({ ...rest, metadata }));
  return [...examples, stdioServer(), httpServer(), passThroughServer(), everyOtherField, withoutGateway];
}

/** The fields no example or fixture above sets, so that every schema location gets its mutants. */
const everyOtherField = stdioServer('every-field', {
  imagePullPolicy: 'IfNotPresent',
  args: ['--verbose'],
  env: [
    { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name', apiVersion: 'v1' } } },
    { name: 'MEMORY', valueFrom: { resourceFieldRef: { resource: 'limits.memory', divisor: '1Mi' } } },
    { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode', optional: true } } },
    { name: 'LEVEL', value: 'debug' },
  ],
  envFrom: [{ prefix: 'APP_', configMapRef: { name: 'settings', optional: false } }, { secretRef: { name: 'keys' } }],
  replicas: 3,
  resources: { requests: { cpu: 1, memory: '256Mi' }, limits: { cpu: '2', memory: '1Gi' } },
  sessions: { mode: 'perSession', max: 20, idleTimeout: '1h30m' },
  tools: { allow: ['search', 'fetch'], deny: ['delete'] },
  auth: { oidc: { issuer: 'https://id.example.com', audience: 'mcp', jwksURL: 'https://id.example.com/jwks' } },
  rateLimit: { requestsPerMinute: 60, perTool: { search: 10 } },
  gateway: { enabled: true },
  ingress: {
    className: 'nginx',
    host: '*.mcp.example.com',
    path: '/search',
    tls: { secretName: 'wildcard-tls' },
    annotations: { 'nginx.ingress.kubernetes.io/proxy-body-size': '8m' },
  },
  // Every httpRoute field (examples/gateway-api.yaml sets the common ones): the same path as the Ingress.
  httpRoute: {
    parentRefs: [{ name: 'public', namespace: 'gateway-system', sectionName: 'https', port: 443 }],
    hostnames: ['*.mcp.example.com', 'search.example.com'],
    path: '/search',
    annotations: { 'example.com/team': 'search' },
  },
  pod: {
    annotations: { 'example.com/owner': 'search-team' },
    labels: { team: 'search' },
    nodeSelector: { 'kubernetes.io/arch': 'amd64' },
    priorityClassName: 'high',
    serviceAccountName: 'search',
    imagePullSecrets: [{ name: 'registry' }],
    securityContext: { runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
    terminationGracePeriodSeconds: 60,
  },
});

/** An HTTP server that runs without the gateway. */
const withoutGateway = httpServer('no-gateway', { transport: 'sse', path: '/sse', gateway: { enabled: false } });

/** metadata.name: the API server's own rules (a DNS subdomain) and ours (a DNS label, it names the Service). */
function nameMutants(): Mutant[] {
  const names = ['UPPER', '1github', 'a.b', 'a'.repeat(63), 'a'.repeat(64), 'a'.repeat(254), '-a', 'a_b', 'ünicode'];
  return names.map((name) => ({
    name: `metadata.name: ${name}`,
    key: `metadata.name ${name}`,
    manifest: stdioServer(name) as never,
  }));
}

type Verdict = { accepted: true } | { accepted: false; fields: string[] };

function offline(manifest: unknown): Verdict {
  try {
    parseMcpServer(manifest);
    return { accepted: true };
  } catch (err) {
    if (!(err instanceof InvalidMcpServerError)) throw err;
    return { accepted: false, fields: err.errors.map((e) => (e.field === '<root>' ? '' : e.field)) };
  }
}

const RULES_NOT_CHECKED = /some validation rules were not checked/;
/** An int-or-string that is neither: the API server names the field in the message only. */
const ANY_OF = /"([^"]+)" must validate at least one schema \(anyOf\)/;

async function server(manifest: unknown): Promise<Verdict> {
  try {
    await admin.create(resourcePath(T.mcpservers, { namespace }), manifest, {
      fieldValidation: 'Strict',
      dryRun: 'All',
    });
    return { accepted: true };
  } catch (err) {
    if (!(err instanceof KubeApiError) || err.status >= 500) throw err;
    const body = err.body as { details?: { causes?: Array<{ field?: string; message?: string }> } } | undefined;
    const causes = body?.details?.causes;
    if (causes?.length) {
      return {
        accepted: false,
        fields: causes
          .filter((c) => !RULES_NOT_CHECKED.test(c.message ?? ''))
          .map((c) => (c.field === '<nil>' ? (c.message?.match(ANY_OF)?.[1] ?? '') : (c.field ?? ''))),
      };
    }
    // Strict decoding: `unknown field "spec.x"`, one per field, and nothing else checked.
    const unknown = [...err.message.matchAll(/unknown field "([^"]+)"/g)].map((m) => m[1] as string);
    return { accepted: false, fields: unknown.length ? unknown : [`<unparsed: ${err.message}>`] };
  }
}

const same = (a: Verdict, b: Verdict) =>
  a.accepted === b.accepted &&
  (a.accepted ||
    b.accepted ||
    JSON.stringify([...new Set(a.fields)].sort()) === JSON.stringify([...new Set(b.fields)].sort()));

describe('the offline validator and the API server', () => {
  it('agree on every one-field mutant of every valid example and fixture', async () => {
    const mutants = [...distinctMutants(seeds() as never[], mcpServerSchema, 'spec', LIMIT), ...nameMutants()];
    expect(mutants.length).toBeGreaterThan(300);
    const disagreements: string[] = [];
    let refused = 0;
    const check = async (m: Mutant) => {
      const [ours, theirs] = [offline(m.manifest), await server(m.manifest)];
      if (!theirs.accepted) refused++;
      if (!same(ours, theirs)) {
        const say = (v: Verdict) => (v.accepted ? 'accepts' : `refuses ${v.fields.join(', ') || '<root>'}`);
        disagreements.push(`${m.name}: render ${say(ours)}; the API server ${say(theirs)}`);
      }
    };
    // A few requests in flight: the API server answers dry runs in milliseconds.
    for (let i = 0; i < mutants.length; i += 8) await Promise.all(mutants.slice(i, i + 8).map(check));
    console.info(
      `${mutants.length} mutants, ${refused} refused by the API server, ${disagreements.length} disagreements`,
    );
    expect(disagreements).toEqual([]);
    // Not a vacuous agreement: most mutants are refused.
    expect(refused).toBeGreaterThan(mutants.length / 2);
  });
});
