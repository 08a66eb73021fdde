/**
 * Stalled 2026-07-28 event streams, and 2025 JSON answers a client stopped taking (`json`). Those streams
 * (listen streams, POST answers streamed by the SDK) are written by
 * the SDK's Node adapter, which waits for 'drain' and keeps what it has not written in the SDK's own queue, out of
 * the gateway's reach: the byte cap of the session-era streams cannot apply. A client that stopped reading is
 * recognised by its socket instead: the response needs draining and not one byte has moved since the last check.
 * Two such checks in a row, the keep-alive interval apart, close the stream, which frees what the SDK queued.
 */
import type { ServerResponse } from 'node:http';
import type { StalledStream, StreamKind } from './sse.ts';

/** Consecutive checks without progress that close a stream. */
export const STALL_CHECKS = 2;

/** The next count of checks without progress: reset whenever the client took bytes or nothing waits for it. */
export function stallCount(previous: number, needsDrain: boolean, progressed: boolean): number {
  return needsDrain && !progressed ? previous + 1 : 0;
}

interface Watched {
  kind: StreamKind;
  /** Already ended: it waits for the client until it is finished (it never reports needing a drain). */
  ended: boolean;
  /** Bytes the socket had accepted, and bytes the response still held, at the last check. */
  written: number;
  unsent: number;
  checks: number;
}

export class SdkStreamWatch {
  private readonly streams = new Map<ServerResponse, Watched>();
  private readonly intervalMs: number;
  private readonly onStalled: (info: StalledStream) => void;
  private timer?: NodeJS.Timeout;

  constructor(options: { intervalMs: number; onStalled: (info: StalledStream) => void }) {
    this.intervalMs = options.intervalMs;
    this.onStalled = options.onStalled;
  }

  /**
   * Watches an event stream the SDK writes, or (`ended`: a `json` answer, an event stream the gateway ended) a
   * response already ended that the socket has not taken yet, until it closes.
   */
  watch(res: ServerResponse, kind: StreamKind = 'modern', ended = kind === 'json'): void {
    if (this.intervalMs <= 0) return;
    const written = res.socket?.bytesWritten ?? 0;
    this.streams.set(res, { kind, ended, written, unsent: res.writableLength, checks: 0 });
    res.once('close', () => this.forget(res));
    if (ended) res.once('finish', () => this.forget(res));
    if (!this.timer) {
      this.timer = setInterval(() => this.check(), this.intervalMs);
      this.timer.unref();
    }
  }

  private forget(res: ServerResponse): void {
    this.streams.delete(res);
    if (this.streams.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private check(): void {
    for (const [res, w] of this.streams) {
      const written = res.socket?.bytesWritten ?? w.written;
      const unsent = res.writableLength;
      // An ended answer never reports needing a drain: it waits for the client until it is finished.
      const waits = w.ended ? !res.writableFinished : res.writableNeedDrain;
      w.checks = stallCount(w.checks, waits, written !== w.written || unsent < w.unsent);
      w.written = written;
      w.unsent = unsent;
      if (w.checks < STALL_CHECKS) continue;
      this.forget(res);
      this.onStalled({ stream: w.kind, bufferedBytes: unsent });
      res.destroy();
    }
  }
}
