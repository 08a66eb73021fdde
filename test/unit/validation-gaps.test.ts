/**
 * Issue 10 F, offline: `render`'s validator refuses each gap the way the API server does (the integration test
 * validation-gaps.test.ts feeds the same manifests to a real kube-apiserver), and accepts the look-alikes.
 */

import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { mcpServerSchema } from '../../src/api/schema.ts';
import type { Rule, Schema } from '../../src/api/schema-types.ts';
import { InvalidMcpServerError, parseMcpServer, validateAgainst } from '../../src/api/validate.ts';
import { parseConfig } from '../../src/gateway/config.ts';
import { renderChildren } from '../../src/render/index.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { gapCases } from '../fixtures/validation-gaps.ts';
import { gapNeighbours } from '../fixtures/validation-neighbours.ts';

function refusal(manifest: object): InvalidMcpServerError {
  try {
    parseMcpServer(manifest);
  } catch (err) {
    if (err instanceof InvalidMcpServerError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('the validation gaps of issue 10 F, offline', () => {
  it.each(gapCases)('refuses $name, naming $field and the fix', ({ manifest, field, says, secret }) => {
    const err = refusal(manifest);
    const error = err.errors.find((e) => e.field === field);
    expect(error, `an error on ${field}, got ${err.message}`).toBeDefined();
    expect(error?.message).toMatch(says);
    if (secret) expect(err.message).not.toContain(secret);
  });

  it.each(gapNeighbours)('accepts $name', ({ manifest }) => {
    expect(() => parseMcpServer(manifest)).not.toThrow();
  });

  // What the API server accepts must also start: the gateway refuses a bad setting at start, and the pod loops.
  it.each(gapNeighbours)('renders a gateway configuration the gateway takes: $name', ({ manifest }) => {
    const children = renderChildren(parseMcpServer(manifest), { gatewayImage: 'example.test/gw:1' });
    const deployment = children.find((c) => c.kind === 'Deployment') as V1Deployment;
    const containers = deployment.spec?.template.spec?.containers ?? [];
    const gateway =
      containers.find((c) => c.name === 'gateway') ?? (containers.find((c) => c.name === 'server') as V1Container);
    if (!gateway.env?.some((e) => e.name.startsWith('MCP_GATEWAY_'))) return; // no gateway in this pod
    // As the kubelet passes them: literal values, references resolved to some value, $(VAR) expanded.
    const env: Record<string, string> = {};
    for (const e of gateway.env ?? []) {
      env[e.name] = (e.value ?? '10.0.0.7').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);
    }
    const argv = gateway.name === 'server' ? (gateway.args ?? []) : (gateway.args ?? []).slice(1);
    expect(() => parseConfig(argv, env)).not.toThrow();
  });

  it('tells how to write a fractional quantity that YAML read as a number', () => {
    const err = refusal(stdioServer('n', { resources: { requests: { cpu: 0.5 } } }));
    expect(err.message).toContain(
      'spec.resources.requests.cpu: must be an integer or a string, got 0.5: quote it ("0.5")',
    );
    expect(() => parseMcpServer(stdioServer('n', { resources: { limits: { memory: 2 ** 64 } } }))).toThrow(
      /spec.resources.limits.memory: must be an integer or a string/,
    );
  });

  it('renders integer quantities as the strings the API server stores', () => {
    const mcp = parseMcpServer(
      stdioServer('ints', { resources: { requests: { cpu: 1, memory: 1073741824 }, limits: { cpu: 2 } } }),
    );
    const deployment = renderChildren(mcp, { gatewayImage: 'gw:1' }).find((c) => c.kind === 'Deployment') as {
      spec: { template: { spec: { containers: Array<{ name: string; resources: unknown }> } } };
    };
    const server = deployment.spec.template.spec.containers.find((c) => c.name === 'server');
    expect(server?.resources).toEqual({ requests: { cpu: '1', memory: '1073741824' }, limits: { cpu: '2' } });
  });
});

describe('messages that quote the bad value (messageExpression and its TypeScript mirror)', () => {
  const rulesWithMessages: Array<{ path: string; rule: Rule }> = [];
  const walk = (schema: Schema, path: string) => {
    for (const rule of schema.rules ?? []) rulesWithMessages.push({ path, rule });
    for (const [k, v] of Object.entries(schema.properties ?? {})) walk(v, `${path}.${k}`);
    if (schema.items) walk(schema.items, `${path}[]`);
    if (schema.additionalProperties) walk(schema.additionalProperties, `${path}{}`);
  };
  walk(mcpServerSchema, '');

  it('gives every rule that has a messageExpression its mirror, and the reverse', () => {
    const unpaired = rulesWithMessages.filter(({ rule }) => !rule.messageExpression !== !rule.messageOf);
    expect(unpaired.map((r) => r.path)).toEqual([]);
    expect(rulesWithMessages.filter(({ rule }) => rule.messageExpression).length).toBeGreaterThan(20);
  });

  it('falls back to the static message where the API server would (multi-line or empty text)', () => {
    const node: Schema = {
      type: 'string',
      description: 'x',
      rules: [
        {
          rule: 'false',
          message: 'static text',
          messageExpression: 'self',
          messageOf: ((s: string) => s) as never,
          check: (() => false) as never,
        },
      ],
    };
    expect(validateAgainst(node, 'one line', 'f')[0]?.message).toBe('one line');
    expect(validateAgainst(node, 'two\nlines', 'f')[0]?.message).toBe('static text');
    expect(validateAgainst(node, '  ', 'f')[0]?.message).toBe('static text');
  });
});
