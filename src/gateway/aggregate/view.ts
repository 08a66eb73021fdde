/**
 * The aggregate as clients see it at one moment, built (pure) from the backends in priority order: the names
 * from virtual-names.ts (`buildCatalog`, the controller's own function, so status and routing agree), the
 * merged lists, and how each exposed name or URI resolves. Names are built from every backend's last known
 * lists, up or down, so a backend going down never hands its names to another; its items only leave the lists.
 */
import {
  type BackendNaming,
  buildCatalog,
  type Catalog,
  type Exposure,
  ITEM_KINDS,
  type ItemKind,
  type Offered,
} from '../../contract/virtual-names.ts';
import { type Item, itemKey } from './backend.ts';
import { templateMatcher, type UriMatcher } from './uri-template.ts';

/** One backend as the view needs it. */
export interface ViewBackend {
  naming: BackendNaming;
  up: boolean;
  offered: ReadonlyMap<ItemKind, readonly Item[]>;
}

export interface AggregateView {
  catalog: Catalog;
  /** The merged lists, exposed names in place, only the items of backends that are up. */
  lists: Record<ItemKind, Item[]>;
  /** Backend name -> up. */
  up: ReadonlyMap<string, boolean>;
  /** Every exposed template in priority order, compiled (resources/read of a URI no listed resource has). */
  templates: Array<{ backend: string; match: UriMatcher }>;
}

const exposedItem = (e: Exposure, item: Item): Item =>
  e.kind === 'tool' || e.kind === 'prompt' ? (e.exposed === item.name ? item : { ...item, name: e.exposed }) : item;

export function buildView(
  backends: readonly ViewBackend[],
  front: { allow?: readonly string[]; deny?: readonly string[] },
): AggregateView {
  const offered = new Map<string, Offered>();
  const items = new Map<string, Map<ItemKind, Map<string, Item>>>();
  for (const b of backends) {
    const byKind = new Map<ItemKind, Map<string, Item>>();
    const names: Offered = {};
    for (const kind of ITEM_KINDS) {
      const list = b.offered.get(kind) ?? [];
      const byKey = new Map<string, Item>();
      for (const item of list) byKey.set(itemKey(kind, item) as string, item);
      byKind.set(kind, byKey);
      names[kind] = [...byKey.keys()];
    }
    offered.set(b.naming.name, names);
    items.set(b.naming.name, byKind);
  }
  const catalog = buildCatalog({ backends: backends.map((b) => b.naming), offered, tools: front });
  const up = new Map(backends.map((b) => [b.naming.name, b.up]));
  const lists: Record<ItemKind, Item[]> = { tool: [], prompt: [], resource: [], resourceTemplate: [] };
  const templates: AggregateView['templates'] = [];
  for (const e of catalog.exposed) {
    // A down backend's templates still match, so a read names the backend instead of "not found".
    if (e.kind === 'resourceTemplate') templates.push({ backend: e.backend, match: templateMatcher(e.original) });
    if (!up.get(e.backend)) continue;
    const item = items.get(e.backend)?.get(e.kind)?.get(e.original);
    if (item) lists[e.kind].push(exposedItem(e, item));
  }
  return { catalog, lists, up, templates };
}

/** The list result a client gets for one kind (one page: the merged list is complete). */
export function listResult(view: AggregateView, kind: ItemKind): Record<string, Item[]> {
  switch (kind) {
    case 'tool':
      return { tools: view.lists.tool };
    case 'prompt':
      return { prompts: view.lists.prompt };
    case 'resource':
      return { resources: view.lists.resource };
    case 'resourceTemplate':
      return { resourceTemplates: view.lists.resourceTemplate };
  }
}

/** Which list_changed notifications the step from `before` to `after` calls for. */
export function changedLists(before: AggregateView | undefined, after: AggregateView): string[] {
  const same = (kind: ItemKind) =>
    before !== undefined && JSON.stringify(before.lists[kind]) === JSON.stringify(after.lists[kind]);
  const out: string[] = [];
  if (!same('tool')) out.push('notifications/tools/list_changed');
  if (!same('prompt')) out.push('notifications/prompts/list_changed');
  if (!same('resource') || !same('resourceTemplate')) out.push('notifications/resources/list_changed');
  return out;
}
