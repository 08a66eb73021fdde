/** The options of one mux (mux.ts), in their own module so the mux itself stays one screenful of wiring. */
import type { Logger } from '../../observability/log.ts';
import type { AuditWriter } from '../audit.ts';
import type { RequestStateCodec } from '../input.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { isNotificationMethod, type JsonRpcNotification } from '../protocol/jsonrpc.ts';
import type { MuxRouting } from './routing.ts';
import type { MuxPolicy } from './tool-calls.ts';
import type { MuxUpstream } from './upstream.ts';

/** The default of MuxOptions.maxBacklogBytes. */
export const MAX_BACKLOG_BYTES = 16 * 1024 * 1024;

/**
 * Whether the server takes what is sent to it: its backlog is under `maxBacklogBytes`. Past it a request is
 * refused, and a client notification (which has no answer to refuse) dropped: a server stuck in a long task
 * stops reading its stdin, and 60 notifications of 3.9 MB each had grown the gateway by 310 MB.
 */
export function keepsUp(upstream: MuxUpstream, options: MuxOptions): boolean {
  return upstream.backlog() <= (options.maxBacklogBytes ?? MAX_BACKLOG_BYTES);
}

/**
 * A client notification to a server, unless the server does not keep up: it has no answer to refuse, so it is
 * dropped. A method not named notifications/... is a request without its id (the body gate refuses those; this
 * holds for any path past it): no policy saw it, so it never reaches a server.
 */
export function notifyServer(upstream: MuxUpstream, note: JsonRpcNotification, options: MuxOptions): void {
  if (!isNotificationMethod(note.method)) options.metrics.droppedMessages.inc({ reason: 'request_without_id' });
  else if (keepsUp(upstream, options)) upstream.send(note);
  else options.metrics.droppedMessages.inc({ reason: 'server_backlog' });
}

export interface MuxOptions {
  /**
   * The server; with `routing`, the front the HTTP layer reads (readiness, the combined handshake that
   * `initialize` answers from), never sent to: the routing's servers are linked with `link`.
   */
  upstream: MuxUpstream;
  /** Several servers behind one mux (an aggregate); default: every request goes to `upstream`. */
  routing?: MuxRouting;
  policy: MuxPolicy;
  metrics: GatewayMetrics;
  log: Logger;
  /** Per-session mode: the mux serves one session and passes its handshake through. */
  perSession: boolean;
  requestTimeoutMs: number;
  /** How long a request waits for a (re)starting server before it fails. */
  readyWaitMs: number;
  /** Bytes queued towards the server beyond which new requests are refused and notifications dropped (keepsUp). */
  maxBacklogBytes?: number;
  /** A list_changed or resources/updated notification, for the 2026 subscriptions/listen streams. */
  onServerEvent?: (message: JsonRpcNotification) => void;
  /** Signs the requestState of input_required results (2026-07-28 clients); without it they are refused. */
  requestStates?: RequestStateCodec;
  /** How long an input_required result waits for the client's retry. */
  inputTimeoutMs?: number;
  /** Where audit lines go (default: the logger). */
  audit?: AuditWriter;
}
