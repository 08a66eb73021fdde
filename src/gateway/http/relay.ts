/**
 * The replica relay: with a session secret, ids (and 2026 requestStates) name the replica that owns them, so a
 * request that reaches another replica is relayed there pod-to-pod, streams included, instead of answered "not
 * found". No sticky sessions needed.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import { errorResponse, INVALID_PARAMS, type JsonRpcId, SESSION_NOT_FOUND } from '../protocol/jsonrpc.ts';
import type { SessionManager } from '../sessions.ts';
import { sendJson, sendRpcError } from './reply.ts';
import type { McpRequest } from './request.ts';

/** Set on a relayed request: the replica it reaches serves it itself (a relay is never relayed again). */
export const RELAYED_HEADER = 'x-mcp-gateway-forwarded';
/** The client identity a relaying replica vouches for (signed with the session secret). */
export const RELAYED_IDENTITY_HEADER = 'x-mcp-gateway-client';

export function isRelayed(req: IncomingMessage): boolean {
  return Boolean(req.headers[RELAYED_HEADER]);
}

/** `host:port` (IPv6 in brackets) or a bare host (the MCP port) as what http.request takes. */
export function replicaEndpoint(owner: string): { host: string; port: number } {
  const colon = owner.lastIndexOf(':');
  const [host, port] = colon >= 0 ? [owner.slice(0, colon), owner.slice(colon + 1)] : [owner, '8080'];
  return { host: host.replace(/^\[|\]$/g, ''), port: Number(port) };
}

export interface ReplicaRelayOptions {
  sessions: SessionManager;
  /** Whether to vouch for the client's identity (anonymous clients: the owner cannot see their address). */
  vouch: boolean;
  log: Logger;
}

/** A 2026 retry whose body was already read: it is sent as read. */
export interface ReadRetry {
  body: string;
  id: JsonRpcId | null;
}

export class ReplicaRelay {
  private readonly o: ReplicaRelayOptions;

  constructor(options: ReplicaRelayOptions) {
    this.o = options;
  }

  /** Relays the request when its session lives on another replica; true when it did. */
  relaysSession(request: McpRequest): boolean {
    const { sessionId, req } = request;
    if (sessionId === undefined || this.o.sessions.get(sessionId) || isRelayed(req)) return false;
    const owner = this.o.sessions.ids.remoteOwner(sessionId);
    if (!owner) return false;
    this.relay(request, owner);
    return true;
  }

  /** Relays the request to `owner`, streams included. `retry`: a 2026 retry whose body was already read. */
  relay(request: McpRequest, owner: string, retry?: ReadRetry): void {
    const { req, res, identity } = request;
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, [RELAYED_HEADER]: '1' };
    delete headers[RELAYED_IDENTITY_HEADER];
    const vouch = this.o.vouch ? this.o.sessions.ids.vouch(identity) : undefined;
    if (vouch) headers[RELAYED_IDENTITY_HEADER] = vouch;
    if (retry) {
      delete headers['transfer-encoding'];
      headers['content-length'] = String(Buffer.byteLength(retry.body));
    }
    const { host, port } = replicaEndpoint(owner);
    const upstream = httpRequest({ host, port, method: req.method, path: req.url, headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      res.socket?.setNoDelay(true);
      upRes.pipe(res);
    });
    upstream.on('error', (err) => {
      this.o.log.warn({ owner, err: clip(err.message) }, 'forwarding to the owning replica failed');
      relayFailed(res, retry);
    });
    res.on('close', () => upstream.destroy());
    if (retry) upstream.end(retry.body);
    else req.pipe(upstream);
  }
}

function relayFailed(res: ServerResponse, retry: ReadRetry | undefined): void {
  if (res.headersSent) res.end();
  else if (retry) {
    const message = 'Unknown requestState: the replica that held this request is gone; call again without it';
    sendJson(res, 200, errorResponse(retry.id, INVALID_PARAMS, message, { reason: 'invalid_request_state' }));
  } else sendRpcError(res, null, 404, SESSION_NOT_FOUND, 'Session not found (its replica is gone)');
}
