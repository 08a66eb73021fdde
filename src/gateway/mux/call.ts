/** A client request in flight as the mux's layers see it: the pending-table entry plus what the layers above keep. */
import { AGGREGATE_IDENTITY_PREFIX, ON_BEHALF_OF_META } from '../../contract/aggregate-credential.ts';
import {
  isObject,
  type JsonRpcId,
  type JsonRpcRequest,
  type JsonRpcResponse,
  type Params,
  progressTokenOf,
} from '../protocol/jsonrpc.ts';
import { INPUT_METHODS, targetOf } from '../protocol/methods.ts';
import type { PendingCall } from './pending.ts';
import type { ClientSession, Sink } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

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
  /** The aggregate's backend the call went to (audit, metrics). */
  backend: string | undefined;
  /** The end client an aggregate called for (its audit), when the caller is an aggregate. */
  onBehalfOf: string | undefined;
  /** An aggregate's call to a backend that authenticates it: the end client goes along (sentParams). */
  stampsClient: boolean;
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

/** A call about to be sent (the pending table gives it its id). Every field is set, so every call has one shape. */
export function newCall(
  upstream: MuxUpstream,
  session: ClientSession,
  request: JsonRpcRequest,
  sink: Sink,
  timeoutMs: number,
): Call {
  const method = request.method;
  const params = request.params;
  const now = performance.now();
  const isToolCall = method === 'tools/call' && params !== undefined;
  return {
    id: 0,
    upstream,
    session,
    clientId: request.id,
    method,
    started: now,
    deadline: now + timeoutMs,
    sink,
    clientToken: progressTokenOf(params),
    gatewayToken: undefined,
    tool: isToolCall && typeof params.name === 'string' ? params.name : undefined,
    argKeys: isToolCall ? (isObject(params.arguments) ? Object.keys(params.arguments) : []) : undefined,
    uri: method === 'resources/subscribe' && typeof params?.uri === 'string' ? params.uri : undefined,
    target: session.kind === 'modern' && INPUT_METHODS.has(method) ? targetOf(request) : undefined,
    flow: undefined,
    backend: undefined,
    onBehalfOf: onBehalfOf(session, params),
    stampsClient: false,
  };
}

/**
 * The end client an aggregate names in a call's `_meta` (contract/aggregate-credential.ts): believed only when
 * the caller authenticated as an aggregate; anyone else's claim is ignored (and stripped by {@link sentParams}).
 */
export function onBehalfOf(session: ClientSession, params: Params | undefined): string | undefined {
  if (!session.identity.startsWith(AGGREGATE_IDENTITY_PREFIX)) return undefined;
  const meta = params?._meta;
  const claimed = isObject(meta) ? meta[ON_BEHALF_OF_META] : undefined;
  return typeof claimed === 'string' ? claimed.slice(0, 256) : undefined;
}

/**
 * The params that go on to the server: never with a client's on-behalf-of claim; with this gateway's own when
 * it is an aggregate sending a tools/call to a backend that authenticates it (the end client, or the one an
 * aggregate in front named). Other servers are not told who the client is.
 */
export function sentParams(call: Call, params: Params | undefined): Params | undefined {
  const meta = params?._meta;
  const claimed = isObject(meta) && ON_BEHALF_OF_META in meta;
  const stamp =
    call.stampsClient && call.method === 'tools/call' ? (call.onBehalfOf ?? call.session.identity) : undefined;
  if (!claimed && stamp === undefined) return params;
  const { [ON_BEHALF_OF_META]: _claim, ...rest } = isObject(meta) ? meta : {};
  const next = stamp === undefined ? rest : { ...rest, [ON_BEHALF_OF_META]: stamp };
  const { _meta: _old, ...others } = params ?? {};
  return Object.keys(next).length ? { ...others, _meta: next } : others;
}
