/**
 * A rate-limited work queue of keys, like client-go's: a key is never processed by two workers at once,
 * a key added while it is being processed runs once more afterwards, and failures back off exponentially
 * per key until `forget`.
 */
export interface QueueOptions {
  baseDelayMs?: number;
  maxDelayMs?: number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { timer: NodeJS.Timeout; due: number }>();
  private readonly bursts = new Map<string, { timer: NodeJS.Timeout; first: number }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private shuttingDown = false;

  constructor(options: QueueOptions = {}) {
    this.baseDelayMs = options.baseDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 300_000;
  }

  /** Keys waiting to be processed (not counting delayed ones). */
  get depth(): number {
    return this.queue.length;
  }

  add(key: string): void {
    if (this.shuttingDown) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) {
      this.processing.add(key);
      waiter(key);
      return;
    }
    this.queued.add(key);
    this.queue.push(key);
  }

  /** Add after a delay; the earliest pending time for the key wins (as in client-go). */
  addAfter(key: string, delayMs: number): void {
    if (this.shuttingDown) return;
    const due = Date.now() + delayMs;
    const pending = this.timers.get(key);
    if (pending && pending.due <= due) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.timers.set(key, { timer, due });
  }

  /**
   * Add once `quietMs` passed without another call for the key, so a burst of changes is one pass; at the latest
   * `maxMs` after the burst's first call, so a steady stream of changes still gets its passes.
   */
  addQuiet(key: string, quietMs: number, maxMs: number): void {
    if (this.shuttingDown) return;
    const now = Date.now();
    const burst = this.bursts.get(key);
    if (burst) clearTimeout(burst.timer);
    const first = burst?.first ?? now;
    const timer = setTimeout(
      () => {
        this.bursts.delete(key);
        this.add(key);
      },
      Math.max(0, Math.min(quietMs, first + maxMs - now)),
    );
    timer.unref();
    this.bursts.set(key, { timer, first });
  }

  /** Requeue after a failure: base * 2^(failures-1), capped. */
  addRateLimited(key: string): number {
    const n = (this.failures.get(key) ?? 0) + 1;
    this.failures.set(key, n);
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (n - 1));
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its backoff starts over. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  failuresOf(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to process, or undefined once shut down. Call `done(key)` after processing. */
  get(): Promise<string | undefined> {
    if (this.shuttingDown) return Promise.resolve(undefined);
    const key = this.queue.shift();
    if (key !== undefined) {
      this.queued.delete(key);
      this.processing.add(key);
      return Promise.resolve(key);
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.delete(key)) this.add(key);
  }

  shutdown(): void {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const { timer } of this.bursts.values()) clearTimeout(timer);
    this.bursts.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
