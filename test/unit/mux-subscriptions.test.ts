/**
 * Resource subscriptions ref-counted over the sessions: the server sees one subscribe per URI while any session
 * or listen stream holds it, one unsubscribe when the last lets go, and the held URIs again after a restart.
 */
import { afterEach, describe, expect, test } from 'vitest';
import type { ClientSession } from '../../src/gateway/mux/session.ts';
import { MAX_SESSION_SUBSCRIPTIONS, MAX_SUBSCRIBED_URI_LENGTH } from '../../src/gateway/mux/subscriptions.ts';
import { answer, type Harness, harness, session } from './mux-helpers.ts';

let h: Harness | undefined;
afterEach(() => h?.mux.close());

type Step = [who: 'a' | 'b', op: 'subscribe' | 'unsubscribe' | 'detach'];

/** What the server sees for a sequence of steps on one URI: forwarded requests and the gateway's own. */
function run(steps: Step[]) {
  h = harness();
  const sessions: Record<string, ClientSession> = { a: session('a'), b: session('b') };
  for (const s of Object.values(sessions)) h.mux.attach(s);
  const local: string[] = [];
  for (const [who, op] of steps) {
    const s = sessions[who] as ClientSession;
    if (op === 'detach') {
      h.mux.detach(s);
      continue;
    }
    const before = h.upstream.requests().length;
    const sink = h.call(s, `${who}-${op}-${local.length}`, `resources/${op}`, { uri: 'file:///x' });
    if (h.upstream.requests().length > before) answer(h.upstream, h.upstream.last());
    else local.push(`${who} ${op}`);
    expect(sink.response?.result).toEqual({});
  }
  return {
    forwarded: h.upstream.requests().map((r) => r.method),
    internal: h.upstream.internal.map((r) => r.method),
    local,
  };
}

describe('subscription ref-counts', () => {
  test.each<{ name: string; steps: Step[]; forwarded: string[]; internal: string[] }>([
    {
      name: 'one session subscribes and unsubscribes',
      steps: [
        ['a', 'subscribe'],
        ['a', 'unsubscribe'],
      ],
      forwarded: ['resources/subscribe', 'resources/unsubscribe'],
      internal: [],
    },
    {
      name: 'a second subscriber is answered locally',
      steps: [
        ['a', 'subscribe'],
        ['b', 'subscribe'],
      ],
      forwarded: ['resources/subscribe'],
      internal: [],
    },
    {
      name: 'the first of two unsubscribes locally, the last for real',
      steps: [
        ['a', 'subscribe'],
        ['b', 'subscribe'],
        ['a', 'unsubscribe'],
        ['b', 'unsubscribe'],
      ],
      forwarded: ['resources/subscribe', 'resources/unsubscribe'],
      internal: [],
    },
    {
      name: 'the last holder’s session closing unsubscribes the server',
      steps: [
        ['a', 'subscribe'],
        ['b', 'subscribe'],
        ['a', 'detach'],
        ['b', 'detach'],
      ],
      forwarded: ['resources/subscribe'],
      internal: ['resources/unsubscribe'],
    },
    {
      name: 'a holder closing while another holds changes nothing on the server',
      steps: [
        ['a', 'subscribe'],
        ['b', 'subscribe'],
        ['a', 'detach'],
      ],
      forwarded: ['resources/subscribe'],
      internal: [],
    },
  ])('$name', ({ steps, forwarded, internal }) => {
    const got = run(steps);
    expect(got.forwarded).toEqual(forwarded);
    expect(got.internal).toEqual(internal);
  });

  test('resources/updated goes to the holders only; list_changed to every session', () => {
    h = harness();
    const a = session('a');
    const b = session('b');
    h.mux.attach(a);
    h.mux.attach(b);
    h.call(a, 1, 'resources/subscribe', { uri: 'file:///x' });
    answer(h.upstream, h.upstream.last());
    const updated = {
      jsonrpc: '2.0' as const,
      method: 'notifications/resources/updated',
      params: { uri: 'file:///x' },
    };
    h.upstream.emit(updated);
    h.upstream.emit({ jsonrpc: '2.0', method: 'notifications/resources/updated', params: { uri: 'file:///y' } });
    expect(a.delivered).toEqual([updated]);
    expect(b.delivered).toEqual([]);
    const changed = { jsonrpc: '2.0' as const, method: 'notifications/resources/list_changed' };
    h.upstream.emit(changed);
    expect(a.delivered).toEqual([updated, changed]);
    expect(b.delivered).toEqual([changed]);
  });

  test('a subscribe the server refuses holds nothing: the next subscriber is forwarded again', () => {
    h = harness();
    const a = session('a');
    const b = session('b');
    h.mux.attach(a);
    h.mux.attach(b);
    const sink = h.call(a, 1, 'resources/subscribe', { uri: 'file:///x' });
    const sent = h.upstream.last();
    h.upstream.emit({ jsonrpc: '2.0', id: sent.id, error: { code: -32602, message: 'no such resource' } });
    expect(sink.response?.error?.message).toBe('no such resource');
    h.call(b, 1, 'resources/subscribe', { uri: 'file:///x' });
    expect(h.upstream.requests().map((r) => r.method)).toEqual(['resources/subscribe', 'resources/subscribe']);
  });

  test('after a restart the new server gets each held URI once, and the log level', () => {
    h = harness();
    const a = session('a');
    const b = session('b');
    h.mux.attach(a);
    h.mux.attach(b);
    for (const [s, uri] of [
      [a, 'file:///x'],
      [b, 'file:///x'],
      [b, 'file:///y'],
    ] as const) {
      const before = h.upstream.requests().length;
      h.call(s, uri, 'resources/subscribe', { uri });
      if (h.upstream.requests().length > before) answer(h.upstream, h.upstream.last());
    }
    h.call(a, 'lvl', 'logging/setLevel', { level: 'debug' });
    answer(h.upstream, h.upstream.last());
    h.upstream.setState('restarting');
    h.upstream.restarts = 1;
    h.upstream.setState('ready');
    expect(h.upstream.internal).toEqual([
      { method: 'resources/subscribe', params: { uri: 'file:///x' } },
      { method: 'resources/subscribe', params: { uri: 'file:///y' } },
      { method: 'logging/setLevel', params: { level: 'debug' } },
    ]);
  });

  test('a 2026 listen stream holds URIs like a session: subscribed once, released by the last holder', () => {
    h = harness();
    const listener = session('listen-1', { kind: 'modern' });
    const other = session('listen-2', { kind: 'modern' });
    h.mux.watch(listener, ['file:///x', 'file:///y']);
    h.mux.watch(other, ['file:///x']);
    expect(h.upstream.internal.map((r) => `${r.method} ${r.params?.uri}`)).toEqual([
      'resources/subscribe file:///x',
      'resources/subscribe file:///y',
    ]);
    h.mux.detach(listener);
    expect(h.upstream.internal.slice(2).map((r) => `${r.method} ${r.params?.uri}`)).toEqual([
      'resources/unsubscribe file:///y',
    ]);
    h.mux.detach(other);
    expect(h.upstream.internal.slice(3).map((r) => `${r.method} ${r.params?.uri}`)).toEqual([
      'resources/unsubscribe file:///x',
    ]);
  });

  test('a listen subscription the server refuses is not held', async () => {
    h = harness();
    h.upstream.internalAnswer = () => ({ jsonrpc: '2.0', id: 'i', error: { code: -32602, message: 'no' } });
    const listener = session('listen-1', { kind: 'modern' });
    h.mux.watch(listener, ['file:///x']);
    await new Promise((resolve) => setImmediate(resolve));
    expect(listener.subscriptions.size).toBe(0);
  });
});

describe('what one session may hold', () => {
  test('a URI past the length limit, or a subscription past the count limit, is refused with -32602', () => {
    h = harness();
    const s = session('a');
    h.mux.attach(s);
    const long = h.call(s, 'long', 'resources/subscribe', { uri: `file:///${'x'.repeat(MAX_SUBSCRIBED_URI_LENGTH)}` });
    expect(long.response?.error?.code).toBe(-32602);
    expect(long.response?.error?.message).toMatch(/more than the 2048 a subscription may hold/);
    for (let i = 0; i < MAX_SESSION_SUBSCRIPTIONS; i++) {
      const sink = h.call(s, `s${i}`, 'resources/subscribe', { uri: `file:///${i}` });
      answer(h.upstream, h.upstream.last());
      expect(sink.response?.result).toEqual({});
    }
    const forwarded = h.upstream.requests().length;
    const over = h.call(s, 'over', 'resources/subscribe', { uri: 'file:///one-more' });
    expect(over.response?.error?.message).toMatch(/already holds 100 resource subscriptions/);
    expect(h.upstream.requests()).toHaveLength(forwarded); // the server never saw it
    // A URI it holds already is not one more; unsubscribing makes room.
    const again = h.call(s, 'again', 'resources/subscribe', { uri: 'file:///0' });
    answer(h.upstream, h.upstream.last());
    expect(again.response?.result).toEqual({});
    h.call(s, 'un', 'resources/unsubscribe', { uri: 'file:///1' });
    answer(h.upstream, h.upstream.last());
    const room = h.call(s, 'room', 'resources/subscribe', { uri: 'file:///one-more' });
    answer(h.upstream, h.upstream.last());
    expect(room.response?.result).toEqual({});
  });
});
