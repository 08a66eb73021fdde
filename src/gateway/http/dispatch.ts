/** Hands the messages of one body to a session's router. */

import type { Mux } from '../mux/mux.ts';
import type { ClientSession, Sink } from '../mux/session.ts';
import type { JsonRpcMessage, JsonRpcNotification, JsonRpcRequest, JsonRpcResponse } from '../protocol/jsonrpc.ts';

/** For bodies without requests: nothing will answer them. */
export const NO_SINK: Sink = { related: () => false, respond() {} };

export function dispatch(session: ClientSession, router: Mux, messages: JsonRpcMessage[], sink: Sink): void {
  // Any message but initialize confirms the session (see ClientSession.confirmed).
  if (!session.confirmed) {
    for (const m of messages) {
      if (!('method' in m) || m.method !== 'initialize') {
        session.confirmed = true;
        break;
      }
    }
  }
  for (const m of messages) {
    if ('method' in m) {
      if ('id' in m) router.handleRequest(session, m as JsonRpcRequest, sink);
      else router.handleNotification(session, m as JsonRpcNotification);
    } else router.handleResponse(session, m as JsonRpcResponse);
  }
}
