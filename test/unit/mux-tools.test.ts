/**
 * tools/call gates and tools/list filtering in the mux: a name no server could have, the allow/deny policy and
 * the per-tool rate limit refuse before the server sees the call, each with its audit outcome; tools/list
 * hides what the policy denies.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { MuxPolicy } from '../../src/gateway/mux/mux.ts';
import { INVALID_PARAMS, RATE_LIMITED } from '../../src/gateway/protocol/jsonrpc.ts';
import { answer, type Harness, harness, session } from './mux-helpers.ts';

let h: Harness | undefined;
afterEach(() => h?.mux.close());

/** Denies `delete_*`; limits `search` (retry after 1.5 s). */
const policy: MuxPolicy = {
  toolAllowed: (name) => !name.startsWith('delete_'),
  filtersTools: true,
  toolRetryAfterMs: (_identity, tool) => (tool === 'search' ? 1500 : 0),
};

describe('tools/call gates', () => {
  test.each([
    { name: 'echo', forwarded: true, code: undefined, outcome: undefined, message: undefined },
    {
      name: 'delete_repo',
      forwarded: false,
      code: INVALID_PARAMS,
      outcome: 'denied',
      message: 'Tool delete_repo is not available through this gateway',
    },
    {
      name: 'search',
      forwarded: false,
      code: RATE_LIMITED,
      outcome: 'rate_limited',
      message: 'Rate limit for tool search exceeded; retry after 2 s',
    },
    { name: 'bad name!', forwarded: false, code: INVALID_PARAMS, outcome: 'invalid', message: undefined },
  ])('$name: forwarded $forwarded, outcome $outcome', ({ name, forwarded, code, outcome, message }) => {
    h = harness({ policy });
    const sink = h.call(session('a'), 1, 'tools/call', { name, arguments: { token: 'never logged', q: 1 } });
    expect(h.upstream.requests().length).toBe(forwarded ? 1 : 0);
    expect(sink.response?.error?.code).toBe(code);
    if (message) expect(sink.response?.error?.message).toBe(message);
    if (code === RATE_LIMITED) expect(sink.response?.error?.data).toEqual({ retryAfterSeconds: 2 });
    expect(h.audits.map((r) => [r.outcome, r.tool, r.argumentKeys])).toEqual(
      outcome ? [[outcome, name, ['token', 'q']]] : [],
    );
  });

  test.each([
    { result: { content: [] }, error: undefined, outcome: 'ok' },
    { result: { content: [], isError: true }, error: undefined, outcome: 'tool_error' },
    { result: undefined, error: { code: -32602, message: 'bad' }, outcome: 'error' },
  ])('an answered call is audited as $outcome', ({ result, error, outcome }) => {
    h = harness({ policy });
    const a = session('a');
    h.call(a, 1, 'tools/call', { name: 'echo', arguments: { x: 1 } });
    const sent = h.upstream.last();
    h.upstream.emit(error ? { jsonrpc: '2.0', id: sent.id, error } : { jsonrpc: '2.0', id: sent.id, result });
    expect(h.audits).toEqual([
      expect.objectContaining({ event: 'tool_call', tool: 'echo', argumentKeys: ['x'], client: 'client-a', outcome }),
    ]);
    expect(h.audits[0]?.errorCode).toBe(error?.code);
  });

  test('recordRefused audits a call refused before the mux (the per-client limit), keys only', () => {
    h = harness({ policy });
    h.mux.recordRefused(
      session('a'),
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { k: 'v' } } },
      'rate_limited',
    );
    h.mux.recordRefused(session('a'), { jsonrpc: '2.0', id: 2, method: 'tools/list' }, 'rate_limited');
    expect(h.audits.map((r) => [r.outcome, r.tool, r.argumentKeys])).toEqual([['rate_limited', 'echo', ['k']]]);
  });
});

describe('tools/list', () => {
  const tools = [{ name: 'echo' }, { name: 'delete_repo' }, { name: 'search' }, { nameless: true }];

  test.each([
    { name: 'filtered by the policy', p: policy, expected: ['echo', 'search'] },
    {
      name: 'passed through without a policy',
      p: { ...policy, filtersTools: false },
      expected: ['echo', 'delete_repo', 'search', undefined],
    },
  ])('$name', ({ p, expected }) => {
    h = harness({ policy: p });
    const sink = h.call(session('a'), 1, 'tools/list');
    answer(h.upstream, h.upstream.last(), { tools, nextCursor: 'c2' });
    const result = sink.response?.result as { tools: Array<{ name?: string }>; nextCursor: string };
    expect(result.tools.map((t) => t.name)).toEqual(expected);
    expect(result.nextCursor).toBe('c2');
  });

  test('a listed tool name becomes known: a call naming it passes the name check even if malformed', () => {
    h = harness();
    const odd = 'odd name';
    expect(h.call(session('a'), 1, 'tools/call', { name: odd }).response?.error?.code).toBe(INVALID_PARAMS);
    const list = h.call(session('a'), 2, 'tools/list');
    answer(h.upstream, h.upstream.last(), { tools: [{ name: odd }] });
    expect(list.response?.result).toEqual({ tools: [{ name: odd }] });
    const call = h.call(session('a'), 3, 'tools/call', { name: odd });
    expect(call.responses).toEqual([]);
    expect(h.upstream.last().params?.name).toBe(odd);
  });
});
