/**
 * The mux's pending-call table and the id rewriting built on it: gateway ids on the server's wire, the client's
 * own ids restored, progress tokens rewritten both ways, duplicate ids refused, every ending announced once.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { type Ending, type PendingCall, PendingTable } from '../../src/gateway/mux/pending.ts';
import { INVALID_REQUEST, type JsonRpcResponse } from '../../src/gateway/protocol/jsonrpc.ts';
import {
  answer,
  FakeUpstream,
  type Harness,
  harness,
  progressTokenSent,
  RecordingSink,
  session,
} from './mux-helpers.ts';

let h: Harness | undefined;
afterEach(() => h?.mux.close());

function tableCall(upstream: FakeUpstream, clientId: number | string, s = session('t')): PendingCall {
  return {
    id: 0,
    upstream,
    session: s,
    clientId,
    method: 'tools/call',
    started: 0,
    deadline: 100,
    sink: new RecordingSink(),
    clientToken: undefined,
    gatewayToken: undefined,
  };
}

describe('the pending table', () => {
  test('announces each ending once, through the one hook, and forgets the call', () => {
    const ended: Ending[] = [];
    const table = new PendingTable<PendingCall>((_c, ending) => ended.push(ending));
    const upstream = new FakeUpstream();
    const call = tableCall(upstream, 1);
    table.open(call, undefined);
    expect(table.end(call, 'cancelled')).toBe(true);
    expect(table.end(call, 'timeout')).toBe(false);
    expect(ended).toEqual(['cancelled']);
    expect(table.size).toBe(0);
    expect(call.session.pendingByClientId.size).toBe(0);
    expect([...table.busySessions(upstream)]).toEqual([]);
  });

  test.each([
    { now: 99, expected: [] },
    { now: 100, expected: ['timeout'] },
  ])('sweep at $now ends the calls whose deadline passed: $expected', ({ now, expected }) => {
    const ended: Ending[] = [];
    const table = new PendingTable<PendingCall>((_c, ending) => ended.push(ending));
    const upstream = new FakeUpstream();
    table.open(tableCall(upstream, 1), undefined);
    const waiting = { ...tableCall(upstream, 2), deadline: Number.POSITIVE_INFINITY };
    table.open(waiting, undefined);
    table.sweep(now);
    expect(ended).toEqual(expected);
    expect(table.isOpen(waiting)).toBe(true);
  });

  test('endAll with an upstream ends only that upstream’s calls', () => {
    const ended: number[] = [];
    const table = new PendingTable<PendingCall>((c) => ended.push(c.clientId as number));
    const a = new FakeUpstream();
    const b = new FakeUpstream();
    table.open(tableCall(a, 1, session('x')), undefined);
    table.open(tableCall(b, 2, session('y')), undefined);
    table.open(tableCall(a, 3, session('z')), undefined);
    table.endAll('upstream_failed', 'gone', a);
    expect(ended).toEqual([1, 3]);
    expect(table.size).toBe(1);
  });

  test('a progress token is replaced by a gateway token, and the params are copied, not changed', () => {
    const table = new PendingTable<PendingCall>(() => {});
    const call = { ...tableCall(new FakeUpstream(), 1), clientToken: 'client-token' };
    const params = { name: 't', _meta: { progressToken: 'client-token', other: 1 } };
    const sent = table.open(call, params);
    expect(sent).toEqual({ name: 't', _meta: { progressToken: call.gatewayToken, other: 1 } });
    expect(typeof call.gatewayToken).toBe('number');
    expect(params._meta.progressToken).toBe('client-token');
    expect(table.byToken(call.gatewayToken)).toBe(call);
    table.end(call, 'answered');
    expect(table.byToken(call.gatewayToken)).toBeUndefined();
  });
});

describe('ids through the mux', () => {
  test('two sessions using the same id get gateway ids, and each answer goes back under its own id', () => {
    h = harness();
    const a = session('a');
    const b = session('b');
    const sa = h.call(a, 1, 'tools/list');
    const sb = h.call(b, 1, 'tools/list');
    const [ra, rb] = h.upstream.requests();
    expect(ra?.id).not.toBe(rb?.id);
    expect(typeof ra?.id).toBe('number');
    // Answered in the other order: each reaches its own exchange, under the client's id.
    if (!ra || !rb) throw new Error('two requests expected');
    answer(h.upstream, rb, { tools: [{ name: 'b' }] });
    answer(h.upstream, ra, { tools: [{ name: 'a' }] });
    expect(sa.responses).toEqual([{ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'a' }] } }]);
    expect(sb.responses).toEqual([{ jsonrpc: '2.0', id: 1, result: { tools: [{ name: 'b' }] } }]);
    expect(h.mux.inflightCount).toBe(0);
  });

  test.each([
    { name: 'an unknown id', id: 999 },
    { name: 'a string id', id: 'x' },
  ])('a server answer with $name is dropped', ({ id }) => {
    h = harness();
    const s = session('a');
    const sink = h.call(s, 1, 'tools/list');
    h.upstream.emit({ jsonrpc: '2.0', id, result: {} });
    expect(sink.responses).toEqual([]);
    expect(h.mux.inflightCount).toBe(1);
  });

  test('a server that writes the gateway id and progress token back as decimal strings is still answered', () => {
    h = harness();
    const a = session('a');
    const sink = h.call(a, 'c-1', 'tools/call', { name: 'slow', _meta: { progressToken: 'p-1' } });
    const sent = h.upstream.last();
    const asString = (v: unknown) => String(v);
    for (const near of ['0', '01', `${sent.id}.0`, ` ${sent.id}`])
      h.upstream.emit({ jsonrpc: '2.0', id: near, result: {} });
    expect(sink.responses).toEqual([]);
    h.upstream.emit({
      jsonrpc: '2.0',
      method: 'notifications/progress',
      params: { progressToken: asString(progressTokenSent(sent)), progress: 1 },
    });
    h.upstream.emit({ jsonrpc: '2.0', id: asString(sent.id), result: { content: [] } });
    expect(sink.seen).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p-1', progress: 1 } },
    ]);
    expect(sink.responses).toEqual([{ jsonrpc: '2.0', id: 'c-1', result: { content: [] } }]);
    expect(h.mux.inflightCount).toBe(0);
  });

  test('a request sent without an id (tools/call as a notification) never reaches the server', () => {
    h = harness();
    const a = session('a');
    h.mux.handleNotification(a, { jsonrpc: '2.0', method: 'tools/call', params: { name: 'rm', arguments: {} } });
    h.mux.handleNotification(a, { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 1 } });
    expect(h.upstream.sent.map((m) => ('method' in m ? m.method : undefined))).toEqual(['notifications/progress']);
  });

  test('a second request with an id still in flight on the session is refused; another session may use it', () => {
    h = harness();
    const a = session('a');
    h.call(a, 7, 'tools/call', { name: 'echo', arguments: { x: 1 } });
    const dup = h.call(a, 7, 'tools/call', { name: 'echo', arguments: { y: 2 } });
    expect(dup.response?.error?.code).toBe(INVALID_REQUEST);
    expect(dup.response?.error?.message).toContain('id 7 is already used');
    expect(h.upstream.requests()).toHaveLength(1);
    expect(h.audits.map((r) => r.outcome)).toEqual(['invalid']);
    const other = h.call(session('b'), 7, 'tools/call', { name: 'echo' });
    expect(other.responses).toEqual([]);
    expect(h.upstream.requests()).toHaveLength(2);
  });

  test('progress goes to the request’s own exchange under the client’s token; unknown tokens are dropped', () => {
    h = harness();
    const a = session('a');
    const sink = h.call(a, 1, 'tools/call', { name: 'slow', _meta: { progressToken: 'p-1' } });
    const sent = h.upstream.last();
    const gatewayToken = progressTokenSent(sent);
    expect(gatewayToken).not.toBe('p-1');
    h.upstream.emit({
      jsonrpc: '2.0',
      method: 'notifications/progress',
      params: { progressToken: gatewayToken, progress: 1 },
    });
    h.upstream.emit({
      jsonrpc: '2.0',
      method: 'notifications/progress',
      params: { progressToken: 12345, progress: 2 },
    });
    expect(sink.seen).toEqual([
      { jsonrpc: '2.0', method: 'notifications/progress', params: { progressToken: 'p-1', progress: 1 } },
    ]);
    expect(a.delivered).toEqual([]);
  });

  test('an answered call leaves nothing behind: its id can be used again, progress for it is dropped', () => {
    h = harness();
    const a = session('a');
    const first = h.call(a, 1, 'tools/call', { name: 't', _meta: { progressToken: 5 } });
    const sent = h.upstream.last();
    answer(h.upstream, sent, { content: [] });
    expect((first.response as JsonRpcResponse).id).toBe(1);
    h.upstream.emit({
      jsonrpc: '2.0',
      method: 'notifications/progress',
      params: { progressToken: progressTokenSent(sent), progress: 1 },
    });
    expect(first.seen).toEqual([]);
    const again = h.call(a, 1, 'tools/call', { name: 't' });
    expect(again.responses).toEqual([]);
    expect(h.mux.inflightCount).toBe(1);
  });
});
