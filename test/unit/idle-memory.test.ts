import { getHeapSpaceStatistics } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { shouldReclaim, startIdleMemoryReclaim } from '../../src/observability/idle-memory.ts';

const MiB = 1 << 20;
const thresholds = { idleMs: 6_000, minGrowthBytes: 4 * MiB };

describe('shouldReclaim', () => {
  it.each([
    { what: 'idle long enough, grown by more than the threshold', idle: 6_000, heap: 40, baseline: 20, reclaim: true },
    { what: 'idle long enough, grown by exactly the threshold', idle: 9_000, heap: 24, baseline: 20, reclaim: true },
    { what: 'idle long enough, grown by less', idle: 9_000, heap: 23, baseline: 20, reclaim: false },
    {
      what: 'idle long enough, smaller than after the last reclaim',
      idle: 9_000,
      heap: 10,
      baseline: 20,
      reclaim: false,
    },
    { what: 'idle, but not yet long enough', idle: 5_999, heap: 80, baseline: 20, reclaim: false },
    { what: 'busy, grown', idle: 0, heap: 80, baseline: 20, reclaim: false },
  ])('$what: $reclaim', ({ idle, heap, baseline, reclaim }) => {
    expect(shouldReclaim({ idleForMs: idle, heapBytes: heap * MiB, baselineBytes: baseline * MiB }, thresholds)).toBe(
      reclaim,
    );
  });
});

describe('startIdleMemoryReclaim', () => {
  it('shrinks a young generation a burst grew, once the process is idle', { timeout: 20_000 }, async () => {
    const newSpace = () => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0;
    const reclaim = startIdleMemoryReclaim({ intervalMs: 500, idleMs: 6_000, idleCpuFraction: 0.2 });
    try {
      // A burst of short-lived objects, some surviving a while: V8 grows its semi-spaces and keeps them.
      let keep: object[] = [];
      for (let i = 0; i < 400_000; i++) {
        keep.push({ i, s: `value-${i}` });
        if (keep.length > 20_000) keep = [];
      }
      const grown = newSpace();
      expect(grown).toBeGreaterThan(8 * MiB);
      let after = grown;
      for (let waited = 0; waited < 12_000 && after >= grown / 2; waited += 100) {
        await new Promise((r) => setTimeout(r, 100));
        after = newSpace();
      }
      expect(after).toBeLessThan(grown / 2);
    } finally {
      reclaim.stop();
    }
  });
});
