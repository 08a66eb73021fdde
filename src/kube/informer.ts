/**
 * A list+watch cache for one resource type in one namespace (or all). Unlike client-node's informer, it
 * never stops on its own: any watch error re-watches from the last resourceVersion with backoff, and a 410
 * (resourceVersion too old) relists and reports the difference as add/update/delete events. A transform
 * keeps only what the controller needs (no managedFields; for Secrets, key names and a hash, never values).
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../observability/log.ts';
import { KubeApiError, type KubeClient, type ResourceType, resourcePath } from './client.ts';

export type InformerEvent = 'add' | 'update' | 'delete';
export type Cached = KubernetesObject & { metadata: { name: string; namespace?: string; resourceVersion?: string } };

export interface InformerOptions<T extends Cached> {
  client: KubeClient;
  type: ResourceType;
  /** undefined: every namespace */
  namespace?: string | undefined;
  labelSelector?: string;
  /** Ask for metadata only (PartialObjectMetadata): for a cache that needs names, not objects. */
  metadataOnly?: boolean;
  transform?: (object: Cached) => T;
  onEvent: (event: InformerEvent, object: T) => void;
  log: Logger;
  /** A secondary index (e.g. the owning McpServer): objects by this key, without scanning the cache. */
  indexBy?: (object: T) => string | undefined;
  /**
   * A type the API server may not serve (a CRD installed later): then start synced and empty, and list again
   * every `retryUnservedMs` (default 30 s) until it is served, instead of failing the start.
   */
  optional?: boolean;
  retryUnservedMs?: number;
}

export const cacheKey = (namespace: string | undefined, name: string) => (namespace ? `${namespace}/${name}` : name);

/** Drops what no reconcile reads: managedFields alone can be half an object's size. */
export function stripManagedFields<T extends Cached>(object: T): T {
  if (!object.metadata.managedFields) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  return { ...object, metadata } as T;
}

/** Equal projections apart from resourceVersion (a transform's output has a stable key order). */
function sameButVersion(a: Cached, b: Cached): boolean {
  const unversioned = (o: Cached) => JSON.stringify({ ...o, metadata: { ...o.metadata, resourceVersion: undefined } });
  return unversioned(a) === unversioned(b);
}

const MIN_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 30_000;

export class Informer<T extends Cached> {
  private readonly store = new Map<string, T>();
  private readonly index = new Map<string, Map<string, T>>();
  private readonly options: InformerOptions<T>;
  private resourceVersion = '';
  private stopWatch: (() => void) | undefined;
  private stopped = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  synced = false;

  constructor(options: InformerOptions<T>) {
    this.options = options;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.store.get(cacheKey(namespace, name));
  }

  list(): T[] {
    return [...this.store.values()];
  }

  /** The objects whose indexBy key is `key` (none without indexBy). */
  indexed(key: string): T[] {
    return [...(this.index.get(key)?.values() ?? [])];
  }

  private put(key: string, object: T): void {
    this.drop(key);
    this.store.set(key, object);
    const at = this.options.indexBy?.(object);
    if (at === undefined) return;
    if (!this.index.has(at)) this.index.set(at, new Map());
    this.index.get(at)?.set(key, object);
  }

  private drop(key: string): void {
    const old = this.store.get(key);
    if (!old) return;
    this.store.delete(key);
    const at = this.options.indexBy?.(old);
    const bucket = at === undefined ? undefined : this.index.get(at);
    bucket?.delete(key);
    if (at !== undefined && bucket?.size === 0) this.index.delete(at);
  }

  /** The namespace it watches; undefined: all. */
  get namespace(): string | undefined {
    return this.options.namespace;
  }

  get size(): number {
    return this.store.size;
  }

  /**
   * Write-through: the object a write of ours returned, so the next reconcile reads it without waiting for the
   * watch. Only over the version the writer read (`readVersion`; undefined: absent): if the watch brought a newer
   * one meanwhile, that stays. Its own watch event then finds the same resourceVersion and stays quiet.
   */
  remember(object: Cached, readVersion: string | undefined): void {
    const projected = this.project(object);
    const key = cacheKey(projected.metadata.namespace, projected.metadata.name);
    if (this.store.get(key)?.metadata.resourceVersion !== readVersion) return;
    this.put(key, projected);
  }

  /** Resolves once the first list is in the cache. */
  async start(): Promise<void> {
    try {
      await this.relist();
    } catch (err) {
      if (!this.options.optional || !(err instanceof KubeApiError) || err.status !== 404) throw err;
      this.synced = true;
      this.options.log.warn(
        { resource: this.path },
        'the API server does not serve this resource (is its CRD installed?); looking again until it does',
      );
      void this.untilServed();
      return;
    }
    this.synced = true;
    await this.watch();
  }

  private async untilServed(): Promise<void> {
    while (!this.stopped) {
      await new Promise<void>((resolve) => {
        this.timer = setTimeout(resolve, this.options.retryUnservedMs ?? 30_000);
      });
      try {
        await this.relist();
      } catch (err) {
        if (!(err instanceof KubeApiError) || err.status !== 404) {
          this.options.log.warn({ resource: this.path, err: String(err) }, 'listing failed; will retry');
        }
        continue;
      }
      this.options.log.info({ resource: this.path }, 'the resource is served now; watching it');
      await this.watch();
      return;
    }
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    this.stopWatch?.();
  }

  private get path(): string {
    return resourcePath(this.options.type, { namespace: this.options.namespace });
  }

  private get query() {
    return this.options.labelSelector ? { labelSelector: this.options.labelSelector } : {};
  }

  private project(object: Cached): T {
    return this.options.transform ? this.options.transform(object) : stripManagedFields(object as T);
  }

  /** Replace the cache with a fresh list, emitting what changed since the last one. */
  private async relist(): Promise<void> {
    const { items, resourceVersion, kind } = await this.options.client.list<Cached>(this.path, this.query, {
      metadataOnly: this.options.metadataOnly ?? false,
    });
    const seen = new Set<string>();
    for (const item of items) {
      // List items come without apiVersion and kind (watch events carry them): make both look the same.
      const raw = { apiVersion: this.options.type.apiVersion, kind: kind.replace(/List$/, ''), ...item };
      const object = this.project(raw);
      const key = cacheKey(object.metadata.namespace, object.metadata.name);
      seen.add(key);
      const old = this.store.get(key);
      this.put(key, object);
      if (!old) this.options.onEvent('add', object);
      else if (old.metadata.resourceVersion !== object.metadata.resourceVersion) this.options.onEvent('update', object);
    }
    for (const [key, object] of this.store) {
      if (!seen.has(key)) {
        this.drop(key);
        this.options.onEvent('delete', object);
      }
    }
    this.resourceVersion = resourceVersion;
  }

  private async watch(): Promise<void> {
    if (this.stopped) return;
    let needRelist = false;
    const onEvent = (type: string, raw: unknown) => {
      if (type === 'BOOKMARK') {
        this.resourceVersion = (raw as Cached).metadata.resourceVersion ?? this.resourceVersion;
        return;
      }
      if (type === 'ERROR') {
        // {kind: Status, code: 410} when our resourceVersion is too old: only a relist recovers.
        if ((raw as { code?: number }).code === 410) needRelist = true;
        return;
      }
      const object = this.project(raw as Cached);
      const key = cacheKey(object.metadata.namespace, object.metadata.name);
      this.resourceVersion = object.metadata.resourceVersion ?? this.resourceVersion;
      this.failures = 0;
      if (type === 'DELETED') {
        this.drop(key);
        this.options.onEvent('delete', object);
      } else {
        const old = this.store.get(key);
        this.put(key, object);
        // The echo of a write already remembered (write-through): nothing new to react to.
        if (old?.metadata.resourceVersion === object.metadata.resourceVersion) return;
        // A change only in what the transform drops (a timestamp, a status field nobody reads) is no news either.
        if (old && this.options.transform && sameButVersion(old, object)) return;
        this.options.onEvent(old ? 'update' : 'add', object);
      }
    };
    const done = (err: unknown) => {
      this.stopWatch = undefined;
      if (this.stopped) return;
      if ((err as { statusCode?: number } | null)?.statusCode === 410) needRelist = true;
      if (needRelist)
        this.options.log.info({ resource: this.options.type.plural }, 'resourceVersion too old (410); relisting');
      const benign = !err || (err as Error).name === 'TimeoutError' || (err as Error).name === 'AbortError';
      if (!benign) this.failures++;
      if (!benign)
        this.options.log.warn({ resource: this.options.type.plural, err: String(err) }, 'watch failed; retrying');
      this.schedule(needRelist);
    };
    try {
      this.stopWatch = await this.options.client.watch(
        this.path,
        { ...this.query, resourceVersion: this.resourceVersion, allowWatchBookmarks: true, timeoutSeconds: 300 },
        onEvent,
        done,
        { metadataOnly: this.options.metadataOnly ?? false },
      );
    } catch (err) {
      this.failures++;
      this.options.log.warn(
        { resource: this.options.type.plural, err: String(err) },
        'watch could not start; retrying',
      );
      this.schedule(false);
    }
  }

  private schedule(relist: boolean): void {
    const delay = this.failures ? Math.min(MAX_BACKOFF_MS, MIN_BACKOFF_MS * 2 ** (this.failures - 1)) : 0;
    this.timer = setTimeout(async () => {
      if (this.stopped) return;
      try {
        if (relist) await this.relist();
        await this.watch();
      } catch (err) {
        this.failures++;
        const status = err instanceof KubeApiError ? err.status : undefined;
        this.options.log.warn(
          { resource: this.options.type.plural, status, err: String(err) },
          'relist failed; retrying',
        );
        this.schedule(true);
      }
    }, delay);
  }
}
