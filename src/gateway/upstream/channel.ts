/** A raw message pipe to an MCP server: a child's stdio or an HTTP client transport. */
import type { JsonRpcMessage } from '../protocol/jsonrpc.ts';

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
