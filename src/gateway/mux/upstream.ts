/**
 * The one MCP server connection as the mux uses it: send, the gateway's own requests, readiness and the cached
 * handshake. `upstream/upstream.ts` implements it; the mux unit tests use an in-memory one. A mux over many
 * servers holds one of these per server; every call and relayed server request records the one it belongs to.
 */
import type { JsonRpcMessage, JsonRpcResponse, Params } from '../protocol/jsonrpc.ts';
import type { ChannelCloseInfo } from '../upstream/channel.ts';
import type { InitializeResult, UpstreamState } from '../upstream/upstream.ts';

export interface MuxUpstream {
  readonly ready: boolean;
  /** An aggregate's backend name: errors about this server name it. */
  readonly label?: string;
  /** How often the server was restarted (a restart > 0 going ready replays subscriptions and the log level). */
  readonly restarts: number;
  readonly initResult?: InitializeResult;
  readonly lastExit?: ChannelCloseInfo;
  /** Whether start() was called (per-session mode starts the server with the client's own handshake). */
  readonly everStarted: boolean;
  /** Server messages that are not answers to the gateway's own requests (one listener: the mux). */
  onmessage?: (message: JsonRpcMessage) => void;
  onstate?: (state: UpstreamState, info?: ChannelCloseInfo) => void;
  /** False when the server is not connected; throws when the message cannot be encoded. */
  send(message: JsonRpcMessage): boolean;
  /** The gateway's own request (never visible to clients); always resolves, errors as JSON-RPC errors. */
  request(method: string, params: Params | undefined, timeoutMs: number): Promise<JsonRpcResponse>;
  whenReady(timeoutMs?: number): Promise<void>;
  /** Bytes queued towards the server. */
  backlog(): number;
  unavailableReason(): string;
  start(initParams: Params): Promise<void>;
}
