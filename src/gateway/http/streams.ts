/**
 * The HTTP side of a 2025 Streamable HTTP session: POST exchanges that answer with JSON or upgrade to an event
 * stream, standalone GET streams, and a bounded per-session event store for `Last-Event-ID` resumption.
 *
 * A POST answers with plain JSON unless something related to the request (progress, a server request, a log
 * line) arrives before the response, or the response takes longer than the upgrade delay; then it becomes an
 * event stream whose first event carries an id, so a client that loses the connection can resume with GET and
 * Last-Event-ID. Several GET streams may be open (a reconnecting client's old one may still look alive behind a
 * proxy); messages go to the newest, and a second GET is never answered 409.
 */
import type { ServerResponse } from 'node:http';
import type { ClientSession, SessionTransport, Sink } from '../mux/session.ts';
import type { JsonRpcMessage, JsonRpcResponse } from '../protocol/jsonrpc.ts';
import { type OpenStreams, SseConnection } from './sse.ts';

interface StoredEvent {
  stream: number;
  seq: number;
  data: string;
}

interface OutStream {
  id: number;
  seq: number;
  conn?: SseConnection;
  /** Responses still owed on this stream; 0 means complete. */
  remaining: number;
}

export interface StreamLimits {
  maxEvents: number;
  maxEventBytes: number;
  /** What every session's event store holds together (EventBudget). */
  maxEventBytesTotal: number;
  maxGetStreams: number;
  upgradeAfterMs: number;
}

export const DEFAULT_STREAM_LIMITS: StreamLimits = {
  maxEvents: 512,
  maxEventBytes: 4 * 1024 * 1024,
  maxEventBytesTotal: 64 * 1024 * 1024,
  maxGetStreams: 4,
  upgradeAfterMs: 10_000,
};

/**
 * The bytes every session's event store holds together. Each store is bounded (maxEventBytes), but one client's
 * 100 sessions that each filled theirs (a 4 MB tool answer apiece, taken as an event stream) held 400 MB, past a
 * pod's 512 Mi. Past the total, the largest store gives up its oldest events: the sessions that hoard pay, and
 * a session with a few small events keeps them. Events are only for resumption; the live stream is unaffected.
 */
export class EventBudget {
  readonly maxBytes: number;
  private total = 0;
  private readonly stores = new Set<StreamState>();

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  get bytes(): number {
    return this.total;
  }

  join(store: StreamState): void {
    this.stores.add(store);
  }

  /** A store closed: its events no longer count. */
  leave(store: StreamState, bytes: number): void {
    if (this.stores.delete(store)) this.total -= bytes;
  }

  changed(delta: number): void {
    this.total += delta;
    while (this.total > this.maxBytes) {
      let largest: StreamState | undefined;
      for (const s of this.stores) if (!largest || s.storedBytes > largest.storedBytes) largest = s;
      const dropped = largest?.dropOldest() ?? 0;
      if (dropped === 0) return;
      this.total -= dropped;
    }
  }
}

/** A 2025 session's streams; also its transport (unsolicited messages go to the newest GET stream). */
export class StreamState implements SessionTransport {
  readonly session: ClientSession;
  private readonly openStreams: OpenStreams;
  private readonly limits: StreamLimits;
  private readonly events: StoredEvent[] = [];
  private eventBytes = 0;
  private readonly streams = new Map<number, OutStream>();
  private nextStream = 1;
  private readonly standalone: OutStream = { id: 0, seq: 0, remaining: Number.POSITIVE_INFINITY };
  private getStreams: SseConnection[] = [];
  /** Standalone messages sent while no GET stream was open: the next GET stream gets them. */
  private undelivered: Array<{ id: string; data: string }> = [];
  private undeliveredBytes = 0;

  private readonly budget?: EventBudget;

  constructor(
    session: ClientSession,
    openStreams: OpenStreams,
    limits: StreamLimits = DEFAULT_STREAM_LIMITS,
    budget?: EventBudget,
  ) {
    this.session = session;
    this.openStreams = openStreams;
    this.limits = limits;
    this.streams.set(0, this.standalone);
    this.budget = budget;
    budget?.join(this);
  }

  /** The bytes of this session's stored events. */
  get storedBytes(): number {
    return this.eventBytes;
  }

  /** Drops the oldest stored event for the budget (which counts it): its bytes, 0 when there is none. */
  dropOldest(): number {
    const old = this.events.shift();
    if (!old) return 0;
    this.eventBytes -= old.data.length;
    return old.data.length;
  }

  deliver(message: JsonRpcMessage): boolean {
    return this.sendStandalone(message);
  }

  get holdsStream(): boolean {
    return this.hasOpenStreams;
  }

  close(): void {
    this.closeAll();
    this.budget?.leave(this, this.eventBytes);
    this.events.length = 0;
    this.eventBytes = 0;
  }

  get openGetStreams(): number {
    return this.getStreams.length;
  }

  /** Whether an event stream of the session is open: a GET stream, or a POST answered as a stream. */
  get hasOpenStreams(): boolean {
    if (this.getStreams.some((c) => !c.closed)) return true;
    for (const s of this.streams.values()) if (s.conn && !s.conn.closed) return true;
    return false;
  }

  private store(stream: number, seq: number, data: string): void {
    this.events.push({ stream, seq, data });
    this.eventBytes += data.length;
    let delta = data.length;
    while (this.events.length > this.limits.maxEvents || this.eventBytes > this.limits.maxEventBytes) {
      const old = this.events.shift();
      if (!old) break;
      this.eventBytes -= old.data.length;
      delta -= old.data.length;
    }
    this.budget?.changed(delta);
  }

  /** Writes to a stream, storing the event for resumption. */
  write(stream: OutStream, message: JsonRpcMessage): boolean {
    const data = JSON.stringify(message);
    stream.seq++;
    this.store(stream.id, stream.seq, data);
    return stream.conn?.event(data, { id: `${stream.id}-${stream.seq}`, event: 'message' }) ?? false;
  }

  /** A message outside any request: to the newest open GET stream (stored for resumption either way). */
  sendStandalone(message: JsonRpcMessage): boolean {
    while (this.getStreams.length > 0) {
      const newest = this.getStreams[this.getStreams.length - 1];
      if (newest && !newest.closed) break;
      this.getStreams.pop();
    }
    this.standalone.conn = this.getStreams[this.getStreams.length - 1];
    if (this.write(this.standalone, message)) return true;
    // No GET stream yet (typically a server request right after the handshake): keep it for the next one.
    const last = this.events[this.events.length - 1];
    // Bounded like the event store, by count and by size.
    const fits =
      this.undelivered.length < this.limits.maxEvents &&
      this.undeliveredBytes + (last?.data.length ?? 0) <= this.limits.maxEventBytes;
    if (last && fits) {
      this.undelivered.push({ id: `0-${last.seq}`, data: last.data });
      this.undeliveredBytes += last.data.length;
      return true;
    }
    return false;
  }

  /** Opens the event stream of a POST exchange. */
  openStream(res: ServerResponse, remaining: number, headers: Record<string, string>): OutStream {
    const stream: OutStream = { id: this.nextStream++, seq: 0, remaining };
    stream.conn = new SseConnection(res, this.openStreams, { kind: 'post', session: this.session.logId, headers });
    this.streams.set(stream.id, stream);
    // The priming event: an id before any data makes the stream resumable.
    stream.conn.event('', { id: `${stream.id}-0` });
    stream.conn.onclose = () => {
      stream.conn = undefined;
      if (stream.remaining === 0) this.streams.delete(stream.id);
    };
    return stream;
  }

  completeOne(stream: OutStream): void {
    stream.remaining--;
    if (stream.remaining > 0) return;
    const conn = stream.conn;
    this.streams.delete(stream.id);
    conn?.end();
  }

  /** GET: a new standalone stream, or the resumption of a stream after `lastEventId`. */
  openGet(res: ServerResponse, lastEventId: string | undefined, headers: Record<string, string>): void {
    const conn = new SseConnection(res, this.openStreams, { kind: 'get', session: this.session.logId, headers });
    let target = this.standalone;
    let after = Number.POSITIVE_INFINITY;
    let streamId = 0;
    if (lastEventId) {
      const m = /^(\d+)-(\d+)$/.exec(lastEventId);
      if (m) {
        streamId = Number(m[1]);
        after = Number(m[2]);
      }
    }
    if (after !== Number.POSITIVE_INFINITY) {
      for (const e of this.events) {
        if (e.stream === streamId && e.seq > after)
          conn.event(e.data, { id: `${e.stream}-${e.seq}`, event: 'message' });
      }
      const live = this.streams.get(streamId);
      if (streamId !== 0) {
        if (!live || live.remaining === 0) {
          conn.end();
          return;
        }
        live.conn?.end();
        live.conn = conn;
        conn.onclose = () => {
          if (live.conn === conn) live.conn = undefined;
        };
        return;
      }
      target = this.standalone;
      this.undelivered = []; // the replay above covered them
      this.undeliveredBytes = 0;
    }
    this.getStreams.push(conn);
    while (this.getStreams.length > this.limits.maxGetStreams) this.getStreams.shift()?.end();
    target.conn = conn;
    for (const u of this.undelivered) conn.event(u.data, { id: u.id, event: 'message' });
    this.undelivered = [];
    this.undeliveredBytes = 0;
    conn.onclose = () => {
      this.getStreams = this.getStreams.filter((c) => c !== conn);
      if (this.standalone.conn === conn) this.standalone.conn = this.getStreams[this.getStreams.length - 1];
    };
  }

  /** Ends every stream of the session (DELETE, idle timeout, drain). */
  closeAll(): void {
    for (const s of this.streams.values()) s.conn?.end();
    for (const c of this.getStreams) c.end();
    this.getStreams = [];
  }
}

/** Exchanges still answering in JSON mode; one timer upgrades the slow ones (no timer per request). */
const waiting = new Set<HttpExchange>();
let scanner: NodeJS.Timeout | undefined;

function watch(exchange: HttpExchange): void {
  waiting.add(exchange);
  if (!scanner) {
    scanner = setInterval(() => {
      const now = performance.now();
      for (const e of waiting) e.checkUpgrade(now);
      if (waiting.size === 0 && scanner) {
        clearInterval(scanner);
        scanner = undefined;
      }
    }, 500);
    scanner.unref();
  }
}

/**
 * One POST to /mcp: collects the responses to the requests in its body and decides between a JSON answer and
 * an event stream (see the module comment).
 */
export class HttpExchange implements Sink {
  private readonly res: ServerResponse;
  private readonly state?: StreamState;
  private remaining: number;
  private readonly batch: boolean;
  private readonly acceptsSse: boolean;
  private readonly headers: Record<string, string>;
  private readonly onUnsent?: (res: ServerResponse) => void;
  private readonly onResponse?: (response: JsonRpcResponse) => void;
  private readonly responses: JsonRpcResponse[] = [];
  private stream?: OutStream;
  private done = false;
  private readonly upgradeAt: number;
  private readonly oneshot?: { conn?: SseConnection; openStreams: OpenStreams };

  constructor(options: {
    res: ServerResponse;
    state?: StreamState;
    openStreams: OpenStreams;
    expected: number;
    batch: boolean;
    acceptsSse: boolean;
    /** false: the client takes only event streams, so even a quick answer travels as one. */
    acceptsJson?: boolean;
    headers: Record<string, string>;
    upgradeAfterMs: number;
    /** A JSON answer the socket could not take at once: the caller watches that the client reads it. */
    onUnsent?: (res: ServerResponse) => void;
    /** Sees every response the router gives, answered or not (a new session watches its handshake fail). */
    onResponse?: (response: JsonRpcResponse) => void;
  }) {
    this.onUnsent = options.onUnsent;
    this.onResponse = options.onResponse;
    this.res = options.res;
    this.state = options.state;
    this.remaining = options.expected;
    this.batch = options.batch;
    this.acceptsSse = options.acceptsSse;
    this.headers = options.headers;
    if (!options.state) this.oneshot = { openStreams: options.openStreams };
    this.upgradeAt = performance.now() + options.upgradeAfterMs;
    if (this.acceptsSse && options.acceptsJson === false) this.upgrade();
    else if (this.acceptsSse && options.upgradeAfterMs > 0) watch(this);
  }

  /** Called by the shared scanner: a response this slow becomes an event stream so proxies see bytes. */
  checkUpgrade(now: number): void {
    if (this.done || this.res.destroyed) {
      this.finish();
      return;
    }
    if (now >= this.upgradeAt) this.upgrade();
  }

  private finish(): void {
    this.done = true;
    waiting.delete(this);
  }

  private upgrade(): void {
    waiting.delete(this);
    if (this.done || this.stream || this.oneshot?.conn || this.res.headersSent) return;
    if (this.state) {
      this.stream = this.state.openStream(this.res, this.remaining + this.responses.length, this.headers);
      for (const r of this.responses) {
        this.state.write(this.stream, r);
        this.state.completeOne(this.stream);
      }
    } else if (this.oneshot) {
      this.oneshot.conn = new SseConnection(this.res, this.oneshot.openStreams, {
        kind: 'post',
        headers: this.headers,
      });
      for (const r of this.responses) this.oneshot.conn.event(JSON.stringify(r), { event: 'message' });
    }
    this.responses.length = 0;
  }

  related(message: JsonRpcMessage): void {
    if (this.done) {
      this.state?.sendStandalone(message);
      return;
    }
    if (!this.stream && !this.oneshot?.conn) {
      if (!this.acceptsSse) {
        // A JSON-only client: the message can only travel on its GET stream.
        this.state?.sendStandalone(message);
        return;
      }
      this.upgrade();
    }
    if (this.stream && this.state) this.state.write(this.stream, message);
    else this.oneshot?.conn?.event(JSON.stringify(message), { event: 'message' });
  }

  respond(response: JsonRpcResponse): void {
    this.onResponse?.(response);
    if (this.done) return;
    this.remaining--;
    if (this.stream && this.state) {
      this.state.write(this.stream, response);
      this.state.completeOne(this.stream);
      if (this.remaining <= 0) this.finish();
      return;
    }
    if (this.oneshot?.conn) {
      this.oneshot.conn.event(JSON.stringify(response), { event: 'message' });
      if (this.remaining <= 0) {
        this.oneshot.conn.end();
        this.finish();
      }
      return;
    }
    this.responses.push(response);
    if (this.remaining > 0) return;
    this.answerJson();
  }

  /**
   * A request of this POST ended with nothing to send (the client cancelled it, and a cancelled request gets no
   * response): the POST stops waiting for it, so the client's connection is not held until the session ends.
   */
  unanswered(): void {
    if (this.done) return;
    this.remaining--;
    if (this.stream && this.state) {
      this.state.completeOne(this.stream);
      if (this.remaining <= 0) this.finish();
      return;
    }
    if (this.remaining > 0) return;
    if (this.oneshot?.conn) {
      this.oneshot.conn.end();
      this.finish();
      return;
    }
    this.answerJson();
  }

  /** Every request answered (or cancelled): the JSON answer, or 202 when none of them has a response. */
  private answerJson(): void {
    this.finish();
    if (this.res.destroyed || this.res.headersSent) return;
    if (this.responses.length === 0) {
      this.res.writeHead(202, this.headers);
      this.res.end();
      return;
    }
    const body = JSON.stringify(this.batch ? this.responses : this.responses[0]);
    // A flat header array: Node's writeHead takes it without copying and checking an object's keys.
    const head: string[] = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(body))];
    for (const k in this.headers) head.push(k, this.headers[k] as string);
    this.res.writeHead(200, head);
    this.res.end(body);
    // Bytes the socket did not take at once stay in the gateway's memory until the client reads them: watch
    // those. An answer the kernel took whole needs no watch (nor its listeners and timer on every call).
    if (this.res.writableLength > 0) this.onUnsent?.(this.res);
  }
}
