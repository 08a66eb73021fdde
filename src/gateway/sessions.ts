/**
 * Client sessions: ids, limits, idle expiry, and which router (which server process) each session uses.
 *
 * shared (the default): every session shares one server process through one router. One process answers any
 *   number of clients, sessions cost a few kilobytes, and there is no spawn on connect (per-session spawns are
 *   what pushed kmcp past clients' 5 s connect timeout). Right for the stateless tools most servers expose.
 * perSession: each session gets its own process (isolation for servers that keep per-client state or call
 *   back into the client), bounded by the maximum and the idle timeout. One process is kept pre-spawned so a
 *   new session does not wait for a cold start. 2026-07-28 stateless requests still use the shared process.
 *
 * Limits, so that sessions nobody uses cannot lock real clients out: a session that makes no request after
 * `initialize` (no notifications/initialized, no call, no GET stream) expires after the short handshake timeout;
 * one client (its token or OIDC subject, else its address as the rate limits see it) holds at most
 * `maxPerClient` sessions; at either limit an idle session is closed to make room (abandoned handshakes first,
 * then the least recently used session with nothing in flight and no stream open, and a handshake still in
 * progress only when nothing else is idle; at the gateway's limit, then the session that only holds a stream
 * and has been quiet longest, past 30 s), and a new session is refused only when every session in the way is
 * busy. Legacy SSE sessions count the same way (their stream does not protect a session that never went past
 * the handshake).
 *
 * With a session secret, ids are signed and name the replica that owns them, so another replica can forward
 * the request there instead of answering "Session not found" (no sticky sessions needed).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Logger } from '../observability/log.ts';
import type { AuditWriter } from './audit.ts';
import type { GatewayMetrics } from './metrics.ts';
import { Mux, type MuxPolicy } from './mux/mux.ts';
import { ClientSession, mayUseSession, type SessionKind, type SessionTransport } from './mux/session.ts';
import type { Upstream } from './upstream/upstream.ts';

export interface SessionEntry {
  session: ClientSession;
  router: Mux;
  /** per-session mode: the process this session owns. */
  upstream?: Upstream;
  /** Whom the per-client limit counts this session against (the identity at creation). */
  client: string;
}

export class SessionRefused extends Error {
  readonly status: number;
  /** Machine-readable, for the JSON-RPC error's data. */
  readonly reason: 'draining' | 'session_limit' | 'client_session_limit';
  constructor(status: number, message: string, reason: SessionRefused['reason']) {
    super(message);
    this.status = status;
    this.reason = reason;
  }

  /** New work during a drain, in every era: the client should retry, which reaches another replica. */
  static draining(): SessionRefused {
    return new SessionRefused(
      503,
      'Service Unavailable: the gateway is shutting down (draining); retry, and another replica will serve it',
      'draining',
    );
  }
}

export class SessionIds {
  private readonly secret?: Buffer;
  private readonly self?: string;
  private readonly selfEncoded?: string;

  constructor(secret?: Buffer, advertise?: string) {
    this.secret = secret;
    this.self = advertise;
    this.selfEncoded = advertise ? Buffer.from(advertise).toString('base64url') : undefined;
  }

  private mac(text: string): string {
    return createHmac('sha256', this.secret as Buffer)
      .update(text)
      .digest()
      .subarray(0, 16)
      .toString('base64url');
  }

  mint(): string {
    const random = randomBytes(18).toString('base64url');
    if (!this.secret || !this.selfEncoded) return random;
    const body = `${this.selfEncoded}.${random}`;
    return `${body}.${this.mac(body)}`;
  }

  /**
   * The client identity a relaying replica vouches for (anonymous clients are known by their address, which the
   * owner cannot see behind the relay), as a header value: base64url(identity).mac. Undefined without a secret.
   */
  vouch(identity: string): string | undefined {
    if (!this.secret) return undefined;
    const encoded = Buffer.from(identity).toString('base64url');
    return `${encoded}.${this.mac(`identity\u0000${encoded}`)}`;
  }

  /** The identity in a relayed request's vouch header, when its signature holds. */
  vouched(value: string | undefined): string | undefined {
    if (!this.secret || !value) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const encoded = value.slice(0, dot);
    const expected = Buffer.from(this.mac(`identity\u0000${encoded}`));
    const given = Buffer.from(value.slice(dot + 1));
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    return Buffer.from(encoded, 'base64url').toString('utf8');
  }

  /** The replica address a signed id names, when it is not this one and the signature holds. */
  remoteOwner(id: string): string | undefined {
    if (!this.secret) return undefined;
    const parts = id.split('.');
    if (parts.length !== 3) return undefined;
    const [owner = '', random = '', mac = ''] = parts;
    const expected = Buffer.from(this.mac(`${owner}.${random}`));
    const given = Buffer.from(mac);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return undefined;
    const address = Buffer.from(owner, 'base64url').toString('utf8');
    return address === this.self ? undefined : address;
  }
}

/** How long a fresh handshake is presumed in progress rather than abandoned (it takes one round trip). */
const HANDSHAKE_GRACE_MS = 5_000;
/** A stream held this long without a request may be closed at the gateway's limit (a quarter of the idle timeout if less). */
const STREAM_QUIET_MS = 30_000;

export interface SessionManagerOptions {
  perSession: boolean;
  maxSessions: number;
  /** Sessions one client identity may hold at once. */
  maxPerClient: number;
  idleTimeoutMs: number;
  /** A session that made no request after initialize is closed after this long. */
  handshakeTimeoutMs: number;
  sharedRouter: Mux;
  policy: MuxPolicy;
  metrics: GatewayMetrics;
  log: Logger;
  audit?: AuditWriter;
  ids: SessionIds;
  requestTimeoutMs: number;
  readyWaitMs: number;
  /** per-session mode: a fresh, unstarted server connection. */
  createUpstream: (name: string) => Upstream;
}

export class SessionManager {
  readonly ids: SessionIds;
  private readonly sessions = new Map<string, SessionEntry>();
  private readonly byClient = new Map<string, Set<SessionEntry>>();
  private readonly options: SessionManagerOptions;
  private spare?: Upstream;
  private readonly sweeper: NodeJS.Timeout;
  private draining = false;
  private counts = { streamable: 0, sse: 0 };
  private upstreamSeq = 0;

  constructor(options: SessionManagerOptions) {
    this.options = options;
    this.ids = options.ids;
    const every = Math.max(250, Math.min(options.idleTimeoutMs / 4, options.handshakeTimeoutMs / 4, 30_000));
    this.sweeper = setInterval(() => this.expireIdle(), every);
    this.sweeper.unref();
    if (options.perSession) this.refillSpare();
  }

  get size(): number {
    return this.sessions.size;
  }

  get(id: string): SessionEntry | undefined {
    return this.sessions.get(id);
  }

  /** The session `id` names, when a request made as `identity` may use it (mayUseSession), else undefined. */
  getFor(id: string, identity: string): SessionEntry | undefined {
    const entry = this.sessions.get(id);
    return entry && mayUseSession(entry.session.identity, identity) ? entry : undefined;
  }

  entries(): IterableIterator<SessionEntry> {
    return this.sessions.values();
  }

  /** Stops new sessions (drain). */
  stopAccepting(): void {
    this.draining = true;
  }

  private refillSpare(): void {
    if (this.draining || this.spare || !this.options.perSession) return;
    if (this.sessions.size + 1 > this.options.maxSessions) return;
    this.spare = this.options.createUpstream(`session-${++this.upstreamSeq}`);
    this.spare.prespawn();
  }

  /** Whether the session is in use: a request in flight, or (past the handshake) an open stream. */
  private busy(entry: SessionEntry): boolean {
    const { session } = entry;
    if (session.pendingByClientId.size > 0) return true;
    if (!session.confirmed) return false;
    return this.holdsStream(entry);
  }

  private holdsStream(entry: SessionEntry): boolean {
    return entry.session.transport.holdsStream;
  }

  /**
   * At a limit (the gateway's, or one client's), when nothing is idle: the session that holds only a stream
   * (nothing in flight) and has been quiet longest, if for at least `streamQuietMs`. Without it, clients that
   * open a stream and never use it would lock every new client (or every new session of theirs) out until the
   * idle timeout; a 2025 client whose session is closed gets 404 and starts a new one, as the spec says.
   */
  private quietestStreamHolder(candidates: Iterable<SessionEntry>): SessionEntry | undefined {
    const cutoff = Date.now() - this.streamQuietMs;
    let best: SessionEntry | undefined;
    for (const entry of candidates) {
      if (entry.session.pendingByClientId.size > 0 || !this.holdsStream(entry)) continue;
      if (entry.session.lastActivity > cutoff) continue;
      if (!best || entry.session.lastActivity < best.session.lastActivity) best = entry;
    }
    return best;
  }

  /** How long a stream holder must have been quiet before the gateway's limit may close it (see above). */
  private get streamQuietMs(): number {
    return Math.min(STREAM_QUIET_MS, this.options.idleTimeoutMs / 4);
  }

  /**
   * Eviction order of an idle session: 0, a handshake nobody finished within the grace; 1, a session past its
   * handshake; 2, a handshake still within the grace (a client that connects during a flood is in this state for
   * one round trip, and must not be the one that makes room for the flood).
   */
  private evictionRank(session: ClientSession, now: number): number {
    if (session.confirmed) return 1;
    const grace = Math.min(HANDSHAKE_GRACE_MS, this.options.handshakeTimeoutMs / 2);
    return now - session.lastActivity > grace ? 0 : 2;
  }

  /** The session to close to make room: the lowest rank, least recently used first; undefined when all are busy. */
  private evictable(candidates: Iterable<SessionEntry>): SessionEntry | undefined {
    const now = Date.now();
    let best: SessionEntry | undefined;
    let bestRank = Number.POSITIVE_INFINITY;
    for (const entry of candidates) {
      if (this.busy(entry)) continue;
      const rank = this.evictionRank(entry.session, now);
      if (rank < bestRank || (rank === bestRank && entry.session.lastActivity < (best?.session.lastActivity ?? 0))) {
        best = entry;
        bestRank = rank;
      }
    }
    return best;
  }

  /** Makes room for one more session of `identity`, or throws the refusal when everything in the way is busy. */
  private makeRoom(identity: string): void {
    const { maxPerClient, maxSessions } = this.options;
    const mine = this.byClient.get(identity);
    if (mine && mine.size >= maxPerClient) {
      // The same fallback as at the gateway's limit: one client's quiet stream holders must not lock it out.
      const victim = this.evictable(mine) ?? this.quietestStreamHolder(mine);
      if (!victim) {
        throw new SessionRefused(
          429,
          `this client already holds ${mine.size} sessions, all in use (a request in flight, or a stream used in the last ${Math.round(this.streamQuietMs / 1000)} s; the per-client limit is ${maxPerClient}); close one (DELETE) or retry later`,
          'client_session_limit',
        );
      }
      this.evict(victim, 'evicted_per_client');
    }
    if (this.sessions.size >= maxSessions) {
      const victim = this.evictable(this.sessions.values()) ?? this.quietestStreamHolder(this.sessions.values());
      if (!victim) {
        throw new SessionRefused(
          503,
          `the gateway has reached its session limit (${maxSessions}) and every session is in use (a request in flight, or a stream used in the last ${Math.round(this.streamQuietMs / 1000)} s); retry later`,
          'session_limit',
        );
      }
      this.evict(victim, 'evicted');
    }
  }

  private evict(entry: SessionEntry, reason: 'evicted' | 'evicted_per_client'): void {
    this.options.metrics.sessionsClosed.inc({ reason });
    // Debug, like 'session opened': a flood must not turn into as many log lines (the metric counts them).
    this.options.log.debug(
      { session: entry.session.logId, client: entry.client, confirmed: entry.session.confirmed, reason },
      'idle session closed to make room for a new one',
    );
    // close() is synchronous up to the first await: the session is gone from every count on return.
    void this.close(entry, reason);
  }

  /** `transport`: what the era that opens the session carries its unsolicited messages on. */
  create(
    kind: Extract<SessionKind, 'streamable' | 'sse'>,
    identity: string,
    transport: (session: ClientSession) => SessionTransport,
  ): SessionEntry {
    if (this.draining) throw SessionRefused.draining();
    this.makeRoom(identity);
    const id = this.ids.mint();
    const session = new ClientSession(id, kind, identity, transport);
    let router = this.options.sharedRouter;
    let upstream: Upstream | undefined;
    if (this.options.perSession) {
      upstream = this.spare ?? this.options.createUpstream(`session-${++this.upstreamSeq}`);
      this.spare = undefined;
      router = new Mux({
        upstream,
        policy: this.options.policy,
        metrics: this.options.metrics,
        log: this.options.log,
        audit: this.options.audit,
        perSession: true,
        requestTimeoutMs: this.options.requestTimeoutMs,
        readyWaitMs: this.options.readyWaitMs,
      });
      setImmediate(() => this.refillSpare());
    }
    router.attach(session);
    const entry: SessionEntry = { session, router, upstream, client: identity };
    this.sessions.set(id, entry);
    const mine = this.byClient.get(identity) ?? new Set<SessionEntry>();
    mine.add(entry);
    this.byClient.set(identity, mine);
    this.counts[kind]++;
    this.options.metrics.activeSessions.set(
      { transport: kind === 'sse' ? 'sse' : 'streamable_http' },
      this.counts[kind],
    );
    this.options.log.debug({ session: session.logId, kind, client: identity }, 'session opened');
    return entry;
  }

  async close(entry: SessionEntry, reason: string): Promise<void> {
    const { session } = entry;
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session.id);
    const mine = this.byClient.get(entry.client);
    mine?.delete(entry);
    if (mine?.size === 0) this.byClient.delete(entry.client);
    const kind = session.kind === 'sse' ? 'sse' : 'streamable';
    this.counts[kind]--;
    this.options.metrics.activeSessions.set(
      { transport: kind === 'sse' ? 'sse' : 'streamable_http' },
      this.counts[kind],
    );
    entry.router.detach(session);
    session.transport.close();
    this.options.log.debug({ session: session.logId, reason }, 'session closed');
    if (entry.upstream) {
      entry.router.close();
      await entry.upstream.stop(2000);
      this.refillSpare();
    }
  }

  private expireIdle(): void {
    const now = Date.now();
    const { idleTimeoutMs, handshakeTimeoutMs } = this.options;
    for (const entry of [...this.sessions.values()]) {
      const s = entry.session;
      if (s.pendingByClientId.size > 0) continue;
      const reason = s.confirmed ? 'idle_timeout' : 'handshake_timeout';
      const limit = s.confirmed ? idleTimeoutMs : Math.min(handshakeTimeoutMs, idleTimeoutMs);
      if (now - s.lastActivity > limit) {
        this.options.metrics.sessionsClosed.inc({ reason });
        void this.close(entry, reason);
      }
    }
  }

  async closeAll(reason: string): Promise<void> {
    clearInterval(this.sweeper);
    await Promise.all([...this.sessions.values()].map((e) => this.close(e, reason)));
    const spare = this.spare;
    this.spare = undefined;
    await spare?.stop(2000);
  }
}
