/**
 * Server-sent event streams with the hygiene proxies need: `X-Accel-Buffering: no`,
 * `Cache-Control: no-cache, no-transform`, no compression, Nagle off, and a keep-alive comment on a fixed
 * interval so idle cut-offs (nginx 60 s, Cloudflare 100 s, undici 300 s) never fire.
 */
import type { ServerResponse } from 'node:http';

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream',
  'cache-control': 'no-cache, no-transform',
  'x-accel-buffering': 'no',
  connection: 'keep-alive',
};

/**
 * Which event stream: a 2025 GET stream, a 2025 POST answered as a stream, a legacy HTTP+SSE stream (the gateway
 * writes these), a 2026-07-28 stream (the SDK writes it), or a plain JSON answer to a 2025 POST.
 */
export type StreamKind = 'get' | 'post' | 'sse' | 'modern' | 'json';

/** What is known about a stream closed because its client stopped reading (never any payload). */
export interface StalledStream {
  stream: StreamKind;
  /** The session fingerprint, when the stream belongs to a session. */
  session?: string;
  bufferedBytes: number;
  /** The byte cap that was passed (streams the gateway writes; the SDK's are closed for making no progress). */
  limitBytes?: number;
}

export interface OpenStreamsOptions {
  keepAliveMs: number;
  /** Unsent bytes a stream may hold before it is closed (a client that stopped reading). */
  maxBufferedBytes: number;
  onStalled?: (stalled: StalledStream) => void;
  /**
   * A stream ended with bytes its client has not taken: no longer written, so the cap cannot catch it; the
   * owner watches it until the client takes them (or drops it), else they stay until the client hangs up.
   */
  onEndedUnsent?: (res: ServerResponse, stream: StreamKind) => void;
}

/**
 * The open event streams of one gateway: they share one keep-alive timer, and each is held to the same cap on
 * bytes written but not yet taken by the client.
 */
export class OpenStreams {
  private readonly streams = new Set<SseConnection>();
  private timer?: NodeJS.Timeout;
  private readonly options: OpenStreamsOptions;

  constructor(options: OpenStreamsOptions) {
    this.options = options;
  }

  get maxBufferedBytes(): number {
    return this.options.maxBufferedBytes;
  }

  add(stream: SseConnection): void {
    this.streams.add(stream);
    if (!this.timer && this.options.keepAliveMs > 0) {
      this.timer = setInterval(() => {
        for (const s of this.streams) s.comment('keep-alive');
      }, this.options.keepAliveMs);
      this.timer.unref();
    }
  }

  delete(stream: SseConnection): void {
    this.streams.delete(stream);
    if (this.streams.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stalled(info: StalledStream): void {
    this.options.onStalled?.(info);
  }

  endedUnsent(res: ServerResponse, stream: StreamKind): void {
    this.options.onEndedUnsent?.(res, stream);
  }

  get size(): number {
    return this.streams.size;
  }

  /** Ends every stream (drain). */
  endAll(): void {
    for (const s of [...this.streams]) s.end();
  }
}

/**
 * Whether a stream must be closed instead of written to: the client has left more than the cap untaken and has
 * taken nothing since the last burst of writes ended (`unsentAfterLastBurst`). Checked before a burst, so a single
 * message or a replay larger than the cap still goes out, and a slow client still draining one is not cut off.
 */
export function isStalled(unsentBytes: number, maxBufferedBytes: number, unsentAfterLastBurst: number): boolean {
  return unsentBytes > maxBufferedBytes && unsentBytes >= unsentAfterLastBurst;
}

export class SseConnection {
  closed = false;
  onclose?: () => void;
  /** Called by end() before the stream ends: the owner writes what it still holds back. */
  onbeforeend?: () => void;
  private readonly res: ServerResponse;
  private readonly streams: OpenStreams;
  private readonly kind: StreamKind;
  private readonly session?: string;
  /** Writes in this turn of the event loop were already checked (see isStalled). */
  private inBurst = false;
  /** Bytes still unsent when the last burst ended: less now means the client is reading. */
  private unsentAfterBurst = 0;
  private readonly endBurst = () => {
    this.inBurst = false;
    this.unsentAfterBurst = this.res.writableLength;
  };

  constructor(
    res: ServerResponse,
    streams: OpenStreams,
    options: { kind: StreamKind; session?: string; headers?: Record<string, string> },
  ) {
    this.res = res;
    this.streams = streams;
    this.kind = options.kind;
    this.session = options.session;
    res.socket?.setNoDelay(true);
    res.socket?.setTimeout(0);
    res.writeHead(200, { ...SSE_HEADERS, ...options.headers });
    res.flushHeaders();
    streams.add(this);
    res.on('close', () => this.markClosed());
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.streams.delete(this);
    this.onclose?.();
  }

  /** Writes one event; false if the stream is gone (or was just closed because its client stopped reading). */
  event(data: string, options: { id?: string; event?: string } = {}): boolean {
    if (this.closed) return false;
    let frame = '';
    if (options.event) frame += `event: ${options.event}\n`;
    if (options.id !== undefined) frame += `id: ${options.id}\n`;
    frame += `data: ${data}\n\n`;
    return this.write(frame);
  }

  comment(text: string): void {
    if (!this.closed) this.write(`: ${text}\n\n`);
  }

  private write(frame: string): boolean {
    // res.write ignores backpressure: without this cap a client that stops reading makes the gateway buffer
    // everything sent its way.
    if (!this.inBurst) {
      const unsent = this.res.writableLength;
      if (isStalled(unsent, this.streams.maxBufferedBytes, this.unsentAfterBurst)) {
        this.closeStalled(unsent);
        return false;
      }
      this.inBurst = true;
      queueMicrotask(this.endBurst);
    }
    this.res.write(frame);
    return true;
  }

  /**
   * Drops the connection: end() would queue behind the bytes the client is not reading, destroy frees them now.
   * Events on a 2025 stream stay in the session's event store, so the client can resume with Last-Event-ID.
   */
  private closeStalled(unsent: number): void {
    this.streams.stalled({
      stream: this.kind,
      session: this.session,
      bufferedBytes: unsent,
      limitBytes: this.streams.maxBufferedBytes,
    });
    this.res.destroy();
    this.markClosed();
  }

  end(): void {
    if (this.closed) return;
    this.onbeforeend?.();
    this.res.end();
    this.markClosed();
    if (this.res.writableLength > 0) this.streams.endedUnsent(this.res, this.kind);
  }
}
