/**
 * The gateway's stdout for log lines: lines are kept in order in an array and leave in one write per 4 KiB,
 * per 200 ms, or on flush (drain, exit). It replaces sonic-boom's async mode, whose every write went through
 * libuv's thread pool (a futex wake-up there and an eventfd wake-up back) and re-measured its whole pending
 * string per line. Here each batch is one write syscall on the main thread. A pipe or socket (a container's
 * stdout) is made non-blocking first, so a slow reader never stalls the event loop: what it cannot take yet
 * waits here, in order, and is tried again shortly. At exit everything left is written before the process
 * ends (bounded). No line is dropped while someone reads stdout.
 */
import { fstatSync, writeSync } from 'node:fs';

export interface LogSink {
  write(line: string): void;
  /** Writes what is pending; `done` once it has left the process (pino's `logger.flush(cb)` calls this). */
  flush(done?: (err?: Error) => void): void;
  /** Writes what is pending before returning (exit). */
  flushSync(): void;
}

const FLUSH_BYTES = 4096;
const FLUSH_MS = 200;
/** A full pipe is tried again this often. */
const RETRY_MS = 10;
const FD = 1;

/** Whether fd 1 is a pipe or a socket: then a blocking write could stall the event loop on a slow reader. */
function stdoutIsStream(): boolean {
  try {
    const stat = fstatSync(FD);
    return stat.isFIFO() || stat.isSocket();
  } catch {
    return false;
  }
}

const sleep = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

let shared: LogSink | undefined;

/** The process's one sink for fd 1 (one buffer, one timer and one exit hook, however many loggers use it). */
export function stdoutLogSink(): LogSink {
  shared ??= createSink();
  return shared;
}

function createSink(): LogSink {
  // Node opens a pipe or socket on fd 1 in non-blocking mode when it creates process.stdout.
  if (stdoutIsStream()) void process.stdout;
  let pending: string[] = [];
  let bytes = 0;
  /** What a full pipe did not take yet: it goes before `pending`. */
  let rest: Buffer | undefined;
  let retry: NodeJS.Timeout | undefined;
  let broken = false;
  let waiters: Array<(err?: Error) => void> = [];

  /** What is to be written, in order; a string (no copy to a Buffer) unless a full pipe left a remainder. */
  const take = (): Buffer | string | undefined => {
    if (pending.length === 0) return rest;
    const text = pending.length === 1 ? (pending[0] as string) : pending.join('');
    pending = [];
    bytes = 0;
    return rest ? Buffer.concat([rest, Buffer.from(text)]) : text;
  };
  /** One write attempt; false when the pipe is full. */
  const attempt = (data: Buffer | string): boolean => {
    rest = undefined;
    try {
      if (typeof data === 'string') {
        const written = writeSync(FD, data);
        if (written !== Buffer.byteLength(data)) rest = Buffer.from(data).subarray(written);
      } else {
        const written = writeSync(FD, data);
        if (written < data.length) rest = data.subarray(written);
      }
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') rest = typeof data === 'string' ? Buffer.from(data) : data;
      // A reader gone (EPIPE) or fd 1 closed leaves nowhere to log: stop, rather than fail the gateway over logs.
      else broken = true;
    }
    return rest === undefined;
  };
  const drain = (): void => {
    retry = undefined;
    const data = take();
    if (broken || data === undefined || attempt(data)) {
      rest = undefined;
      const done = waiters;
      waiters = [];
      for (const w of done) w();
      return;
    }
    retry = setTimeout(drain, RETRY_MS);
    retry.unref();
  };

  const sink: LogSink = {
    write(line) {
      pending.push(line);
      bytes += line.length;
      if (bytes >= FLUSH_BYTES && retry === undefined) drain();
    },
    flush(done) {
      if (done) waiters.push(done);
      if (retry === undefined) drain();
    },
    flushSync() {
      if (retry) clearTimeout(retry);
      retry = undefined;
      const data = take();
      rest = undefined;
      if (data === undefined || broken) return;
      // Bounded: a reader that takes nothing for ~2 s does not hold the exit.
      for (let tries = 0; !attempt(rest ?? data) && !broken && tries < 200; tries++) sleep(RETRY_MS);
      rest = undefined;
    },
  };
  // One timer for the process, not one per line.
  setInterval(() => {
    if (pending.length > 0 && retry === undefined) drain();
  }, FLUSH_MS).unref();
  process.once('exit', () => sink.flushSync());
  return sink;
}
