/** The controller's work queue: one worker per key at a time, nothing lost, failures back off. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WorkQueue } from '../../src/controller/queue.ts';

/** Lets settled promises run their callbacks. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

/** Starts a get() and records what it resolves to, so a test can see whether it is still waiting. */
function pendingGet(q: WorkQueue): { settled: boolean; key: string | undefined } {
  const state = { settled: false, key: undefined as string | undefined };
  void q.get().then((key) => {
    state.settled = true;
    state.key = key;
  });
  return state;
}

describe('WorkQueue', () => {
  it('hands out keys in the order they were added', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/c');
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(await q.get()).toBe('ns/c');
  });

  it('keeps one entry for a key added several times before it is processed', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    q.add('ns/b');
    q.add('ns/a');
    q.add('ns/a');
    expect(q.depth).toBe(2);
    expect(await q.get()).toBe('ns/a');
    expect(await q.get()).toBe('ns/b');
    expect(q.depth).toBe(0);
    const next = pendingGet(q);
    await flush();
    expect(next.settled).toBe(false);
  });

  it('processes a key added while it is being processed once more, after done()', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    q.add('ns/a');
    // Not queued yet: a second worker must not pick it up while the first still works on it.
    expect(q.depth).toBe(0);
    q.done('ns/a');
    expect(q.depth).toBe(1);
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    // Once only: the three adds collapsed into one more run.
    expect(q.depth).toBe(0);
  });

  it('does not process a key again after done() when nothing re-added it', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.done('ns/a');
    expect(q.depth).toBe(0);
    const next = pendingGet(q);
    await flush();
    expect(next.settled).toBe(false);
  });

  it('never hands the same key to two waiting getters at once', async () => {
    const q = new WorkQueue();
    const first = pendingGet(q);
    const second = pendingGet(q);
    q.add('ns/a');
    await flush();
    expect(first).toEqual({ settled: true, key: 'ns/a' });
    q.add('ns/a');
    await flush();
    expect(second.settled).toBe(false);
    q.done('ns/a');
    await flush();
    expect(second).toEqual({ settled: true, key: 'ns/a' });
  });

  it('gives other keys to other getters while one key is being processed', async () => {
    const q = new WorkQueue();
    q.add('ns/a');
    expect(await q.get()).toBe('ns/a');
    q.add('ns/a');
    q.add('ns/b');
    expect(await q.get()).toBe('ns/b');
  });

  it('wakes a waiting getter when a key arrives', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('ns/a');
    expect(await waiting).toBe('ns/a');
    expect(q.depth).toBe(0);
  });

  it('resolves waiting getters with undefined on shutdown, and every later get too', async () => {
    const q = new WorkQueue();
    const a = q.get();
    const b = q.get();
    q.shutdown();
    expect(await a).toBeUndefined();
    expect(await b).toBeUndefined();
    q.add('ns/a');
    expect(await q.get()).toBeUndefined();
  });

  describe('delays', () => {
    beforeEach(() => {
      vi.useFakeTimers();
    });
    afterEach(() => {
      vi.useRealTimers();
    });

    it('adds a key after the delay given to addAfter', async () => {
      const q = new WorkQueue();
      q.addAfter('ns/a', 5_000);
      expect(q.depth).toBe(0);
      vi.advanceTimersByTime(4_999);
      expect(q.depth).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.depth).toBe(1);
      expect(await q.get()).toBe('ns/a');
    });

    it('adds a key once a burst of addQuiet calls goes quiet, or at the latest maxMs after the first', async () => {
      const q = new WorkQueue();
      for (let i = 0; i < 5; i++) {
        q.addQuiet('ns/a', 1_000, 10_000);
        vi.advanceTimersByTime(900);
      }
      expect(q.depth).toBe(0); // 4.5 s of changes, never 1 s quiet
      vi.advanceTimersByTime(100);
      expect(q.depth).toBe(1);
      expect(await q.get()).toBe('ns/a');
      q.done('ns/a');
      for (let t = 0; t < 10_000; t += 500) {
        q.addQuiet('ns/a', 1_000, 10_000);
        vi.advanceTimersByTime(500);
      }
      expect(q.depth).toBe(1); // a steady stream still gets its pass
    });

    it('backs off exponentially per key on failures, up to the cap', async () => {
      const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 1_000 });
      q.add('ns/a');
      for (const expected of [100, 200, 400, 800, 1_000, 1_000]) {
        expect(await q.get()).toBe('ns/a');
        // As a worker does: requeue after the failure, then release the key.
        expect(q.addRateLimited('ns/a')).toBe(expected);
        q.done('ns/a');
        vi.advanceTimersByTime(expected - 1);
        expect(q.depth, `not before ${expected} ms`).toBe(0);
        vi.advanceTimersByTime(1);
        expect(q.depth, `after ${expected} ms`).toBe(1);
      }
      expect(q.failuresOf('ns/a')).toBe(6);
    });

    it('starts the backoff over after forget', async () => {
      const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 10_000 });
      for (const expected of [100, 200, 400]) {
        expect(q.addRateLimited('ns/a')).toBe(expected);
        vi.advanceTimersByTime(expected);
        expect(await q.get()).toBe('ns/a');
        q.done('ns/a');
      }
      q.forget('ns/a');
      expect(q.failuresOf('ns/a')).toBe(0);
      expect(q.addRateLimited('ns/a')).toBe(100);
      vi.advanceTimersByTime(99);
      expect(q.depth).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.depth).toBe(1);
    });

    it('retries at the base delay after forget, even while an older, longer backoff is pending', async () => {
      const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 60_000 });
      q.add('ns/a');
      for (const delay of [100, 200, 400, 800]) {
        expect(await q.get()).toBe('ns/a');
        expect(q.addRateLimited('ns/a')).toBe(delay);
        q.done('ns/a');
        vi.advanceTimersByTime(delay);
      }
      // A 1600 ms retry is pending when a watch event (the missing Secret appeared) brings the key in now.
      expect(await q.get()).toBe('ns/a');
      expect(q.addRateLimited('ns/a')).toBe(1_600);
      q.done('ns/a');
      q.add('ns/a');
      expect(await q.get()).toBe('ns/a');
      q.forget('ns/a'); // success
      q.done('ns/a');
      // The next, unrelated failure starts over at 100 ms and must be retried then, not 1.5 s later.
      q.add('ns/a');
      expect(await q.get()).toBe('ns/a');
      expect(q.addRateLimited('ns/a')).toBe(100);
      q.done('ns/a');
      vi.advanceTimersByTime(100);
      expect(q.depth).toBe(1);
    });

    it('keeps a separate backoff for each key', () => {
      const q = new WorkQueue({ baseDelayMs: 100, maxDelayMs: 10_000 });
      expect(q.addRateLimited('ns/a')).toBe(100);
      vi.advanceTimersByTime(100);
      expect(q.addRateLimited('ns/a')).toBe(200);
      expect(q.addRateLimited('ns/b')).toBe(100);
      q.forget('ns/b');
      expect(q.failuresOf('ns/a')).toBe(2);
    });

    it('drops delayed keys on shutdown', async () => {
      const q = new WorkQueue();
      q.addAfter('ns/a', 1_000);
      q.addRateLimited('ns/b');
      q.shutdown();
      vi.advanceTimersByTime(10 * 60_000);
      expect(q.depth).toBe(0);
      expect(await q.get()).toBeUndefined();
    });

    it('does not process a delayed key that fires while it is being processed until done()', async () => {
      const q = new WorkQueue({ baseDelayMs: 100 });
      q.add('ns/a');
      expect(await q.get()).toBe('ns/a');
      q.addAfter('ns/a', 100);
      vi.advanceTimersByTime(100);
      expect(q.depth).toBe(0);
      q.done('ns/a');
      expect(q.depth).toBe(1);
    });
  });
});
