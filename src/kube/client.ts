/**
 * A thin Kubernetes REST client over a KubeConfig: one connection pool, JSON in and out, no model classes
 * (what we apply is byte-for-byte what the renderer made), and every request counted for metrics.
 * client-node's KubernetesObjectApi builds a new agent per request and re-serializes known kinds; at a
 * thousand McpServers both cost, so the controller speaks REST directly (over node:https, see http.ts) and uses
 * client-node for auth.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { type Connection, connection, send, streamLines } from './http.ts';
import { credentialsOf, redact, redactDeep } from './redact.ts';

export class KubeApiError extends Error {
  readonly status: number;
  readonly reason: string;
  readonly body: unknown;
  constructor(status: number, reason: string, message: string, body: unknown) {
    super(message);
    this.name = 'KubeApiError';
    this.status = status;
    this.reason = reason;
    this.body = body;
  }
}

function parseStatus(text: string): { reason?: string; message?: string } | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return body && typeof body === 'object' ? body : undefined;
  } catch {
    return undefined;
  }
}

export const isNotFound = (err: unknown) => err instanceof KubeApiError && err.status === 404;
export const isConflict = (err: unknown) => err instanceof KubeApiError && err.status === 409;

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'apply' | 'patch' | 'update' | 'delete';
export type RequestObserver = (verb: Verb, resource: string, status: number) => void;

export interface ResourceType {
  apiVersion: string;
  plural: string;
}

/** `/api/v1/namespaces/ns/services/name` and friends. */
export function resourcePath(
  type: ResourceType,
  where: { namespace?: string | undefined; name?: string | undefined; subresource?: string } = {},
): string {
  const base = type.apiVersion.includes('/') ? `/apis/${type.apiVersion}` : `/api/${type.apiVersion}`;
  const ns = where.namespace ? `/namespaces/${encodeURIComponent(where.namespace)}` : '';
  const name = where.name ? `/${encodeURIComponent(where.name)}` : '';
  const sub = where.subresource ? `/${where.subresource}` : '';
  return `${base}${ns}/${type.plural}${name}${sub}`;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
  /** e.g. ServiceAccountList */
  kind: string;
}

const HEADER_REFRESH_MS = 60_000;
/**
 * Metadata only (PartialObjectMetadata, as controller-runtime's metadata informers ask): the API server sends
 * names and labels, not the objects, for a cache that needs to know only what exists.
 */
const METADATA_ONLY = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1';
const METADATA_ONLY_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

export class KubeClient {
  readonly kubeConfig: KubeConfig;
  private readonly server: string;
  private readonly observe: RequestObserver;
  private readonly userAgent: string;
  private conn: Connection | undefined;
  private connAt = 0;
  private readonly answerTimeoutMs: number | undefined;

  /** `answerTimeoutMs`: how long a request waits for the API server's answer to begin (default ANSWER_TIMEOUT_MS). */
  constructor(
    kubeConfig: KubeConfig,
    options: { userAgent?: string; observe?: RequestObserver; answerTimeoutMs?: number } = {},
  ) {
    const cluster = kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster: set current-context');
    this.kubeConfig = kubeConfig;
    this.server = cluster.server.replace(/\/+$/, '');
    this.observe = options.observe ?? (() => {});
    this.userAgent = options.userAgent ?? 'mcp-operator';
    this.answerTimeoutMs = options.answerTimeoutMs;
  }

  /** Credentials can rotate (exec plugins, projected tokens): refresh headers now and then, keep the pool. */
  private async auth(): Promise<Connection> {
    if (!this.conn || Date.now() - this.connAt > HEADER_REFRESH_MS) {
      try {
        this.conn = await connection(this.kubeConfig, this.conn?.agent);
      } catch (err) {
        // An exec plugin's error can carry what it printed, the kubeconfig's own token among it.
        if (err instanceof Error) err.message = redact(err.message, this.credentials({}));
        throw err;
      }
      this.connAt = Date.now();
    }
    return this.conn;
  }

  /** The credentials a request with these headers carries, which no error message may repeat. */
  private credentials(headers: Readonly<Record<string, string>>): string[] {
    return credentialsOf(headers, this.kubeConfig.getCurrentUser() ?? undefined);
  }

  async request<T>(
    verb: Verb,
    method: string,
    path: string,
    options: {
      query?: Record<string, string | number | boolean | undefined>;
      body?: unknown;
      contentType?: string;
      accept?: string;
    } = {},
  ): Promise<T> {
    const url = new URL(this.server + path);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const conn = await this.auth();
    const resource = path.replace(/^\/apis?\/([^/]+\/)?v[^/]+\/(namespaces\/[^/]+\/)?/, '').split('/')[0] ?? '';
    let status = 0;
    try {
      const res = await send(
        url,
        conn,
        {
          method,
          headers: {
            accept: options.accept ?? 'application/json',
            'user-agent': this.userAgent,
            ...(options.body !== undefined ? { 'content-type': options.contentType ?? 'application/json' } : {}),
          },
          body: options.body === undefined ? undefined : JSON.stringify(options.body),
        },
        this.answerTimeoutMs,
      );
      status = res.status;
      const { text } = res;
      if (res.status >= 400) {
        // Not always a Status: a resource the API server does not serve (a deleted CRD) is a plain-text 404.
        // A proxy or webhook in between may echo the request's credentials: they leave no error message.
        const secrets = this.credentials(conn.headers);
        const body = redactDeep(parseStatus(text), secrets);
        throw new KubeApiError(
          res.status,
          body?.reason ?? res.statusText,
          body?.message ??
            `${method} ${path}: HTTP ${res.status}${body ? '' : ` ${redact(text.trim(), secrets).slice(0, 200)}`}`,
          body,
        );
      }
      return (text ? JSON.parse(text) : undefined) as T;
    } finally {
      this.observe(verb, resource, status);
    }
  }

  /** `fromCache`: served by the API server's watch cache (resourceVersion=0): no etcd quorum read, maybe stale. */
  get<T>(path: string, options: { fromCache?: boolean } = {}): Promise<T> {
    return this.request<T>('get', 'GET', path, { query: options.fromCache ? { resourceVersion: '0' } : {} });
  }

  /** Every page of a list, and the resourceVersion to watch from. `metadataOnly`: items carry only metadata. */
  async list<T>(
    path: string,
    query: Record<string, string | undefined> = {},
    options: { metadataOnly?: boolean } = {},
  ): Promise<ListResult<T>> {
    const items: T[] = [];
    let cont: string | undefined;
    let resourceVersion = '';
    let kind = '';
    do {
      const page = await this.request<{
        kind: string;
        items: T[] | null;
        metadata: { continue?: string; resourceVersion: string };
      }>('list', 'GET', path, {
        query: { ...query, limit: 500, continue: cont },
        ...(options.metadataOnly ? { accept: METADATA_ONLY_LIST } : {}),
      });
      items.push(...(page.items ?? [])); // null, not [], in an empty PartialObjectMetadataList
      cont = page.metadata.continue || undefined;
      resourceVersion = page.metadata.resourceVersion;
      kind = page.kind;
    } while (cont);
    return { items, resourceVersion, kind };
  }

  /** Server-side apply: we own exactly the fields we send; force takes them back from anyone who changed them. */
  apply<T>(path: string, object: unknown, fieldManager: string): Promise<T> {
    return this.request<T>('apply', 'PATCH', path, {
      query: { fieldManager, force: true, fieldValidation: 'Strict' },
      body: object,
      contentType: 'application/apply-patch+yaml',
    });
  }

  mergePatch<T>(path: string, patch: unknown, fieldManager?: string): Promise<T> {
    return this.request<T>('patch', 'PATCH', path, {
      query: { fieldManager },
      body: patch,
      contentType: 'application/merge-patch+json',
    });
  }

  create<T>(path: string, object: unknown, query: Record<string, string> = {}): Promise<T> {
    return this.request<T>('create', 'POST', path, { body: object, query });
  }

  update<T>(path: string, object: unknown): Promise<T> {
    return this.request<T>('update', 'PUT', path, { body: object });
  }

  /** Delete, but only the object we mean (a uid precondition guards against a same-named newcomer). */
  delete(path: string, uid?: string): Promise<unknown> {
    return this.request('delete', 'DELETE', path, {
      body: {
        apiVersion: 'v1',
        kind: 'DeleteOptions',
        propagationPolicy: 'Background',
        ...(uid ? { preconditions: { uid } } : {}),
      },
    });
  }

  /** A watch stream; `done` is called once when it ends for any reason. Returns a function that stops it. */
  async watch(
    path: string,
    query: Record<string, string | number | boolean | undefined>,
    onEvent: (type: string, object: unknown) => void,
    done: (err: unknown) => void,
    options: { metadataOnly?: boolean } = {},
  ): Promise<() => void> {
    const resource = path.split('/').pop() ?? '';
    this.observe('watch', resource, 200);
    const url = new URL(this.server + path);
    url.searchParams.set('watch', 'true');
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    const conn = await this.auth();
    return streamLines(
      url,
      { ...conn, headers: { ...conn.headers, 'user-agent': this.userAgent } },
      options.metadataOnly ? METADATA_ONLY : 'application/json',
      (line) => {
        let event: { type: string; object: unknown };
        try {
          event = JSON.parse(line);
        } catch {
          return; // as client-node's Watch: a line that is not JSON is skipped
        }
        onEvent(event.type, event.object);
      },
      done,
    );
  }
}
