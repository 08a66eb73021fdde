/**
 * Request bodies: read up to a limit, and the lingering close after a refusal. A 413 answered while the client
 * is still uploading, then a closed socket, makes the rest of its upload hit a reset: curl shows the 413, but
 * Node's fetch (undici, under the TypeScript SDK) fails with EPIPE and never reads it. Like nginx's lingering
 * close, the gateway sends its answer and its FIN, then keeps reading and dropping what the client still sends,
 * bounded in bytes and time, and closes when the upload ends.
 */
import type { IncomingMessage } from 'node:http';

/** `aborted`: the client closed the connection before its body was complete; there is no one to answer. */
export type BodyResult = { ok: true; body: Buffer } | { ok: false; status: 413 } | { ok: false; status: 'aborted' };

/** A body being read. The listeners below are module functions called with the request as `this`: no closures per request. */
interface BodyRead {
  limit: number;
  chunks: Buffer[];
  size: number;
  over: boolean;
  /** performance.now() of the last byte (or of the start). */
  lastByteAt: number;
  /** Cut after this long without a byte. */
  idleMs: number;
  resolve: (result: BodyResult) => void;
}

/**
 * A body that stops arriving for this long is cut (the client gets a reset): a trickle of one byte every few
 * seconds would otherwise hold its connection for node's whole request timeout (5 min). One sweep for every body
 * being read, not a timer per request.
 */
export const BODY_IDLE_MS = 30_000;
const reading = new Set<ReadingRequest>();
let sweeper: NodeJS.Timeout | undefined;

function track(req: ReadingRequest): void {
  reading.add(req);
  if (sweeper) return;
  sweeper = setInterval(() => {
    const now = performance.now();
    for (const r of reading) {
      const read = r[READING];
      if (!read || r.complete || r.destroyed) reading.delete(r);
      else if (now - read.lastByteAt > read.idleMs) {
        reading.delete(r);
        r.socket.destroy();
      }
    }
    if (reading.size === 0 && sweeper) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  }, 1_000);
  sweeper.unref();
}
const READING = Symbol('body being read');
type ReadingRequest = IncomingMessage & { [READING]?: BodyRead };

const TOO_LARGE: BodyResult = Object.freeze({ ok: false, status: 413 });
const ABORTED: BodyResult = Object.freeze({ ok: false, status: 'aborted' });

function onBodyData(this: ReadingRequest, chunk: Buffer): void {
  const read = this[READING] as BodyRead;
  read.lastByteAt = performance.now();
  read.size += chunk.length;
  if (read.size > read.limit) {
    read.over = true;
    this.off('data', onBodyData);
    read.resolve(TOO_LARGE);
    return;
  }
  read.chunks.push(chunk);
}

function onBodyEnd(this: ReadingRequest): void {
  const read = this[READING] as BodyRead;
  reading.delete(this);
  if (read.over) return;
  const { chunks, size } = read;
  read.resolve({ ok: true, body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
}

// A client going away is the client's business, not a gateway error (one error line per dropped upload).
function onBodyError(this: ReadingRequest): void {
  reading.delete(this);
  this[READING]?.resolve(ABORTED);
}

function onBodyClose(this: ReadingRequest): void {
  reading.delete(this);
  if (!this.complete) this[READING]?.resolve(ABORTED);
}

/** Reads the body, or stops at `limit` bytes (declared or received): then the caller refuses it. */
export function readBody(req: IncomingMessage, limit: number, idleMs = BODY_IDLE_MS): Promise<BodyResult> {
  const declared = Number(req.headers['content-length'] ?? '0');
  if (declared > limit) return Promise.resolve(TOO_LARGE);
  const { promise, resolve } = Promise.withResolvers<BodyResult>();
  (req as ReadingRequest)[READING] = {
    limit,
    chunks: [],
    size: 0,
    over: false,
    lastByteAt: performance.now(),
    idleMs,
    resolve,
  };
  if (!req.complete) track(req as ReadingRequest);
  req.on('data', onBodyData);
  req.on('end', onBodyEnd);
  req.on('error', onBodyError);
  req.on('close', onBodyClose);
  return promise;
}

export interface LingerLimits {
  /** Bytes dropped after the refusal before the socket is cut. */
  maxBytes: number;
  /** Milliseconds after the refusal before the socket is cut. */
  maxMs: number;
}

/** Bytes a refused upload may still send: twice the body limit, at least 16 MiB (an SDK's oversize call fits). */
export function lingerLimits(maxBodyBytes: number): LingerLimits {
  return { maxBytes: Math.max(2 * maxBodyBytes, 16 * 1024 * 1024), maxMs: 5_000 };
}

/**
 * Call before answering a refused body with `Connection: close`: the rest of the upload is read and dropped, the
 * answer and a FIN go out at once, and the socket closes when the client has sent everything, or at the bounds.
 */
export function lingerAfterRefusal(req: IncomingMessage, limits: LingerLimits): void {
  const socket = req.socket;
  if (req.complete || socket.destroyed) return;
  let dropped = 0;
  const cut = () => socket.destroy();
  const timer = setTimeout(cut, limits.maxMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > limits.maxBytes) cut();
  });
  // Node closes a `Connection: close` socket as soon as the response is written (destroySoon): half-close it
  // instead, so the client's remaining bytes are read here rather than answered with a reset.
  const destroySoon = socket.destroySoon.bind(socket);
  socket.destroySoon = () => {
    if (req.complete) destroySoon();
    else socket.end();
  };
  // The upload is over: close once the answer is flushed (destroySoon waits for it, destroy would not).
  req.once('end', destroySoon);
  req.resume();
}
