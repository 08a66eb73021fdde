/**
 * The per-session stream state keeps messages for a GET stream that is not open yet; that backlog is bounded by
 * count and by size like the event store, so a session whose client never opens its GET stream cannot grow
 * without limit.
 */
import { describe, expect, test } from 'vitest';
import { isStalled, OpenStreams } from '../../src/gateway/http/sse.ts';
import { STALL_CHECKS, stallCount } from '../../src/gateway/http/stall.ts';
import { EventBudget, StreamState } from '../../src/gateway/http/streams.ts';
import { ClientSession } from '../../src/gateway/mux/session.ts';

const notification = (text: string) => ({
  jsonrpc: '2.0' as const,
  method: 'notifications/message',
  params: { level: 'info', data: text },
});

function state(limits: { maxEvents: number; maxEventBytes: number }) {
  const session = new ClientSession('session-id', 'streamable', 'test');
  const streams = new OpenStreams({ keepAliveMs: 0, maxBufferedBytes: 1 << 20 });
  return new StreamState(session, streams, {
    ...limits,
    maxEventBytesTotal: Number.POSITIVE_INFINITY,
    maxGetStreams: 4,
    upgradeAfterMs: 10_000,
  });
}

describe('messages held for a GET stream that is not open', () => {
  test('are bounded by size: once the bytes are used up, further messages are refused', () => {
    const s = state({ maxEvents: 100, maxEventBytes: 1000 });
    const held: boolean[] = [];
    for (let i = 0; i < 10; i++) held.push(s.sendStandalone(notification('x'.repeat(200))));
    // Each message is about 270 bytes of JSON: three fit in 1000 bytes, the fourth does not.
    expect(held).toEqual([true, true, true, false, false, false, false, false, false, false]);
  });

  test('are bounded by count', () => {
    const s = state({ maxEvents: 5, maxEventBytes: 1 << 20 });
    const held = Array.from({ length: 8 }, () => s.sendStandalone(notification('small')));
    expect(held.filter(Boolean)).toHaveLength(5);
    expect(held.slice(5)).toEqual([false, false, false]);
  });
});

describe('the event budget every session shares', () => {
  const stored = (budget: EventBudget) => {
    const session = new ClientSession('session-id', 'streamable', 'test');
    const streams = new OpenStreams({ keepAliveMs: 0, maxBufferedBytes: 1 << 20 });
    const limits = { maxEvents: 512, maxEventBytes: 10_000, maxEventBytesTotal: budget.maxBytes };
    return new StreamState(session, streams, { ...limits, maxGetStreams: 4, upgradeAfterMs: 10_000 }, budget);
  };

  test('past the total, the largest stores give up their oldest events; a small store keeps its own', () => {
    const budget = new EventBudget(5_000);
    const small = stored(budget);
    small.sendStandalone(notification('mine'));
    const kept = small.storedBytes;
    const hoarders = Array.from({ length: 5 }, () => stored(budget));
    for (const h of hoarders) for (let i = 0; i < 4; i++) h.sendStandalone(notification('x'.repeat(900)));
    expect(budget.bytes).toBeLessThanOrEqual(5_000);
    expect(small.storedBytes).toBe(kept);
    expect(budget.bytes).toBe(small.storedBytes + hoarders.reduce((n, h) => n + h.storedBytes, 0));
  });

  test('a closed session no longer counts', () => {
    const budget = new EventBudget(1 << 20);
    const a = stored(budget);
    a.sendStandalone(notification('y'.repeat(500)));
    expect(budget.bytes).toBeGreaterThan(500);
    a.close();
    expect(budget.bytes).toBe(0);
  });
});

describe('isStalled: when an event stream is closed instead of written to', () => {
  const cap = 1000;
  test('not while under the cap', () => {
    expect(isStalled(999, cap, 999)).toBe(false);
  });
  test('over the cap and nothing taken since the last burst: the client stopped reading', () => {
    expect(isStalled(5000, cap, 5000)).toBe(true);
    expect(isStalled(5000, cap, 4000)).toBe(true);
  });
  test('over the cap but less than after the last burst: a slow client still draining a large message', () => {
    expect(isStalled(4000, cap, 5000)).toBe(false);
  });
});

describe('stallCount: checks in a row in which an SDK-written stream made no progress', () => {
  test('counts up only while the response needs draining and nothing moved', () => {
    expect(stallCount(0, true, false)).toBe(1);
    expect(stallCount(1, true, false)).toBe(STALL_CHECKS);
  });
  test('resets when the client took bytes, or when nothing waits for it (an idle stream is not stalled)', () => {
    expect(stallCount(1, true, true)).toBe(0);
    expect(stallCount(1, false, false)).toBe(0);
  });
});
