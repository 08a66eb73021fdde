/**
 * Server-to-client requests relayed to a 2025-era or SSE client (sampling, elicitation, roots), under gateway
 * ids (`gw-N`) so two servers' ids cannot collide on one client and a client cannot answer another's request.
 * The mirror of the pending table, in the other direction; it ends when the client answers, the client goes,
 * the server cancels or the server fails.
 */
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  isObject,
  type JsonRpcId,
  type JsonRpcNotification,
  type JsonRpcResponse,
} from '../protocol/jsonrpc.ts';
import type { ClientSession } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

const NOT_AN_OBJECT = 'the client answered with a result that is not an object (MCP results are objects)';

interface Relayed {
  session: ClientSession;
  upstream: MuxUpstream;
  serverId: JsonRpcId;
}

export class RelayedRequests {
  private next = 1;
  private readonly byId = new Map<string, Relayed>();

  get size(): number {
    return this.byId.size;
  }

  /** The id the client sees for this server request. */
  open(session: ClientSession, upstream: MuxUpstream, serverId: JsonRpcId): string {
    const id = `gw-${this.next++}`;
    this.byId.set(id, { session, upstream, serverId });
    return id;
  }

  /** Forgets a request that could not be delivered. */
  drop(id: string): void {
    this.byId.delete(id);
  }

  /** The client answered: the answer goes to the server under its own id. False: not this session's request. */
  answer(session: ClientSession, response: JsonRpcResponse): boolean {
    const key = typeof response.id === 'string' ? response.id : String(response.id);
    const r = this.byId.get(key);
    if (!r || r.session !== session) return false;
    this.byId.delete(key);
    // Every MCP result is an object: SDK servers drop any other as unreadable, and the call that asked would then
    // wait out its timeout. The server hears an error instead, and its call goes on or fails at once.
    if ('result' in response && !isObject(response.result)) {
      r.upstream.send(errorResponse(r.serverId, INVALID_PARAMS, NOT_AN_OBJECT));
      return true;
    }
    r.upstream.send({ ...response, id: r.serverId });
    return true;
  }

  /** The server cancelled one of its requests: the client is told under the id it knows. */
  serverCancelled(upstream: MuxUpstream, note: JsonRpcNotification): void {
    const serverId = note.params?.requestId;
    for (const [id, r] of this.byId) {
      if (r.serverId !== serverId || r.upstream !== upstream) continue;
      this.byId.delete(id);
      r.session.deliver({ ...note, params: { ...note.params, requestId: id } });
    }
  }

  /** The session ended: each of its open requests gets an error, so the server does not wait on it. */
  sessionGone(session: ClientSession): void {
    for (const [id, r] of this.byId) {
      if (r.session !== session) continue;
      this.byId.delete(id);
      r.upstream.send(errorResponse(r.serverId, INTERNAL_ERROR, 'the client session closed'));
    }
  }

  /** The server failed: its requests are cancelled towards their clients. */
  upstreamFailed(upstream?: MuxUpstream): void {
    for (const [id, r] of this.byId) {
      if (upstream !== undefined && r.upstream !== upstream) continue;
      this.byId.delete(id);
      r.session.deliver({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: id } });
    }
  }
}
