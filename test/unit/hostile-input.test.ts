/**
 * The pure checks the gateway runs on hostile input: the nesting scanner (against a reference depth computed
 * on the decoded value, for generated JSON), the tool-name rule, the bounded audit record.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { boundedAudit, MAX_AUDITED_KEYS } from '../../src/gateway/audit.ts';
import { nestsDeeperThan, requestIdsOf } from '../../src/gateway/protocol/jsonrpc.ts';
import { DeclaredTools, wellFormedToolName } from '../../src/gateway/tool-names.ts';

/** Nesting depth of a decoded JSON value (arrays and objects count; recursion is fine at these sizes). */
function depthOf(value: unknown): number {
  if (Array.isArray(value)) return 1 + Math.max(0, ...value.map(depthOf));
  if (typeof value === 'object' && value !== null) return 1 + Math.max(0, ...Object.values(value).map(depthOf));
  return 0;
}

const bytes = (text: string) => Buffer.from(text, 'utf8');

describe('nestsDeeperThan', () => {
  test('agrees with the decoded depth for generated JSON, strings full of brackets and escapes included', () => {
    const tricky = fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', '\\', 'a', 'é', '\n') });
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        tricky,
        fc.integer(),
        fc.array(tie('node'), { maxLength: 3 }),
        fc.dictionary(tricky, tie('node'), { maxKeys: 3 }),
      ),
    })).node;
    fc.assert(
      fc.property(value, fc.integer({ min: 0, max: 8 }), (v, limit) => {
        expect(nestsDeeperThan(bytes(JSON.stringify(v)), limit)).toBe(depthOf(v) > limit);
      }),
      { seed: 20261201, numRuns: 2000 },
    );
  });

  test('thousands of levels, inside and outside strings', () => {
    const deep = (n: number) => `${'['.repeat(n)}${']'.repeat(n)}`;
    expect(nestsDeeperThan(bytes(deep(5000)), 128)).toBe(true);
    expect(nestsDeeperThan(bytes(deep(128)), 128)).toBe(false);
    expect(nestsDeeperThan(bytes(deep(129)), 128)).toBe(true);
    expect(nestsDeeperThan(bytes(JSON.stringify({ s: deep(5000) })), 128)).toBe(false);
    // An escaped quote does not end the string; an escaped backslash does not escape the quote after it.
    expect(nestsDeeperThan(bytes(`["\\"${'['.repeat(200)}"]`), 128)).toBe(false);
    expect(nestsDeeperThan(bytes(`["\\\\",${deep(129)}]`), 128)).toBe(true);
  });
});

describe('tool names', () => {
  test('the MCP format: 1 to 128 characters of A-Z a-z 0-9 _ - .', () => {
    for (const ok of ['getUser', 'DATA_EXPORT_v2', 'admin.tools.list', 'a'.repeat(128), 'get-sum']) {
      expect(wellFormedToolName(ok)).toBe(true);
    }
    for (const bad of ['', 'a'.repeat(129), 'get sum', 'a/b', 'github:create_issue', 'ünï', 'x\n']) {
      expect(wellFormedToolName(bad)).toBe(false);
    }
  });

  test('a declared name is accepted whatever its form; a list is bounded', () => {
    const tools = new DeclaredTools();
    expect(tools.accepts('github:create_issue')).toBe(false);
    tools.declareList({ tools: [{ name: 'github:create_issue' }, { name: 42 }, 'junk', { title: 'no name' }] });
    expect(tools.accepts('github:create_issue')).toBe(true);
    expect(tools.has('42')).toBe(false);
    tools.declareList({ tools: Array.from({ length: 2000 }, (_, i) => ({ name: `t${i}` })) });
    expect(tools.has('t998')).toBe(true);
    expect(tools.has('t1999')).toBe(false);
  });
});

describe('bounded audit records', () => {
  const base = { event: 'tool_call' as const, client: 'ip:127.0.0.1', session: 's1', durationMs: 1, outcome: 'ok' };

  test('an ordinary record is returned as is (no copy on the hot path)', () => {
    const record = { ...base, tool: 'echo', argumentKeys: ['message'] };
    expect(boundedAudit(record)).toBe(record);
  });

  test('long names, many keys and long keys are cut, and the cut is counted', () => {
    const keys = Array.from({ length: 1000 }, (_, i) => `${'k'.repeat(500)}${i}`);
    const bounded = boundedAudit({ ...base, tool: 'x'.repeat(3_000_000), argumentKeys: keys });
    expect(JSON.stringify(bounded).length).toBeLessThan(4096);
    expect(bounded.argumentKeys).toHaveLength(MAX_AUDITED_KEYS);
    expect(bounded.argumentKeysOmitted).toBe(1000 - MAX_AUDITED_KEYS);
    expect(bounded.tool).toMatch(/^x{128}…\[2999872 more characters\]$/);
  });
});

test('requestIdsOf: the ids of the requests of one message or a batch', () => {
  expect(requestIdsOf({ jsonrpc: '2.0', id: 3, method: 'ping' })).toEqual([3]);
  expect(
    requestIdsOf([
      { jsonrpc: '2.0', id: 'a', method: 'ping' },
      { jsonrpc: '2.0', method: 'notifications/initialized' },
      { jsonrpc: '2.0', id: 4, result: {} },
      { jsonrpc: '2.0', id: { x: 1 }, method: 'ping' },
    ]),
  ).toEqual(['a']);
  expect(requestIdsOf('junk')).toEqual([]);
});
