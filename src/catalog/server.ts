/**
 * The catalog's HTTP server: the MCP Registry read API (`/v0.1/...`, and `/v0/...` as the official registry
 * also serves it), the page (static files shipped in the package, nothing from the internet), the page's
 * data (`/api/catalog`) and its live updates (`/api/events`, server-sent events fed by the watch). Read-only:
 * every other method is refused. Optional bearer/OIDC auth (the gateway's authenticators) guards the data;
 * the page's own files hold no data and load without it, then ask for a token when the data answers 401.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import type { Authenticator } from '../gateway/policy/auth.ts';
import type { Logger } from '../observability/log.ts';
import type { CatalogEntry } from './entry.ts';
import {
  findServer,
  listServers,
  parseListQuery,
  type RegistryOptions,
  registryName,
  serverResponse,
  versionResponse,
} from './registry.ts';
import { type Snippet, snippets } from './snippets.ts';
import type { ChangeListener } from './source.ts';

/** What the server needs from the watch: the CatalogSource, or anything shaped like it in a test. */
export interface EntrySource {
  list(): CatalogEntry[];
  onChange(listener: ChangeListener): () => void;
  readonly synced: boolean;
}

export interface CatalogServerOptions {
  source: EntrySource;
  registry: RegistryOptions;
  /** undefined: no auth (the chart's default keeps the Service in-cluster). */
  authenticator?: Authenticator;
  log: Logger;
  /** A prefix the Ingress or HTTPRoute routes without rewriting, e.g. /catalog ('' for none). */
  basePath?: string;
  /** Open event streams at most (default 1000): each holds a socket and a listener, so they are bounded. */
  maxStreams?: number;
  /**
   * Bytes an event stream may have queued and unsent (default 8 MiB): a client that stops reading is dropped
   * there instead of growing the catalog's memory with every change; it reconnects and gets a fresh snapshot.
   */
  maxStreamBacklog?: number;
  /** Keep-alive comments on the event stream (default 15 s), so proxies do not close an idle stream. */
  keepAliveMs?: number;
}

/** No inline script or style anywhere, so the policy needs no 'unsafe-inline'. */
export const CONTENT_SECURITY_POLICY =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

/** How long close() waits for open connections (a page reconnecting its stream) before cutting them. */
const CLOSE_GRACE_MS = 2_000;
const PAGE_DIR = join(import.meta.dirname, 'page');
const ASSETS: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/catalog.js': { file: 'catalog.js', type: 'text/javascript; charset=utf-8' },
  '/catalog.css': { file: 'catalog.css', type: 'text/css; charset=utf-8' },
};

/** What the page shows per server: the entry, its registry name and its client snippets. */
export interface PageEntry extends CatalogEntry {
  registryName: string;
  snippets: Snippet[];
}

export function pageEntry(entry: CatalogEntry, registry: RegistryOptions): PageEntry {
  return { ...entry, registryName: registryName(entry, registry), snippets: snippets(entry) };
}

/**
 * The request target as a URL. Origin-form is joined to a dummy origin as text: resolved relative to one, `//`
 * or `//host/x` would be read as a host (or throw, a 500), not as the path it is.
 */
function requestUrl(target: string): URL | undefined {
  try {
    return new URL(target.startsWith('/') ? `http://catalog.invalid${target}` : target);
  } catch {
    return undefined;
  }
}

const sseEvent = (event: string, data: unknown) => Buffer.from(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

/** localhost, 127.0.0.0/8 and ::1: a browser reaches a loopback listener only by these, unless DNS says otherwise. */
function isLoopback(host: string | undefined): boolean {
  if (host === undefined) return false;
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127(\.\d{1,3}){3}$/.test(bare);
}

/** The Host header's name without its port ('[::1]:8080' gives '[::1]'); undefined when it is no host. */
function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    return new URL(`http://${header}/`).hostname;
  } catch {
    return undefined;
  }
}

const REGISTRY_PATH = /^\/v0(?:\.1)?\/servers(?:\/(.+?)\/versions(?:\/([^/]+))?)?\/?$/;

export class CatalogServer {
  private readonly options: CatalogServerOptions;
  private readonly assets = new Map<string, { body: Buffer; type: string }>();
  private readonly streams = new Set<ServerResponse>();
  private closing = false;
  /** Listening on loopback only: then a Host that is not loopback is a DNS-rebinding page, refused. */
  private loopbackOnly = false;
  /** Per entry object (the watch makes a new one per change): built once, not once per open stream. */
  private readonly pages = new WeakMap<CatalogEntry, PageEntry>();
  /**
   * Each event encoded once and the same Buffer written to every stream: streams that do not read would
   * otherwise each hold their own copy of a snapshot of thousands of servers (tens of MB apiece).
   */
  private readonly encoded = new WeakMap<CatalogEntry, Partial<Record<'upsert' | 'delete', Buffer>>>();
  private snapshot?: { entries: CatalogEntry[]; bytes: Buffer };
  readonly server: Server;

  constructor(options: CatalogServerOptions) {
    this.options = options;
    for (const [path, { file, type }] of Object.entries(ASSETS))
      this.assets.set(path, { body: readFileSync(join(PAGE_DIR, file)), type });
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.options.log.error({ err: String(err), path: req.url?.split('?')[0] }, 'request failed');
        if (!res.headersSent) this.json(res, 500, { error: 'internal error' });
        else res.destroy();
      });
    });
  }

  listen(port: number, host: string): Promise<{ port: number }> {
    this.loopbackOnly = isLoopback(host);
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve({ port: typeof address === 'object' && address ? address.port : port });
      });
    });
  }

  /**
   * Ends every stream and closes. A page reconnects its stream at once over a kept-alive connection, which
   * server.close() would wait for forever: new streams are refused from here on, and connections still open
   * after a short grace are cut.
   */
  async close(): Promise<void> {
    this.closing = true;
    for (const res of this.streams) res.end();
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeIdleConnections();
    const cut = setTimeout(() => this.server.closeAllConnections(), CLOSE_GRACE_MS);
    await closed;
    clearTimeout(cut);
  }

  private json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      'content-length': Buffer.byteLength(text),
      ...extra,
    });
    res.end(text);
  }

  /** false when the request may go on; true when the 401 has been sent. */
  private async denied(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const authenticator = this.options.authenticator;
    if (!authenticator) return false;
    const result = await authenticator.authenticate(req.headers.authorization);
    if (result.ok) return false;
    if (result.unavailable) {
      // Not the token's fault (the identity provider is down): a 401 would make the page and clients drop it.
      this.json(res, 503, { error: result.description }, { 'retry-after': '5' });
      return true;
    }
    const error = result.error ? `, error="${result.error}"` : '';
    this.json(
      res,
      401,
      { error: result.description },
      { 'www-authenticate': `Bearer realm="mcp-operator-catalog"${error}` },
    );
    return true;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = requestUrl(req.url ?? '/');
    if (!url) return this.json(res, 400, { error: 'the request target is not a valid URL path' });
    if (this.loopbackOnly && !isLoopback(hostOf(req.headers.host)))
      return this.json(res, 403, {
        error: `Host ${JSON.stringify(req.headers.host ?? '')} is not loopback, where this catalog listens (a page rebinding its name to 127.0.0.1?): open it as localhost or 127.0.0.1`,
      });
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.json(res, 405, { error: 'the catalog is read-only: GET only' }, { allow: 'GET, HEAD' });
      return;
    }
    // Probes reach the pod directly, at the root; everything else lives under the base path.
    if (url.pathname === '/healthz') return this.json(res, 200, { status: 'ok' });
    if (url.pathname === '/readyz')
      return this.json(res, this.options.source.synced ? 200 : 503, { synced: this.options.source.synced });
    const base = this.options.basePath ?? '';
    if (base && url.pathname === base) {
      // The page's URLs are relative: they need the trailing slash.
      res.writeHead(308, { ...SECURITY_HEADERS, location: `${base}/${url.search}` });
      res.end();
      return;
    }
    if (base && !url.pathname.startsWith(`${base}/`))
      return this.json(res, 404, { error: `no such path: ${url.pathname} (the catalog is under ${base}/)` });
    const path = url.pathname.slice(base.length);
    const asset = this.assets.get(path);
    if (asset) {
      res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': asset.type, 'cache-control': 'no-cache' });
      res.end(req.method === 'HEAD' ? undefined : asset.body);
      return;
    }
    const registry = REGISTRY_PATH.exec(path);
    if (!registry && path !== '/api/catalog' && path !== '/api/events')
      return this.json(res, 404, { error: `no such path: ${path}` });
    if (await this.denied(req, res)) return;
    // Before the first list, an empty or partial answer would read as "those servers are gone" to a client
    // that mirrors the registry (the chart's readiness probe hides this window; a local run does not).
    if (!this.options.source.synced)
      return this.json(
        res,
        503,
        { error: 'the catalog is still listing the cluster; retry in a moment' },
        { 'retry-after': '1' },
      );
    if (path === '/api/catalog') return this.json(res, 200, { servers: this.pageEntries() });
    if (path === '/api/events') return this.events(req, res);
    this.registry(res, url.searchParams, registry?.[1], registry?.[2]);
  }

  private page(entry: CatalogEntry): PageEntry {
    let built = this.pages.get(entry);
    if (!built) {
      built = pageEntry(entry, this.options.registry);
      this.pages.set(entry, built);
    }
    return built;
  }

  private pageEntries(): PageEntry[] {
    return this.options.source.list().map((e) => this.page(e));
  }

  private snapshotEvent(): Buffer {
    const entries = this.options.source.list();
    const cached = this.snapshot;
    if (cached && cached.entries.length === entries.length && cached.entries.every((e, i) => e === entries[i]))
      return cached.bytes;
    const bytes = sseEvent('snapshot', { servers: entries.map((e) => this.page(e)) });
    this.snapshot = { entries, bytes };
    return bytes;
  }

  private changeEvent(type: 'upsert' | 'delete', entry: CatalogEntry): Buffer {
    let events = this.encoded.get(entry);
    if (!events) {
      events = {};
      this.encoded.set(entry, events);
    }
    const bytes = events[type] ?? sseEvent(type, type === 'delete' ? entry : this.page(entry));
    events[type] = bytes;
    return bytes;
  }

  private registry(res: ServerResponse, params: URLSearchParams, rawName?: string, rawVersion?: string) {
    const entries = this.options.source.list();
    const options = this.options.registry;
    if (rawName === undefined) {
      const parsed = parseListQuery(params);
      if (!parsed.ok) return this.json(res, 400, { error: parsed.error });
      return this.json(res, 200, listServers(entries, parsed.query, options));
    }
    let name: string;
    let version: string | undefined;
    try {
      name = decodeURIComponent(rawName);
      version = rawVersion === undefined ? undefined : decodeURIComponent(rawVersion);
    } catch {
      return this.json(res, 400, { error: 'the server name or version is not valid percent-encoding' });
    }
    const entry = findServer(entries, name, options);
    if (!entry) return this.json(res, 404, { error: 'Server not found' });
    if (version === undefined) {
      return this.json(res, 200, { servers: [serverResponse(entry, options)], metadata: { count: 1 } });
    }
    const response = versionResponse(entry, version, options);
    if (!response) return this.json(res, 404, { error: 'Server version not found' });
    this.json(res, 200, response);
  }

  /** A snapshot, then every change as it happens. */
  private events(req: IncomingMessage, res: ServerResponse): void {
    if (this.closing) {
      this.json(
        res,
        503,
        { error: 'the catalog is shutting down; retry later' },
        { 'retry-after': '2', connection: 'close' },
      );
      return;
    }
    if (this.streams.size >= (this.options.maxStreams ?? 1000)) {
      this.json(res, 503, { error: 'too many open event streams; retry later' }, { 'retry-after': '10' });
      return;
    }
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
    });
    // HEAD has no body: answering with an endless stream would hang the client and hold a slot.
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const snapshot = this.snapshotEvent();
    res.write(snapshot);
    // Counted beyond the snapshot: a snapshot of thousands of servers still in flight is not a stalled client.
    const backlog = (this.options.maxStreamBacklog ?? 8 * 1024 * 1024) + snapshot.length;
    const unsubscribe = this.options.source.onChange(({ type, entry }) => {
      if (res.writableLength > backlog) {
        this.options.log.warn({ queued: res.writableLength }, 'event stream not read; dropping it');
        res.destroy();
        return;
      }
      res.write(this.changeEvent(type, entry));
    });
    const keepAlive = setInterval(() => {
      if (res.writableLength > backlog) res.destroy();
      else res.write(': keep-alive\n\n');
    }, this.options.keepAliveMs ?? 15_000);
    this.streams.add(res);
    const done = () => {
      clearInterval(keepAlive);
      unsubscribe();
      this.streams.delete(res);
    };
    req.on('close', done);
    res.on('close', done);
  }
}
