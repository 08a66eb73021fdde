/**
 * Gives memory back when the process goes idle. A burst (a thousand sessions opened, a thousand McpServers
 * converged) grows V8's young generation to its 16 MiB semi-spaces, and V8 keeps them: its own memory reducer
 * starts only after a full mark-compact, which a burst of short-lived objects never needs. So once the process
 * has been idle for an interval and its heap grew since the last reclaim, one memory-reducing GC (what V8 does
 * under memory pressure) shrinks the young generation and compacts the rest: measured, 1,000 idle gateway
 * sessions hold about 15 MB less (bench/RESULTS.md). Idle is read from the process's own CPU time, so nothing
 * runs per request, and a busy process is never paused for it.
 */
import { cpuUsage } from 'node:process';
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Logger } from './log.ts';

export interface IdleMemoryOptions {
  /** How often to look (default 5 s); idle means a whole interval below `idleCpuFraction`. */
  intervalMs?: number;
  /** CPU time over wall time below which an interval counts as idle (default 0.01). */
  idleCpuFraction?: number;
  /** Heap growth since the last reclaim worth one (default 4 MiB). */
  minGrowthBytes?: number;
  log?: Logger | undefined;
}

export interface IdleSample {
  /** CPU time used over the interval, as a fraction of it. */
  cpuFraction: number;
  /** The V8 heap's committed size now. */
  heapBytes: number;
  /** The committed size after the last reclaim (or at the start). */
  baselineBytes: number;
}

/** Reclaim only when idle and the heap grew by enough since the last reclaim to be worth a full GC. */
export function shouldReclaim(
  sample: IdleSample,
  options: { idleCpuFraction: number; minGrowthBytes: number },
): boolean {
  return (
    sample.cpuFraction < options.idleCpuFraction && sample.heapBytes - sample.baselineBytes >= options.minGrowthBytes
  );
}

type GcFunction = (options?: { type?: 'major'; flavor?: 'last-resort' }) => void;

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
  const intervalMs = options.intervalMs ?? 5_000;
  const thresholds = {
    idleCpuFraction: options.idleCpuFraction ?? 0.01,
    minGrowthBytes: options.minGrowthBytes ?? 4 << 20,
  };
  let baselineBytes = getHeapStatistics().total_heap_size;
  let lastCpu = cpuUsage();
  let lastAt = performance.now();
  const timer = setInterval(() => {
    const cpu = cpuUsage(lastCpu);
    const now = performance.now();
    const cpuFraction = (cpu.user + cpu.system) / 1000 / Math.max(1, now - lastAt);
    const heapBytes = getHeapStatistics().total_heap_size;
    if (shouldReclaim({ cpuFraction, heapBytes, baselineBytes }, thresholds)) {
      const started = performance.now();
      gc({ type: 'major', flavor: 'last-resort' });
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
