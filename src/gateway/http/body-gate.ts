/**
 * The body gates of the POST endpoints, in order: content type and content coding (415), size (413, with a lingering close), JSON
 * (400 / -32700), batch size, nesting depth and requests without an id (400 / -32600), then JSON-RPC shape (400 /
 * -32600).
 */
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import {
  errorResponse,
  INVALID_REQUEST,
  invalidMessageReason,
  isNotificationMethod,
  isObject,
  type JsonRpcMessage,
  type JsonRpcResponse,
  kindOf,
  MAX_BATCH_MESSAGES,
  MAX_JSON_DEPTH,
  nestsDeeperThan,
  PARSE_ERROR,
  requestIdsOf,
} from '../protocol/jsonrpc.ts';
import { lingerAfterRefusal, lingerLimits, readBody } from './body.ts';
import { header, sendJson } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';

const JSON_CONTENT_TYPE = /^application\/json\s*(;|$)/i;

/** Whether a Content-Type names JSON (parameters such as charset allowed). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return JSON_CONTENT_TYPE.test(contentType ?? '');
}

/**
 * Why a body's Content-Encoding is refused, or undefined for none (or `identity`). The gateway does not inflate
 * request bodies (a gzip bomb is cheap to send): a compressed body was read as JSON text and refused with a parse
 * error that sent the client looking at its JSON. 415 naming the coding is RFC 7694's answer.
 */
export function encodingProblem(encoding: string | undefined): string | undefined {
  if (encoding === undefined || /^\s*(identity\s*)?$/i.test(encoding)) return undefined;
  const shown = clip(JSON.stringify(encoding), 64);
  return `Unsupported Media Type: Content-Encoding ${shown} is not accepted; send the body uncompressed`;
}

/**
 * The 400 answer for a parsed body refused as a whole, or undefined when it passes: a batch past
 * MAX_BATCH_MESSAGES (one answer, null id: an answer per request would be the amplification refused), or a
 * message nested past MAX_JSON_DEPTH (checked on the raw bytes before anything walks it: stringifying it for the
 * server would overflow the stack; each request answered by its id).
 */
export function bodyRefusal(parsed: unknown, raw: Uint8Array): JsonRpcResponse | JsonRpcResponse[] | undefined {
  if (Array.isArray(parsed) && parsed.length > MAX_BATCH_MESSAGES) {
    const message = `Invalid Request: the batch holds ${parsed.length} messages, more than the gateway's limit of ${MAX_BATCH_MESSAGES}; send them in smaller batches`;
    const data = { reason: 'batch_too_large', maxMessages: MAX_BATCH_MESSAGES, messages: parsed.length };
    return errorResponse(null, INVALID_REQUEST, message, data);
  }
  if (nestsDeeperThan(raw, MAX_JSON_DEPTH)) return tooDeepAnswer(parsed);
  return requestWithoutIdAnswer(parsed);
}

/**
 * A method MCP does not name `notifications/...`, sent without an id: JSON-RPC would take it as a notification,
 * and passed on as one, a tools/call went past the tool policy, the rate limits and the audit (none answer a
 * notification) to a server that may run it. Refused as a whole, like the other body gates.
 */
function requestWithoutIdAnswer(parsed: unknown): JsonRpcResponse | undefined {
  for (const m of Array.isArray(parsed) ? parsed : [parsed]) {
    if (!isObject(m) || typeof m.method !== 'string' || 'id' in m || isNotificationMethod(m.method)) continue;
    const shown = clip(JSON.stringify(m.method), 64);
    const message = `Invalid Request: ${shown} has no id; a message without one is a notification, and MCP's notifications are named notifications/...; send the request with an id`;
    return errorResponse(null, INVALID_REQUEST, message, { reason: 'request_without_id' });
  }
  return undefined;
}

/** -32600 for each request of a message nested too deep (refused before its method is looked at). */
function tooDeepAnswer(parsed: unknown): JsonRpcResponse | JsonRpcResponse[] {
  const message = `Invalid Request: the message nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (the gateway's limit); send flatter arguments`;
  const data = { reason: 'too_deep', maxDepth: MAX_JSON_DEPTH };
  const ids = requestIdsOf(parsed);
  if (ids.length === 0) return errorResponse(null, INVALID_REQUEST, message, data);
  const answers = ids.map((id) => errorResponse(id, INVALID_REQUEST, message, data));
  return Array.isArray(parsed) ? answers : (answers[0] as JsonRpcResponse);
}

/** The messages of a body, or undefined when it is empty or any entry is not a JSON-RPC 2.0 message. */
export function jsonRpcMessages(parsed: unknown): JsonRpcMessage[] | undefined {
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0) return undefined;
  for (const m of list) if (kindOf(m) === 'invalid') return undefined;
  return list as JsonRpcMessage[];
}

/** Reads and parses the body of a POST; undefined once refused (or when the client left before sending it). */
export async function readJsonBody(request: McpRequest, maxBodyBytes: number, log: Logger): Promise<unknown> {
  const { req, res } = request;
  if (!isJsonContentType(header(req, 'content-type'))) {
    req.resume();
    refuse(request, 415, INVALID_REQUEST, 'Unsupported Media Type: Content-Type must be application/json');
    return undefined;
  }
  const encoding = encodingProblem(header(req, 'content-encoding'));
  if (encoding !== undefined) {
    req.resume();
    refuse(request, 415, INVALID_REQUEST, encoding, { 'accept-encoding': 'identity' });
    return undefined;
  }
  const body = await readBody(req, maxBodyBytes);
  if (!body.ok && body.status === 'aborted') {
    log.debug('the client closed the connection before its body was read');
    return undefined;
  }
  if (!body.ok) {
    lingerAfterRefusal(req, lingerLimits(maxBodyBytes));
    refuse(request, 413, INVALID_REQUEST, `Payload Too Large: the limit is ${maxBodyBytes} bytes`, {
      connection: 'close',
    });
    return undefined;
  }
  let parsed: unknown;
  try {
    const text = body.body.toString('utf8');
    // A leading byte order mark (a body file saved by Windows tools, sent with curl -d @file) is not JSON, but
    // RFC 8259 (8.1) lets a parser ignore it: it was a parse error that pointed at nothing the client could see.
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    refuse(request, 400, PARSE_ERROR, 'Parse error: the body is not valid JSON');
    return undefined;
  }
  const refusal = bodyRefusal(parsed, body.body);
  if (refusal) {
    sendJson(res, 400, refusal);
    return undefined;
  }
  return parsed;
}

/** The JSON-RPC messages of a parsed body, or undefined once answered 400. */
export function messagesOr400(request: McpRequest, parsed: unknown): JsonRpcMessage[] | undefined {
  const messages = jsonRpcMessages(parsed);
  if (!messages) {
    const list = Array.isArray(parsed) ? parsed : [parsed];
    const reason = list.length === 0 ? 'the batch is empty' : list.map(invalidMessageReason).find(Boolean);
    refuse(request, 400, INVALID_REQUEST, `Invalid Request: not a JSON-RPC 2.0 message${reason ? `: ${reason}` : ''}`);
  }
  return messages;
}
