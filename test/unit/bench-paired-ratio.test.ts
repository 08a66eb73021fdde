import { describe, expect, it } from 'vitest';
import { pairedRatio } from '../../bench/gateway/stats.ts';

const rounds = (...perSecond: number[]) => ({ rounds: perSecond.map((p) => ({ perSecond: p })) });

describe('pairedRatio (the gateway bench reads ours / reference per round)', () => {
  it.each([
    { name: 'odd count: the middle ratio', a: [90, 100, 300], b: [100, 100, 100], median: 1, min: 0.9, max: 3 },
    {
      name: 'even count: the mean of the two middle',
      a: [80, 90, 100, 110],
      b: [100, 100, 100, 100],
      median: 0.95,
      min: 0.8,
      max: 1.1,
    },
    // A round that load slowed for both targets alike leaves its ratio, and so the median, unchanged.
    { name: 'a slow round for both', a: [50, 1000, 1000], b: [50, 1000, 1000], median: 1, min: 1, max: 1 },
    {
      name: 'a round the reference lacks is left out',
      a: [90, 95, 200],
      b: [100, 100],
      median: 0.925,
      min: 0.9,
      max: 0.95,
    },
  ])('$name', ({ a, b, median, min, max }) => {
    const r = pairedRatio(rounds(...a), rounds(...b));
    expect(r.median).toBeCloseTo(median, 10);
    expect(r.min).toBeCloseTo(min, 10);
    expect(r.max).toBeCloseTo(max, 10);
  });

  it('differs from the ratio of pooled figures when one round is an outlier', () => {
    // ours 1000/1000/100 calls/s, the bridge 1000/1000/1000: pooled 0.7, per round 1, 1, 0.1.
    const r = pairedRatio(rounds(1000, 1000, 100), rounds(1000, 1000, 1000));
    expect(r.median).toBe(1);
    expect(r.min).toBeCloseTo(0.1, 10);
  });

  it('is NaN with no rounds to pair', () => {
    expect(pairedRatio(rounds(), rounds(1)).median).toBeNaN();
  });
});
