/**
 * The 2025 Streamable HTTP era on /mcp: `initialize` opens a session (Mcp-Session-Id), POSTs answer with JSON
 * or an event stream (streams.ts), GET opens the session's stream or resumes one (Last-Event-ID), DELETE ends
 * the session. A sessionless request that is not `initialize` is served once, like a stateless server would.
 */
import type { ServerResponse } from 'node:http';
import type { Logger } from '../../observability/log.ts';
import type { Mux } from '../mux/mux.ts';
import { ClientSession } from '../mux/session.ts';
import { INVALID_REQUEST, type JsonRpcMessage, type JsonRpcResponse, SESSION_NOT_FOUND } from '../protocol/jsonrpc.ts';
import type { SessionEntry, SessionManager } from '../sessions.ts';
import type { AnswerFormats } from './accept.ts';
import { messagesOr400 } from './body-gate.ts';
import { type ClientLimit, countRequests } from './client-limit.ts';
import { dispatch, NO_SINK } from './dispatch.ts';
import { type BudgetDrop, EventBudget } from './event-budget.ts';
import { refuseSession, refuseUnlessSse } from './refusals.ts';
import { header } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';
import type { OpenStreams } from './sse.ts';
import type { SdkStreamWatch } from './stall.ts';
import { HttpExchange, type StreamLimits, StreamState } from './streams.ts';

export interface Sessions2025Options {
  sessions: SessionManager;
  sharedRouter: Mux;
  openStreams: OpenStreams;
  streamLimits: StreamLimits;
  limit: ClientLimit;
  /** Watches JSON answers a client does not read (they hold their whole body in memory until it does). */
  stalls?: SdkStreamWatch;
  log: Logger;
  /** A message that waited for a GET stream was dropped (the budget or the session's bound): metric and log. */
  onDropped?: (drop: BudgetDrop) => void;
}

/** The streams of a 2025 session (its transport), when `entry` is one. */
function streamsOf(entry: SessionEntry | undefined): StreamState | undefined {
  const transport = entry?.session.transport;
  return transport instanceof StreamState ? transport : undefined;
}

/** The answer headers of a POST that opens no session: one shared object, not one per call. */
const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

function isInitialize(m: JsonRpcMessage): boolean {
  return 'method' in m && m.method === 'initialize';
}

export class Sessions2025 {
  private readonly o: Sessions2025Options;
  private readonly newStreams: (session: ClientSession) => StreamState;
  private readonly onUnsent?: (res: ServerResponse) => void;

  constructor(options: Sessions2025Options) {
    this.o = options;
    // One budget for what every session's streams hold (EventBudget).
    const budget = new EventBudget(options.streamLimits.maxEventBytesTotal, options.onDropped);
    this.newStreams = (session) => new StreamState(session, options.openStreams, options.streamLimits, budget);
    const { stalls } = options;
    if (stalls) this.onUnsent = (res) => stalls.watch(res, 'json');
  }

  /** The 2025 session a request names, or undefined once answered 404. */
  sessionOr404(request: McpRequest, sessionId: string): SessionEntry | undefined {
    const entry = this.o.sessions.getFor(sessionId, request.identity);
    if (entry?.session.kind === 'streamable') return entry;
    refuse(request, 404, SESSION_NOT_FOUND, 'Session not found');
    return undefined;
  }

  /** A POST of 2025 messages: on `entry`, opening a session (initialize), or served once without one. */
  post(request: McpRequest, parsed: unknown, formats: AnswerFormats | null, entry: SessionEntry | undefined): void {
    const messages = messagesOr400(request, parsed);
    if (!messages) return;
    if (this.o.limit.refuses(request, messages, entry ?? 'oneshot')) return;
    let hasInit = false;
    for (const m of messages) if (isInitialize(m)) hasInit = true;
    if (hasInit && (entry || messages.length > 1)) {
      refuse(request, 400, INVALID_REQUEST, 'Invalid Request: initialize must be the only message of a new session');
      return;
    }
    const requests = countRequests(messages);
    let headers: Readonly<Record<string, string>> = NO_HEADERS;
    let created: SessionEntry | undefined;
    let session: ClientSession;
    let router: Mux;
    if (entry) {
      ({ session, router } = entry);
    } else if (hasInit) {
      try {
        created = this.o.sessions.create('streamable', request.identity, this.newStreams);
      } catch (err) {
        refuseSession(request, err);
        return;
      }
      ({ session, router } = created);
      headers = { 'mcp-session-id': session.id };
    } else {
      // A sessionless 2025-style request: served once, like a stateless server would.
      session = new ClientSession(`oneshot-${Date.now().toString(36)}`, 'oneshot', request.identity);
      router = this.o.sharedRouter;
    }
    const { res } = request;
    if (requests === 0) {
      dispatch(session, router, messages, NO_SINK);
      res.writeHead(202, headers);
      res.end();
      return;
    }
    const exchange = new HttpExchange({
      res,
      state: streamsOf(entry ?? created),
      openStreams: this.o.openStreams,
      expected: requests,
      batch: Array.isArray(parsed),
      acceptsSse: formats?.sse ?? false,
      acceptsJson: formats?.json ?? true,
      headers,
      upgradeAfterMs: this.o.streamLimits.upgradeAfterMs,
      onUnsent: this.onUnsent,
      onResponse: created ? this.closeIfFailed(created, headers) : undefined,
    });
    // A sessionless request has no stream to resume on: a client gone before its answer cancels its calls, as a
    // 2026-07-28 request's does, instead of leaving the server working (and a drain waiting) for nobody.
    if (!entry && !created) {
      res.once('close', () => {
        if (!res.writableFinished) router.detach(session);
      });
    }
    dispatch(session, router, messages, exchange);
  }

  /** A failed handshake must not leave a session behind, nor name it in its answer (the id would be a 404). */
  private closeIfFailed(
    created: SessionEntry,
    headers: Readonly<Record<string, string>>,
  ): (response: JsonRpcResponse) => void {
    return (response) => {
      if (!response.error) return;
      void this.o.sessions.close(created, 'initialize failed');
      delete (headers as Record<string, string>)['mcp-session-id'];
    };
  }

  /** GET /mcp: the session's standalone stream, or the resumption of one after Last-Event-ID. */
  get(request: McpRequest): void {
    if (refuseUnlessSse(request)) return;
    const { sessionId, req, res } = request;
    if (sessionId === undefined) {
      refuse(request, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const entry = this.o.sessions.getFor(sessionId, request.identity);
    const streams = streamsOf(entry);
    if (!entry || !streams) {
      refuse(request, 404, SESSION_NOT_FOUND, 'Session not found');
      return;
    }
    // Not past the handshake for opening a stream: only a message after initialize confirms a session, so a
    // flood of handshakes that each hold a GET stream still expires and is evicted first.
    entry.session.lastActivity = Date.now();
    streams.openGet(res, header(req, 'last-event-id'), { 'mcp-session-id': sessionId });
  }

  /** DELETE /mcp: the client ends its session. */
  async delete(request: McpRequest): Promise<void> {
    const { sessionId, res } = request;
    if (sessionId === undefined) {
      refuse(request, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const entry = this.o.sessions.getFor(sessionId, request.identity);
    if (entry?.session.kind !== 'streamable') {
      refuse(request, 404, SESSION_NOT_FOUND, 'Session not found');
      return;
    }
    res.writeHead(200);
    res.end();
    await this.o.sessions.close(entry, 'client deleted the session');
  }
}
