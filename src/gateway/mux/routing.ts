/**
 * Where a client request goes when a mux has several servers behind it. The mux asks its routing once per
 * request: the server and the params to send there (an exposed name mapped back to the server's own), a result
 * the routing answers itself (a merged list), or a refusal (a denied or unknown name, a server that is down).
 * One server is the trivial routing (`singleRouting`); the aggregate (gateway/aggregate/) is the other.
 */
import type { JsonRpcNotification, JsonRpcRequest, Params } from '../protocol/jsonrpc.ts';
import type { MuxUpstream } from './upstream.ts';

export interface Refusal {
  code: number;
  message: string;
  /** The tools/call audit outcome (denied, unknown_tool, upstream_failed, ...). */
  outcome: string;
  /** The backend the refused name belongs to, when it has one (audit, metrics). */
  backend?: string;
  data?: unknown;
}

export type Route =
  /**
   * Forward to this server; `params` replaces the request's own when the routing rewrote them. `onBehalfOf`:
   * the server is a gateway that authenticates this one, so a tools/call names the end client to it.
   */
  | { to: MuxUpstream; params?: Params; backend?: string; onBehalfOf?: boolean }
  /** Answered by the routing itself (a merged list, a fanned-out setLevel). */
  | { answer: unknown }
  | { refuse: Refusal };

export interface MuxRouting {
  route(request: JsonRpcRequest): Route;
  /** The server a resource URI belongs to (subscriptions go there); undefined: none holds it now. */
  uriOwner(uri: string): MuxUpstream | undefined;
  /**
   * A server notification the routing handles itself (an aggregate re-reads a backend's lists on its
   * list_changed and tells clients only when the merged lists changed); true: the mux does nothing more.
   */
  serverNotification?(upstream: MuxUpstream, note: JsonRpcNotification): boolean;
  /** The backend an exposed tool name belongs to, for the audit of a call refused before routing. */
  toolBackend?(name: string): string | undefined;
}

/** One server: every request goes to it, unchanged. */
export function singleRouting(upstream: MuxUpstream): MuxRouting {
  const route: Route = { to: upstream };
  return { route: () => route, uriOwner: () => upstream };
}
