/** Token buckets: `perMinute` requests per minute with a burst of the same size, keyed by client (and tool). */

interface Bucket {
  tokens: number;
  updated: number;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxKeys: number;
  private readonly now: () => number;

  constructor(options: { maxKeys?: number; now?: () => number } = {}) {
    this.maxKeys = options.maxKeys ?? 100_000;
    this.now = options.now ?? (() => performance.now());
  }

  /**
   * Takes `cost` tokens at once (a JSON-RPC batch is charged one per request it holds); returns 0 when allowed,
   * else the milliseconds until that many are available, and takes nothing. A cost above the burst can never be
   * met: Infinity.
   */
  take(key: string, perMinute: number, cost = 1): number {
    if (perMinute <= 0 || cost <= 0) return 0;
    if (cost > perMinute) return Number.POSITIVE_INFINITY;
    const now = this.now();
    const ratePerMs = perMinute / 60_000;
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= this.maxKeys) this.evict(now, ratePerMs, perMinute);
      b = { tokens: perMinute, updated: now };
      this.buckets.set(key, b);
    } else {
      b.tokens = Math.min(perMinute, b.tokens + (now - b.updated) * ratePerMs);
      b.updated = now;
    }
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil((cost - b.tokens) / ratePerMs));
  }

  /** Drops buckets that have refilled completely (they carry no state). */
  private evict(now: number, ratePerMs: number, capacity: number): void {
    for (const [k, b] of this.buckets) {
      if (b.tokens + (now - b.updated) * ratePerMs >= capacity) this.buckets.delete(k);
    }
    if (this.buckets.size >= this.maxKeys) {
      const first = this.buckets.keys().next().value;
      if (first !== undefined) this.buckets.delete(first);
    }
  }

  get size(): number {
    return this.buckets.size;
  }
}
