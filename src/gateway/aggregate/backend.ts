/**
 * One backend of an aggregate: the connection to its McpServer's gateway (an Upstream over an HTTP channel,
 * reconnecting with backoff), what it offers (tools, prompts, resources, templates: every page, read at each
 * connection and after its list_changed), and a health check that notices a backend that died without closing
 * its connection. The mux sees it as one MuxUpstream whose errors name the backend.
 */
import { readFile } from 'node:fs/promises';
import type { AggregateBackend } from '../../contract/aggregate.ts';
import type { ItemKind } from '../../contract/virtual-names.ts';
import type { Logger } from '../../observability/log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import type { MuxUpstream } from '../mux/upstream.ts';
import {
  isObject,
  type JsonRpcMessage,
  type JsonRpcResponse,
  METHOD_NOT_FOUND,
  type Params,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import { type Channel, type ChannelCloseInfo, REFUSED, UNREACHABLE } from '../upstream/channel.ts';
import { type InitializeResult, Upstream, type UpstreamState } from '../upstream/upstream.ts';

/** What a list method returns under, by item kind, and the capability that says the backend has it. */
export const LISTS: Readonly<Record<ItemKind, { method: string; key: string; capability: string }>> = {
  tool: { method: 'tools/list', key: 'tools', capability: 'tools' },
  prompt: { method: 'prompts/list', key: 'prompts', capability: 'prompts' },
  resource: { method: 'resources/list', key: 'resources', capability: 'resources' },
  resourceTemplate: { method: 'resources/templates/list', key: 'resourceTemplates', capability: 'resources' },
};

/** An item as the backend listed it: `name` (tools, prompts) or `uri` / `uriTemplate` (resources, templates). */
export type Item = Record<string, unknown>;

export const itemKey = (kind: ItemKind, item: Item): unknown =>
  kind === 'resource' ? item.uri : kind === 'resourceTemplate' ? item.uriTemplate : item.name;

/** Items of one kind kept per backend: a backend listing more is cut here (and logged), not kept whole in memory. */
export const MAX_ITEMS = 5000;
/** Pages read per list: MAX_ITEMS in pages of 5 (a backend sending empty pages forever stops here, logged). */
const MAX_PAGES = 1000;
const LIST_TIMEOUT_MS = 10_000;
const TOKEN_RECHECK_MS = 10_000;
/**
 * A list read that failed (the backend's own rate limit, a timeout, an error while it warms up) is read again
 * after this long, doubling up to LIST_RETRY_MAX_MS, until every list is read: nothing else would read it before
 * the backend's next list_changed or reconnection, and a first reading that failed left its tools out until then.
 */
const LIST_RETRY_MS = 1000;
const LIST_RETRY_MAX_MS = 30_000;

export interface BackendOptions {
  spec: AggregateBackend;
  log: Logger;
  metrics: GatewayMetrics;
  /** The gateway's initialize params towards backends. */
  initParams: Params;
  /** The backend's lists or state changed: the aggregate rebuilds its names. */
  onChange: () => void;
  /** The HTTP channel; tests may hand in another. */
  createChannel: (spec: AggregateBackend, headers: () => Promise<Record<string, string>>) => Channel;
  healthIntervalMs?: number;
  backoffMaxMs?: number;
}

export class Backend implements MuxUpstream {
  readonly label: string;
  spec: AggregateBackend;
  /** The last lists read, kept while the backend is down so its names keep answering (with "unavailable"). */
  readonly offered = new Map<ItemKind, Item[]>();
  onmessage?: (message: JsonRpcMessage) => void;
  onstate?: (state: UpstreamState, info?: ChannelCloseInfo) => void;
  private readonly upstream: Upstream;
  private readonly o: BackendOptions;
  private readonly health: NodeJS.Timeout;
  private reading?: Promise<void>;
  private readAgain = false;
  private listRetry?: NodeJS.Timeout;
  private listRetryMs = LIST_RETRY_MS;
  private stopped = false;
  private token?: { file: string; read: number; headers: Record<string, string> };

  constructor(options: BackendOptions) {
    this.o = options;
    this.spec = options.spec;
    this.label = options.spec.name;
    const log = options.log.child({ backend: this.label });
    const headers = () => this.headers();
    this.upstream = new Upstream({
      name: this.label,
      createChannel: () => options.createChannel(this.spec, headers),
      log,
      metrics: options.metrics,
      backoffMaxMs: options.backoffMaxMs ?? 5000,
      initTimeoutMs: 10_000,
    });
    this.upstream.onmessage = (m) => this.fromBackend(m);
    this.upstream.onstate = (state, info) => {
      options.metrics.backendUp.set({ backend: this.label }, state === 'ready' ? 1 : 0);
      this.onstate?.(state, info);
      if (state === 'ready') this.refreshLists();
      else options.onChange();
    };
    options.metrics.backendUp.set({ backend: this.label }, 0);
    this.health = setInterval(() => void this.check(), options.healthIntervalMs ?? 5000);
    this.health.unref();
  }

  get ready(): boolean {
    return this.upstream.ready;
  }
  get restarts(): number {
    return this.upstream.restarts;
  }
  get initResult(): InitializeResult | undefined {
    return this.upstream.initResult;
  }
  get lastExit(): ChannelCloseInfo | undefined {
    return this.upstream.lastExit;
  }
  get everStarted(): boolean {
    return this.upstream.everStarted;
  }

  send(message: JsonRpcMessage): boolean {
    return this.upstream.send(message);
  }
  request(method: string, params: Params | undefined, timeoutMs: number): Promise<JsonRpcResponse> {
    return this.upstream.request(method, params, timeoutMs);
  }
  whenReady(timeoutMs?: number): Promise<void> {
    return this.upstream.whenReady(timeoutMs);
  }
  backlog(): number {
    return this.upstream.backlog();
  }
  unavailableReason(): string {
    return `backend ${this.label} is unavailable: ${this.whyUnavailable()}`;
  }

  /** Why, without naming the backend (for a message that already does). */
  whyUnavailable(): string {
    return this.upstream.unavailableReason();
  }

  start(): Promise<void> {
    return this.upstream.start(this.o.initParams);
  }

  async stop(): Promise<void> {
    clearInterval(this.health);
    this.stopped = true;
    clearTimeout(this.listRetry);
    this.o.metrics.backendUp.remove({ backend: this.label });
    await this.upstream.stop(2000);
  }

  /** Its list_changed: read the lists again (the aggregate tells clients if the merged lists changed). */
  refreshLists(): void {
    clearTimeout(this.listRetry);
    this.listRetry = undefined;
    if (this.reading) {
      this.readAgain = true;
      return;
    }
    this.reading = this.readLists()
      .then((complete) => {
        if (complete) this.listRetryMs = LIST_RETRY_MS;
        else if (!this.readAgain) this.retryLists();
      })
      .finally(() => {
        this.reading = undefined;
        this.o.onChange();
        if (!this.readAgain) return;
        this.readAgain = false;
        this.refreshLists();
      });
  }

  /** A list read failed while the backend is up: read the lists again later (a reconnection reads them anyway). */
  private retryLists(): void {
    if (this.stopped || !this.upstream.ready) return;
    const delay = this.listRetryMs;
    this.listRetryMs = Math.min(delay * 2, LIST_RETRY_MAX_MS);
    this.o.log.info({ backend: this.label, retryMs: delay }, 'reading the backend lists again later');
    this.listRetry = setTimeout(() => {
      this.listRetry = undefined;
      if (!this.stopped && this.upstream.ready) this.refreshLists();
    }, delay);
    this.listRetry.unref();
  }

  /** The credential, re-read at most every TOKEN_RECHECK_MS: the kubelet replaces a renewed one in place. */
  private async headers(): Promise<Record<string, string>> {
    const file = this.spec.tokenFile;
    if (!file) return {};
    const now = Date.now();
    if (this.token && this.token.file === file && now - this.token.read < TOKEN_RECHECK_MS) return this.token.headers;
    let headers: Record<string, string> = {};
    try {
      const token = (await readFile(file, 'utf8')).trim();
      if (token) headers = { authorization: `Bearer ${token}` };
    } catch (err) {
      this.o.log.warn({ backend: this.label, file, err: (err as NodeJS.ErrnoException).code }, 'token file unreadable');
    }
    this.token = { file, read: now, headers };
    return headers;
  }

  private fromBackend(message: JsonRpcMessage): void {
    const error = 'error' in message ? message.error : undefined;
    if (error?.code === UPSTREAM_UNAVAILABLE && error.message.startsWith(UNREACHABLE)) {
      // The HTTP channel could not reach the backend: say which one, and reconnect rather than wait for a probe.
      this.onmessage?.({ ...message, error: { ...error, message: `backend ${this.label}: ${error.message}` } });
      this.upstream.recycle(error.message);
      return;
    }
    if (error?.message.startsWith(REFUSED)) {
      // The backend refused this one request (an HTTP error, say a 413): say which backend; the connection stays.
      this.onmessage?.({ ...message, error: { ...error, message: `backend ${this.label}: ${error.message}` } });
      return;
    }
    this.onmessage?.(message);
  }

  private async check(): Promise<void> {
    if (!this.upstream.ready) return;
    const answer = await this.upstream.request('ping', undefined, 3000);
    // A ping the backend refused over HTTP (its per-client rate limit's 429, a 503 while it drains) proves it
    // alive: reconnecting would only fail the calls in flight.
    if (answer.error?.message.startsWith(REFUSED)) return;
    if (answer.error && answer.error.code !== METHOD_NOT_FOUND) {
      this.o.log.warn({ backend: this.label, err: answer.error.message }, 'backend failed its health check');
      this.upstream.recycle(`health check failed: ${answer.error.message}`);
    }
  }

  /** Reads every list; false when one failed (and kept its last reading). */
  private async readLists(): Promise<boolean> {
    let complete = true;
    const capabilities = this.upstream.initResult?.capabilities ?? {};
    for (const [kind, list] of Object.entries(LISTS) as Array<[ItemKind, (typeof LISTS)[ItemKind]]>) {
      if (!isObject(capabilities[list.capability])) {
        this.offered.delete(kind);
        continue;
      }
      const items = await this.readList(list.method, list.key);
      // A list that failed keeps its last reading: one timeout must not make a backend's tools disappear.
      if (items)
        this.offered.set(
          kind,
          items.filter((i) => typeof itemKey(kind, i) === 'string'),
        );
      else complete = false;
    }
    return complete;
  }

  private async readList(method: string, key: string): Promise<Item[] | undefined> {
    const items: Item[] = [];
    const cursors = new Set<string>();
    let cursor: unknown;
    for (let page = 0; ; page++) {
      if (page === MAX_PAGES) {
        this.o.log.warn(
          { backend: this.label, method, pages: MAX_PAGES },
          'backend lists too many pages; the rest are ignored',
        );
        break;
      }
      const answer = await this.upstream.request(method, cursor === undefined ? {} : { cursor }, LIST_TIMEOUT_MS);
      if (answer.error || !isObject(answer.result)) {
        if (answer.error?.code === METHOD_NOT_FOUND) return [];
        this.o.log.warn({ backend: this.label, method, err: answer.error?.message }, 'backend list failed');
        return undefined;
      }
      const got = answer.result[key];
      if (Array.isArray(got)) for (const item of got) if (isObject(item)) items.push(item);
      if (items.length > MAX_ITEMS) {
        this.o.log.warn(
          { backend: this.label, method, kept: MAX_ITEMS },
          'backend lists too many items; the rest are ignored',
        );
        return items.slice(0, MAX_ITEMS);
      }
      cursor = answer.result.nextCursor;
      if (typeof cursor !== 'string' || cursor === '') break;
      if (cursors.has(cursor)) {
        this.o.log.warn({ backend: this.label, method }, 'backend repeats a list cursor; its list ends there');
        break;
      }
      cursors.add(cursor);
    }
    return items;
  }
}
