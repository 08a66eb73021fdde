/**
 * Gives memory back when the controller goes idle. A burst (a thousand McpServers converged, a resync) grows
 * V8's young generation to its 16 MiB semi-spaces, and V8 keeps them: its own memory reducer starts only after
 * a full mark-compact, which a burst of short-lived objects never needs. So once the process has been idle for
 * 6 s and its heap grew since the last reclaim, one full GC: with the allocation rate that low, V8 shrinks the
 * young generation at the end of it (the controller at 1,000 McpServers: 133-149 -> 104-109 MiB, bench/RESULTS.md).
 * Not a "last resort" GC: that one also throws away compiled code. Idle is read from the process's own CPU
 * time, so nothing runs per event, and a busy process is never paused for it.
 *
 * Not in the gateway: there it saved 13-16 MB at 1,000 idle sessions, but builds with it ran 0.81-0.93 of the
 * calls/s of builds without it at one client in seven side-by-side runs (bench/RESULTS.md), cause not found.
 */
import { cpuUsage } from 'node:process';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './log.ts';

export interface IdleMemoryOptions {
  /** How often to look (default 2.5 s). */
  intervalMs?: number;
  /**
   * How long the process must have been idle (default 6 s): longer than the 5 s over which V8 rates
   * allocation, which must read low for the GC to shrink the young generation.
   */
  idleMs?: number;
  /** CPU time over wall time below which an interval counts as idle (default 0.01). */
  idleCpuFraction?: number;
  /** Heap growth since the last reclaim worth one (default 4 MiB). */
  minGrowthBytes?: number;
  log?: Logger | undefined;
}

export interface IdleSample {
  /** How long the process has been idle. */
  idleForMs: number;
  /** The V8 heap's committed size now. */
  heapBytes: number;
  /** The committed size after the last reclaim (or at the start). */
  baselineBytes: number;
}

/** Reclaim only when idle long enough and the heap grew by enough since the last reclaim to be worth a full GC. */
export function shouldReclaim(sample: IdleSample, options: { idleMs: number; minGrowthBytes: number }): boolean {
  return sample.idleForMs >= options.idleMs && sample.heapBytes - sample.baselineBytes >= options.minGrowthBytes;
}

type GcFunction = (options?: { type?: 'major' }) => void;

/** V8's gc(), without exposing it to the program: only a fresh context sees it (the flag is reset at once). */
function memoryReducingGc(): GcFunction | undefined {
  const exposed = (globalThis as { gc?: GcFunction }).gc;
  if (typeof exposed === 'function') return exposed;
  try {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as GcFunction;
    setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? gc : undefined;
  } catch {
    return undefined;
  }
}

/** Starts watching; `stop()` ends it. Does nothing where V8 will not hand out gc(). */
export function startIdleMemoryReclaim(options: IdleMemoryOptions = {}): { stop(): void } {
  const gc = memoryReducingGc();
  if (!gc) return { stop() {} };
  const intervalMs = options.intervalMs ?? 2_500;
  const idleCpuFraction = options.idleCpuFraction ?? 0.01;
  const thresholds = { idleMs: options.idleMs ?? 6_000, minGrowthBytes: options.minGrowthBytes ?? 4 << 20 };
  let baselineBytes = getHeapStatistics().total_heap_size;
  let lastCpu = cpuUsage();
  let lastAt = performance.now();
  let idleSince: number | undefined;
  const timer = setInterval(() => {
    const cpu = cpuUsage(lastCpu);
    const now = performance.now();
    const busy = (cpu.user + cpu.system) / 1000 / Math.max(1, now - lastAt) >= idleCpuFraction;
    idleSince = busy ? undefined : (idleSince ?? lastAt);
    const heapBytes = getHeapStatistics().total_heap_size;
    const idleForMs = idleSince === undefined ? 0 : now - idleSince;
    if (shouldReclaim({ idleForMs, heapBytes, baselineBytes }, thresholds)) {
      const started = performance.now();
      gc({ type: 'major' });
      baselineBytes = getHeapStatistics().total_heap_size;
      options.log?.debug(
        { heapBefore: heapBytes, heapAfter: baselineBytes, ms: Math.round(performance.now() - started) },
        'idle: heap reclaimed',
      );
    } else if (heapBytes < baselineBytes) {
      baselineBytes = heapBytes; // V8 gave memory back on its own
    }
    // The reclaim's own CPU time is not the program's: the next interval starts after it.
    lastCpu = cpuUsage();
    lastAt = performance.now();
  }, intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
