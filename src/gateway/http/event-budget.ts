/**
 * The bytes every 2025 session's streams hold together: the event store kept for `Last-Event-ID` resumption,
 * and the messages waiting for a GET stream the session has not opened. Each session is bounded on its own
 * (maxEventBytes, maxEvents), but one client's 100 sessions that each filled theirs (a 4 MB tool answer apiece,
 * taken as an event stream; or log lines for a GET stream never opened) held 400 MB, past a pod's 512 Mi.
 * Past the total, the holder with the most to give up drops its oldest: first stored events (they were
 * delivered; only a resumption would replay them), then waiting notifications, never a waiting request. So the
 * sessions that hoard pay, and a session with a few small messages keeps them.
 */

/** What one session's streams hold for the budget (StreamState). */
export interface BudgetHolder {
  /** Bytes the budget may take back: stored events and waiting notifications. */
  readonly droppableBytes: number;
  /** Drops the oldest stored event, else the oldest waiting notification: its bytes, 0 when there is none. */
  dropOldest(): number;
}

/** A waiting message dropped, never delivered (for the metric and the log). */
export interface BudgetDrop {
  /** The session fingerprint. */
  session: string;
  /** Messages this session lost since its last GET stream opened; the first of a run is logged. */
  dropped: number;
  bytes: number;
  /** `budget`: all sessions together; `session`: the session's own bound. */
  limit: 'budget' | 'session';
}

export class EventBudget {
  readonly maxBytes: number;
  /** Told of every waiting message dropped. */
  readonly onDropped?: (drop: BudgetDrop) => void;
  private total = 0;
  private readonly holders = new Set<BudgetHolder>();

  constructor(maxBytes: number, onDropped?: (drop: BudgetDrop) => void) {
    this.maxBytes = maxBytes;
    this.onDropped = onDropped;
  }

  get bytes(): number {
    return this.total;
  }

  /** More held than the budget allows, with nothing left to drop (only waiting requests). */
  get over(): boolean {
    return this.total > this.maxBytes;
  }

  join(holder: BudgetHolder): void {
    this.holders.add(holder);
  }

  /** A session closed: what it held no longer counts. */
  leave(holder: BudgetHolder, bytes: number): void {
    if (this.holders.delete(holder)) this.total -= bytes;
  }

  changed(delta: number): void {
    this.total += delta;
    while (this.total > this.maxBytes) {
      let largest: BudgetHolder | undefined;
      for (const h of this.holders) if (!largest || h.droppableBytes > largest.droppableBytes) largest = h;
      const dropped = largest?.dropOldest() ?? 0;
      if (dropped === 0) return;
      this.total -= dropped;
    }
  }
}
