/** The options of one mux (mux.ts), in their own module so the mux itself stays one screenful of wiring. */
import type { Logger } from '../../observability/log.ts';
import type { AuditWriter } from '../audit.ts';
import type { RequestStateCodec } from '../input.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { JsonRpcNotification } from '../protocol/jsonrpc.ts';
import type { MuxRouting } from './routing.ts';
import type { MuxPolicy } from './tool-calls.ts';
import type { MuxUpstream } from './upstream.ts';

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
  /** Bytes queued towards the server beyond which new requests are refused. */
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
