/** A client request in flight as the mux's layers see it: the pending-table entry plus what the layers above keep. */
import type { JsonRpcId, JsonRpcResponse, Params } from '../protocol/jsonrpc.ts';
import type { PendingCall } from './pending.ts';

export interface Call extends PendingCall {
  /** tools/call: the tool name and argument keys (audit and metrics; never argument values). */
  tool: string | undefined;
  argKeys: string[] | undefined;
  /** resources/subscribe: the URI, to undo the local record if the server refuses. */
  uri: string | undefined;
  /** A 2026 input method's name or URI (what a retry must repeat). */
  target: unknown;
  /** A 2026-07-28 call the server asked input for. */
  flow: InputFlow | undefined;
}

/** A server request waiting for a 2026-07-28 client's answer. */
export interface InputRequest {
  serverId: JsonRpcId;
  method: string;
  params?: Params;
}

/** A 2026-07-28 call whose server asked for client input (input-flows.ts). */
export interface InputFlow {
  id: string;
  call: Call;
  identity: string;
  method: string;
  /** The tool or prompt name, or the resource URI: a retry must continue the same request. */
  target: unknown;
  round: number;
  seq: number;
  /** Server requests the client has not answered yet, by inputRequests key. */
  open: Map<string, InputRequest>;
  /** An input_required result went out; no exchange is attached until the client retries. */
  parked: boolean;
  /** A round is about to go out (it gathers the server requests of the next few milliseconds). */
  asking: boolean;
  /** performance.now() after which a parked flow gives up. */
  deadline: number;
  /** The server's answer, when it came while the flow was parked. */
  final?: JsonRpcResponse;
}
