/** One request to the MCP port as the gates and eras see it. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JsonRpcId } from '../protocol/jsonrpc.ts';
import { sendRpcError } from './reply.ts';

export interface McpRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** `/mcp`, `/sse` or `/messages`: the path without the base path and the query. */
  readonly path: string;
  /** The base path when the request came under it, else ''. */
  readonly prefix: string;
  /** The query string without its '?' ('' when none). */
  readonly query: string;
  /** Who the client is (set by the auth gate): token fingerprint, OIDC subject or address. */
  identity: string;
  /** Mcp-Session-Id, or the legacy `sessionId` query parameter. */
  sessionId: string | undefined;
  /** The id of the single request the body holds, once it is read: errors about that body answer it. */
  requestId: JsonRpcId | null;
}

/** A JSON-RPC error about this request, answering its body's request by id once the body was read. */
export function refuse(
  request: McpRequest,
  status: number,
  code: number,
  message: string,
  headers?: Readonly<Record<string, string>>,
  data?: unknown,
): void {
  sendRpcError(request.res, request.requestId, status, code, message, headers, data);
}
