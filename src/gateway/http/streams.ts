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
import type { BudgetHolder, EventBudget } from './event-budget.ts';
import { type OpenStreams, SseConnection } from './sse.ts';

interface StoredEvent {
  stream: number;
  seq: number;
  data: string;
}

/** A standalone message waiting for the session's next GET stream (its id is `0-<seq>`). */
interface Held {
  seq: number;
  data: string;
  /** A server request: never dropped to make room (refused instead, so its server is told). */
  request: boolean;
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
  /** What every session's streams hold together: event stores and messages waiting (EventBudget). */
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

/** A 2025 session's streams; also its transport (unsolicited messages go to the newest GET stream). */
export class StreamState implements SessionTransport, BudgetHolder {
  readonly session: ClientSession;
  private readonly openStreams: OpenStreams;
  private readonly limits: StreamLimits;
  private readonly events: StoredEvent[] = [];
  private eventBytes = 0;
  private readonly streams = new Map<number, OutStream>();
  private nextStream = 1;
  private readonly standalone: OutStream = { id: 0, seq: 0, remaining: Number.POSITIVE_INFINITY };
  private getStreams: SseConnection[] = [];
  /**
   * Standalone messages sent while no GET stream was open: the next GET stream gets them. Bounded like the event
   * store (maxEvents, maxEventBytes) and counted in the budget; they join the event store once delivered.
   */
  private held: Held[] = [];
  private heldBytes = 0;
  private heldRequestBytes = 0;
  private droppedHeld = 0; // since the last GET stream opened

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

  /** What this session holds in the budget: its stored events and the messages waiting for a GET stream. */
  get storedBytes(): number {
    return this.eventBytes + this.heldBytes;
  }

  get droppableBytes(): number {
    return this.eventBytes + this.heldBytes - this.heldRequestBytes;
  }

  /** For the budget (which counts it): the oldest stored event, else the oldest waiting notification. */
  dropOldest(): number {
    const old = this.events.shift();
    if (old) {
      this.eventBytes -= old.data.length;
      return old.data.length;
    }
    return this.dropHeldNotification('budget');
  }

  /** Drops the oldest waiting notification, counted and reported: its bytes, 0 when only requests wait. */
  private dropHeldNotification(limit: 'budget' | 'session'): number {
    const i = this.held.findIndex((h) => !h.request);
    const old = i < 0 ? undefined : this.held.splice(i, 1)[0];
    if (!old) return 0;
    this.heldBytes -= old.data.length;
    this.reportDropped(old.data.length, limit);
    return old.data.length;
  }

  private reportDropped(bytes: number, limit: 'budget' | 'session'): void {
    this.budget?.onDropped?.({ session: this.session.logId, dropped: ++this.droppedHeld, bytes, limit });
  }

  deliver(message: JsonRpcMessage): boolean {
    return this.sendStandalone(message);
  }

  get holdsStream(): boolean {
    return this.hasOpenStreams;
  }

  close(): void {
    this.closeAll();
    this.budget?.leave(this, this.eventBytes + this.heldBytes);
    this.events.length = 0;
    this.eventBytes = 0;
    this.held = [];
    this.heldBytes = 0;
    this.heldRequestBytes = 0;
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

  /** A message outside any request: to the newest open GET stream (stored for resumption), else held for one. */
  sendStandalone(message: JsonRpcMessage): boolean {
    while (this.getStreams.length > 0) {
      const newest = this.getStreams[this.getStreams.length - 1];
      if (newest && !newest.closed) break;
      this.getStreams.pop();
    }
    const conn = this.getStreams[this.getStreams.length - 1];
    this.standalone.conn = conn;
    const data = JSON.stringify(message);
    const seq = ++this.standalone.seq;
    if (conn?.event(data, { id: `0-${seq}`, event: 'message' })) {
      this.store(0, seq, data);
      return true;
    }
    // No GET stream yet (typically a server request right after the handshake): keep it for the next one.
    return this.hold({ seq, data, request: 'id' in message });
  }

  /**
   * Holds a message for the next GET stream. Past the session's bound (by count and size) or the budget, the
   * oldest waiting notifications go first; a message that still does not fit is refused (false: a server
   * request's server is told), and a refused notification is counted as dropped.
   */
  private hold(h: Held): boolean {
    const size = h.data.length;
    const { maxEvents, maxEventBytes } = this.limits;
    let freed = 0;
    while (this.held.length >= maxEvents || this.heldBytes + size > maxEventBytes) {
      const bytes = this.dropHeldNotification('session');
      if (bytes === 0) break;
      freed += bytes;
    }
    if (this.held.length >= maxEvents || this.heldBytes + size > maxEventBytes) {
      this.budget?.changed(-freed);
      if (!h.request) this.reportDropped(size, 'session');
      return false;
    }
    this.held.push(h);
    this.heldBytes += size;
    if (h.request) this.heldRequestBytes += size;
    this.budget?.changed(size - freed);
    if (h.request && this.budget?.over) {
      // Nothing but requests is left to drop in the whole budget: this one is refused rather than held past it.
      this.held.pop();
      this.heldBytes -= size;
      this.heldRequestBytes -= size;
      this.budget.changed(-size);
      return false;
    }
    return true;
  }

  /** A GET stream opened: the held messages after `after` go out on it and join the event store. */
  private release(conn: SseConnection, after: number): void {
    const held = this.held;
    this.held = [];
    this.budget?.changed(-this.heldBytes);
    this.heldBytes = 0;
    this.heldRequestBytes = 0;
    this.droppedHeld = 0;
    for (const h of held) {
      if (h.seq <= after) continue;
      conn.event(h.data, { id: `0-${h.seq}`, event: 'message' });
      this.store(0, h.seq, h.data);
    }
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
    }
    this.getStreams.push(conn);
    while (this.getStreams.length > this.limits.maxGetStreams) this.getStreams.shift()?.end();
    target.conn = conn;
    // The replay above covered what was stored; what was held was never sent, so it follows.
    this.release(conn, after === Number.POSITIVE_INFINITY ? 0 : after);
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

  related(message: JsonRpcMessage): boolean {
    // A JSON-only client's message (or one after the answer) can only travel on the session's GET stream.
    if (this.done || (!this.stream && !this.oneshot?.conn && !this.acceptsSse))
      return this.state?.sendStandalone(message) ?? false;
    if (!this.stream && !this.oneshot?.conn) this.upgrade();
    // On the response stream: stored for resumption even when the socket is slow.
    if (this.stream && this.state) this.state.write(this.stream, message);
    else return this.oneshot?.conn?.event(JSON.stringify(message), { event: 'message' }) ?? false;
    return true;
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
