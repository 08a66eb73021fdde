/** Statistics the gateway bench reads its rounds with. */

/**
 * a / b calls/s, read per round: each round measures both within seconds of each other, so the median of the
 * per-round ratios shrugs off a round that load from elsewhere slowed, which a ratio of the pooled figures does
 * not (this machine's calls/s moves 2x from minute to minute; bench/RESULTS.md). Range: the lowest and highest.
 */
export function pairedRatio(
  a: { rounds: Array<{ perSecond: number }> },
  b: { rounds: Array<{ perSecond: number }> },
): { median: number; min: number; max: number } {
  const ratios = a.rounds
    .map((r, i) => r.perSecond / (b.rounds[i]?.perSecond ?? Number.NaN))
    .filter(Number.isFinite)
    .sort((x, y) => x - y);
  if (ratios.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN };
  const mid = Math.floor(ratios.length / 2);
  const median =
    ratios.length % 2 ? (ratios[mid] as number) : ((ratios[mid - 1] as number) + (ratios[mid] as number)) / 2;
  return { median, min: ratios[0] as number, max: ratios[ratios.length - 1] as number };
}
