/** Writing answers: JSON bodies and JSON-RPC errors, and reading one request header. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { errorResponse, isObject, type JsonRpcId } from '../protocol/jsonrpc.ts';

const NO_HEADERS: Readonly<Record<string, string>> = Object.freeze({});

/** The first value of a request header (node joins most repeated headers; a few arrive as arrays). */
export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = NO_HEADERS,
): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** A JSON-RPC error answer; `id`: the request it answers, null when that cannot be known (JSON-RPC 2.0 §5). */
export function sendRpcError(
  res: ServerResponse,
  id: JsonRpcId | null,
  status: number,
  code: number,
  message: string,
  headers: Readonly<Record<string, string>> = NO_HEADERS,
  data?: unknown,
): void {
  sendJson(res, status, errorResponse(id, code, message, data), headers);
}

/** The id of a body that is one request with a valid id (JSON-RPC 2.0 §5: else null, the id cannot be known). */
export function singleRequestId(parsed: unknown): JsonRpcId | null {
  // The one-message case of requestIdsOf, without building its array on every POST.
  if (!isObject(parsed) || typeof parsed.method !== 'string') return null;
  const id = parsed.id;
  return typeof id === 'string' || (typeof id === 'number' && Number.isFinite(id)) ? id : null;
}
