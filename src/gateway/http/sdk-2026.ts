/**
 * The 2026-07-28 (stateless) revision, served by the official SDK's `createMcpHandler`: it validates the
 * per-request `_meta` envelope and the `MCP-Protocol-Version` / `Mcp-Method` / `Mcp-Name` headers against the
 * body, answers `server/discover` from the cached handshake, stamps 2026 result fields and runs the
 * `subscriptions/listen` streams. Each request is forwarded through the same router as the session eras, so
 * it reaches the same server process under the same policy.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { finished } from 'node:stream';
import { type NodeServerResponseLike, toNodeHandler } from '@modelcontextprotocol/node';
import {
  classifyInboundRequest,
  createMcpHandler,
  type InboundHttpRequest,
  ProtocolError,
  Server,
  type ServerOptions,
} from '@modelcontextprotocol/server';
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import type { Mux } from '../mux/mux.ts';
import { ClientSession, type Sink } from '../mux/session.ts';
import { MAX_SESSION_SUBSCRIPTIONS, MAX_SUBSCRIBED_URI_LENGTH } from '../mux/subscriptions.ts';
import { isObject, type JsonRpcNotification, type JsonRpcRequest } from '../protocol/jsonrpc.ts';
import type { SdkStreamWatch } from './stall.ts';

const CLIENT_CAPABILITIES = 'io.modelcontextprotocol/clientCapabilities';

export interface Sdk2026Options {
  // see LazySdk2026 in sdk-2026-loader.ts
  router: () => Mux;
  log: Logger;
  keepAliveMs: number;
  maxBodyBytes: number;
  /** Open listen streams the gateway admits (ListenLimit); the SDK's own cap is set above it. */
  maxListens: number;
  /** Closes the SDK-written event streams whose client stopped reading. */
  stalls?: SdkStreamWatch;
}

/** At most this many resource URIs per listen stream are subscribed on the server (a bound per stream). */
export const MAX_WATCHED_RESOURCES = MAX_SESSION_SUBSCRIPTIONS;

/** The resource URIs a `subscriptions/listen` request asks to watch; none for any other request. */
export function watchedResources(body: unknown): string[] {
  if (!isObject(body) || body.method !== 'subscriptions/listen' || !isObject(body.params)) return [];
  const filter = body.params.notifications;
  const list = isObject(filter) ? filter.resourceSubscriptions : undefined;
  if (!Array.isArray(list)) return [];
  const uris = list.filter(
    (u): u is string => typeof u === 'string' && u.length > 0 && u.length <= MAX_SUBSCRIBED_URI_LENGTH,
  );
  return [...new Set(uris)].slice(0, MAX_WATCHED_RESOURCES);
}

const EVENT_STREAM = /^text\/event-stream/i;

/**
 * How long the start of a listen stream is held back. A proxy on Go's ReverseProxy over HTTP/1.1 (Traefik) drops
 * its connection to the pod when the answer to a POST reaches it before its transport's last read of the request
 * body (traefik/traefik#10381, golang/go#40747). The SDK acknowledges a listen at once, so on a busy machine 10 of
 * 600 listens through Traefik ended right after their acknowledgement, and none of 600 with this hold; answers
 * that wait on the server (tool calls, with or without progress) lost that race in none of 600. It narrows the
 * race, it cannot close it. A listen is set up once and lasts: 50 ms there costs nothing a client waits on.
 */
export const LISTEN_START_HOLD_MS = 50;

type Held =
  | { writeHead: [number, Record<string, string> | undefined] }
  | { write: string | Uint8Array }
  | { end: string | Uint8Array | undefined };

/**
 * The response as the SDK's Node adapter writes it (it takes any object of this shape): passed through, and
 * `onEventStream` runs when the answer starts as a 200 event stream, never for an error answer. With `holdMs`,
 * what the adapter writes in that time is kept and then written in order (unless the client left meanwhile).
 */
class ObservedResponse implements NodeServerResponseLike {
  private readonly res: ServerResponse;
  private readonly onEventStream: () => void;
  private held?: Held[];

  constructor(res: ServerResponse, onEventStream: () => void, holdMs = 0) {
    this.res = res;
    this.onEventStream = onEventStream;
    if (holdMs <= 0) return;
    this.held = [];
    const timer = setTimeout(() => this.release(), holdMs);
    res.once('close', () => clearTimeout(timer));
  }

  private release(): void {
    const held = this.held ?? [];
    this.held = undefined;
    if (this.res.destroyed) return;
    for (const h of held) {
      if ('writeHead' in h) this.writeHead(...h.writeHead);
      else if ('write' in h) this.res.write(h.write);
      else this.res.end(h.end);
    }
  }

  writeHead(status: number, headers?: Record<string, string>): unknown {
    if (this.held) return this.held.push({ writeHead: [status, headers] });
    const type = headers?.['content-type'] ?? this.res.getHeader('content-type');
    if (status === 200 && EVENT_STREAM.test(String(type ?? ''))) this.onEventStream();
    return this.res.writeHead(status, headers);
  }

  write(chunk: string | Uint8Array): unknown {
    // Held chunks are few (the acknowledgement, perhaps an update): the adapter need not wait for a drain.
    if (this.held) return this.held.push({ write: chunk }) > 0;
    return this.res.write(chunk);
  }

  end(chunk?: string | Uint8Array): unknown {
    if (this.held) return this.held.push({ end: chunk });
    return this.res.end(chunk);
  }

  on(event: string, listener: (...args: unknown[]) => void): unknown {
    return this.res.on(event, listener);
  }

  get destroyed(): boolean {
    return this.res.destroyed;
  }
}

export class Sdk2026Endpoint {
  private readonly options: Sdk2026Options;
  private readonly handler: ReturnType<typeof createMcpHandler>;
  private readonly node: ReturnType<typeof toNodeHandler>;
  private seq = 0;

  constructor(options: Sdk2026Options) {
    this.options = options;
    const { log } = options;
    this.handler = createMcpHandler(
      (ctx) => {
        const router = options.router();
        const init = router.upstream.initResult;
        const identity = ctx.authInfo?.clientId ?? 'anonymous';
        const server = new Server(init?.serverInfo ?? { name: 'unavailable', version: '0' }, {
          capabilities: (init?.capabilities ?? {}) as ServerOptions['capabilities'],
          instructions: init?.instructions,
        });
        const session = new ClientSession(`modern-${++this.seq}`, 'modern', identity);
        server.fallbackRequestHandler = (request, c) =>
          new Promise((resolve, reject) => {
            const caps = c.mcpReq.envelope?.[CLIENT_CAPABILITIES as keyof typeof c.mcpReq.envelope];
            session.capabilities = isObject(caps) ? caps : {};
            const forwarded: JsonRpcRequest = {
              jsonrpc: '2.0',
              id: c.mcpReq.id,
              method: request.method,
              ...(request.params === undefined ? {} : { params: request.params as Record<string, unknown> }),
            };
            const onAbort = () =>
              router.handleNotification(session, {
                jsonrpc: '2.0',
                method: 'notifications/cancelled',
                params: { requestId: c.mcpReq.id, reason: 'client went away' },
              });
            c.mcpReq.signal.addEventListener('abort', onAbort, { once: true });
            // The SDK lifts the multi-round-trip retry fields off the params: a retry continues the call the
            // gateway parked (router.continueRequest), it is never forwarded as a new one.
            const state = c.mcpReq.requestState();
            const responses = c.mcpReq.inputResponses;
            const retry = state !== undefined || (responses !== undefined && Object.keys(responses).length > 0);
            const sink: Sink = {
              related: (message) => {
                // Progress and log lines ride the response stream; server requests never get here (the router
                // turns them into input_required results).
                if ('method' in message && !('id' in message)) {
                  void c.mcpReq.notify(message as { method: string; params?: Record<string, unknown> }).catch(() => {});
                }
                return true;
              },
              respond: (response) => {
                c.mcpReq.signal.removeEventListener('abort', onAbort);
                if (response.error) {
                  reject(new ProtocolError(response.error.code, response.error.message, response.error.data));
                } else resolve((response.result ?? {}) as Record<string, unknown>);
              },
            };
            if (retry) router.continueRequest(session, forwarded, state, responses, sink);
            else router.handleRequest(session, forwarded, sink);
          });
        server.fallbackNotificationHandler = async (note) => {
          router.handleNotification(session, { jsonrpc: '2.0', ...note } as JsonRpcNotification);
        };
        return server;
      },
      {
        legacy: 'reject',
        // Above the gateway's limit: a stream closed to make room is counted by the SDK until it tears it down.
        maxSubscriptions: 2 * options.maxListens,
        keepAliveMs: options.keepAliveMs,
        maxRequestBodySize: options.maxBodyBytes,
        onerror: (err) => log.debug({ err: clip(err.message) }, '2026-07-28 request rejected'),
      },
    );
    this.node = toNodeHandler(this.handler, {
      maxRequestBodySize: options.maxBodyBytes,
      onerror: (err) => log.warn({ err: clip(err.message) }, '2026-07-28 handler failed'),
    });
  }

  /** The SDK's own era classification and header/body validation of a sessionless POST. */
  classify(request: InboundHttpRequest) {
    return classifyInboundRequest(request);
  }

  handle(req: IncomingMessage, res: ServerResponse, body: unknown, identity: string): Promise<void> {
    (req as IncomingMessage & { auth?: unknown }).auth = { token: '', clientId: identity, scopes: [] };
    const uris = watchedResources(body);
    const router = this.options.router();
    const subscribable = router.upstream.initResult?.capabilities?.resources;
    const watchResources = uris.length > 0 && isObject(subscribable) && subscribable.subscribe === true;
    const observed = new ObservedResponse(
      res,
      () => {
        this.options.stalls?.watch(res);
        if (!watchResources) return;
        // The SDK runs the listen stream and filters updates by URI; the server must be subscribed to send them.
        // Only once the SDK has accepted the listen (its stream starts), and until that stream is gone.
        const watcher = new ClientSession(`listen-${++this.seq}`, 'modern', identity);
        router.watch(watcher, uris);
        finished(res, () => router.detach(watcher));
      },
      isObject(body) && body.method === 'subscriptions/listen' ? LISTEN_START_HOLD_MS : 0,
    );
    return this.node(req, observed, body);
  }

  /** A list_changed or resources/updated notification from the server, for open listen streams. */
  serverEvent(note: JsonRpcNotification): void {
    const notify = this.handler.notify;
    switch (note.method) {
      case 'notifications/tools/list_changed':
        notify.toolsChanged();
        break;
      case 'notifications/prompts/list_changed':
        notify.promptsChanged();
        break;
      case 'notifications/resources/list_changed':
        notify.resourcesChanged();
        break;
      case 'notifications/resources/updated':
        if (typeof note.params?.uri === 'string') notify.resourceUpdated(note.params.uri);
        break;
    }
  }

  close(): Promise<void> {
    return this.handler.close();
  }
}
