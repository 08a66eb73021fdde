/**
 * What each way a call can end without an answer means, as data: the tools/call outcome (metrics and audit),
 * the reason the server is told in notifications/cancelled, and the error the client's exchange gets.
 */

import { clip } from '../clip.ts';
import {
  errorResponse,
  INTERNAL_ERROR,
  type JsonRpcId,
  type JsonRpcResponse,
  SERVER_ERROR,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import type { ChannelCloseInfo } from '../upstream/channel.ts';
import type { Ending, PendingCall } from './pending.ts';

export interface EndingRule {
  outcome: string;
  errorCode?: number;
  /** The server is told to stop working on the call, with this reason. */
  cancel?: string;
}

export const ENDINGS: Readonly<Record<Exclude<Ending, 'answered'>, EndingRule>> = {
  timeout: { outcome: 'timeout', cancel: 'gateway request timeout' },
  // The client's own notifications/cancelled goes to the server (Mux.handleNotification), with its reason.
  cancelled: { outcome: 'cancelled' },
  client_gone: { outcome: 'cancelled', cancel: 'client session closed' },
  upstream_failed: { outcome: 'upstream_failed', errorCode: INTERNAL_ERROR },
  unsent: { outcome: 'upstream_failed' },
  unencodable: { outcome: 'error', errorCode: INTERNAL_ERROR },
  input_timeout: { outcome: 'input_timeout', cancel: 'the client did not retry with the input responses' },
};

/**
 * What the client's exchange is told when its call ends without an answer; nothing when the client cancelled
 * it or is not waiting (a parked input flow).
 */
export function replyFor(
  call: PendingCall,
  ending: Ending,
  message: string | undefined,
  requestTimeoutMs: number,
): JsonRpcResponse | undefined {
  switch (ending) {
    case 'timeout':
      return errorResponse(
        call.clientId,
        INTERNAL_ERROR,
        `the MCP server did not answer within ${Math.round(requestTimeoutMs / 1000)} s`,
      );
    case 'client_gone':
      // A POST still waiting on this request gets an answer instead of hanging.
      return errorResponse(call.clientId, SERVER_ERROR, 'the session was closed');
    case 'upstream_failed':
    case 'unencodable':
      return errorResponse(call.clientId, INTERNAL_ERROR, message ?? 'the MCP server failed');
    case 'unsent':
      return errorResponse(call.clientId, UPSTREAM_UNAVAILABLE, call.upstream.unavailableReason());
    default:
      return undefined;
  }
}

/** What calls in flight are told when their server stopped, naming how it ended. */
export function upstreamFailedMessage(exit: ChannelCloseInfo | undefined): string {
  const how = exit?.signal ? `killed by ${exit.signal}` : exit?.code != null ? `exit code ${exit.code}` : exit?.reason;
  return `the MCP server stopped while handling this request (${how ?? 'unknown'}); the gateway is restarting it`;
}

export const MCP_PARAMS_PROBLEM = 'Invalid params: params must be an object (MCP requests take named parameters)';

/** The refusal of a request whose id is that of a request still in flight on the same session. */
export function duplicateIdProblem(id: JsonRpcId): string {
  const shown = clip(JSON.stringify(id), 64);
  return `Invalid Request: id ${shown} is already used by a request in flight on this session; give each request its own id`;
}
