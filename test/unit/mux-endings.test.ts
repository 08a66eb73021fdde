/**
 * How a call in flight ends other than by an answer, in one table: what the client's exchange gets, what the
 * server is told, and the audit outcome. Then the other direction: server requests relayed to a client end when
 * the server cancels them, the client goes or the server fails.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { ClientSession } from '../../src/gateway/mux/session.ts';
import {
  INTERNAL_ERROR,
  INVALID_PARAMS,
  type JsonRpcRequest,
  type JsonRpcResponse,
  SERVER_ERROR,
  UPSTREAM_UNAVAILABLE,
} from '../../src/gateway/protocol/jsonrpc.ts';
import { answer, type Harness, harness, session } from './mux-helpers.ts';

let h: Harness | undefined;
afterEach(() => {
  h?.mux.close();
  vi.useRealTimers();
});

interface EndingCase {
  name: string;
  /** Ends the call `id 1` of session `a`. */
  end(h: Harness, a: ClientSession): void;
  /** The client's exchange: its error code, or undefined for no answer. */
  code: number | undefined;
  message?: string;
  /** The reason the server is told in notifications/cancelled, or undefined when it is not told. */
  cancel: string | undefined;
  outcome: string;
}

const cases: EndingCase[] = [
  {
    name: 'the request timeout passes',
    end: () => vi.advanceTimersByTime(31_000),
    code: INTERNAL_ERROR,
    message: 'the MCP server did not answer within 30 s',
    cancel: 'gateway request timeout',
    outcome: 'timeout',
  },
  {
    name: 'the client cancels',
    end: (h, a) =>
      h.mux.handleNotification(a, {
        jsonrpc: '2.0',
        method: 'notifications/cancelled',
        params: { requestId: 1, reason: 'user pressed stop' },
      }),
    code: undefined,
    cancel: 'user pressed stop',
    outcome: 'cancelled',
  },
  {
    name: 'the client session closes',
    end: (h, a) => h.mux.detach(a),
    code: SERVER_ERROR,
    message: 'the session was closed',
    cancel: 'client session closed',
    outcome: 'cancelled',
  },
  {
    name: 'the server restarts',
    end: (h) => {
      h.upstream.lastExit = { reason: 'exit', code: 3 };
      h.upstream.setState('restarting');
    },
    code: INTERNAL_ERROR,
    message: 'the MCP server stopped while handling this request (exit code 3); the gateway is restarting it',
    cancel: undefined,
    outcome: 'upstream_failed',
  },
  {
    name: 'the drain deadline passes (failAll with a reason)',
    end: (h) => h.mux.failAll('the gateway is shutting down'),
    code: INTERNAL_ERROR,
    message: 'the gateway is shutting down',
    cancel: undefined,
    outcome: 'upstream_failed',
  },
];

describe('a call that ends without an answer', () => {
  test.each(cases)('$name', (c) => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout', 'performance'] });
    h = harness();
    const a = session('a');
    h.mux.attach(a);
    const sink = h.call(a, 1, 'tools/call', { name: 'slow', arguments: { q: 'secret' } });
    const sent = h.upstream.last();
    c.end(h, a);
    expect(sink.responses.map((r) => r.error?.code)).toEqual(c.code === undefined ? [] : [c.code]);
    if (c.message) expect(sink.response?.error?.message).toBe(c.message);
    if (sink.response) expect(sink.response.id).toBe(1);
    const cancels = h.upstream.notifications('notifications/cancelled');
    expect(cancels.map((n) => n.params)).toEqual(
      c.cancel === undefined ? [] : [{ requestId: sent.id, reason: c.cancel }],
    );
    expect(h.audits.map((r) => [r.outcome, r.tool, r.argumentKeys])).toEqual([[c.outcome, 'slow', ['q']]]);
    expect(h.mux.inflightCount).toBe(0);
    // The call is over: a late answer from the server reaches nobody.
    answer(h.upstream, sent, { content: [] });
    expect(sink.responses.length).toBe(c.code === undefined ? 0 : 1);
  });

  test('the server failing fails every call in flight, of every session', () => {
    h = harness();
    const sinks = ['a', 'b', 'c'].map((name, i) => h?.call(session(name), i, 'resources/read', { uri: `x:${i}` }));
    h.upstream.setState('restarting');
    expect(sinks.map((s) => s?.response?.error?.code)).toEqual([INTERNAL_ERROR, INTERNAL_ERROR, INTERNAL_ERROR]);
    expect(h.mux.inflightCount).toBe(0);
  });

  test('a call the server is not connected for is answered at once and not left in flight', () => {
    h = harness();
    h.upstream.ready = true;
    const send = h.upstream.send.bind(h.upstream);
    h.upstream.send = () => false;
    const sink = h.call(session('a'), 1, 'tools/call', { name: 't' });
    h.upstream.send = send;
    expect(sink.response?.error?.code).toBe(UPSTREAM_UNAVAILABLE);
    expect(h.audits.map((r) => [r.outcome, r.errorCode])).toEqual([['upstream_failed', undefined]]);
    expect(h.mux.inflightCount).toBe(0);
  });

  test('a call the channel cannot encode is refused with the reason and not left in flight', () => {
    h = harness();
    h.upstream.throwOnSend = new Error('message too large');
    const sink = h.call(session('a'), 1, 'tools/call', { name: 't' });
    expect(sink.response?.error).toEqual({
      code: INTERNAL_ERROR,
      message: 'the gateway could not forward this request: message too large',
    });
    expect(h.audits.map((r) => [r.outcome, r.errorCode])).toEqual([['error', INTERNAL_ERROR]]);
    expect(h.mux.inflightCount).toBe(0);
  });

  test('a cancel for an id not in flight (or another session’s) changes nothing', () => {
    h = harness();
    const a = session('a');
    const sink = h.call(a, 1, 'tools/call', { name: 't' });
    for (const [who, requestId] of [
      [session('b'), 1],
      [a, 2],
    ] as const) {
      h.mux.handleNotification(who, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } });
    }
    expect(h.upstream.notifications('notifications/cancelled')).toEqual([]);
    expect(h.mux.inflightCount).toBe(1);
    answer(h.upstream, h.upstream.last(), { content: [] });
    expect(sink.response?.result).toEqual({ content: [] });
  });
});

/** A sampling request from the server while session `a` has a call in flight (so it is attributed to `a`). */
function relaySampling(h: Harness, a: ClientSession) {
  const sink = h.call(a, 1, 'tools/call', { name: 'ask' });
  h.upstream.emit({ jsonrpc: '2.0', id: 'srv-1', method: 'sampling/createMessage', params: { messages: [] } });
  const relayed = sink.seen[0] as JsonRpcRequest;
  return { sink, relayed };
}

describe('a server request relayed to a client', () => {
  test('travels under a gateway id; the client’s answer goes back under the server’s id', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    const { relayed } = relaySampling(h, a);
    expect(relayed.method).toBe('sampling/createMessage');
    expect(relayed.id).not.toBe('srv-1');
    // Another session cannot answer it.
    h.mux.handleResponse(session('b'), { jsonrpc: '2.0', id: relayed.id, result: { stolen: true } });
    expect(h.upstream.responses()).toEqual([]);
    h.mux.handleResponse(a, { jsonrpc: '2.0', id: relayed.id, result: { content: 'hi' } });
    expect(h.upstream.responses()).toEqual([{ jsonrpc: '2.0', id: 'srv-1', result: { content: 'hi' } }]);
    // Answered once: a second answer is dropped.
    h.mux.handleResponse(a, { jsonrpc: '2.0', id: relayed.id, result: { again: true } });
    expect(h.upstream.responses()).toHaveLength(1);
  });

  test('a result that is not an object reaches the server as an error, so its call does not wait on it', () => {
    for (const result of [42, 'yes', null, [1], true]) {
      h = harness();
      const a = session('a', { capabilities: { sampling: {} } });
      const { relayed } = relaySampling(h, a);
      h.mux.handleResponse(a, { jsonrpc: '2.0', id: relayed.id, result } as JsonRpcResponse);
      expect(h.upstream.responses()).toEqual([
        {
          jsonrpc: '2.0',
          id: 'srv-1',
          error: {
            code: INVALID_PARAMS,
            message: 'the client answered with a result that is not an object (MCP results are objects)',
          },
        },
      ]);
    }
  });

  test('the server cancels it: the client is told under the id it knows', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    const { relayed } = relaySampling(h, a);
    h.upstream.emit({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 'srv-1', reason: 'r' } });
    expect(a.delivered).toEqual([
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: relayed.id, reason: 'r' } },
    ]);
    h.mux.handleResponse(a, { jsonrpc: '2.0', id: relayed.id, result: {} });
    expect(h.upstream.responses()).toEqual([]);
  });

  test('the client goes: the server gets an error for it', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    h.mux.attach(a);
    relaySampling(h, a);
    h.mux.detach(a);
    expect(h.upstream.responses()).toEqual([
      { jsonrpc: '2.0', id: 'srv-1', error: { code: INTERNAL_ERROR, message: 'the client session closed' } },
    ]);
  });

  test('the server fails: the client is told it is cancelled', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    const { relayed } = relaySampling(h, a);
    h.upstream.setState('restarting');
    expect(a.delivered).toEqual([
      { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: relayed.id } },
    ]);
  });
});
