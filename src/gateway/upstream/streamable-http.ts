/**
 * A Streamable HTTP client channel on node:http, for an aggregate's legs to its backends' gateways: one POST per
 * message on keep-alive connections, a JSON or SSE answer parsed as it comes, and the session's GET stream for
 * what the server sends on its own. The SDK's client transport does the same over fetch, whose machinery was
 * half of an aggregate's CPU per call (bench/RESULTS.md, "Virtual server"); this keeps only what the transport
 * needs. No resumption: an answer stream that ends early answers its calls with an error instead.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import type { Logger } from '../../observability/log.ts';
import {
  errorResponse,
  isObject,
  type JsonRpcMessage,
  SERVER_ERROR,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import { type Channel, type ChannelCloseInfo, forwardable, REFUSED, UNREACHABLE } from './channel.ts';

export interface StreamableHttpChannelOptions {
  url: string;
  log: Logger;
  /** Headers on every request (an aggregate's credential), read per request. */
  headers?: () => Promise<Record<string, string>>;
  /** The first wait before the GET stream is opened again after it failed; doubles up to 5 s. */
  streamRetryMs?: number;
  /**
   * Largest message taken from the server (a JSON body, or one event of a stream), default 32 MiB as for a stdio
   * server's line: a larger answer fails its call instead of growing in memory until the gateway dies.
   */
  maxMessageBytes?: number;
}

const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

const ACCEPT_BOTH = 'application/json, text/event-stream';
const STREAM_RETRY_MAX_MS = 5000;

/** One server-sent event as the channel needs it: its data, and its id for Last-Event-ID. */
interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Parses an event stream chunk by chunk (WHATWG rules for the fields the transport uses). */
export class SseParser {
  private buffer = '';
  private data: string[] = [];
  private event = '';
  private id: string | undefined;
  private dataChars = 0;
  private oversize = false;
  private readonly onEvent: (event: SseEvent) => void;
  private readonly limit: { maxEventChars: number; onOversize: () => void } | undefined;

  /** `limit`: an event (its data and its unfinished line) longer than this stops the parser and is reported. */
  constructor(onEvent: (event: SseEvent) => void, limit?: { maxEventChars: number; onOversize: () => void }) {
    this.onEvent = onEvent;
    this.limit = limit;
  }

  push(chunk: string): void {
    if (this.oversize) return;
    this.buffer += chunk;
    let start = 0;
    for (;;) {
      const end = this.buffer.indexOf('\n', start);
      if (end < 0) break;
      let line = this.buffer.slice(start, end);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = end + 1;
      this.line(line);
    }
    this.buffer = this.buffer.slice(start);
    if (this.limit && this.dataChars + this.buffer.length > this.limit.maxEventChars) {
      this.oversize = true;
      this.buffer = '';
      this.data = [];
      this.limit.onOversize();
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length) {
        const event: SseEvent = { event: this.event || 'message', data: this.data.join('\n') };
        if (this.id !== undefined) event.id = this.id;
        this.onEvent(event);
      }
      this.data = [];
      this.dataChars = 0;
      this.event = '';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      this.data.push(value);
      this.dataChars += value.length + 1;
    } else if (field === 'event') this.event = value;
    else if (field === 'id' && !value.includes('\0')) this.id = value;
  }
}

/** Bytes of an error response read for its message; the rest is discarded. */
const MAX_REFUSAL_BYTES = 64 * 1024;

/** The message of an HTTP error response's JSON-RPC error, when it has one (a gateway's 413, 429, 503...). */
function refusalText(res: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve) => {
    let text = '';
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      if (text.length < MAX_REFUSAL_BYTES) text += chunk;
    });
    res.on('error', () => resolve(undefined));
    res.on('end', () => {
      try {
        const body: unknown = JSON.parse(text.slice(0, MAX_REFUSAL_BYTES));
        const message = isObject(body) && isObject(body.error) ? body.error.message : undefined;
        resolve(typeof message === 'string' ? message.slice(0, 500) : undefined);
      } catch {
        resolve(undefined);
      }
    });
  });
}

/** Cancelled ids remembered at most (a server answering none of them cannot grow the set without bound). */
const MAX_CANCELLED = 4096;

export class StreamableHttpChannel implements Channel {
  onmessage?: (message: unknown) => void;
  onclose?: (info: ChannelCloseInfo) => void;
  readonly description: string;
  private readonly o: StreamableHttpChannelOptions;
  private readonly url: URL;
  private readonly agent: HttpAgent;
  private readonly request: typeof httpRequest;
  private sessionId?: string;
  private protocolVersion?: string;
  private closed = false;
  /**
   * Requests this side cancelled (notifications/cancelled sent): the server owes them no answer, so a POST that
   * ends without one is not a failure of the server. Bounded: emptied past MAX_CANCELLED.
   */
  private readonly cancelled = new Set<unknown>();
  /** Bytes of POSTs without response headers yet: the server has not taken them (backlog()). */
  private pendingBytes = 0;
  private stream?: IncomingMessage;
  private streamStarted = false;
  private lastEventId?: string;
  private streamTimer?: NodeJS.Timeout;
  private readonly inFlight = new Set<() => void>();

  constructor(options: StreamableHttpChannelOptions) {
    this.o = options;
    this.url = new URL(options.url);
    this.description = `streamable-http ${options.url}`;
    // node:https (TLS) only for an https backend: loaded at startup it costs every gateway ~3 MB of RSS.
    const https = this.url.protocol === 'https:' ? process.getBuiltinModule('node:https') : undefined;
    this.agent = https ? new https.Agent({ keepAlive: true }) : new HttpAgent({ keepAlive: true });
    this.request = https ? (https.request as unknown as typeof httpRequest) : httpRequest;
  }

  async start(): Promise<void> {}

  setProtocolVersion(version: string): void {
    this.protocolVersion = version;
  }

  backlog(): number {
    return this.pendingBytes;
  }

  send(message: JsonRpcMessage): boolean {
    if (this.closed) return false;
    if ('method' in message && message.method === 'notifications/cancelled' && isObject(message.params)) {
      if (this.cancelled.size >= MAX_CANCELLED) this.cancelled.clear();
      this.cancelled.add(message.params.requestId);
    }
    const body = JSON.stringify(message);
    const bytes = Buffer.byteLength(body);
    this.pendingBytes += bytes;
    const ids = 'method' in message && 'id' in message ? [message.id] : [];
    let taken = false;
    const take = () => {
      if (taken) return;
      taken = true;
      this.pendingBytes -= bytes;
    };
    void this.post(body, bytes, ids, take, 'method' in message && message.method === 'notifications/initialized');
    return true;
  }

  private async headers(extra: Record<string, string>): Promise<Record<string, string>> {
    const headers: Record<string, string> = { ...(await this.o.headers?.()), ...extra };
    if (this.sessionId) headers['mcp-session-id'] = this.sessionId;
    if (this.protocolVersion) headers['mcp-protocol-version'] = this.protocolVersion;
    return headers;
  }

  private async post(
    body: string,
    bytes: number,
    ids: unknown[],
    take: () => void,
    initialized: boolean,
  ): Promise<void> {
    // Every id of the POST is answered: by the server, or here when the answer cannot come.
    const unanswered = new Set(ids);
    // `refused`: the server answered this POST with a failure; the connection is fine (nothing reconnects on it,
    // so one client's refused request never fails the other clients' calls on this server).
    const fail = (why: string, refused = false) => {
      take();
      for (const id of unanswered) {
        if (typeof id === 'string' || typeof id === 'number') {
          this.onmessage?.(
            refused
              ? errorResponse(id, SERVER_ERROR, `${REFUSED}: ${why}`)
              : errorResponse(id, UPSTREAM_UNAVAILABLE, `${UNREACHABLE}: ${why}`),
          );
        }
      }
      unanswered.clear();
    };
    const deliver = (value: unknown) => {
      for (const m of Array.isArray(value) ? value : [value]) {
        if (isObject(m) && 'id' in m && !('method' in m)) {
          // An answer belongs on the stream of the POST that carried its request (the transport sends no other
          // answer there): one with another call's id, from a server that mixed them up, would hand this call's
          // result to whichever client made that other call. Dropped; this POST's own ids still get an answer.
          if (!ids.includes(m.id)) {
            this.o.log.warn("the upstream answered, on one request's stream, a request it did not carry; dropped");
            continue;
          }
          unanswered.delete(m.id);
          this.cancelled.delete(m.id); // answered after all (the cancel crossed the answer)
        }
        this.onmessage?.(m);
      }
    };
    let headers: Record<string, string>;
    try {
      headers = await this.headers({
        'content-type': 'application/json',
        accept: ACCEPT_BOTH,
        'content-length': String(bytes),
      });
    } catch (err) {
      fail(String(err));
      return;
    }
    const req = this.request(this.url, { method: 'POST', agent: this.agent, headers });
    const abort = () => req.destroy(new Error('the channel closed'));
    this.inFlight.add(abort);
    req.on('error', (err) => {
      this.inFlight.delete(abort);
      if (!this.closed) this.o.log.warn({ err: err.message }, 'sending to the upstream failed');
      fail(err.message);
    });
    req.on('response', (res) => {
      take();
      const status = res.statusCode ?? 0;
      const session = res.headers['mcp-session-id'];
      if (typeof session === 'string' && session) this.sessionId = session;
      const done = () => {
        this.inFlight.delete(abort);
        for (const id of unanswered) if (this.cancelled.delete(id)) unanswered.delete(id);
        if (unanswered.size) fail(`the answer stream ended before the answer (HTTP ${status})`, true);
      };
      if (status === 202 || (status >= 200 && status < 300 && unanswered.size === 0)) {
        res.resume();
        res.on('end', done);
        if (initialized) this.openStream();
        return;
      }
      if (status < 200 || status >= 300) {
        // The server forgot the session (it restarted): end the channel; the upstream reconnects and starts over.
        const sessionLost = status === 404 && this.sessionId !== undefined;
        if (sessionLost) void this.close();
        void refusalText(res).then((detail) => {
          this.inFlight.delete(abort);
          fail(`HTTP ${status}${detail ? ` (${detail})` : ''}`, !sessionLost);
        });
        return;
      }
      const type = String(res.headers['content-type'] ?? '');
      const max = this.o.maxMessageBytes ?? MAX_MESSAGE_BYTES;
      const oversize = () => {
        this.o.log.warn({ limit: max }, 'the upstream sent an oversize message; its call fails');
        fail(`the answer is larger than the gateway takes (${max} bytes)`, true);
        this.inFlight.delete(abort);
        res.destroy();
      };
      if (type.startsWith('text/event-stream')) {
        res.setEncoding('utf8');
        const parser = new SseParser(
          (event) => {
            if (event.event === 'message') this.parseAndDeliver(event.data, deliver);
          },
          { maxEventChars: max, onOversize: oversize },
        );
        res.on('data', (chunk: string) => parser.push(chunk));
      } else {
        const chunks: Buffer[] = [];
        let bytes = 0;
        res.on('data', (chunk: Buffer) => {
          bytes += chunk.length;
          if (bytes > max) {
            chunks.length = 0;
            if (!res.destroyed) oversize();
          } else chunks.push(chunk);
        });
        res.on('end', () => this.parseAndDeliver(Buffer.concat(chunks).toString('utf8'), deliver));
      }
      res.on('end', done);
      res.on('error', (err) => fail(err.message));
    });
    req.end(body);
  }

  private parseAndDeliver(text: string, deliver: (value: unknown) => void): void {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      this.o.log.warn({ bytes: text.length }, 'the upstream sent a body that is not JSON; dropped');
      return;
    }
    const messages: unknown[] = [];
    for (const m of Array.isArray(value) ? value : [value]) {
      const passed = forwardable(m);
      if (passed !== m)
        this.o.log.warn({ bytes: text.length }, 'the upstream sent a message nested too deep; not forwarded');
      if (passed !== undefined) messages.push(passed);
    }
    for (const m of messages) deliver(m);
  }

  /** The session's GET stream: what the server sends unasked (list_changed, requests of its own). */
  private openStream(retryMs = this.o.streamRetryMs ?? 250): void {
    if (this.closed || this.streamStarted) return;
    this.streamStarted = true;
    const again = (why: string) => {
      this.stream = undefined;
      this.streamStarted = false;
      if (this.closed) return;
      this.o.log.debug({ why, retryMs }, 'the upstream event stream ended; opening it again');
      this.streamTimer = setTimeout(() => this.openStream(Math.min(retryMs * 2, STREAM_RETRY_MAX_MS)), retryMs);
      this.streamTimer.unref();
    };
    void this.headers({
      accept: 'text/event-stream',
      ...(this.lastEventId ? { 'last-event-id': this.lastEventId } : {}),
    })
      .then((headers) => {
        if (this.closed) return;
        const req = this.request(this.url, { method: 'GET', agent: this.agent, headers });
        req.on('error', (err) => again(err.message));
        req.on('response', (res) => {
          const status = res.statusCode ?? 0;
          if (status === 405) {
            res.resume(); // the server has no such stream: nothing to wait for
            return;
          }
          if (status !== 200) {
            res.resume();
            again(`HTTP ${status}`);
            return;
          }
          this.stream = res;
          res.setEncoding('utf8');
          const max = this.o.maxMessageBytes ?? MAX_MESSAGE_BYTES;
          const parser = new SseParser(
            (event) => {
              if (event.id !== undefined) this.lastEventId = event.id;
              if (event.event === 'message') this.parseAndDeliver(event.data, (v) => this.onmessage?.(v));
            },
            {
              maxEventChars: max,
              onOversize: () => {
                this.o.log.warn({ limit: max }, 'the upstream sent an oversize message on its stream; dropped');
                res.destroy();
                again('an oversize message');
              },
            },
          );
          res.on('data', (chunk: string) => parser.push(chunk));
          res.on('end', () => again('ended'));
          res.on('error', (err) => again(err.message));
        });
        req.end();
      })
      .catch((err: unknown) => again(String(err)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.streamTimer);
    this.stream?.destroy();
    for (const abort of [...this.inFlight]) abort();
    if (this.sessionId) {
      // Best effort, briefly: the server ends the session now rather than at its idle timeout.
      const headers = await this.headers({}).catch(() => ({}));
      await new Promise<void>((resolve) => {
        const req = this.request(this.url, { method: 'DELETE', agent: this.agent, headers, timeout: 1000 });
        req.on('response', (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('timeout', () => req.destroy());
        req.on('error', () => resolve());
        req.end();
      });
    }
    this.agent.destroy();
    this.onclose?.({ reason: 'closed' });
  }
}
