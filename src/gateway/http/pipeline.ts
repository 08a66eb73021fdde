/**
 * The MCP port: `/mcp` (2026-07-28 stateless and 2025 Streamable HTTP sessions), `/sse` + `/messages` (the
 * 2024-11-05 HTTP+SSE era), and the RFC 9728 protected-resource metadata, all also under the base path.
 *
 * Every request passes the same gates, in this order, then goes to its era:
 *   route (404) -> Origin (403, origin.ts) -> authentication (401, identity.ts) -> Mcp-Session-Id repeated with
 *   different values (400) -> replica relay (relay.ts)
 *   POST bodies: content type and coding (415), size (413), JSON (400 / -32700), batch and depth (400) (body-gate.ts)
 *   POST /mcp: Accept (406), MCP-Protocol-Version (400), drain (503 + Retry-After for new work), era (era.ts)
 *   per era: JSON-RPC shape (400), per-client rate limit (429 + Retry-After, client-limit.ts)
 * A gate that does not apply (no Origin header, no authentication, no session secret, no limit) costs a branch.
 * Once the body is parsed, every error about a single request carries that request's id.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import type { GatewayConfig } from '../config.ts';
import type { RequestStateCodec } from '../input.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Mux } from '../mux/mux.ts';
import type { Authenticator } from '../policy/auth.ts';
import type { RateLimiter } from '../policy/ratelimit.ts';
import { INVALID_REQUEST, SERVER_ERROR } from '../protocol/jsonrpc.ts';
import { type SessionManager, SessionRefused } from '../sessions.ts';
import { acceptedFormats } from './accept.ts';
import { readJsonBody } from './body-gate.ts';
import { ClientLimit } from './client-limit.ts';
import { looksLike2026, modernBatchProblem, postEra, startsNewWork, unsupportedVersion } from './era.ts';
import { Sessions2025 } from './era-2025-sessions.ts';
import { Stateless2026 } from './era-2026-07-28.ts';
import { Sse2024 } from './era-sse-2024.ts';
import { anonymousIdentity, authenticate } from './identity.ts';
import { ListenLimit } from './listen-limit.ts';
import { answerPreflight, corsFor, NO_CORS } from './origin.ts';
import { methodNotAllowed, refuseSession } from './refusals.ts';
import { ReplicaRelay } from './relay.ts';
import { header, sendJson, singleRequestId } from './reply.ts';
import { type McpRequest, refuse } from './request.ts';
import { answerResourceMetadata, metadataSuffix } from './resource-metadata.ts';
import type { LazySdk2026 } from './sdk-2026-loader.ts';
import type { OpenStreams } from './sse.ts';
import type { SdkStreamWatch } from './stall.ts';
import type { StreamLimits } from './streams.ts';

export interface McpHttpOptions {
  config: GatewayConfig;
  sessions: SessionManager;
  sharedRouter: Mux;
  sdk2026: LazySdk2026;
  requestStates: RequestStateCodec;
  auth?: Authenticator;
  limiter: RateLimiter;
  metrics: GatewayMetrics;
  log: Logger;
  openStreams: OpenStreams;
  streamLimits: StreamLimits;
  /** Watches JSON answers a client does not read (they hold their whole body in memory until it does). */
  stalls?: SdkStreamWatch;
  isDraining: () => boolean;
}

export class McpHttp {
  private readonly o: McpHttpOptions;
  private readonly basePath: string;
  private readonly relay: ReplicaRelay;
  private readonly sse2024: Sse2024;
  private readonly sessions2025: Sessions2025;
  private readonly stateless2026: Stateless2026;
  /** One listener for every response (no closure per request): `this` is the response. */
  private readonly recordStatus: (this: ServerResponse) => void;

  constructor(options: McpHttpOptions) {
    const { config, sessions, sharedRouter, log, openStreams } = options;
    this.o = options;
    this.basePath = config.basePath;
    const { metrics } = options;
    this.recordStatus = function (this: ServerResponse) {
      metrics.recordHttp(this.statusCode);
    };
    this.relay = new ReplicaRelay({ sessions, vouch: !options.auth, log });
    const limit = new ClientLimit({
      perMinute: config.rateLimitRpm,
      limiter: options.limiter,
      sharedRouter,
      metrics,
      log,
    });
    this.sse2024 = new Sse2024({ sessions, openStreams, limit, maxBodyBytes: config.maxBodyBytes, log });
    this.sessions2025 = new Sessions2025({
      sessions,
      sharedRouter,
      openStreams,
      streamLimits: options.streamLimits,
      limit,
      stalls: options.stalls,
      log,
      onDropped: (drop) => {
        metrics.droppedMessages.inc({ reason: 'get_stream_backlog' });
        // One line per run of drops: the first since the session's last GET stream.
        if (drop.dropped === 1) log.warn(drop, 'message dropped: it waited for a GET stream, past the limit');
      },
    });
    this.stateless2026 = new Stateless2026({
      sdk2026: options.sdk2026,
      sharedRouter,
      requestStates: options.requestStates,
      relay: this.relay,
      limit,
      // A listen stream is the 2026 era's session: the same limits.
      listens: new ListenLimit({ perClient: config.maxSessionsPerClient, total: config.maxSessions }),
      readyWaitMs: Math.min(config.requestTimeoutMs, 10_000),
    });
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    res.on('finish', this.recordStatus);
    void this.run(req, res);
  };

  private async run(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q >= 0 ? url.slice(0, q) : url;
    let prefix = '';
    const base = this.basePath;
    if (base && (path === base || path.startsWith(`${base}/`))) {
      prefix = base;
      path = path.slice(base.length) || '/';
    }
    const request: McpRequest = {
      req,
      res,
      path,
      prefix,
      query: q >= 0 ? url.slice(q + 1) : '',
      identity: '',
      sessionId: undefined,
      requestId: null,
    };
    try {
      await this.route(request);
    } catch (err) {
      this.o.log.error({ err: clip(err instanceof Error ? err.message : String(err)) }, 'request failed');
      if (!res.headersSent) refuse(request, 500, SERVER_ERROR, 'internal gateway error');
      else res.end();
    }
  }

  private async route(request: McpRequest): Promise<void> {
    const { req, res, path, prefix } = request;
    const metadata = metadataSuffix(path);
    if (metadata !== undefined) {
      answerResourceMetadata(req, res, { prefix, suffix: metadata, basePath: this.basePath, auth: this.o.auth });
      return;
    }
    if (path !== '/mcp' && path !== '/sse' && path !== '/messages') {
      sendJson(res, 404, { error: 'not found', endpoints: [`${prefix}/mcp`, `${prefix}/sse`, `${prefix}/messages`] });
      return;
    }
    // Without Origin (every non-browser client) the host headers are not read at all.
    const origin = header(req, 'origin');
    const cors = origin
      ? corsFor(origin, header(req, 'x-forwarded-host') ?? header(req, 'host'), this.o.config.allowedOrigins)
      : NO_CORS;
    if (cors === null) {
      refuse(request, 403, INVALID_REQUEST, 'Forbidden: Origin not allowed');
      return;
    }
    const method = req.method ?? 'GET';
    if (method === 'OPTIONS') {
      answerPreflight(res, cors);
      return;
    }
    if (cors !== NO_CORS) for (const k in cors) res.setHeader(k, cors[k] as string);
    const auth = this.o.auth;
    if (auth) {
      const identity = await authenticate(request, auth);
      if (identity === undefined) return;
      request.identity = identity;
    } else request.identity = anonymousIdentity(request, this.o.config.trustProxy, this.o.sessions.ids);

    const querySession = path === '/messages' ? new URLSearchParams(request.query).get('sessionId') : null;
    const sessionHeader = sessionIdHeader(req);
    if (sessionHeader === null) {
      refuse(
        request,
        400,
        INVALID_REQUEST,
        'Bad Request: Mcp-Session-Id is given more than once, with different values',
      );
      return;
    }
    request.sessionId = sessionHeader ?? querySession ?? undefined;
    if (this.relay.relaysSession(request)) return;

    if (path === '/sse') {
      if (method !== 'GET') methodNotAllowed(request, 'GET');
      else this.sse2024.open(request);
    } else if (path === '/messages') {
      if (method !== 'POST') methodNotAllowed(request, 'POST');
      else await this.sse2024.post(request);
    } else if (method === 'POST') await this.postMcp(request);
    else if (method === 'GET') this.sessions2025.get(request);
    else if (method === 'DELETE') await this.sessions2025.delete(request);
    else methodNotAllowed(request, 'GET, POST, DELETE');
  }

  /** POST /mcp: the body and header gates every era shares, then the era. */
  private async postMcp(request: McpRequest): Promise<void> {
    const { req, sessionId } = request;
    const parsed = await readJsonBody(request, this.o.config.maxBodyBytes, this.o.log);
    if (parsed === undefined) return;
    request.requestId = singleRequestId(parsed);
    // No Accept header: JSON answers (simple scripts); JSON-only clients get JSON and their GET stream the rest.
    const formats = acceptedFormats(header(req, 'accept'));
    if (formats && !formats.json && !formats.sse) {
      const message =
        'Not Acceptable: the client must accept application/json or text/event-stream (both, per the MCP transport)';
      refuse(request, 406, INVALID_REQUEST, message);
      return;
    }
    let differing: string | undefined;
    for (const name of REPEATABLE_COPIES) if (!foldIdenticalCopies(req, name)) differing ??= name;
    if (differing === 'mcp-protocol-version') {
      const message = 'Bad Request: MCP-Protocol-Version is given more than once, with different values; send one';
      refuse(request, 400, INVALID_REQUEST, message);
      return;
    }
    const version = header(req, 'mcp-protocol-version');
    const unsupported = unsupportedVersion(version);
    if (unsupported !== undefined) {
      refuse(request, 400, INVALID_REQUEST, unsupported);
      return;
    }
    if (this.o.isDraining() && startsNewWork(sessionId, parsed, looksLike2026(version, parsed))) {
      refuseSession(request, SessionRefused.draining());
      return;
    }
    const batchProblem = sessionId === undefined ? modernBatchProblem(version, parsed) : undefined;
    if (batchProblem !== undefined) {
      refuse(request, 400, INVALID_REQUEST, batchProblem);
      return;
    }
    switch (postEra(sessionId, version, parsed)) {
      case '2025-session': {
        const entry = this.sessions2025.sessionOr404(request, sessionId as string);
        if (entry) this.sessions2025.post(request, parsed, formats, entry);
        return;
      }
      case '2026-07-28':
        if (await this.stateless2026.post(request, parsed, version)) return;
        break;
      case '2025-sessionless':
        break;
    }
    this.sessions2025.post(request, parsed, formats, undefined);
  }
}

/**
 * Mcp-Session-Id. A proxy that repeats the header (node joins the copies with ", ") still names one session, which
 * would otherwise be a 404 that sends a compliant client to start a new one; copies that differ name none (null).
 * Gateway session ids have no commas, so one comparison keeps the usual case a lookup.
 */
function sessionIdHeader(req: IncomingMessage): string | null | undefined {
  const value = header(req, 'mcp-session-id');
  if (value === undefined || !value.includes(',')) return value;
  const copies = new Set(req.headersDistinct['mcp-session-id']);
  return copies.size === 1 ? (copies.values().next().value as string) : null;
}

/** The single-valued MCP headers a proxy may repeat: identical copies name one value (foldIdenticalCopies). */
const REPEATABLE_COPIES = ['mcp-protocol-version', 'mcp-method', 'mcp-name'] as const;

/**
 * A header sent twice with the same value (a proxy that adds it again) becomes that value, for the gates here and
 * for the SDK, which reads it again: Node joins the copies with ", ", which was an "unsupported
 * MCP-Protocol-Version" 400 (or an Mcp-Method mismatch) for a well-formed request. Copies that differ stay
 * joined (false), and are refused: the version here, Mcp-Method and Mcp-Name by the SDK as a header and body
 * mismatch. One header with a comma in it (an Mcp-Name URI) is one copy, left alone.
 */
function foldIdenticalCopies(req: IncomingMessage, name: string): boolean {
  const value = req.headers[name];
  if (typeof value !== 'string' || !value.includes(',')) return true;
  const copies = new Set(req.headersDistinct[name]);
  if (copies.size !== 1) return (req.headersDistinct[name]?.length ?? 0) <= 1;
  req.headers[name] = copies.values().next().value as string;
  return true;
}
