/**
 * The 2024-11-05 HTTP+SSE era: GET /sse opens a session and its event stream, whose first event names the
 * `/messages?sessionId=` URL the client POSTs to; every answer travels on the stream.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../observability/log.ts';
import type { ClientSession, SessionTransport, Sink } from '../mux/session.ts';
import { INVALID_REQUEST, type JsonRpcMessage, SESSION_NOT_FOUND } from '../protocol/jsonrpc.ts';
import type { SessionManager } from '../sessions.ts';
import { messagesOr400, readJsonBody } from './body-gate.ts';
import type { ClientLimit } from './client-limit.ts';
import { dispatch } from './dispatch.ts';
import { externalPrefix } from './external-url.ts';
import { refuseSession, refuseUnlessSse } from './refusals.ts';
import { singleRequestId } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';
import { type OpenStreams, SseConnection } from './sse.ts';

/**
 * SDK 1.x legacy clients run notification handlers a microtask later but responses at once, so a progress
 * event and the response parsed from one chunk lose the progress. A response written right after a
 * notification is held back this long so the two travel as separate chunks.
 */
const GAP_MS = 4;

/** A legacy session's stream: every message of the session goes there. */
export class SseSessionTransport implements SessionTransport {
  readonly conn: SseConnection;
  /** Where the answers to the session's POSTs go: the stream (one sink per session, not per request). */
  readonly sink: Sink;
  private lastNotification = 0;
  private queue?: JsonRpcMessage[];

  constructor(res: ServerResponse, openStreams: OpenStreams, session: ClientSession, onClose: () => void) {
    this.conn = new SseConnection(res, openStreams, { kind: 'sse', session: session.logId });
    this.conn.onbeforeend = this.flush; // a drain or close must not drop an answer still held back by the gap
    this.conn.onclose = onClose;
    this.sink = { related: (m) => this.deliver(m), respond: (r) => void this.deliver(r) };
  }

  private readonly flush = (): void => {
    const q = this.queue ?? [];
    this.queue = undefined;
    for (const m of q) {
      if ('method' in m) this.lastNotification = performance.now();
      this.conn.event(JSON.stringify(m), { event: 'message' });
    }
  };

  deliver(m: JsonRpcMessage): boolean {
    if (this.conn.closed) return false;
    const isNotification = 'method' in m;
    const wait = this.lastNotification + GAP_MS - performance.now();
    if (this.queue || (!isNotification && wait > 0)) {
      if (!this.queue) {
        this.queue = [];
        setTimeout(this.flush, Math.max(1, wait));
      }
      this.queue.push(m);
      return true;
    }
    if (isNotification) this.lastNotification = performance.now();
    return this.conn.event(JSON.stringify(m), { event: 'message' });
  }

  get holdsStream(): boolean {
    return !this.conn.closed;
  }

  close(): void {
    this.conn.end();
  }
}

export interface Sse2024Options {
  sessions: SessionManager;
  openStreams: OpenStreams;
  limit: ClientLimit;
  maxBodyBytes: number;
  log: Logger;
}

export class Sse2024 {
  private readonly o: Sse2024Options;

  constructor(options: Sse2024Options) {
    this.o = options;
  }

  /** GET /sse: a new session, its stream, and the endpoint event. */
  open(request: McpRequest): void {
    const { req, res } = request;
    if (refuseUnlessSse(request)) return;
    const { sessions, openStreams } = this.o;
    let transport: SseSessionTransport | undefined;
    let entry: ReturnType<SessionManager['create']>;
    try {
      entry = sessions.create('sse', request.identity, (session) => {
        transport = new SseSessionTransport(res, openStreams, session, () => {
          void sessions.close(entry, 'SSE stream closed');
        });
        return transport;
      });
    } catch (err) {
      refuseSession(request, err);
      return;
    }
    const endpoint = `${externalPrefix(req, request.prefix)}/messages?sessionId=${encodeURIComponent(entry.session.id)}`;
    transport?.conn.event(endpoint, { event: 'endpoint' });
  }

  /** POST /messages?sessionId=: the body's messages go to the session; their answers travel on its stream. */
  async post(request: McpRequest): Promise<void> {
    const { req, res, sessionId } = request;
    if (sessionId === undefined) {
      refuse(request, 400, INVALID_REQUEST, 'Bad Request: the sessionId query parameter is required');
      return;
    }
    const entry = this.o.sessions.getFor(sessionId, request.identity);
    const transport = entry?.session.transport;
    if (entry?.session.kind !== 'sse' || !(transport instanceof SseSessionTransport)) {
      req.resume();
      refuse(request, 404, SESSION_NOT_FOUND, 'Session not found');
      return;
    }
    const parsed = await readJsonBody(request, this.o.maxBodyBytes, this.o.log);
    if (parsed === undefined) return;
    request.requestId = singleRequestId(parsed);
    if (transport.conn.closed) {
      // The stream closed while the body arrived: the session is gone, and its calls would run for nobody.
      refuse(
        request,
        404,
        SESSION_NOT_FOUND,
        'Session not found: its event stream closed; open a new one with GET /sse',
      );
      return;
    }
    const messages = messagesOr400(request, parsed);
    if (!messages) return;
    if (entry.session.protocolVersion !== '' && messages.some((m) => 'method' in m && m.method === 'initialize')) {
      // As on a 2025 session: a handshake answered once stands (a second would swap the client's capabilities).
      const message =
        'Invalid Request: this session is already initialized; open a new stream with GET /sse for a new session';
      refuse(request, 400, INVALID_REQUEST, message);
      return;
    }
    if (this.o.limit.refuses(request, messages, entry)) return;
    dispatch(entry.session, entry.router, messages, transport.sink);
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.end('Accepted');
  }
}
