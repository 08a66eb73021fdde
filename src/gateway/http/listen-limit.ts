/**
 * Limits on open 2026-07-28 `subscriptions/listen` streams, like the session limits of the 2025 era. Without them
 * the SDK's one cap (1024 streams a gateway) was all there was: one client that opened 1024 listens left every
 * other client's listen refused ("Subscription limit reached"), so nobody else heard of any change.
 *
 * - Per client (the session limit per client): a client at its limit is refused with 429 and the limit named.
 * - Per gateway (the session limit): at the limit, the oldest stream of the client holding the most is closed to
 *   make room, so clients under their own limit are never locked out by the others.
 */
import type { ServerResponse } from 'node:http';

export interface ListenLimits {
  perClient: number;
  total: number;
}

/**
 * What a new listen of a client gets: admitted, or refused with a message. `evict`: a stream no longer counted,
 * which the caller closes to make room.
 */
export type ListenAdmission = { admitted: true; evict?: ServerResponse } | { admitted: false; message: string };

export class ListenLimit {
  private readonly limits: ListenLimits;
  /** Open streams by client, each client's oldest first (a Set keeps insertion order). */
  private readonly byClient = new Map<string, Set<ServerResponse>>();
  private open = 0;

  constructor(limits: ListenLimits) {
    this.limits = limits;
  }

  get size(): number {
    return this.open;
  }

  /** Decides on a new listen of `identity`; `add` it once admitted. */
  admit(identity: string): ListenAdmission {
    const mine = this.byClient.get(identity)?.size ?? 0;
    if (mine >= this.limits.perClient) {
      return {
        admitted: false,
        message: `Too Many Requests: this client already holds ${mine} listen streams (subscriptions/listen), the per-client limit; close one, or listen for more in one stream (its notifications filter)`,
      };
    }
    if (this.open < this.limits.total) return { admitted: true };
    let most: [string, Set<ServerResponse>] | undefined;
    for (const entry of this.byClient) if (!most || entry[1].size > most[1].size) most = entry;
    const evict = most?.[1].values().next().value;
    if (!most || !evict) return { admitted: true };
    this.remove(most[0], evict);
    return { admitted: true, evict };
  }

  /** Counts the stream of `res` until its response closes. */
  add(identity: string, res: ServerResponse): void {
    let mine = this.byClient.get(identity);
    if (!mine) {
      mine = new Set();
      this.byClient.set(identity, mine);
    }
    mine.add(res);
    this.open++;
    res.once('close', () => this.remove(identity, res));
  }

  /** Stops counting `res` (it closed, or is being closed to make room). */
  remove(identity: string, res: ServerResponse): void {
    const mine = this.byClient.get(identity);
    if (!mine?.delete(res)) return;
    this.open--;
    if (mine.size === 0) this.byClient.delete(identity);
  }
}
