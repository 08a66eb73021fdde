/**
 * The child process channel: newline-delimited JSON-RPC over stdin/stdout, stderr turned into bounded pino lines.
 * Non-JSON stdout lines are skipped with a warning; a line longer than the limit is discarded, never buffered
 * without bound.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import type { Logger } from '../../observability/log.ts';
import {
  errorResponse,
  INTERNAL_ERROR,
  isObject,
  type JsonRpcMessage,
  MAX_SERVER_JSON_DEPTH,
  nestsDeeperThan,
} from '../protocol/jsonrpc.ts';
import { BusyBatch } from './busy-batch.ts';
import type { Channel, ChannelCloseInfo } from './channel.ts';

export interface StdioChannelOptions {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  log: Logger;
  /** Largest stdout line (one JSON-RPC message) accepted, in bytes. */
  maxMessageBytes?: number;
  /** stderr lines logged per second before the rest are counted and dropped. */
  stderrLinesPerSecond?: number;
  onNonJsonLine?: () => void;
}

const NEWLINE = 10;
const MAX_STDERR_LINE = 4096;

/** A line over the bound, discarded: its size, and its first and last bytes (enough to find a JSON-RPC id). */
export interface OversizeLine {
  bytes: number;
  head: Buffer;
  tail: Buffer;
}

/** Bytes kept of each end of a discarded line. */
const OVERSIZE_KEPT = 256;

/** Splits a byte stream into lines with a bound on the line length. */
export class LineSplitter {
  private parts: Buffer[] = [];
  private partsLength = 0;
  /** The line being discarded: bytes so far, its start, and its last bytes so far. */
  private discarding?: OversizeLine;
  private readonly maxLine: number;
  private readonly onLine: (line: Buffer) => void;
  private readonly onOversize: (line: OversizeLine) => void;

  constructor(maxLine: number, onLine: (line: Buffer) => void, onOversize: (line: OversizeLine) => void) {
    this.maxLine = maxLine;
    this.onLine = onLine;
    this.onOversize = onOversize;
  }

  push(chunk: Buffer): void {
    let start = 0;
    let nl = chunk.indexOf(NEWLINE, start);
    while (nl !== -1) {
      const discarding = this.discarding;
      if (discarding) {
        this.discarding = undefined;
        this.keep(discarding, chunk.subarray(start, nl));
        this.onOversize({ bytes: discarding.bytes, head: discarding.head, tail: discarding.tail });
      } else if (this.parts.length > 0) {
        const total = this.partsLength + (nl - start);
        this.parts.push(chunk.subarray(start, nl));
        if (total > this.maxLine) this.onOversize(this.discard());
        else this.onLine(Buffer.concat(this.parts, total));
      } else if (nl - start > this.maxLine) {
        this.onOversize(ends(chunk.subarray(start, nl)));
      } else {
        this.onLine(chunk.subarray(start, nl));
      }
      this.parts = [];
      this.partsLength = 0;
      start = nl + 1;
      nl = chunk.indexOf(NEWLINE, start);
    }
    if (start >= chunk.length) return;
    const rest = chunk.subarray(start);
    if (this.discarding) this.keep(this.discarding, rest);
    else if (this.partsLength + rest.length > this.maxLine) {
      this.parts.push(rest);
      this.discarding = this.discard();
      this.parts = [];
      this.partsLength = 0;
    } else {
      // Copy: the chunk's buffer may be reused by the stream.
      this.parts.push(Buffer.from(rest));
      this.partsLength += rest.length;
    }
  }

  /** The ends of the line held in `parts` (copies: the chunks' buffers may be reused by the stream). */
  private discard(): OversizeLine {
    const d = { bytes: 0, head: Buffer.alloc(0), tail: Buffer.alloc(0) };
    for (const p of this.parts) this.keep(d, p);
    return d;
  }

  private keep(d: OversizeLine, piece: Buffer): void {
    d.bytes += piece.length;
    if (d.head.length < OVERSIZE_KEPT)
      d.head = Buffer.concat([d.head, piece.subarray(0, OVERSIZE_KEPT - d.head.length)]);
    const joined = piece.length >= OVERSIZE_KEPT ? piece : Buffer.concat([d.tail, piece]);
    d.tail = Buffer.from(joined.subarray(Math.max(0, joined.length - OVERSIZE_KEPT)));
  }
}

const ends = (line: Buffer): OversizeLine => ({
  bytes: line.length,
  head: Buffer.from(line.subarray(0, OVERSIZE_KEPT)),
  tail: Buffer.from(line.subarray(Math.max(0, line.length - OVERSIZE_KEPT))),
});

/** A top-level JSON-RPC id (number or string), the line's `jsonrpc` member, and where answers show them. */
const ID = String.raw`"id"\s*:\s*(-?\d{1,15}|"[^"\\]{0,200}")`;
const JSONRPC = String.raw`(?:"jsonrpc"\s*:\s*"2\.0"\s*,\s*)?`;
const ID_FIRST = new RegExp(String.raw`^\s*\{\s*${JSONRPC}${ID}\s*,\s*"(?:result|error)"`);
const ANSWER_FIRST = new RegExp(String.raw`^\s*\{\s*${JSONRPC}"(?:result|error)"`);
const ID_LAST = new RegExp(String.raw`,\s*${ID}\s*\}\s*\r?$`);

/**
 * The id of a JSON-RPC answer cut off at `head` and `tail`, when its ends show it at the top level: first (after
 * `jsonrpc`, as Python's SDK writes `{jsonrpc, id, result}`) or last, after a `result` or `error` that opens the
 * line (the TypeScript SDK's `{result, jsonrpc, id}`). A nested `"id"` cannot match: at the start it follows
 * another key, at the end more than one brace closes after it. Requests give undefined: only answers free a call.
 */
export function oversizeAnswerId(line: OversizeLine): string | number | undefined {
  const head = line.head.toString('latin1');
  const raw =
    ID_FIRST.exec(head)?.[1] ?? (ANSWER_FIRST.test(head) ? ID_LAST.exec(line.tail.toString('latin1'))?.[1] : undefined);
  if (raw === undefined) return undefined;
  return raw.startsWith('"') ? raw.slice(1, -1) : Number(raw);
}

/**
 * A stderr line as log text: at most `maxBytes` of UTF-8 (bytes, not characters, so non-ASCII output obeys the same
 * bound), cut before a character rather than through it, with `…` marking the cut; a trailing CR dropped.
 */
export function stderrText(line: Buffer, maxBytes: number): string {
  let end = line.length;
  if (end > 0 && line[end - 1] === 13) end--;
  if (end <= maxBytes) return line.toString('utf8', 0, end);
  let cut = maxBytes;
  while (cut > 0 && ((line[cut] as number) & 0xc0) === 0x80) cut--; // back up to the start of a split character
  return `${line.toString('utf8', 0, cut)}…`;
}

export class StdioChannel implements Channel {
  onmessage?: (message: unknown) => void;
  onclose?: (info: ChannelCloseInfo) => void;
  readonly description: string;
  private child?: ChildProcessWithoutNullStreams;
  private closed = false;
  private exited?: Promise<void>;
  private readonly options: StdioChannelOptions;
  private readonly log: Logger;
  private stderrBudget: number;
  private stderrDropped = 0;
  private stderrTimer?: NodeJS.Timeout;
  private nonJsonWarned = 0;
  private deepWarned = 0;
  private readonly batch = new BusyBatch((text) => {
    const stdin = this.child?.stdin;
    if (!this.closed && stdin?.writable) stdin.write(text);
  });

  constructor(options: StdioChannelOptions) {
    this.options = options;
    this.description = [options.command, ...options.args].join(' ');
    this.log = options.log;
    this.stderrBudget = options.stderrLinesPerSecond ?? 100;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  start(): Promise<void> {
    const { command, args, env } = this.options;
    return new Promise((resolve, reject) => {
      let child: ChildProcessWithoutNullStreams;
      try {
        // spawns: * (the MCP server's command, given after `--`)
        child = spawn(command, args, { env, stdio: ['pipe', 'pipe', 'pipe'], windowsHide: true });
      } catch (err) {
        reject(err);
        return;
      }
      this.child = child;
      let spawned = false;
      this.exited = new Promise((done) => child.once('exit', () => done()));
      child.once('spawn', () => {
        spawned = true;
        resolve();
      });
      child.once('error', (err) => {
        if (!spawned) reject(err);
        this.finish({ reason: `spawn failed: ${err.message}` });
      });
      // 'close' comes after stdout drained, so responses written just before the exit still arrive; a
      // grandchild holding the pipe open must not delay the restart, hence the short fallback timer.
      child.once('exit', (code, signal) => {
        const timer = setTimeout(() => this.finish({ reason: 'exited', code, signal }), 250);
        child.once('close', () => {
          clearTimeout(timer);
          this.finish({ reason: 'exited', code, signal });
        });
      });
      child.stdin.on('error', (err) => {
        this.log.warn({ err: err.message }, 'server stdin error');
      });
      const maxMessage = this.options.maxMessageBytes ?? 32 * 1024 * 1024;
      const stdout = new LineSplitter(
        maxMessage,
        (line) => this.handleLine(line),
        (line) => this.handleOversize(line, maxMessage),
      );
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      const stderr = new LineSplitter(
        64 * 1024,
        (line) => this.handleStderr(line),
        () => this.handleStderr(Buffer.from('[stderr line over 64 KiB skipped]')),
      );
      child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
      this.stderrTimer = setInterval(() => {
        if (this.stderrDropped > 0) {
          this.log.warn({ dropped: this.stderrDropped }, 'server stderr lines dropped (rate limit)');
          this.stderrDropped = 0;
        }
        this.stderrBudget = this.options.stderrLinesPerSecond ?? 100;
      }, 1000);
      this.stderrTimer.unref();
    });
  }

  private handleLine(line: Buffer): void {
    let end = line.length;
    if (end > 0 && line[end - 1] === 13) end--;
    if (end === 0) return;
    const text = line.toString('utf8', 0, end);
    let message: unknown;
    try {
      message = JSON.parse(text);
    } catch {
      this.options.onNonJsonLine?.();
      if (this.nonJsonWarned < 100) {
        this.nonJsonWarned++;
        // Its size only: servers print banners and configuration there, tokens included, and logs are read widely.
        this.log.warn({ bytes: end }, 'server wrote a non-JSON line on stdout; skipped');
      }
      return;
    }
    // An answer, forwarded or turned into an error below, frees its request in the write batch.
    this.batch.received(message);
    // Deeper than the gateway can re-encode (JSON.stringify overflows the stack a few thousand levels down,
    // which would take the whole gateway with it): an answer becomes an error for its caller, the rest is dropped.
    if (end > MAX_SERVER_JSON_DEPTH && nestsDeeperThan(line.subarray(0, end), MAX_SERVER_JSON_DEPTH)) {
      const id = isObject(message) && !('method' in message) ? message.id : undefined;
      if (this.deepWarned < 100) {
        this.deepWarned++;
        this.log.warn({ bytes: end, maxDepth: MAX_SERVER_JSON_DEPTH }, 'server message nested too deep; not forwarded');
      }
      if (typeof id === 'string' || typeof id === 'number') {
        const text = `the MCP server's answer nests more than ${MAX_SERVER_JSON_DEPTH} levels deep; the gateway cannot forward it`;
        this.onmessage?.(errorResponse(id, INTERNAL_ERROR, text));
      }
      return;
    }
    this.onmessage?.(message);
  }

  /** A line over the limit is dropped; when it was an answer, its caller gets an error now, not a timeout. */
  private handleOversize(line: OversizeLine, limit: number): void {
    this.log.warn({ bytes: line.bytes, limit }, 'server wrote an oversize stdout line; skipped');
    const id = oversizeAnswerId(line);
    if (id === undefined) return;
    const answer = errorResponse(
      id,
      INTERNAL_ERROR,
      `the MCP server's answer is ${line.bytes} bytes, larger than the gateway takes (${limit} bytes); it was dropped`,
    );
    this.batch.received(answer);
    this.onmessage?.(answer);
  }

  private handleStderr(line: Buffer): void {
    if (this.stderrBudget <= 0) {
      this.stderrDropped++;
      return;
    }
    this.stderrBudget--;
    const text = stderrText(line, MAX_STDERR_LINE);
    if (text.trim() === '') return;
    this.log.info({ stream: 'stderr', pid: this.child?.pid }, text);
  }

  send(message: JsonRpcMessage): boolean {
    const child = this.child;
    if (this.closed || !child || !child.stdin.writable) return false;
    // Straight to the pipe when the server is idle; coalesced with the rest of this turn when it is busy
    // (busy-batch.ts). While the pipe is full, the stream queues the lines and writes them together when it drains.
    this.batch.send(message, `${JSON.stringify(message)}\n`);
    return true;
  }

  backlog(): number {
    return (this.child?.stdin.writableLength ?? 0) + this.batch.pending;
  }

  private finish(info: ChannelCloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.batch.clear();
    if (this.stderrTimer) clearInterval(this.stderrTimer);
    this.onclose?.(info);
  }

  async close(graceMs = 5000): Promise<void> {
    const child = this.child;
    if (!child) {
      this.finish({ reason: 'closed' });
      return;
    }
    // What this turn queued still goes out before stdin ends, as it would have without the batch.
    this.batch.flushQueued();
    const wasClosed = this.closed;
    this.closed = true;
    this.batch.clear();
    if (this.stderrTimer) clearInterval(this.stderrTimer);
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    if (!wasClosed) this.onclose?.({ reason: 'closed', code: child.exitCode, signal: child.signalCode });
  }
}
