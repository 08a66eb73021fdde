/**
 * The catalog's live view of the cluster: one informer per kind (and per namespace when limited), each object
 * mapped to a CatalogEntry by the one kind-agnostic `entryOf`. A kind whose CRD is not installed (404 on the
 * first list) or not granted (403) is skipped quietly and discovered again later, so the catalog can start
 * before the VirtualMcpServer CRD exists and pick it up when it arrives.
 */

import { KubeApiError, type KubeClient, type ResourceType } from '../kube/client.ts';
import { type Cached, Informer } from '../kube/informer.ts';
import type { Logger } from '../observability/log.ts';
import { type CatalogEntry, entryKey, entryOf, type StatusLike, sortEntries } from './entry.ts';

export interface CatalogKind extends ResourceType {
  kind: string;
  /** Required kinds fail the start when they cannot be listed; optional ones are retried quietly. */
  optional: boolean;
}

export const CATALOG_KINDS: CatalogKind[] = [
  { kind: 'McpServer', apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers', optional: false },
  { kind: 'VirtualMcpServer', apiVersion: 'mcpoperator.io/v1alpha1', plural: 'virtualmcpservers', optional: true },
];

export type ChangeListener = (change: { type: 'upsert' | 'delete'; entry: CatalogEntry }) => void;

export interface CatalogSourceOptions {
  client: KubeClient;
  /** Empty: every namespace. */
  namespaces: string[];
  kinds?: CatalogKind[];
  log: Logger;
  /** How often a missing optional kind is looked for again (default 30 s). */
  rediscoverMs?: number;
}

/**
 * managedFields down to the latest write's time, the one thing of them an entry reads (its updatedAt, which
 * `updated_since` filters on): a new title or URL moves no condition's lastTransitionTime.
 */
function lastWriteOnly(object: Cached): Cached {
  const fields = object.metadata.managedFields;
  if (!fields) return object;
  const { managedFields: _dropped, ...metadata } = object.metadata;
  const stamp = (t: unknown) => (t instanceof Date ? t.toISOString() : typeof t === 'string' ? t : '');
  const latest = fields.reduce<(typeof fields)[number] | undefined>(
    (last, f) => (!last || stamp(f.time) > stamp(last.time) ? f : last),
    undefined,
  );
  return { ...object, metadata: latest?.time ? { ...metadata, managedFields: [{ time: latest.time }] } : metadata };
}

export class CatalogSource {
  private readonly options: CatalogSourceOptions;
  private readonly entries = new Map<string, CatalogEntry>();
  private readonly listeners = new Set<ChangeListener>();
  private readonly informers: Informer<Cached>[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  synced = false;

  constructor(options: CatalogSourceOptions) {
    this.options = options;
  }

  list(): CatalogEntry[] {
    return sortEntries([...this.entries.values()]);
  }

  get(kind: string, namespace: string, name: string): CatalogEntry | undefined {
    return this.entries.get(entryKey({ kind, namespace, name }));
  }

  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves once every required kind is listed; optional kinds join when they can be listed. */
  async start(): Promise<void> {
    const kinds = this.options.kinds ?? CATALOG_KINDS;
    const scopes = this.options.namespaces.length ? this.options.namespaces : [undefined];
    await Promise.all(kinds.flatMap((kind) => scopes.map((namespace) => this.startKind(kind, namespace))));
    this.synced = true;
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    for (const informer of this.informers) informer.stop();
  }

  private emit(type: 'upsert' | 'delete', entry: CatalogEntry): void {
    for (const listener of this.listeners) listener({ type, entry });
  }

  private async startKind(kind: CatalogKind, namespace: string | undefined): Promise<void> {
    if (this.stopped) return;
    const informer = new Informer<Cached>({
      client: this.options.client,
      type: kind,
      namespace,
      log: this.options.log,
      transform: lastWriteOnly,
      onEvent: (event, object) => {
        const entry = entryOf(object as unknown as StatusLike, kind.kind);
        const key = entryKey(entry);
        if (event === 'delete') {
          this.entries.delete(key);
          this.emit('delete', entry);
        } else {
          this.entries.set(key, entry);
          this.emit('upsert', entry);
        }
      },
    });
    try {
      await informer.start();
      this.informers.push(informer);
    } catch (err) {
      informer.stop();
      const status = err instanceof KubeApiError ? err.status : undefined;
      if (!kind.optional) throw err;
      if (status === 404 || status === 403)
        this.options.log.debug({ kind: kind.kind, status }, 'kind not served or not granted; looking again later');
      else this.options.log.warn({ kind: kind.kind, err: String(err) }, 'listing this kind failed; retrying');
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.startKind(kind, namespace);
      }, this.options.rediscoverMs ?? 30_000);
      this.timers.add(timer);
    }
  }
}
