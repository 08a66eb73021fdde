import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CRD_PATH, generatedFiles, TYPES_PATH, VIRTUAL_CRD_PATH } from '../../scripts/generated-files.ts';
import { toOpenApi } from '../../src/api/crd.ts';
import { REFERENCE_PATH, VIRTUAL_REFERENCE_PATH } from '../../src/api/reference.ts';
import { mcpServerSchema, virtualMcpServerSchema } from '../../src/api/schema.ts';
import type { Schema } from '../../src/api/schema-types.ts';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import { httpServer, invalidCases, stdioServer } from '../fixtures/manifests.ts';

const ROOT = join(import.meta.dirname, '../..');
/** A Kubernetes type with its upstream schema (src/api/k8s-types.ts), typed as the client-node class. */
const isKubernetesType = (schema: Schema) => schema.tsType?.startsWith('k8s.') ?? false;

describe('the schema source', () => {
  it('matches the committed CRD, types and reference (run `npm run generate` after editing src/api/schema.ts)', () => {
    const files = generatedFiles();
    expect(Object.keys(files)).toEqual(
      expect.arrayContaining([CRD_PATH, VIRTUAL_CRD_PATH, TYPES_PATH, REFERENCE_PATH, VIRTUAL_REFERENCE_PATH]),
    );
    for (const [path, text] of Object.entries(files)) {
      expect(readFileSync(join(ROOT, path), 'utf8'), path).toBe(text);
    }
  });

  it('describes every field, for kubectl explain', () => {
    const undocumented: string[] = [];
    const walk = (schema: Schema, path: string) => {
      if (!schema.description && path !== '.metadata') undocumented.push(path || '<root>');
      if (isKubernetesType(schema)) return; // upstream's own descriptions (its list entries have none)
      for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${path}.${k}`);
      if (schema.items) walk(schema.items, `${path}[]`);
      if (schema.additionalProperties) walk(schema.additionalProperties, `${path}{}`);
    };
    walk(mcpServerSchema, '');
    walk(virtualMcpServerSchema, '');
    expect(undocumented).toEqual([]);
  });

  it.each([
    [CRD_PATH, mcpServerSchema],
    [VIRTUAL_CRD_PATH, virtualMcpServerSchema],
  ])('%s is a structural schema: every field typed, no unknown fields preserved except metadata', (path, source) => {
    const crd = parse(readFileSync(join(ROOT, path), 'utf8'));
    const schema = crd.spec.versions[0].schema.openAPIV3Schema;
    expect(schema).toEqual(toOpenApi(source));
    const untyped: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      if (!node.type && !node['x-kubernetes-int-or-string']) untyped.push(path);
      if (node['x-kubernetes-preserve-unknown-fields']) untyped.push(`${path} (preserves unknown fields)`);
      if (node.$ref || node.allOf || (node.additionalProperties && node.properties))
        untyped.push(`${path} (not structural)`);
      for (const [k, v] of Object.entries((node.properties as Record<string, Record<string, unknown>>) ?? {}))
        walk(v, `${path}.${k}`);
      if (node.items) walk(node.items as Record<string, unknown>, `${path}[]`);
      if (node.additionalProperties) walk(node.additionalProperties as Record<string, unknown>, `${path}{}`);
    };
    walk(schema, '');
    expect(untyped).toEqual([]);
  });
});

describe('the McpServer reference (docs/mcpserver-reference.md)', () => {
  const reference = generatedFiles()[REFERENCE_PATH] ?? '';

  it('has a row for every spec and status field, and every CEL rule with its message', () => {
    const missing: string[] = [];
    const walk = (schema: Schema, path: string) => {
      if (schema.preserveUnknownFields || isKubernetesType(schema)) return; // documented upstream
      for (const rule of schema.rules ?? []) {
        if (!reference.includes(rule.message)) missing.push(`message of ${path || '<root>'}: ${rule.message}`);
        if (!reference.includes(rule.rule.replaceAll('|', '\\|'))) missing.push(`rule of ${path || '<root>'}`);
      }
      for (const [k, v] of Object.entries(schema.properties ?? {})) {
        const child = path ? `${path}.${k}` : k;
        if (path && !reference.includes(`| \`${child}\` |`)) missing.push(child);
        walk(v, child);
      }
      if (schema.items) walk(schema.items, `${path}[]`);
      if (schema.additionalProperties) walk(schema.additionalProperties, `${path}.<key>`);
    };
    for (const part of ['spec', 'status'] as const) walk(mcpServerSchema.properties?.[part] as Schema, part);
    for (const rule of mcpServerSchema.rules ?? []) if (!reference.includes(rule.message)) missing.push(rule.message);
    expect(missing).toEqual([]);
  });

  it('lists every condition reason and Event reason the controller writes', () => {
    const source = (file: string) => readFileSync(join(ROOT, 'src/controller', file), 'utf8');
    const written = new Set<string>();
    for (const file of [
      'status.ts',
      'reconcile.ts',
      'gates.ts',
      'refusal.ts',
      'gateway-api.ts',
      'route-status.ts',
      'route-conflict.ts',
    ]) {
      const text = source(file);
      for (const m of text.matchAll(/reason: '([A-Za-z]+)'/g)) written.add(m[1] as string);
      // reason: err.status === 403 ? 'Forbidden' : 'ApplyFailed'
      for (const m of text.matchAll(/reason: [^'\n]*\? '([A-Za-z]+)' : '([A-Za-z]+)'/g)) {
        written.add(m[1] as string);
        written.add(m[2] as string);
      }
      // reason: `${ref.kind}NotFound` for a Secret or ConfigMap reference
      for (const m of text.matchAll(/reason: `\$\{ref\.kind\}([A-Za-z]+)`/g)) {
        written.add(`Secret${m[1]}`);
        written.add(`ConfigMap${m[1]}`);
      }
    }
    expect(written.size).toBeGreaterThan(15);
    const documented = [...written].filter((reason) => !reference.includes(`| \`${reason}\` |`));
    expect(documented, 'add them to CONDITION_REASONS in src/api/conditions.ts').toEqual([]);

    const events = new Set<string>();
    const reconcile = source('reconcile.ts');
    for (const m of reconcile.matchAll(/events\.record\(mcp, 'Normal', '([A-Za-z]+)'/g)) events.add(m[1] as string);
    for (const m of reconcile.matchAll(/'([A-Z][a-z]+)' : '([A-Z][a-z]+)';\n\s*await this\.o\.events/g)) {
      events.add(m[1] as string);
      events.add(m[2] as string);
    }
    expect([...events].sort()).toEqual(['Applied', 'Deleted']);
    for (const reason of [...events, 'Ready']) expect(reference).toContain(`| Normal | \`${reason}\` |`);
  });
});

describe('parseMcpServer (the offline twin of API server admission)', () => {
  it('applies the same defaults as the CRD', () => {
    const mcp = parseMcpServer(stdioServer());
    expect(mcp.spec).toMatchObject({
      transport: 'stdio',
      replicas: 1,
      sessions: { mode: 'shared', idleTimeout: '30m' },
      gateway: { enabled: true },
    });
    expect(parseMcpServer(stdioServer('x', { ingress: { host: 'a.example.com' } })).spec.ingress?.path).toBe('/');
  });

  it('does not change what the user wrote', () => {
    const manifest = httpServer('remote', { replicas: 3, sessions: { max: 7 } });
    const before = structuredClone(manifest);
    const mcp = parseMcpServer(manifest);
    expect(manifest).toEqual(before);
    expect(mcp.spec.sessions).toEqual({ mode: 'shared', max: 7, idleTimeout: '30m' });
  });

  it.each(invalidCases)('refuses $name, naming $field', ({ manifest, field, says }) => {
    let error: unknown;
    try {
      parseMcpServer(manifest);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(InvalidMcpServerError);
    const invalid = error as InvalidMcpServerError;
    expect(invalid.errors.map((e) => e.field)).toContain(field);
    expect(invalid.message).toMatch(says);
    expect(invalid.message).toContain(manifest.metadata.name);
  });

  it('reads values as the API server does: nulls dropped, integers only where integers go, a duplicate once', () => {
    const fields = (manifest: object) => {
      try {
        parseMcpServer(manifest);
      } catch (err) {
        return (err as InvalidMcpServerError).errors.map((e) => e.field);
      }
      return [];
    };
    // A null field is pruned before defaulting: a required one is then missing, a defaulted one defaulted.
    expect(fields(stdioServer('n', { image: null }))).toEqual(['spec.image']);
    expect(fields(stdioServer('n', { pod: { volumes: [{ name: 'v', configMap: null }] } }))).toEqual([
      'spec.pod.volumes[0]',
    ]);
    expect(parseMcpServer(stdioServer('n', { transport: null, replicas: null })).spec).toMatchObject({
      transport: 'stdio',
      replicas: 1,
    });
    // int-or-string takes integers, not 0.5; an integer must fit in an int64.
    expect(fields(stdioServer('q', { resources: { requests: { cpu: 0.5 } } }))).toEqual([
      'spec.resources.requests.cpu',
    ]);
    expect(fields(stdioServer('q', { resources: { requests: { cpu: 2 } } }))).toEqual([]);
    expect(fields(stdioServer('q', { pod: { tolerations: [{ tolerationSeconds: 1e21 }] } }))).toEqual([
      'spec.pod.tolerations[0].tolerationSeconds',
    ]);
    // Lengths count characters: 253 emoji fit in a 253-character field.
    const audience = (value: string) => ({ auth: { oidc: { issuer: 'https://id.example.com', audience: value } } });
    expect(fields(stdioServer('e', audience('😀'.repeat(253))))).toEqual([]);
    expect(fields(stdioServer('e', audience('😀'.repeat(254))))).toEqual(['spec.auth.oidc.audience']);
    // Patterns are RE2: \s is ASCII whitespace only.
    expect(fields(stdioServer('s', { image: 'node 24' }))).toEqual(['spec.image']);
    expect(fields(stdioServer('s', { image: 'node\u00a024' }))).toEqual([]);
    // An object name the API server refuses for any kind is named as metadata.name, beside our DNS-label rule.
    expect(fields(stdioServer('UPPER')).sort()).toEqual(['<root>', 'metadata.name']);
    expect(fields(stdioServer('1github'))).toEqual(['<root>']);
    // Each duplicated value is blamed once, on its first repeat.
    expect(fields(stdioServer('d', { tools: { allow: ['a', 'a', 'a', 'b', 'b'] } }))).toEqual([
      'spec.tools.allow[1]',
      'spec.tools.allow[4]',
    ]);
  });

  it('refuses a wrong apiVersion or kind, and a missing name', () => {
    expect(() => parseMcpServer({ ...stdioServer(), apiVersion: 'v1' })).toThrow(
      /apiVersion: must be mcpoperator.io\/v1alpha1/,
    );
    expect(() => parseMcpServer({ ...stdioServer(), kind: 'Pod' })).toThrow(/kind: must be McpServer/);
    expect(() => parseMcpServer({ ...stdioServer(), metadata: {} })).toThrow(/metadata.name: required/);
    expect(() => parseMcpServer('not an object')).toThrow(InvalidMcpServerError);
  });

  it('accepts secrets by reference, and secret-looking names with harmless empty values', () => {
    expect(() =>
      parseMcpServer(
        stdioServer('ok', {
          env: [
            { name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'gh', key: 'token' } } },
            { name: 'API_KEY', value: '' },
            { name: 'TOKEN_URL', value: 'https://id.example.com/token' },
          ],
        }),
      ),
    ).not.toThrow();
  });

  it('reports every problem at once; CEL rules run unless a blocking schema error stops them, as on the API server', () => {
    const fields = (manifest: object) => {
      try {
        parseMcpServer(manifest);
      } catch (err) {
        return (err as InvalidMcpServerError).errors.map((e) => e.field).sort();
      }
      return [];
    };
    // Bounds do not block the rules (the API server answered exactly these three causes).
    expect(fields(httpServer('many', { port: 70000, replicas: 99, path: 'x' }))).toEqual([
      'spec.path',
      'spec.port',
      'spec.replicas',
    ]);
    // A type or enum error does (apiextensions' hasBlockingErr): the path rule is not reported.
    expect(fields(httpServer('blocked', { port: 'http', path: 'x' }))).toEqual(['spec.port']);
    expect(fields(httpServer('enum', { transport: 'websocket', path: 'x' }))).toEqual(['spec.transport']);
    expect(fields(httpServer('rules', { path: 'x', tools: { allow: ['a'], deny: ['a'] } }))).toEqual([
      'spec.path',
      'spec.tools.deny',
    ]);
    // Strict field validation refuses unknown fields before anything else: a misspelt required key is one error.
    expect(fields(httpServer('typo', { imagee: 'x', port: 70000 }))).toEqual(['spec.imagee']);
  });

  it('says why a field left out for Pod Security "restricted" is refused, instead of asking for a spelling', () => {
    const messages = (manifest: object) => {
      try {
        parseMcpServer(manifest);
      } catch (err) {
        if (err instanceof InvalidMcpServerError) return err.errors.map((e) => `${e.field}: ${e.message}`);
        throw err;
      }
      return [];
    };
    const pod = {
      securityContext: { privileged: true, capabilities: { add: ['NET_ADMIN'] } },
      volumes: [{ name: 'host', hostPath: { path: '/' } }],
    };
    expect(messages(stdioServer('host', { pod })).sort()).toEqual([
      'spec.pod.securityContext.capabilities: unknown field "capabilities": not allowed: McpServer pods run under Pod Security "restricted", and the operator sets that hardening itself',
      'spec.pod.securityContext.privileged: unknown field "privileged": not allowed: McpServer pods run under Pod Security "restricted", and the operator sets that hardening itself',
      'spec.pod.volumes[0].hostPath: unknown field "hostPath": not a volume source Pod Security "restricted" allows: use one of configMap, secret, emptyDir, persistentVolumeClaim, projected, downwardAPI, csi, ephemeral',
    ]);
    // A typo still gets its suggestion.
    expect(messages(stdioServer('typo', { pod: { securityContext: { runAsUsr: 1000 } } }))[0]).toMatch(
      /unknown field "runAsUsr": did you mean "runAsUser"/,
    );
  });
});

describe('the VirtualMcpServer reference (docs/virtualmcpserver-reference.md)', () => {
  const reference = generatedFiles()[VIRTUAL_REFERENCE_PATH] ?? '';

  it('has a row for every spec and status field, and every CEL rule with its message', () => {
    const missing: string[] = [];
    const walk = (schema: Schema, path: string) => {
      if (schema.preserveUnknownFields || isKubernetesType(schema)) return;
      for (const rule of schema.rules ?? [])
        if (!reference.includes(rule.message)) missing.push(`${path}: ${rule.message}`);
      for (const [k, v] of Object.entries(schema.properties ?? {})) {
        const child = path ? `${path}.${k}` : k;
        if (path && !reference.includes(`| \`${child}\` |`)) missing.push(child);
        walk(v, child);
      }
      if (schema.items) walk(schema.items, `${path}[]`);
      if (schema.additionalProperties) walk(schema.additionalProperties, `${path}.<key>`);
    };
    for (const part of ['spec', 'status'] as const) walk(virtualMcpServerSchema.properties?.[part] as Schema, part);
    expect(missing).toEqual([]);
    expect(reference).toContain('## kubectl get vmcps');
  });

  it('lists every condition reason and Event reason the VirtualMcpServer controller writes', () => {
    const dir = join(ROOT, 'src/controller/virtual');
    const written = new Set<string>();
    const events = new Set<string>();
    for (const file of readdirSync(dir)) {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const m of text.matchAll(/reason: '([A-Za-z]+)'/g)) written.add(m[1] as string);
      for (const m of text.matchAll(/reason: [^'\n]*\? '([A-Za-z]+)' : '([A-Za-z]+)'/g)) {
        written.add(m[1] as string);
        written.add(m[2] as string);
      }
      for (const m of text.matchAll(/record\('(?:Normal|Warning)', '([A-Za-z]+)'/g)) events.add(m[1] as string);
      for (const m of text.matchAll(/events\.record\([^,]+, 'Normal', '([A-Za-z]+)'/g)) events.add(m[1] as string);
    }
    expect(written.size).toBeGreaterThan(8);
    expect([...written].filter((r) => !reference.includes(`| \`${r}\` |`))).toEqual([]);
    expect([...events].sort()).toEqual(['BackendsChanged', 'Deleted', 'Ready']);
    for (const reason of [...events, 'Created', 'Applied']) expect(reference).toContain(`| Normal | \`${reason}\` |`);
  });
});
