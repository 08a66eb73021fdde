/**
 * Which client session a server-to-client request or notification belongs to, as pure functions.
 *
 * The stdio wire carries no link between a server request and the client request it serves, so a message is
 * given to the only session with calls in flight. When several have calls in flight the mux refuses rather than
 * guess: nothing is ever sent to a session that did not cause it. Not even narrowed by capability: the shared
 * handshake declares sampling for all, so a call of a session without it may be the one asking, and the
 * capable session would receive that session's prompt. A per-session server has one session, so attribution is
 * exact there.
 */
import { isObject, type Params } from '../protocol/jsonrpc.ts';
import { INPUT_METHODS } from '../protocol/methods.ts';

/** What attribution needs to know of a session. */
export interface Attributable {
  readonly capabilities: Params;
}

export type Attribution<S> = S | 'none' | 'ambiguous';

/**
 * The session a server message belongs to. `busy`: the sessions with calls in flight on the server that sent
 * it; `only`: the one session of a per-session server (exact whatever is in flight).
 */
export function attribute<S>(busy: Iterable<S>, only: S | undefined): Attribution<S> {
  if (only !== undefined) return only;
  let found: S | undefined;
  let count = 0;
  for (const s of busy) {
    if (++count > 1) return 'ambiguous';
    found = s;
  }
  return found ?? 'none';
}

/** What a session can receive, for routing a server request attributed to it. */
export interface RequestTarget extends Attributable {
  readonly kind: string;
  readonly canReceiveRequests: boolean;
}

/**
 * How a server request attributed to a session travels: 'relay' (sent to the client with a gateway id),
 * 'input' (a 2026-07-28 client: an input_required round of the call), or a refusal message for the server.
 * `call`: the session's latest call in flight (its method), if any; `inputs`: whether input flows are on.
 */
export function routeServerRequest(
  session: RequestTarget,
  callMethod: string | undefined,
  method: string,
  capability: string | undefined,
  inputs: boolean,
): 'relay' | 'input' | { refuse: string } {
  if (session.kind === 'modern') {
    if (callMethod === undefined || !INPUT_METHODS.has(callMethod) || !inputs) {
      return {
        refuse:
          `the 2026-07-28 client cannot receive ${method} during ${callMethod ?? 'this request'} ` +
          '(only tools/call, prompts/get and resources/read can ask the client for input)',
      };
    }
  } else if (!session.canReceiveRequests) {
    return { refuse: `the client uses stateless HTTP and cannot receive ${method}` };
  }
  if (capability && !isObject(session.capabilities[capability])) {
    return { refuse: `the client did not declare the ${capability} capability` };
  }
  return session.kind === 'modern' ? 'input' : 'relay';
}

/** The refusal of a server request no single session can be given (see `attribute`). */
export function unattributedProblem(method: string, attribution: 'none' | 'ambiguous'): string {
  return attribution === 'ambiguous'
    ? `mcp-operator gateway: cannot tell which client ${method} is for (several sessions have calls in flight); ` +
        'run this server with sessions.mode perSession'
    : `mcp-operator gateway: no client session is waiting on this server for ${method}`;
}
