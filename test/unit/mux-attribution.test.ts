/**
 * Which session a server request or notification belongs to: the pure decision (one busy session, several
 * whatever their capabilities, none, per-session), how a request then travels (relay, input round, refusal), and the
 * same cases through the mux.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { attribute, routeServerRequest } from '../../src/gateway/mux/attribution.ts';
import { INTERNAL_ERROR, type JsonRpcRequest } from '../../src/gateway/protocol/jsonrpc.ts';
import { type Harness, harness, session } from './mux-helpers.ts';

let h: Harness | undefined;
afterEach(() => h?.mux.close());

const plain = { name: 'plain', capabilities: {} };
const sampler = { name: 'sampler', capabilities: { sampling: {} } };
const sampler2 = { name: 'sampler2', capabilities: { sampling: {} } };

describe('attribute', () => {
  test.each([
    { name: 'nothing in flight', busy: [], capability: undefined, only: undefined, expected: 'none' },
    { name: 'one busy session', busy: [plain], capability: undefined, only: undefined, expected: 'plain' },
    {
      name: 'two busy sessions',
      busy: [plain, sampler],
      capability: undefined,
      only: undefined,
      expected: 'ambiguous',
    },
    // The shared handshake declares sampling for every session: plain's call may be the one asking, and sampler
    // would then receive plain's prompt.
    {
      name: 'two busy, one capable: still ambiguous',
      busy: [plain, sampler],
      capability: 'sampling',
      only: undefined,
      expected: 'ambiguous',
    },
    {
      name: 'two busy, both capable',
      busy: [sampler, sampler2],
      capability: 'sampling',
      only: undefined,
      expected: 'ambiguous',
    },
    {
      name: 'two busy, none capable',
      busy: [plain, plain],
      capability: 'roots',
      only: undefined,
      expected: 'ambiguous',
    },
    // One busy session gets the request even without the capability: the route refuses it, naming why.
    { name: 'one busy, not capable', busy: [plain], capability: 'sampling', only: undefined, expected: 'plain' },
    { name: 'per-session, idle', busy: [], capability: undefined, only: sampler, expected: 'sampler' },
    { name: 'per-session, others busy', busy: [plain], capability: undefined, only: sampler, expected: 'sampler' },
  ])('$name -> $expected', ({ busy, only, expected }) => {
    const got = attribute(busy, only);
    expect(typeof got === 'string' ? got : got.name).toBe(expected);
  });
});

describe('routeServerRequest', () => {
  const streamable = { kind: 'streamable', canReceiveRequests: true, capabilities: { sampling: {} } };
  const oneshot = { kind: 'oneshot', canReceiveRequests: false, capabilities: { sampling: {} } };
  const modern = { kind: 'modern', canReceiveRequests: false, capabilities: { sampling: {} } };
  test.each([
    {
      name: 'a 2025 session with the capability',
      s: streamable,
      call: 'tools/call',
      cap: 'sampling',
      expected: 'relay',
    },
    { name: 'a 2025 session, no call in flight', s: streamable, call: undefined, cap: 'sampling', expected: 'relay' },
    {
      name: 'a 2025 session without the capability',
      s: streamable,
      call: 'tools/call',
      cap: 'elicitation',
      expected: 'the client did not declare the elicitation capability',
    },
    {
      name: 'a sessionless POST',
      s: oneshot,
      call: 'tools/call',
      cap: 'sampling',
      expected: 'the client uses stateless HTTP and cannot receive sampling/createMessage',
    },
    { name: 'a 2026 tools/call', s: modern, call: 'tools/call', cap: 'sampling', expected: 'input' },
    { name: 'a 2026 resources/read', s: modern, call: 'resources/read', cap: 'sampling', expected: 'input' },
    {
      name: 'a 2026 tools/list',
      s: modern,
      call: 'tools/list',
      cap: 'sampling',
      expected: 'the 2026-07-28 client cannot receive sampling/createMessage during tools/list',
    },
    {
      name: 'a 2026 call without the capability',
      s: modern,
      call: 'tools/call',
      cap: 'roots',
      expected: 'the client did not declare the roots capability',
    },
  ])('$name -> $expected', ({ s, call, cap, expected }) => {
    const route = routeServerRequest(s, call, 'sampling/createMessage', cap, true);
    if (typeof route === 'string') expect(route).toBe(expected);
    else expect(route.refuse.startsWith(expected)).toBe(true);
  });

  test('a 2026 call when input flows are off is refused', () => {
    const route = routeServerRequest(modern, 'tools/call', 'sampling/createMessage', 'sampling', false);
    expect(typeof route).toBe('object');
  });
});

const sampling = (id: string): JsonRpcRequest => ({
  jsonrpc: '2.0',
  id,
  method: 'sampling/createMessage',
  params: { messages: [] },
});

describe('attribution through the mux', () => {
  test('one session with a call in flight gets the request on that call’s exchange', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    const sink = h.call(a, 1, 'tools/call', { name: 't' });
    h.upstream.emit(sampling('s1'));
    expect(sink.seen.map((m) => 'method' in m && m.method)).toEqual(['sampling/createMessage']);
    expect(h.upstream.responses()).toEqual([]);
  });

  test('an exchange that cannot take the request (no stream for it): the server is told at once', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    const sink = h.call(a, 1, 'tools/call', { name: 't' });
    sink.accepts = false;
    h.upstream.emit(sampling('s1'));
    const [refusal] = h.upstream.responses();
    expect(refusal?.id).toBe('s1');
    expect(refusal?.error?.message).toContain('the client has no open stream to receive the request');
  });

  test('two sessions in flight, both capable: the server is refused, neither client sees it', () => {
    h = harness();
    const a = session('a', { capabilities: { sampling: {} } });
    const b = session('b', { capabilities: { sampling: {} } });
    const sa = h.call(a, 1, 'tools/call', { name: 't' });
    const sb = h.call(b, 1, 'tools/call', { name: 't' });
    h.upstream.emit(sampling('s1'));
    expect([...sa.seen, ...sb.seen, ...a.delivered, ...b.delivered]).toEqual([]);
    const [refusal] = h.upstream.responses();
    expect(refusal?.id).toBe('s1');
    expect(refusal?.error?.code).toBe(INTERNAL_ERROR);
    expect(refusal?.error?.message).toContain('cannot tell which client');
  });

  test('two sessions in flight, one capable: neither gets it, the server hears perSession', () => {
    h = harness();
    const a = session('a');
    const b = session('b', { capabilities: { sampling: {} } });
    const sa = h.call(a, 1, 'tools/call', { name: 't' });
    const sb = h.call(b, 1, 'tools/call', { name: 't' });
    h.upstream.emit(sampling('s1'));
    expect(sa.seen).toEqual([]);
    expect(sb.seen).toEqual([]);
    expect(h.upstream.responses()[0]?.error?.message).toContain('run this server with sessions.mode perSession');
  });

  test('nothing in flight: a server request is refused, a notification goes to every attached session', () => {
    h = harness();
    const a = session('a');
    const b = session('b');
    h.mux.attach(a);
    h.mux.attach(b);
    h.upstream.emit(sampling('s1'));
    expect(h.upstream.responses()[0]?.error?.message).toContain('no client session is waiting');
    const log = { jsonrpc: '2.0' as const, method: 'notifications/message', params: { level: 'info', data: 'x' } };
    h.upstream.emit(log);
    expect(a.delivered).toEqual([log]);
    expect(b.delivered).toEqual([log]);
  });

  test('a log line during one session’s call goes to that call only; with two sessions busy it is dropped', () => {
    h = harness();
    const a = session('a');
    const b = session('b');
    h.mux.attach(a);
    h.mux.attach(b);
    const sa = h.call(a, 1, 'tools/call', { name: 't' });
    const log = { jsonrpc: '2.0' as const, method: 'notifications/message', params: { level: 'info', data: 'x' } };
    h.upstream.emit(log);
    expect(sa.seen).toEqual([log]);
    h.call(b, 1, 'tools/call', { name: 't' });
    h.upstream.emit(log);
    expect(sa.seen).toEqual([log]);
    expect([...a.delivered, ...b.delivered]).toEqual([]);
  });

  test('per-session: the one session gets a server request even with nothing in flight, on its stream', () => {
    h = harness({ perSession: true });
    const a = session('a', { capabilities: { roots: {} } });
    h.mux.attach(a);
    h.upstream.emit({ jsonrpc: '2.0', id: 'r1', method: 'roots/list' });
    expect(a.delivered.map((m) => 'method' in m && m.method)).toEqual(['roots/list']);
  });
});
