/** A raw message pipe to an MCP server: a child's stdio or an HTTP client transport. */
import {
  errorResponse,
  isObject,
  type JsonRpcMessage,
  MAX_SERVER_JSON_DEPTH,
  SERVER_ERROR,
  valueNestsDeeperThan,
} from '../protocol/jsonrpc.ts';

/** How the error of a request the upstream never received begins (an aggregate reconnects on it). */
export const UNREACHABLE = 'upstream MCP server unreachable';
/**
 * How the error of one request the upstream answered with a failure begins (an HTTP error status, a body without
 * the answer): that request failed, the connection is fine, so nothing reconnects on it.
 */
export const REFUSED = 'upstream MCP server failed this request';

export interface ChannelCloseInfo {
  reason: string;
  code?: number | null;
  signal?: string | null;
}

export interface Channel {
  /** Spawns or connects; resolves once messages can be sent. */
  start(): Promise<void>;
  /** Queues one message; false when the channel is closed. */
  send(message: JsonRpcMessage): boolean;
  /** Bytes accepted but not yet handed to the server (backpressure). */
  backlog(): number;
  /** Called after `initialize` succeeded (HTTP transports send the version as a header). */
  setProtocolVersion?(version: string): void;
  /** Stops the server (stdio: SIGTERM, then SIGKILL after the grace period). */
  close(graceMs?: number): Promise<void>;
  onmessage?: (message: unknown) => void;
  onclose?: (info: ChannelCloseInfo) => void;
  readonly description: string;
}

/**
 * A decoded message from an HTTP upstream as it may be passed on. One nested deeper than the gateway can
 * re-encode (JSON.stringify overflows the stack a few thousand levels down, and the throw took the whole gateway,
 * every client of every backend, with it) is not: an answer becomes this request's error, anything else is
 * dropped (undefined). A stdio server's lines are checked as text before they are parsed (stdio.ts).
 */
export function forwardable(message: unknown, limit = MAX_SERVER_JSON_DEPTH): unknown {
  if (!valueNestsDeeperThan(message, limit)) return message;
  const id = isObject(message) && !('method' in message) ? message.id : undefined;
  if (typeof id !== 'string' && typeof id !== 'number') return undefined;
  return errorResponse(
    id,
    SERVER_ERROR,
    `${REFUSED}: the answer nests more than ${limit} levels deep; the gateway cannot forward it`,
  );
}
