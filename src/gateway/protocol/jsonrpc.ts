/** JSON-RPC 2.0 shapes, classification and helpers shared by every gateway path (no MCP revision facts: versions.ts). */

export type JsonRpcId = string | number;
export type Params = Record<string, unknown>;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id: JsonRpcId;
  method: string;
  params?: Params;
}

export interface JsonRpcNotification {
  jsonrpc: '2.0';
  method: string;
  params?: Params;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export interface JsonRpcResponse {
  jsonrpc: '2.0';
  id: JsonRpcId | null;
  result?: unknown;
  error?: JsonRpcErrorObject;
}

export type JsonRpcMessage = JsonRpcRequest | JsonRpcNotification | JsonRpcResponse;

export const PARSE_ERROR = -32700;
export const INVALID_REQUEST = -32600;
export const METHOD_NOT_FOUND = -32601;
export const INVALID_PARAMS = -32602;
export const INTERNAL_ERROR = -32603;
/** Implementation-defined server errors (-32000..-32099). */
export const SERVER_ERROR = -32000;
export const SESSION_NOT_FOUND = -32001;
export const UPSTREAM_UNAVAILABLE = -32002;
export const RATE_LIMITED = -32029;

export type MessageKind = 'request' | 'notification' | 'response' | 'invalid';

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * A string, or a finite number; an integer only up to 2^53-1 in size: past that, JSON.parse has already rounded it
 * (9007199254740993 reads as ...992), so its answer would carry an id the client never sent.
 */
function isId(value: unknown): value is JsonRpcId {
  return (
    typeof value === 'string' ||
    (typeof value === 'number' && Number.isFinite(value) && (!Number.isInteger(value) || Number.isSafeInteger(value)))
  );
}

/** Why a decoded value is not a JSON-RPC 2.0 message (said in the 400), or undefined when it is one. */
export function invalidMessageReason(value: unknown): string | undefined {
  if (kindOf(value) !== 'invalid') return undefined;
  if (!isObject(value)) return 'each message must be a JSON object';
  if (value.jsonrpc !== '2.0') return 'jsonrpc must be "2.0"';
  if ('id' in value && !isId(value.id) && !(value.id === null && typeof value.method !== 'string')) {
    return 'the id must be a string or a number (an integer of at most 2^53-1: larger ones lose digits in JSON; send it as a string)';
  }
  if (typeof value.method === 'string') return 'params must be an object';
  if ('error' in value) return 'error must be an object';
  return 'a message needs a method (a request or notification), or a result or an error (a response)';
}

/** Classifies one decoded JSON value as a JSON-RPC message without trusting its shape. */
export function kindOf(value: unknown): MessageKind {
  if (!isObject(value) || value.jsonrpc !== '2.0') return 'invalid';
  if (typeof value.method === 'string') {
    if (value.params !== undefined && !isObject(value.params) && !Array.isArray(value.params)) return 'invalid';
    if ('id' in value) return isId(value.id) ? 'request' : 'invalid';
    return 'notification';
  }
  if ('result' in value || 'error' in value) {
    if (!isId(value.id) && value.id !== null) return 'invalid';
    if ('error' in value && !isObject(value.error)) return 'invalid';
    return 'response';
  }
  return 'invalid';
}

/** MCP names every notification `notifications/...`: any other method sent without an id is a request missing it. */
export function isNotificationMethod(method: string): boolean {
  return method.startsWith('notifications/');
}

/**
 * A server message meant as an answer (a usable id, no method) as the gateway passes it on: unchanged when it is
 * a well-formed response; when malformed (no "jsonrpc", no result or error, an error that is not an integer code
 * and a string message), a -32603 for that id saying what was wrong. Skipped, it had left the call waiting for the
 * request timeout, and a client SDK fails on an error object of the wrong shape. Undefined when not an answer.
 */
export function serverAnswer(value: unknown): JsonRpcResponse | undefined {
  if (!isObject(value) || typeof value.method === 'string' || !isId(value.id)) return undefined;
  const error = value.error;
  const problem =
    kindOf(value) !== 'response'
      ? invalidMessageReason(value)
      : error !== undefined && (!isObject(error) || !Number.isInteger(error.code) || typeof error.message !== 'string')
        ? 'error must hold an integer code and a string message'
        : undefined;
  if (problem === undefined) return value as unknown as JsonRpcResponse;
  return errorResponse(value.id, INTERNAL_ERROR, `Internal error: the MCP server sent an invalid answer: ${problem}`);
}

export function errorResponse(id: JsonRpcId | null, code: number, message: string, data?: unknown): JsonRpcResponse {
  const error: JsonRpcErrorObject = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: '2.0', id, error };
}

export function resultResponse(id: JsonRpcId, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result };
}

/** `params._meta.progressToken`, when the request asked for progress. */
export function progressTokenOf(params: Params | undefined): JsonRpcId | undefined {
  const meta = params?._meta;
  if (!isObject(meta)) return undefined;
  const token = meta.progressToken;
  return isId(token) ? token : undefined;
}

/** The `_meta` key that ties a request to a task (MCP 2025-11-25 tasks). */
const RELATED_TASK_META_KEY = 'io.modelcontextprotocol/related-task';

/**
 * What is wrong with a request's `params._meta`, or undefined. SDK servers check this part of every message before
 * anything else and drop a request that fails it, unanswered, so it would stay in flight until the request
 * timeout: `_meta` is an object, its `progressToken` a string or a number, its related task `{taskId: string}`.
 */
export function metaProblem(params: Params | undefined): string | undefined {
  if (params === undefined || !('_meta' in params)) return undefined;
  const meta = params._meta;
  if (!isObject(meta)) return 'Invalid params: params._meta must be an object';
  if ('progressToken' in meta && !isId(meta.progressToken)) {
    return 'Invalid params: params._meta.progressToken must be a string or a number';
  }
  const task = meta[RELATED_TASK_META_KEY];
  if (task !== undefined && !(isObject(task) && typeof task.taskId === 'string')) {
    return `Invalid params: params._meta["${RELATED_TASK_META_KEY}"] must be an object with a string taskId`;
  }
  return undefined;
}

/**
 * The deepest nesting of arrays and objects the gateway accepts in one client message (the envelope counts:
 * a tools/call's arguments start at level 3). serde_json, under Rust servers, refuses past 128 by default;
 * real tool arguments stay in the tens. JSON.parse is iterative and takes any depth, but JSON.stringify,
 * structuredClone and schema validators recurse and overflow the stack a few thousand levels down.
 */
export const MAX_JSON_DEPTH = 128;

/** Server messages may nest deeper than clients' (MAX_JSON_DEPTH), up to what the gateway can re-encode. */
export const MAX_SERVER_JSON_DEPTH = 1000;

/**
 * Whether a decoded value nests arrays and objects deeper than `limit` (a top-level `{}` is level 1), walked
 * without recursion, so any depth is safe to ask about; a message of few, large strings costs a few steps.
 */
export function valueNestsDeeperThan(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  const stack: Array<{ v: object; depth: number }> = [{ v: value, depth: 1 }];
  for (let top = stack.pop(); top; top = stack.pop()) {
    if (top.depth > limit) return true;
    for (const child of Array.isArray(top.v) ? top.v : Object.values(top.v)) {
      if (typeof child === 'object' && child !== null) stack.push({ v: child, depth: top.depth + 1 });
    }
  }
  return false;
}

/**
 * The most messages one batch may hold. Each request of a batch is answered in the one HTTP answer, so a small
 * body of cheap requests (5,000 tools/list: 250 KB) became an answer 200 times its size (51 MB) held in memory,
 * and a client that does not read it kept it there. No SDK sends batches (the 2025-06-18 revision removed them);
 * the ones hand-written clients send hold a few messages.
 */
export const MAX_BATCH_MESSAGES = 100;

/**
 * Whether JSON text nests arrays and objects deeper than `limit`: one pass over the bytes that skips strings
 * (and their escapes), no parse and no recursion; about 2 ns a byte. Text that is not JSON gives a meaningless
 * answer: parse it too.
 */
export function nestsDeeperThan(text: Uint8Array, limit: number): boolean {
  // Deeper than `limit` takes more than `limit` opening brackets.
  if (text.length <= limit) return false;
  let depth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text[i];
    if (c === 0x22) {
      for (i++; i < n; i++) {
        const d = text[i];
        if (d === 0x5c) i++;
        else if (d === 0x22) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limit) return true;
    } else if (c === 0x5d || c === 0x7d) depth--;
  }
  return false;
}

/** The ids of the requests among decoded messages (one message or a batch), for errors that answer them. */
export function requestIdsOf(parsed: unknown): JsonRpcId[] {
  const ids: JsonRpcId[] = [];
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    if (isObject(m) && typeof m.method === 'string' && isId(m.id)) ids.push(m.id);
  }
  return ids;
}
