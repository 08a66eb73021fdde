/**
 * The MCP port: `/mcp` (Streamable HTTP, 2025 sessions and 2026-07-28 stateless), `/sse` + `/messages` (legacy
 * HTTP+SSE), the RFC 9728 protected-resource metadata, all also under the base path. Every request passes the
 * same gates in order: route, Origin (403), authentication (401), body size (413), content type (415), JSON
 * (400 / -32700), Accept (406), drain (503 + Retry-After for new work), per-client rate limit (429 + Retry-After).
 * Once the body is parsed, every error about a single request carries that request's id.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import type { GatewayConfig } from '../config.ts';
import type { RequestStateCodec } from '../input.ts';
import {
  errorResponse,
  INVALID_PARAMS,
  INVALID_REQUEST,
  isObject,
  type JsonRpcId,
  type JsonRpcMessage,
  type JsonRpcNotification,
  type JsonRpcRequest,
  type JsonRpcResponse,
  kindOf,
  MAX_BATCH_MESSAGES,
  MAX_JSON_DEPTH,
  MODERN_PROTOCOL_VERSION,
  nestsDeeperThan,
  PARSE_ERROR,
  RATE_LIMITED,
  requestIdsOf,
  SERVER_ERROR,
  SESSION_NOT_FOUND,
  SESSION_PROTOCOL_VERSIONS,
  UPSTREAM_UNAVAILABLE,
} from '../jsonrpc.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { Authenticator } from '../policy/auth.ts';
import type { RateLimiter } from '../policy/ratelimit.ts';
import type { Router } from '../router.ts';
import { ClientSession, type Sink } from '../session.ts';
import { type SessionEntry, type SessionManager, SessionRefused } from '../sessions.ts';
import { acceptedFormats } from './accept.ts';
import { lingerAfterRefusal, lingerLimits, readBody } from './body.ts';
import { type LazyModern, looksModern } from './lazy-modern.ts';
import { describedResourcePath, metadataPath, metadataSuffix } from './resource-metadata.ts';
import { type OpenStreams, SseConnection } from './sse.ts';
import type { SdkStreamWatch } from './stall.ts';
import { HttpExchange, type StreamLimits, StreamState } from './streams.ts';

export interface McpHttpOptions {
  config: GatewayConfig;
  sessions: SessionManager;
  sharedRouter: Router;
  modern: LazyModern;
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

const FORWARD_HEADER = 'x-mcp-gateway-forwarded';
/** The client identity a relaying replica vouches for (signed with the session secret). */
const IDENTITY_HEADER = 'x-mcp-gateway-client';
const SUPPORTED_VERSIONS = new Set<string>([...SESSION_PROTOCOL_VERSIONS, MODERN_PROTOCOL_VERSION]);

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(text)),
  });
  res.end(text);
}

/** The id of the single request a parsed body holds: errors about that body answer it by its id. */
const requestIds = new WeakMap<ServerResponse, JsonRpcId>();

/** The id of a body that is one request with a valid id (JSON-RPC 2.0 §5: else null, the id cannot be known). */
const singleRequestId = (parsed: unknown): JsonRpcId | null =>
  Array.isArray(parsed) ? null : (requestIdsOf(parsed)[0] ?? null);

function rememberRequestId(res: ServerResponse, parsed: unknown): void {
  const id = singleRequestId(parsed);
  if (id !== null) requestIds.set(res, id);
}

function sendRpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  data?: unknown,
): void {
  sendJson(res, status, errorResponse(requestIds.get(res) ?? null, code, message, data), headers);
}

/** 406 unless the client takes an event stream (GET /mcp, GET /sse); no Accept header at all is taken as yes. */
function refuseUnlessSse(req: IncomingMessage, res: ServerResponse): boolean {
  const formats = acceptedFormats(header(req, 'accept'));
  if (formats === null || formats.sse) return false;
  sendRpcError(res, 406, INVALID_REQUEST, 'Not Acceptable: the client must accept text/event-stream');
  return true;
}

/** An error answering a body that was read, by the request's id when it has one (singleRequestId). */
function sendRpcErrorFor(
  res: ServerResponse,
  parsed: unknown,
  status: number,
  code: number,
  message: string,
  headers: Record<string, string> = {},
  data?: unknown,
): void {
  sendJson(res, status, errorResponse(singleRequestId(parsed), code, message, data), headers);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * The 400 body for a message nested past MAX_JSON_DEPTH: -32600 (the message as a whole is refused before its
 * method is looked at, like any other malformed message), answering each request by its id.
 */
function tooDeepAnswer(parsed: unknown): JsonRpcResponse | JsonRpcResponse[] {
  const message = `Invalid Request: the message nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep (the gateway's limit); send flatter arguments`;
  const data = { reason: 'too_deep', maxDepth: MAX_JSON_DEPTH };
  const ids = requestIdsOf(parsed);
  if (ids.length === 0) return errorResponse(null, INVALID_REQUEST, message, data);
  const answers = ids.map((id) => errorResponse(id, INVALID_REQUEST, message, data));
  return Array.isArray(parsed) ? answers : (answers[0] as JsonRpcResponse);
}

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

/** tools/call requests of one rate-limited body that get their own audit line; the rest are summed in one. */
export const MAX_AUDITED_REFUSALS = 10;

/**
 * Whether a POST would start new work here rather than continue work already here: what a drain refuses. New:
 * a new session, a 2026-07-28 request, a sessionless 2025 request. Continuing: anything on an open session, and a
 * 2026 retry carrying a requestState (it resumes a call the drain is waiting for).
 */
export function startsNewWork(sessionId: string | undefined, body: unknown, modern: boolean): boolean {
  if (sessionId !== undefined) return false;
  const state = isObject(body) && isObject(body.params) ? body.params.requestState : undefined;
  return !modern || typeof state !== 'string';
}

export class McpHttp {
  private readonly o: McpHttpOptions;
  private readonly basePath: string;

  constructor(options: McpHttpOptions) {
    this.o = options;
    this.basePath = options.config.basePath;
  }

  /** The node:http request listener. */
  readonly handle = (req: IncomingMessage, res: ServerResponse): void => {
    res.on('finish', () => this.o.metrics.recordHttp(res.statusCode));
    this.route(req, res).catch((err: unknown) => {
      this.o.log.error({ err: clip(err instanceof Error ? err.message : String(err)) }, 'request failed');
      if (!res.headersSent) sendRpcError(res, 500, SERVER_ERROR, 'internal gateway error');
      else res.end();
    });
  };

  private async route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = q >= 0 ? url.slice(0, q) : url;
    let prefix = '';
    if (this.basePath && (path === this.basePath || path.startsWith(`${this.basePath}/`))) {
      prefix = this.basePath;
      path = path.slice(this.basePath.length) || '/';
    }
    const method = req.method ?? 'GET';
    const metadata = metadataSuffix(path);
    if (metadata !== undefined) {
      this.protectedResource(req, res, prefix, metadata);
      return;
    }
    if (path !== '/mcp' && path !== '/sse' && path !== '/messages') {
      sendJson(res, 404, { error: 'not found', endpoints: [`${prefix}/mcp`, `${prefix}/sse`, `${prefix}/messages`] });
      return;
    }
    const cors = this.corsHeaders(req);
    if (cors === null) {
      sendRpcError(res, 403, INVALID_REQUEST, 'Forbidden: Origin not allowed');
      return;
    }
    if (method === 'OPTIONS') {
      res.writeHead(204, {
        ...cors,
        'access-control-allow-methods': 'GET, POST, DELETE, OPTIONS',
        'access-control-allow-headers':
          'authorization, content-type, accept, last-event-id, mcp-session-id, mcp-protocol-version, mcp-method, mcp-name',
        'access-control-max-age': '600',
      });
      res.end();
      return;
    }
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    let identity: string;
    if (this.o.auth) {
      const result = await this.o.auth.authenticate(header(req, 'authorization'));
      if (!result.ok) {
        // RFC 9728 §3.1: the well-known segment right after the host, then the path clients call.
        const meta = `${this.externalOrigin(req)}${metadataPath(`${this.externalPrefix(req, prefix)}/mcp`)}`;
        let challenge = `Bearer resource_metadata="${meta}"`;
        if (result.error) challenge += `, error="${result.error}", error_description="${result.description}"`;
        sendRpcError(res, 401, SERVER_ERROR, `Unauthorized: ${result.description}`, { 'www-authenticate': challenge });
        return;
      }
      identity = result.identity;
    } else {
      identity = this.clientAddress(req);
      // Relayed by a sibling replica: the address here is the replica's; the client's rides a signed header.
      if (req.headers[FORWARD_HEADER]) identity = this.o.sessions.ids.vouched(header(req, IDENTITY_HEADER)) ?? identity;
    }

    const sessionHeader = header(req, 'mcp-session-id');
    const querySession =
      path === '/messages' ? new URLSearchParams(q >= 0 ? url.slice(q + 1) : '').get('sessionId') : null;
    const sessionId = sessionHeader ?? querySession ?? undefined;
    if (sessionId !== undefined && !this.o.sessions.get(sessionId) && !req.headers[FORWARD_HEADER]) {
      const owner = this.o.sessions.ids.remoteOwner(sessionId);
      if (owner) {
        this.forwardToReplica(req, res, owner, identity);
        return;
      }
    }

    if (path === '/sse') {
      if (method !== 'GET') return this.methodNotAllowed(res, 'GET');
      this.openLegacy(req, res, prefix, identity);
      return;
    }
    if (path === '/messages') {
      if (method !== 'POST') return this.methodNotAllowed(res, 'POST');
      await this.postLegacy(req, res, sessionId, identity);
      return;
    }
    if (method === 'POST') await this.post(req, res, sessionId, identity);
    else if (method === 'GET') this.get(req, res, sessionId);
    else if (method === 'DELETE') await this.delete(res, sessionId);
    else this.methodNotAllowed(res, 'GET, POST, DELETE');
  }

  private methodNotAllowed(res: ServerResponse, allow: string): void {
    sendRpcError(res, 405, INVALID_REQUEST, 'Method not allowed.', { allow });
  }

  private clientAddress(req: IncomingMessage): string {
    if (this.o.config.trustProxy) {
      // The last entry: the address our proxy saw. Earlier entries come from the client and can be forged.
      const xff = header(req, 'x-forwarded-for');
      const last = xff?.split(',').at(-1)?.trim();
      // Only an address: the identity is a rate-limit key and goes into logs.
      if (last && isIP(last) !== 0) return `ip:${last}`;
    }
    return `ip:${req.socket.remoteAddress ?? 'unknown'}`;
  }

  /** null: the Origin is not allowed. Browsers send Origin; a mismatch is a DNS-rebinding or CSRF attempt. */
  private corsHeaders(req: IncomingMessage): Record<string, string> | null {
    const origin = header(req, 'origin');
    if (!origin) return {};
    const allowed = this.o.config.allowedOrigins;
    let ok = allowed.includes('*') || allowed.includes(origin);
    if (!ok) {
      try {
        const host = header(req, 'x-forwarded-host') ?? header(req, 'host');
        ok = host !== undefined && new URL(origin).host === host;
      } catch {
        ok = false;
      }
    }
    if (!ok) return null;
    return {
      'access-control-allow-origin': origin,
      'access-control-expose-headers': 'mcp-session-id, mcp-protocol-version, www-authenticate',
      vary: 'Origin',
    };
  }

  private externalOrigin(req: IncomingMessage): string {
    const proto = header(req, 'x-forwarded-proto')?.split(',')[0]?.trim() ?? 'http';
    const host = header(req, 'x-forwarded-host') ?? header(req, 'host') ?? 'localhost';
    return `${proto === 'https' ? 'https' : 'http'}://${host}`;
  }

  /** The path prefix the client sees: X-Forwarded-Prefix (what a proxy stripped) plus the base path. */
  private externalPrefix(req: IncomingMessage, prefix: string): string {
    const forwarded = header(req, 'x-forwarded-prefix')?.split(',')[0]?.trim() ?? '';
    const clean = /^\/[A-Za-z0-9._~!$&'()*+;=:@%/-]*$/.test(forwarded) ? forwarded.replace(/\/+$/, '') : '';
    return clean && clean !== prefix ? `${clean}${prefix}` : prefix;
  }

  private protectedResource(req: IncomingMessage, res: ServerResponse, prefix: string, suffix: string): void {
    if (!this.o.auth) {
      sendJson(res, 404, { error: 'this gateway does not require authorization' });
      return;
    }
    const resourcePath = describedResourcePath(
      prefix === '' ? '' : this.externalPrefix(req, prefix),
      suffix,
      this.basePath ? this.externalPrefix(req, this.basePath) : undefined,
    );
    if (resourcePath === undefined) {
      sendJson(res, 404, { error: 'this path describes no resource of this gateway' });
      return;
    }
    const body: Record<string, unknown> = {
      resource: `${this.externalOrigin(req)}${resourcePath}`,
      bearer_methods_supported: ['header'],
      resource_name: 'MCP server (mcp-operator gateway)',
    };
    if (this.o.auth.issuer) body.authorization_servers = [this.o.auth.issuer];
    sendJson(res, 200, body, { 'cache-control': 'max-age=300' });
  }

  /**
   * Pod-to-pod: the session (or the 2026 input flow a requestState names) lives on another replica; relay the
   * request there, streams included. `retry`: a 2026 retry whose body was already read.
   */
  private forwardToReplica(
    req: IncomingMessage,
    res: ServerResponse,
    owner: string,
    identity: string,
    retry?: { body: string; id: JsonRpcId | null },
  ): void {
    const [host, port] = owner.includes(':')
      ? [owner.slice(0, owner.lastIndexOf(':')), owner.slice(owner.lastIndexOf(':') + 1)]
      : [owner, '8080'];
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, [FORWARD_HEADER]: '1' };
    delete headers[IDENTITY_HEADER];
    const vouch = this.o.auth ? undefined : this.o.sessions.ids.vouch(identity);
    if (vouch) headers[IDENTITY_HEADER] = vouch;
    if (retry) {
      delete headers['transfer-encoding'];
      headers['content-length'] = String(Buffer.byteLength(retry.body));
    }
    const upstream = httpRequest(
      {
        host: host.replace(/^\[|\]$/g, ''),
        port: Number(port),
        method: req.method,
        path: req.url,
        headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        res.socket?.setNoDelay(true);
        upRes.pipe(res);
      },
    );
    upstream.on('error', (err) => {
      this.o.log.warn({ owner, err: clip(err.message) }, 'forwarding to the owning replica failed');
      if (res.headersSent) res.end();
      else if (retry) {
        const message = 'Unknown requestState: the replica that held this request is gone; call again without it';
        sendJson(res, 200, errorResponse(retry.id, INVALID_PARAMS, message, { reason: 'invalid_request_state' }));
      } else sendRpcError(res, 404, SESSION_NOT_FOUND, 'Session not found (its replica is gone)');
    });
    res.on('close', () => upstream.destroy());
    if (retry) upstream.end(retry.body);
    else req.pipe(upstream);
  }

  /** Body, content type and JSON checks shared by the POST endpoints. */
  private async parse(req: IncomingMessage, res: ServerResponse): Promise<unknown | undefined> {
    const ct = header(req, 'content-type') ?? '';
    if (!/^application\/json\s*(;|$)/i.test(ct)) {
      req.resume();
      sendRpcError(res, 415, INVALID_REQUEST, 'Unsupported Media Type: Content-Type must be application/json');
      return undefined;
    }
    const body = await readBody(req, this.o.config.maxBodyBytes);
    if (!body.ok && body.status === 'aborted') {
      this.o.log.debug('the client closed the connection before its body was read');
      return undefined;
    }
    if (!body.ok) {
      lingerAfterRefusal(req, lingerLimits(this.o.config.maxBodyBytes));
      sendRpcError(res, 413, INVALID_REQUEST, `Payload Too Large: the limit is ${this.o.config.maxBodyBytes} bytes`, {
        connection: 'close',
      });
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.body.toString('utf8'));
    } catch {
      sendRpcError(res, 400, PARSE_ERROR, 'Parse error: the body is not valid JSON');
      return undefined;
    }
    // One answer for the batch as a whole (null id): an answer per request would be the amplification refused.
    if (Array.isArray(parsed) && parsed.length > MAX_BATCH_MESSAGES) {
      const message = `Invalid Request: the batch holds ${parsed.length} messages, more than the gateway's limit of ${MAX_BATCH_MESSAGES}; send them in smaller batches`;
      const data = { reason: 'batch_too_large', maxMessages: MAX_BATCH_MESSAGES, messages: parsed.length };
      sendJson(res, 400, errorResponse(null, INVALID_REQUEST, message, data));
      return undefined;
    }
    // Before anything walks the message: stringifying it for the server would overflow the stack.
    if (nestsDeeperThan(body.body, MAX_JSON_DEPTH)) {
      sendJson(res, 400, tooDeepAnswer(parsed));
      return undefined;
    }
    return parsed;
  }

  private validate(res: ServerResponse, parsed: unknown): JsonRpcMessage[] | undefined {
    const list = Array.isArray(parsed) ? parsed : [parsed];
    if (list.length === 0 || list.some((m) => kindOf(m) === 'invalid')) {
      sendRpcErrorFor(res, parsed, 400, INVALID_REQUEST, 'Invalid Request: not a JSON-RPC 2.0 message');
      return undefined;
    }
    return list as JsonRpcMessage[];
  }

  /**
   * Per-client rate limit: each JSON-RPC request in the body takes a token, so a batch cannot slip past it. The
   * tools/call requests of a refused body are audited and counted like calls the router refuses: through the
   * session's router, or as a sessionless request of the given kind.
   */
  private limited(
    res: ServerResponse,
    identity: string,
    messages: JsonRpcMessage[],
    entry: SessionEntry | undefined,
    sessionless: 'modern' | 'oneshot' = 'oneshot',
  ): boolean {
    const rpm = this.o.config.rateLimitRpm;
    const requests = countRequests(messages);
    if (rpm <= 0 || requests === 0) return false;
    const wait = this.o.limiter.take(`client\u0000${identity}`, rpm, requests);
    if (wait === 0) return false;
    this.o.metrics.rateLimited.inc({ scope: 'client' }, requests);
    const { session, router } = entry ?? {
      session: new ClientSession(`${sessionless}-refused`, sessionless, identity),
      router: this.o.sharedRouter,
    };
    // Audited one by one up to a bound: a refused body costs the client nothing, so a huge batch must not turn
    // into as many audit lines.
    const calls = messages.filter((m): m is JsonRpcRequest => 'method' in m && 'id' in m && m.method === 'tools/call');
    for (const call of calls.slice(0, MAX_AUDITED_REFUSALS)) router.recordRefused(session, call, 'rate_limited');
    if (calls.length > MAX_AUDITED_REFUSALS) {
      this.o.log.warn(
        { client: session.identity, refused: calls.length, audited: MAX_AUDITED_REFUSALS },
        'rate-limited body: its further tools/call requests are counted here, not audited one by one',
      );
    }
    const refusal = clientLimitRefusal(wait, requests, rpm);
    const seconds = refusal.retryAfterSeconds;
    sendRpcErrorFor(
      res,
      messages.length === 1 ? messages[0] : null,
      429,
      RATE_LIMITED,
      refusal.message,
      seconds === undefined ? {} : { 'retry-after': String(seconds) },
      seconds === undefined ? { limit: rpm, requests } : { retryAfterSeconds: seconds },
    );
    return true;
  }

  private dispatch(entry: { session: ClientSession; router: Router }, messages: JsonRpcMessage[], sink: Sink): void {
    const { session, router } = entry;
    if (!session.confirmed && messages.some((m) => !('method' in m) || m.method !== 'initialize')) {
      session.confirmed = true;
    }
    for (const m of messages) {
      if ('method' in m) {
        if ('id' in m) router.handleRequest(session, m as JsonRpcRequest, sink);
        else router.handleNotification(session, m as JsonRpcNotification);
      } else router.handleResponse(session, m as JsonRpcResponse);
    }
  }

  private refuse(res: ServerResponse, err: unknown): void {
    if (err instanceof SessionRefused) {
      sendRpcError(res, err.status, SERVER_ERROR, err.message, { 'retry-after': '5' }, { reason: err.reason });
      return;
    }
    throw err;
  }

  private async post(req: IncomingMessage, res: ServerResponse, sessionId: string | undefined, identity: string) {
    const parsed = await this.parse(req, res);
    if (parsed === undefined) return;
    rememberRequestId(res, parsed);
    // No Accept header: JSON answers (simple scripts); JSON-only clients get JSON and their GET stream the rest.
    const formats = acceptedFormats(header(req, 'accept'));
    if (formats && !formats.json && !formats.sse) {
      sendRpcError(
        res,
        406,
        INVALID_REQUEST,
        'Not Acceptable: the client must accept application/json or text/event-stream (both, per the MCP transport)',
      );
      return;
    }
    const version = header(req, 'mcp-protocol-version');
    if (version !== undefined && !SUPPORTED_VERSIONS.has(version)) {
      // Clipped: a 16 KB header must not come back as a 16 KB message (nor into a client's logs).
      const shown = clip(JSON.stringify(version), 64);
      const supported = [...SUPPORTED_VERSIONS].join(', ');
      sendRpcErrorFor(
        res,
        parsed,
        400,
        INVALID_REQUEST,
        `Bad Request: unsupported MCP-Protocol-Version ${shown}; supported: ${supported}`,
      );
      return;
    }
    if (this.o.isDraining() && startsNewWork(sessionId, parsed, looksModern(version, parsed))) {
      this.refuse(res, SessionRefused.draining());
      return;
    }
    let entry: SessionEntry | undefined;
    if (sessionId !== undefined) {
      entry = this.o.sessions.get(sessionId);
      if (entry?.session.kind !== 'streamable') {
        sendRpcErrorFor(res, parsed, 404, SESSION_NOT_FOUND, 'Session not found');
        return;
      }
    } else if (!Array.isArray(parsed) && kindOf(parsed) !== 'invalid') {
      // No session: the 2026-07-28 stateless revision, a new 2025 session, or a sessionless one-shot request.
      const outcome = looksModern(version, parsed)
        ? (await this.o.modern.load()).classify({
            httpMethod: 'POST',
            protocolVersionHeader: version,
            mcpMethodHeader: header(req, 'mcp-method'),
            mcpNameHeader: header(req, 'mcp-name'),
            body: parsed,
          })
        : { kind: 'legacy' as const };
      if (outcome.kind === 'reject') {
        sendRpcErrorFor(res, parsed, outcome.httpStatus, outcome.code, outcome.message, {}, outcome.data);
        return;
      }
      if (outcome.kind === 'modern') {
        // A multi-round-trip retry whose flow lives on another replica continues there.
        const state = isObject(parsed) && isObject(parsed.params) ? parsed.params.requestState : undefined;
        const owner =
          typeof state === 'string' && !req.headers[FORWARD_HEADER]
            ? this.o.requestStates.remoteOwner(state, identity)
            : undefined;
        if (owner) {
          const id = (parsed as { id?: JsonRpcId }).id ?? null;
          this.forwardToReplica(req, res, owner, identity, { body: JSON.stringify(parsed), id });
          return;
        }
        if (this.limited(res, identity, [parsed as JsonRpcMessage], undefined, 'modern')) return;
        await this.postModern(req, res, parsed, identity);
        return;
      }
    }
    const messages = this.validate(res, parsed);
    if (!messages) return;
    if (this.limited(res, identity, messages, entry)) return;
    const hasInit = messages.some((m) => 'method' in m && m.method === 'initialize');
    if (hasInit && (entry || messages.length > 1)) {
      sendRpcErrorFor(
        res,
        parsed,
        400,
        INVALID_REQUEST,
        'Invalid Request: initialize must be the only message of a new session',
      );
      return;
    }
    const acceptsSse = formats?.sse ?? false;
    const requests = countRequests(messages);
    const headers: Record<string, string> = {};
    let streams: StreamState | undefined;
    let target: { session: ClientSession; router: Router };
    if (entry) {
      streams = entry.streams;
      target = entry;
    } else if (hasInit) {
      try {
        entry = this.o.sessions.create('streamable', identity);
      } catch (err) {
        this.refuse(res, err);
        return;
      }
      entry.streams = new StreamState(entry.session, this.o.openStreams, this.o.streamLimits);
      streams = entry.streams;
      target = entry;
      headers['mcp-session-id'] = entry.session.id;
    } else {
      // A sessionless 2025-style request: served once, like a stateless server would.
      const session = new ClientSession(`oneshot-${Date.now().toString(36)}`, 'oneshot', identity);
      target = { session, router: this.o.sharedRouter };
    }
    if (requests === 0) {
      this.dispatch(target, messages, { related() {}, respond() {} });
      res.writeHead(202, headers);
      res.end();
      return;
    }
    const exchange = new HttpExchange({
      res,
      state: streams,
      openStreams: this.o.openStreams,
      expected: requests,
      batch: Array.isArray(parsed),
      acceptsSse,
      acceptsJson: formats?.json ?? true,
      headers,
      upgradeAfterMs: this.o.streamLimits.upgradeAfterMs,
      onUnsent: (r) => this.o.stalls?.watch(r, 'json'),
    });
    const created = hasInit ? entry : undefined;
    if (created) {
      // A failed handshake must not leave a session behind.
      const inner = exchange.respond.bind(exchange);
      exchange.respond = (r) => {
        if (r.error) void this.o.sessions.close(created, 'initialize failed');
        inner(r);
      };
    }
    this.dispatch(target, messages, exchange);
  }

  private async postModern(req: IncomingMessage, res: ServerResponse, body: unknown, identity: string) {
    const router = this.o.sharedRouter;
    if (!router.upstream.ready) {
      try {
        await router.upstream.whenReady(Math.min(this.o.config.requestTimeoutMs, 10_000));
      } catch (err) {
        sendRpcErrorFor(res, body, 503, UPSTREAM_UNAVAILABLE, err instanceof Error ? err.message : String(err), {
          'retry-after': '2',
        });
        return;
      }
    }
    await (await this.o.modern.load()).handle(req, res, body, identity);
  }

  private get(req: IncomingMessage, res: ServerResponse, sessionId: string | undefined): void {
    if (refuseUnlessSse(req, res)) return;
    if (sessionId === undefined) {
      sendRpcError(res, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const entry = this.o.sessions.get(sessionId);
    if (!entry?.streams) {
      sendRpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
      return;
    }
    entry.session.lastActivity = Date.now();
    entry.session.confirmed = true;
    entry.streams.openGet(res, header(req, 'last-event-id'), { 'mcp-session-id': sessionId });
  }

  private async delete(res: ServerResponse, sessionId: string | undefined): Promise<void> {
    if (sessionId === undefined) {
      sendRpcError(res, 400, INVALID_REQUEST, 'Bad Request: Mcp-Session-Id header is required');
      return;
    }
    const entry = this.o.sessions.get(sessionId);
    if (entry?.session.kind !== 'streamable') {
      sendRpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
      return;
    }
    res.writeHead(200);
    res.end();
    await this.o.sessions.close(entry, 'client deleted the session');
  }

  // ---- legacy HTTP+SSE (2024-11-05)

  private openLegacy(req: IncomingMessage, res: ServerResponse, prefix: string, identity: string): void {
    if (refuseUnlessSse(req, res)) return;
    let entry: SessionEntry;
    try {
      entry = this.o.sessions.create('sse', identity);
    } catch (err) {
      this.refuse(res, err);
      return;
    }
    const session = entry.session;
    const conn = new SseConnection(res, this.o.openStreams, { kind: 'sse', session: session.logId });
    entry.sse = conn;
    // SDK 1.x legacy clients run notification handlers a microtask later but responses at once, so a progress
    // event and the response parsed from one chunk lose the progress. A response written right after a
    // notification is held back a moment so the two travel as separate chunks.
    const GAP_MS = 4;
    let lastNotification = 0;
    let queue: JsonRpcMessage[] | undefined;
    const flush = () => {
      const q = queue ?? [];
      queue = undefined;
      for (const m of q) {
        if ('method' in m) lastNotification = performance.now();
        conn.event(JSON.stringify(m), { event: 'message' });
      }
    };
    session.deliver = (m) => {
      if (conn.closed) return false;
      const isNotification = 'method' in m;
      const wait = lastNotification + GAP_MS - performance.now();
      if (queue || (!isNotification && wait > 0)) {
        if (!queue) {
          queue = [];
          setTimeout(flush, Math.max(1, wait));
        }
        queue.push(m);
        return true;
      }
      if (isNotification) lastNotification = performance.now();
      return conn.event(JSON.stringify(m), { event: 'message' });
    };
    conn.onbeforeend = flush; // a drain or close must not drop an answer still held back by the gap
    conn.onclose = () => void this.o.sessions.close(entry, 'SSE stream closed');
    const endpoint = `${this.externalPrefix(req, prefix)}/messages?sessionId=${encodeURIComponent(session.id)}`;
    conn.event(endpoint, { event: 'endpoint' });
  }

  private async postLegacy(req: IncomingMessage, res: ServerResponse, sessionId: string | undefined, identity: string) {
    if (sessionId === undefined) {
      sendRpcError(res, 400, INVALID_REQUEST, 'Bad Request: the sessionId query parameter is required');
      return;
    }
    const entry = this.o.sessions.get(sessionId);
    if (entry?.session.kind !== 'sse') {
      req.resume();
      sendRpcError(res, 404, SESSION_NOT_FOUND, 'Session not found');
      return;
    }
    const parsed = await this.parse(req, res);
    if (parsed === undefined) return;
    rememberRequestId(res, parsed);
    const messages = this.validate(res, parsed);
    if (!messages) return;
    if (this.limited(res, identity, messages, entry)) return;
    const session = entry.session;
    const sink: Sink = { related: (m) => void session.deliver(m), respond: (r) => void session.deliver(r) };
    this.dispatch(entry, messages, sink);
    res.writeHead(202, { 'content-type': 'text/plain' });
    res.end('Accepted');
  }
}
