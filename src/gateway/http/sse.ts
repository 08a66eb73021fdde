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

/** All open streams of one gateway share one keep-alive timer. */
export class KeepAlive {
  private readonly streams = new Set<SseConnection>();
  private timer?: NodeJS.Timeout;
  private readonly intervalMs: number;

  constructor(intervalMs: number) {
    this.intervalMs = intervalMs;
  }

  add(stream: SseConnection): void {
    this.streams.add(stream);
    if (!this.timer && this.intervalMs > 0) {
      this.timer = setInterval(() => {
        for (const s of this.streams) s.comment('keep-alive');
      }, this.intervalMs);
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

  get size(): number {
    return this.streams.size;
  }

  /** Ends every stream (drain). */
  endAll(): void {
    for (const s of [...this.streams]) s.end();
  }
}

export class SseConnection {
  closed = false;
  onclose?: () => void;
  /** Called by end() before the stream ends: the owner writes what it still holds back. */
  onbeforeend?: () => void;
  private readonly res: ServerResponse;
  private readonly keepAlive: KeepAlive;

  constructor(res: ServerResponse, keepAlive: KeepAlive, extraHeaders: Record<string, string> = {}) {
    this.res = res;
    this.keepAlive = keepAlive;
    res.socket?.setNoDelay(true);
    res.socket?.setTimeout(0);
    res.writeHead(200, { ...SSE_HEADERS, ...extraHeaders });
    res.flushHeaders();
    keepAlive.add(this);
    res.on('close', () => this.markClosed());
  }

  private markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    this.keepAlive.delete(this);
    this.onclose?.();
  }

  /** Writes one event; false if the stream is gone. */
  event(data: string, options: { id?: string; event?: string } = {}): boolean {
    if (this.closed) return false;
    let frame = '';
    if (options.event) frame += `event: ${options.event}\n`;
    if (options.id !== undefined) frame += `id: ${options.id}\n`;
    frame += `data: ${data}\n\n`;
    this.res.write(frame);
    return true;
  }

  comment(text: string): void {
    if (!this.closed) this.res.write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.closed) return;
    this.onbeforeend?.();
    this.res.end();
    this.markClosed();
  }
}
