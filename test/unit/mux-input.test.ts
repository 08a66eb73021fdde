/**
 * The 2026-07-28 input_required rounds: a server request during a 2026 client's call becomes an input_required
 * result; the retry's responses reach the server under its ids, the retry takes over the call (never re-sent),
 * and a retry that cannot continue is refused with the reason.
 */
import { afterEach, beforeEach, describe, expect, test, vi } from 'vitest';
import type { ClientSession } from '../../src/gateway/mux/session.ts';
import {
  INTERNAL_ERROR,
  INVALID_PARAMS,
  type JsonRpcRequest,
  type Params,
} from '../../src/gateway/protocol/jsonrpc.ts';
import { answer, type Harness, harness, progressTokenSent, RecordingSink, resultOf, session } from './mux-helpers.ts';

let h: Harness;
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
  h = harness({ inputTimeoutMs: 60_000 });
});
afterEach(() => {
  h.mux.close();
  vi.useRealTimers();
});

const caps = { sampling: {}, elicitation: {} };
const modern = (name: string, identity = 'alice') => session(name, { kind: 'modern', capabilities: caps, identity });

interface InputRequired {
  resultType: 'input_required';
  inputRequests: Record<string, { method: string; params?: unknown }>;
  requestState: string;
}

/** A 2026 tools/call that the server asks sampling for: returns the input_required result and the call sent. */
function firstRound(ids: string[] = ['s1']) {
  const first = modern('m1');
  const sink = h.call(first, 1, 'tools/call', { name: 'ask', arguments: {} });
  const sent = h.upstream.last();
  for (const id of ids) {
    h.upstream.emit({ jsonrpc: '2.0', id, method: 'sampling/createMessage', params: { messages: [id] } });
  }
  vi.advanceTimersByTime(10);
  const result = resultOf<InputRequired>(sink);
  return { first, sink, sent, result };
}

function retry(
  s: ClientSession,
  state: unknown,
  responses?: Record<string, unknown>,
  params: Params = { name: 'ask' },
) {
  const sink = new RecordingSink();
  const request: JsonRpcRequest = { jsonrpc: '2.0', id: 2, method: 'tools/call', params };
  h.mux.continueRequest(s, request, state, responses, sink);
  return sink;
}

describe('input_required rounds', () => {
  test('a server request becomes an input_required result; the retry answers it and gets the final result', () => {
    const { sink, sent, result } = firstRound();
    expect(sink.responses).toHaveLength(1);
    expect(sink.response?.id).toBe(1);
    expect(result.resultType).toBe('input_required');
    expect(result.inputRequests).toEqual({
      'sampling-1': { method: 'sampling/createMessage', params: { messages: ['s1'] } },
    });
    const second = retry(modern('m2'), result.requestState, { 'sampling-1': { content: 'answer' } });
    expect(h.upstream.responses()).toEqual([{ jsonrpc: '2.0', id: 's1', result: { content: 'answer' } }]);
    // The call was sent once; its answer goes to the retry, under the retry's id.
    expect(h.upstream.requests()).toHaveLength(1);
    answer(h.upstream, sent, { content: [{ type: 'text', text: 'done' }] });
    expect(second.responses).toEqual([
      { jsonrpc: '2.0', id: 2, result: { content: [{ type: 'text', text: 'done' }] } },
    ]);
    expect(h.audits.map((r) => r.outcome)).toEqual(['ok']);
    expect(h.mux.inflightCount).toBe(0);
  });

  test('server requests sent together travel in one round', () => {
    const { result } = firstRound(['s1', 's2']);
    expect(Object.keys(result.inputRequests)).toEqual(['sampling-1', 'sampling-2']);
  });

  test('a server that asks again gets a second round; the first round’s state is then stale', () => {
    const { result } = firstRound();
    const m2 = modern('m2');
    const second = retry(m2, result.requestState, { 'sampling-1': {} });
    h.upstream.emit({ jsonrpc: '2.0', id: 'e1', method: 'elicitation/create', params: { message: 'sure?' } });
    vi.advanceTimersByTime(10);
    const round2 = resultOf<InputRequired>(second);
    expect(round2.resultType).toBe('input_required');
    expect(Object.keys(round2.inputRequests)).toEqual(['elicitation-2']);
    const stale = retry(modern('m3'), result.requestState, {});
    expect(stale.response?.error?.message).toMatch(/^Stale requestState/);
  });

  test('the server answering while the client is away: the retry gets that answer', () => {
    const { sent, result } = firstRound();
    answer(h.upstream, sent, { content: ['early'] });
    // The server's own request is moot now: it was refused.
    expect(h.upstream.responses().map((r) => [r.id, r.error?.message])).toEqual([['s1', 'the client request ended']]);
    const second = retry(modern('m2'), result.requestState, { 'sampling-1': {} });
    expect(second.responses).toEqual([{ jsonrpc: '2.0', id: 2, result: { content: ['early'] } }]);
    // The flow is over: the same state again is unknown.
    expect(retry(modern('m3'), result.requestState).response?.error?.message).toMatch(/^Unknown requestState/);
  });

  test.each([
    { name: 'missing', state: undefined, message: /^Invalid requestState: inputResponses came without it/ },
    { name: 'not a string', state: 42, message: /^Invalid requestState: it must be a string/ },
    {
      name: 'forged',
      state: 'v1.-.flow.1.9999999999999.bind.mac',
      message: /^Invalid requestState: it was not issued/,
    },
  ])('a retry whose state is $name is refused', ({ state, message }) => {
    firstRound();
    const sink = retry(modern('m2'), state, {});
    expect(sink.response?.error?.code).toBe(INVALID_PARAMS);
    expect(sink.response?.error?.message).toMatch(message);
    expect(sink.response?.error?.data).toEqual({ reason: 'invalid_request_state' });
  });

  test.each([
    {
      name: 'from another client',
      who: () => modern('m2', 'mallory'),
      params: { name: 'ask' },
      message: /another client/,
    },
    { name: 'for another tool', who: () => modern('m2'), params: { name: 'other' }, message: /different request/ },
  ])('a retry $name is refused and the flow stays open for the right one', ({ who, params, message }) => {
    const { result } = firstRound();
    expect(retry(who(), result.requestState, {}, params).response?.error?.message).toMatch(message);
    const right = retry(modern('m3'), result.requestState, { 'sampling-1': {} });
    expect(right.responses).toEqual([]);
    expect(h.upstream.responses().map((r) => r.id)).toEqual(['s1']);
  });

  test('a client that never retries: the server request fails and the call is cancelled after the input timeout', () => {
    const { sent } = firstRound();
    vi.advanceTimersByTime(59_000);
    expect(h.upstream.responses()).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(h.upstream.responses()).toEqual([
      {
        jsonrpc: '2.0',
        id: 's1',
        error: {
          code: INTERNAL_ERROR,
          message: 'mcp-operator gateway: the client did not answer the input request within 60 s',
        },
      },
    ]);
    expect(h.upstream.notifications('notifications/cancelled').map((n) => n.params)).toEqual([
      { requestId: sent.id, reason: 'the client did not retry with the input responses' },
    ]);
    expect(h.audits.map((r) => r.outcome)).toEqual(['input_timeout']);
    expect(h.mux.inflightCount).toBe(0);
  });

  test('a parked call does not time out on the request timeout (it waits on the client)', () => {
    h.mux.close();
    h = harness({ inputTimeoutMs: 120_000, requestTimeoutMs: 30_000 });
    const { sent } = firstRound();
    vi.advanceTimersByTime(60_000);
    expect(h.upstream.notifications('notifications/cancelled')).toEqual([]);
    expect(h.mux.inflightCount).toBe(1);
    answer(h.upstream, sent, {});
    expect(h.audits.map((r) => r.outcome)).toEqual(['ok']);
  });

  test('the server cancelling its request takes it out of the next round', () => {
    const first = modern('m1');
    const sink = h.call(first, 1, 'tools/call', { name: 'ask' });
    h.upstream.emit({ jsonrpc: '2.0', id: 's1', method: 'sampling/createMessage', params: {} });
    h.upstream.emit({ jsonrpc: '2.0', id: 's2', method: 'sampling/createMessage', params: {} });
    h.upstream.emit({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 's1' } });
    vi.advanceTimersByTime(10);
    expect(Object.keys(resultOf<InputRequired>(sink).inputRequests)).toEqual(['sampling-2']);
  });

  test('progress after a retry follows the retry’s token', () => {
    const sink = h.call(modern('m1'), 1, 'tools/call', { name: 'ask', _meta: { progressToken: 'p1' } });
    const token = progressTokenSent(h.upstream.last());
    h.upstream.emit({ jsonrpc: '2.0', id: 's1', method: 'sampling/createMessage', params: {} });
    vi.advanceTimersByTime(10);
    const { requestState } = resultOf<InputRequired>(sink);
    const second = retry(
      modern('m2'),
      requestState,
      { 'sampling-1': {} },
      { name: 'ask', _meta: { progressToken: 'p2' } },
    );
    h.upstream.emit({
      jsonrpc: '2.0',
      method: 'notifications/progress',
      params: { progressToken: token, progress: 1 },
    });
    expect(sink.seen).toEqual([]);
    expect(second.seen).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p2', progress: 1 } },
    ]);
  });
});
