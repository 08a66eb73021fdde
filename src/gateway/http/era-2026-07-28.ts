/**
 * The 2026-07-28 stateless era on POST /mcp: no session; the SDK (loaded on first use, see sdk-2026-loader.ts)
 * classifies and validates the request, and serves it through the shared router. A retry whose input flow lives
 * on another replica is relayed there.
 */

import type { RequestStateCodec } from '../input.ts';
import type { Mux } from '../mux/mux.ts';
import {
  isObject,
  type JsonRpcId,
  type JsonRpcMessage,
  RATE_LIMITED,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import type { ClientLimit } from './client-limit.ts';
import type { ListenLimit } from './listen-limit.ts';
import { isRelayed, type ReplicaRelay } from './relay.ts';
import { header } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';
import type { LazySdk2026 } from './sdk-2026-loader.ts';

export interface Stateless2026Options {
  sdk2026: LazySdk2026;
  sharedRouter: Mux;
  requestStates: RequestStateCodec;
  relay: ReplicaRelay;
  limit: ClientLimit;
  listens: ListenLimit;
  /** How long a request waits for a server that is (re)starting. */
  readyWaitMs: number;
}

export class Stateless2026 {
  private readonly o: Stateless2026Options;

  constructor(options: Stateless2026Options) {
    this.o = options;
  }

  /**
   * A sessionless POST that looks like 2026-07-28 traffic (looksLike2026): served, or refused, here; false when the
   * SDK's classifier says it is 2025 traffic after all (the caller serves it as such).
   */
  async post(request: McpRequest, body: unknown, version: string | undefined): Promise<boolean> {
    const { req, res } = request;
    const endpoint = await this.o.sdk2026.load();
    const outcome = endpoint.classify({
      httpMethod: 'POST',
      protocolVersionHeader: version,
      mcpMethodHeader: header(req, 'mcp-method'),
      mcpNameHeader: header(req, 'mcp-name'),
      body,
    });
    if (outcome.kind === 'reject') {
      refuse(request, outcome.httpStatus, outcome.code, outcome.message, undefined, outcome.data);
      return true;
    }
    if (outcome.kind !== 'modern') return false;
    // A multi-round-trip retry whose flow lives on another replica continues there.
    const state = isObject(body) && isObject(body.params) ? body.params.requestState : undefined;
    const owner =
      typeof state === 'string' && !isRelayed(req)
        ? this.o.requestStates.remoteOwner(state, request.identity)
        : undefined;
    if (owner) {
      const id = (body as { id?: JsonRpcId }).id ?? null;
      this.o.relay.relay(request, owner, { body: JSON.stringify(body), id });
      return true;
    }
    const { limit } = this.o;
    if (limit.enabled && limit.refuses(request, [body as JsonRpcMessage], 'modern')) return true;
    const { upstream } = this.o.sharedRouter;
    if (!upstream.ready) {
      try {
        await upstream.whenReady(this.o.readyWaitMs);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        refuse(request, 503, UPSTREAM_UNAVAILABLE, message, { 'retry-after': '2' });
        return true;
      }
    }
    if (isObject(body) && body.method === 'subscriptions/listen') {
      const admission = this.o.listens.admit(request.identity);
      if (!admission.admitted) {
        refuse(request, 429, RATE_LIMITED, admission.message, { 'retry-after': '5' });
        return true;
      }
      // Its client sees the stream end (listen().closed resolves 'remote') and may listen again.
      admission.evict?.destroy();
      this.o.listens.add(request.identity, res);
    }
    await endpoint.handle(req, res, body, request.identity);
    return true;
  }
}
