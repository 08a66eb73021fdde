/** Refusals more than one era gives: a wrong method, no event stream accepted, a session that cannot be opened. */
import { INVALID_REQUEST, SERVER_ERROR } from '../protocol/jsonrpc.ts';
import { SessionRefused } from '../sessions.ts';
import { acceptedFormats } from './accept.ts';
import { header } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';

export function methodNotAllowed(request: McpRequest, allow: string): void {
  refuse(request, 405, INVALID_REQUEST, 'Method not allowed.', { allow });
}

/** 406 unless the client takes an event stream (GET /mcp, GET /sse); no Accept header at all is taken as yes. */
export function refuseUnlessSse(request: McpRequest): boolean {
  const formats = acceptedFormats(header(request.req, 'accept'));
  if (formats === null || formats.sse) return false;
  refuse(request, 406, INVALID_REQUEST, 'Not Acceptable: the client must accept text/event-stream');
  return true;
}

/** Answers a SessionRefused (limits, drain) with its status and a Retry-After; anything else is a bug. */
export function refuseSession(request: McpRequest, err: unknown): void {
  if (!(err instanceof SessionRefused)) throw err;
  refuse(request, err.status, SERVER_ERROR, err.message, { 'retry-after': '5' }, { reason: err.reason });
}
