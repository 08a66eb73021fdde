/**
 * The per-client rate limit (429 + Retry-After) and its audit: each JSON-RPC request in a body takes a token,
 * so a batch cannot slip past it. The tools/call requests of a refused body are audited and counted like calls
 * the router refuses.
 */
import type { Logger } from '../../observability/log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Mux } from '../mux/mux.ts';
import { ClientSession } from '../mux/session.ts';
import type { RateLimiter } from '../policy/ratelimit.ts';
import { type JsonRpcMessage, type JsonRpcRequest, RATE_LIMITED } from '../protocol/jsonrpc.ts';
import { sendRpcError, singleRequestId } from './reply.ts';
import type { McpRequest } from './request.ts';

/** tools/call requests of one rate-limited body that get their own audit line; the rest are summed in one. */
export const MAX_AUDITED_REFUSALS = 10;

/** JSON-RPC requests in a body (notifications and responses ask nothing of the server). */
export function countRequests(messages: JsonRpcMessage[]): number {
  let n = 0;
  for (const m of messages) if ('method' in m && 'id' in m) n++;
  return n;
}

/**
 * The 429 for a body the per-client limit refused after `waitMs`: when to retry, or (Infinity) that the batch
 * holds more requests than the limit allows in a minute and can only pass split up.
 */
export function clientLimitRefusal(
  waitMs: number,
  requests: number,
  perMinute: number,
): { message: string; retryAfterSeconds?: number } {
  if (!Number.isFinite(waitMs)) {
    return {
      message: `Too Many Requests: the batch holds ${requests} requests, more than the limit of ${perMinute} per minute; send fewer at once`,
    };
  }
  const seconds = Math.ceil(waitMs / 1000);
  return {
    message: `Too Many Requests: the limit is ${perMinute} requests per minute; retry after ${seconds} s`,
    retryAfterSeconds: seconds,
  };
}

export interface ClientLimitOptions {
  /** Requests per minute per client; 0 or less: no limit (the gate costs one branch). */
  perMinute: number;
  limiter: RateLimiter;
  /** Audits refusals of sessionless requests (a session's own router audits its refusals). */
  sharedRouter: Mux;
  metrics: GatewayMetrics;
  log: Logger;
}

/** Who a refused body belongs to, for its audit lines: its session, or a sessionless request of `kind`. */
export type LimitedTarget = { session: ClientSession; router: Mux } | 'modern' | 'oneshot';

export class ClientLimit {
  private readonly o: ClientLimitOptions;

  constructor(options: ClientLimitOptions) {
    this.o = options;
  }

  /** Whether there is a limit at all (callers skip building the message list when not). */
  get enabled(): boolean {
    return this.o.perMinute > 0;
  }

  /** Whether the body was refused (then answered 429 and audited). */
  refuses(request: McpRequest, messages: JsonRpcMessage[], target: LimitedTarget): boolean {
    const rpm = this.o.perMinute;
    if (rpm <= 0) return false;
    const requests = countRequests(messages);
    if (requests === 0) return false;
    const { identity } = request;
    const wait = this.o.limiter.take(`client\u0000${identity}`, rpm, requests);
    if (wait === 0) return false;
    this.o.metrics.rateLimited.inc({ scope: 'client' }, requests);
    this.audit(identity, messages, target);
    const refusal = clientLimitRefusal(wait, requests, rpm);
    const seconds = refusal.retryAfterSeconds;
    sendRpcError(
      request.res,
      messages.length === 1 ? singleRequestId(messages[0]) : null,
      429,
      RATE_LIMITED,
      refusal.message,
      seconds === undefined ? {} : { 'retry-after': String(seconds) },
      seconds === undefined ? { limit: rpm, requests } : { retryAfterSeconds: seconds },
    );
    return true;
  }

  /**
   * Audited one by one up to a bound: a refused body costs the client nothing, so a huge batch must not turn
   * into as many audit lines.
   */
  private audit(identity: string, messages: JsonRpcMessage[], target: LimitedTarget): void {
    const { session, router } =
      typeof target === 'string'
        ? { session: new ClientSession(`${target}-refused`, target, identity), router: this.o.sharedRouter }
        : target;
    const calls = messages.filter((m): m is JsonRpcRequest => 'method' in m && 'id' in m && m.method === 'tools/call');
    for (const call of calls.slice(0, MAX_AUDITED_REFUSALS)) router.recordRefused(session, call, 'rate_limited');
    if (calls.length > MAX_AUDITED_REFUSALS) {
      this.o.log.warn(
        { client: session.identity, refused: calls.length, audited: MAX_AUDITED_REFUSALS },
        'rate-limited body: its further tools/call requests are counted here, not audited one by one',
      );
    }
  }
}
