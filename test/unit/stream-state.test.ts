/**
 * The per-session stream state keeps messages for a GET stream that is not open yet; that backlog is bounded by
 * count and by size like the event store, and counted in the budget all sessions share, so sessions whose
 * clients never open their GET streams cannot grow without limit. Notifications make room; requests never do.
 */
import { describe, expect, test } from 'vitest';
import { type BudgetDrop, EventBudget } from '../../src/gateway/http/event-budget.ts';
import { isStalled, OpenStreams } from '../../src/gateway/http/sse.ts';
import { STALL_CHECKS, stallCount } from '../../src/gateway/http/stall.ts';
import { StreamState } from '../../src/gateway/http/streams.ts';
import { ClientSession } from '../../src/gateway/mux/session.ts';

const notification = (text: string) => ({
  jsonrpc: '2.0' as const,
  method: 'notifications/message',
  params: { level: 'info', data: text },
});

const request = (id: number) => ({ jsonrpc: '2.0' as const, id, method: 'sampling/createMessage', params: {} });

function state(limits: { maxEvents: number; maxEventBytes: number }, drops: BudgetDrop[] = []) {
  const session = new ClientSession('session-id', 'streamable', 'test');
  const streams = new OpenStreams({ keepAliveMs: 0, maxBufferedBytes: 1 << 20 });
  const budget = new EventBudget(Number.POSITIVE_INFINITY, (d) => drops.push(d));
  return new StreamState(
    session,
    streams,
    { ...limits, maxEventBytesTotal: budget.maxBytes, maxGetStreams: 4, upgradeAfterMs: 10_000 },
    budget,
  );
}

describe('messages held for a GET stream that is not open', () => {
  test('are bounded by size: past it the oldest notifications go, each counted', () => {
    const drops: BudgetDrop[] = [];
    const s = state({ maxEvents: 100, maxEventBytes: 1000 }, drops);
    const held: boolean[] = [];
    for (let i = 0; i < 10; i++) held.push(s.sendStandalone(notification('x'.repeat(200))));
    // Each message is about 270 bytes of JSON: three fit in 1000 bytes; each newer one takes the oldest's place.
    expect(held.every(Boolean)).toBe(true);
    expect(s.storedBytes).toBeLessThanOrEqual(1000);
    expect(s.storedBytes).toBeGreaterThan(750);
    expect(drops.map((d) => [d.dropped, d.limit])).toEqual([1, 2, 3, 4, 5, 6, 7].map((n) => [n, 'session']));
  });

  test('are bounded by count; requests are never dropped for room, a request that does not fit is refused', () => {
    const drops: BudgetDrop[] = [];
    const s = state({ maxEvents: 5, maxEventBytes: 1 << 20 }, drops);
    const held = Array.from({ length: 8 }, () => s.sendStandalone(notification('small')));
    expect(held.every(Boolean)).toBe(true);
    expect(drops).toHaveLength(3);
    expect([1, 2, 3, 4, 5].map((id) => s.sendStandalone(request(id)))).toEqual([true, true, true, true, true]);
    // Five requests hold every place: the notifications went, and the sixth request is refused (its server told).
    expect(drops).toHaveLength(8);
    expect(s.sendStandalone(request(6))).toBe(false);
    expect(s.sendStandalone(notification('late'))).toBe(false);
    expect(drops).toHaveLength(9);
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

  test('past the total, waiting notifications go too (counted), never a waiting request', () => {
    const drops: BudgetDrop[] = [];
    const budget = new EventBudget(3_000, (d) => drops.push(d));
    const holder = () => {
      const session = new ClientSession('session-id', 'streamable', 'test');
      const streams = new OpenStreams({ keepAliveMs: 0, maxBufferedBytes: 1 << 20 });
      const limits = { maxEvents: 512, maxEventBytes: 10_000, maxEventBytesTotal: budget.maxBytes };
      return new StreamState(session, streams, { ...limits, maxGetStreams: 4, upgradeAfterMs: 10_000 }, budget);
    };
    const a = holder();
    const b = holder();
    expect(a.sendStandalone(request(1))).toBe(true);
    for (let i = 0; i < 10; i++) expect(b.sendStandalone(notification('n'.repeat(400)))).toBe(true);
    expect(budget.bytes).toBeLessThanOrEqual(3_000);
    expect(drops.length).toBeGreaterThan(0);
    expect(drops.every((d) => d.limit === 'budget')).toBe(true);
    // A request takes the notifications' room; one past a budget that only requests fill is refused.
    const before = a.storedBytes;
    const big = (id: number) => ({ ...request(id), params: { text: 'r'.repeat(1_400) } });
    expect(a.sendStandalone(big(2))).toBe(true);
    expect(a.storedBytes).toBeGreaterThan(before);
    expect(a.sendStandalone(big(3))).toBe(false);
    expect(budget.bytes).toBe(a.storedBytes + b.storedBytes);
    expect(budget.bytes).toBeLessThanOrEqual(3_000);
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
