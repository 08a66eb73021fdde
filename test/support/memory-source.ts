/** The catalog watch's interface, held in memory: a test emits changes itself, faster than any API server. */
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import type { EntrySource } from '../../src/catalog/server.ts';
import type { ChangeListener } from '../../src/catalog/source.ts';

export class MemorySource implements EntrySource {
  readonly synced = true;
  readonly listeners = new Set<ChangeListener>();
  entries: CatalogEntry[] = [];
  list() {
    return this.entries;
  }
  onChange(listener: ChangeListener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  emit(entry: CatalogEntry) {
    for (const l of this.listeners) l({ type: 'upsert', entry });
  }
}
