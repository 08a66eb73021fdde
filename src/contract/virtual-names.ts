/**
 * How a VirtualMcpServer names what its backends offer, pure and shared by the controller (status) and the
 * gateway (routing). The rules:
 * - an exposed name depends only on its own backend's prefix/rename and its own name, never on which other
 *   backends are present, so names never churn when backends join or leave;
 * - two backends exposing one name: the earlier in priority order wins, the other's item is hidden, and a conflict
 *   names both and the fix (a prefix or a rename);
 * - tools and prompts are prefixed (`<prefix>_<name>`), tools may be renamed (the rename is the whole exposed
 *   name, no prefix added); resources and resource templates keep their URI and conflict by it;
 * - per-backend allow/deny match the backend's own tool names and drop a tool before names are resolved; the
 *   overall allow/deny match exposed names afterwards. A denied name stays the denied item's: calling it is a
 *   refusal (never "not found"), and no other backend's item takes its place.
 * In the contract layer (it imports only tool-patterns.ts), so the gateway can import it.
 */
import { allowDeny } from './tool-patterns.ts';

export const PREFIX_SEPARATOR = '_';
/** The MCP specification's tool-name format (2025-11-25): 1 to 128 of A-Z a-z 0-9 _ - . */
export const MAX_EXPOSED_NAME = 128;
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export type ItemKind = 'tool' | 'prompt' | 'resource' | 'resourceTemplate';
export const ITEM_KINDS: readonly ItemKind[] = ['tool', 'prompt', 'resource', 'resourceTemplate'];

/** One backend as the VirtualMcpServer names it (spec.servers[i], or an McpServer its selector adds). */
export interface BackendNaming {
  /** The McpServer's name. */
  name: string;
  prefix?: string | undefined;
  tools?: { allow?: readonly string[]; deny?: readonly string[]; rename?: Readonly<Record<string, string>> };
  /** Its index in spec.servers; undefined when only the selector adds it (the fix then says to list it). */
  listedAt?: number | undefined;
}

/** What a backend offers, by kind: tool and prompt names, resource URIs, resource-template URI templates. */
export type Offered = Partial<Record<ItemKind, readonly string[]>>;

export interface Origin {
  backend: string;
  /** The backend's own name (or URI) of the item. */
  original: string;
}

export interface Exposure extends Origin {
  kind: ItemKind;
  exposed: string;
}

export interface Conflict {
  kind: ItemKind;
  /** The exposed name (or URI) both would take. */
  exposed: string;
  winner: Origin;
  hidden: Origin;
  /** What to change, in the VirtualMcpServer's own fields. */
  fix: string;
}

/** An item that cannot be exposed under its name (too long or not a valid tool name once prefixed or renamed). */
export interface NameProblem extends Exposure {
  fix: string;
}

export type Resolution =
  | ({ verdict: 'exposed' } & Exposure)
  | ({ verdict: 'denied'; by: 'server' | 'virtual' } & Exposure)
  | { verdict: 'unknown'; kind: ItemKind; exposed: string };

export interface Catalog {
  /** Every exposed item, in priority order (backends in order, each backend's items in its order). */
  exposed: Exposure[];
  /** Items a policy keeps from clients; their names still answer with a refusal. */
  denied: Array<Exposure & { by: 'server' | 'virtual' }>;
  conflicts: Conflict[];
  problems: NameProblem[];
  /** An exposed name back to its backend and original name, or why it is refused. */
  resolve(kind: ItemKind, exposed: string): Resolution;
}

export interface CatalogInput {
  /** In priority order: spec.servers first, then those the selector adds (sorted by name). */
  backends: readonly BackendNaming[];
  /** What each backend offers, by backend name; a backend with no entry offers nothing (yet). */
  offered: ReadonlyMap<string, Offered> | Readonly<Record<string, Offered>>;
  /** spec.tools: allow/deny on exposed tool names. */
  tools?: { allow?: readonly string[]; deny?: readonly string[] } | undefined;
}

/** A tool's rename, own keys only: a tool named `constructor` or `toString` is not renamed by Object.prototype. */
function renameOf(backend: BackendNaming, original: string): string | undefined {
  const rename = backend.tools?.rename;
  return rename && Object.hasOwn(rename, original) ? rename[original] : undefined;
}

/** The exposed name of a backend's item: a function of that backend's settings and the item alone. */
export function exposedName(backend: BackendNaming, kind: ItemKind, original: string): string {
  if (kind === 'resource' || kind === 'resourceTemplate') return original;
  const renamed = kind === 'tool' ? renameOf(backend, original) : undefined;
  if (renamed !== undefined) return renamed;
  return backend.prefix ? `${backend.prefix}${PREFIX_SEPARATOR}${original}` : original;
}

/** Per-backend policy: allow/deny on the backend's own tool names (prompts and resources pass). */
export function backendAllows(backend: BackendNaming, kind: ItemKind, original: string): boolean {
  return kind !== 'tool' || allowDeny(backend.tools)(original);
}

const where = (b: BackendNaming) => (b.listedAt === undefined ? undefined : `spec.servers[${b.listedAt}]`);

/** A rename target for a hidden item, valid and unlikely to collide: `<backend>_<name>`, clipped. */
function suggestedRename(backend: string, original: string): string {
  const name = `${backend.replaceAll(/[^A-Za-z0-9_.-]/g, '-')}${PREFIX_SEPARATOR}${original}`;
  return name.slice(0, MAX_EXPOSED_NAME);
}

function conflictFix(kind: ItemKind, hidden: BackendNaming, original: string, sameBackend: boolean): string {
  const at = where(hidden);
  if (kind === 'resource' || kind === 'resourceTemplate') {
    return `URIs are exposed as they are: order spec.servers so the server whose ${kind === 'resource' ? 'resource' : 'template'} should win comes first, or remove one of them`;
  }
  const rename = `tools.rename: {${original}: ${suggestedRename(hidden.name, original)}}`;
  if (sameBackend) return `${at ?? hidden.name}: rename one of the two tools (${rename})`;
  if (!at) {
    return `${hidden.name} joins through spec.selector: list it in spec.servers with a prefix${kind === 'tool' ? ` or ${rename}` : ''}`;
  }
  return kind === 'tool' ? `set ${at}.prefix, or ${at}.${rename}` : `set ${at}.prefix (prompts are not renamed)`;
}

const validExposed = (kind: ItemKind, name: string) =>
  kind === 'resource' || kind === 'resourceTemplate' ? name.length > 0 : TOOL_NAME.test(name);

const offeredBy = (input: CatalogInput, backend: string): Offered | undefined =>
  input.offered instanceof Map
    ? input.offered.get(backend)
    : (input.offered as Readonly<Record<string, Offered>>)[backend];

/** Names every item of every backend, resolves collisions by priority, applies both policies. */
export function buildCatalog(input: CatalogInput): Catalog {
  const exposed: Exposure[] = [];
  const denied: Catalog['denied'] = [];
  const conflicts: Conflict[] = [];
  const problems: NameProblem[] = [];
  const front = allowDeny(input.tools);
  // Per kind: exposed name -> the item holding it (allowed items first, then denied ones claim what is free).
  const taken = new Map<string, { item: Exposure; denied?: 'server' | 'virtual' }>();
  const key = (kind: ItemKind, name: string) => `${kind}\u0000${name}`;
  const backendsByName = new Map(input.backends.map((b) => [b.name, b]));
  const laterDenied: Array<Exposure & { by: 'server' }> = [];

  for (const backend of input.backends) {
    const offered = offeredBy(input, backend.name) ?? {};
    for (const kind of ITEM_KINDS) {
      // A backend's own list first, then renamed tools before unrenamed ones of the same backend: an explicit
      // rename is what the user asked for.
      const originals = [...new Set(offered[kind] ?? [])];
      const renamed = (o: string) => kind === 'tool' && renameOf(backend, o) !== undefined;
      const ordered = [...originals.filter(renamed), ...originals.filter((o) => !renamed(o))];
      for (const original of ordered) {
        const item: Exposure = { kind, backend: backend.name, original, exposed: exposedName(backend, kind, original) };
        if (!validExposed(kind, item.exposed)) {
          problems.push({
            ...item,
            fix: `${where(backend) ?? backend.name}: ${kind === 'tool' ? `rename it (tools.rename: {${original}: ...})` : 'use a shorter prefix'}: an MCP name is 1 to ${MAX_EXPOSED_NAME} of A-Z a-z 0-9 _ - .`,
          });
          continue;
        }
        if (!backendAllows(backend, kind, original)) {
          laterDenied.push({ ...item, by: 'server' });
          continue;
        }
        const holder = taken.get(key(kind, item.exposed));
        if (holder) {
          const sameBackend = holder.item.backend === backend.name;
          conflicts.push({
            kind,
            exposed: item.exposed,
            winner: { backend: holder.item.backend, original: holder.item.original },
            hidden: { backend: backend.name, original },
            fix: conflictFix(kind, backendsByName.get(backend.name) ?? backend, original, sameBackend),
          });
          continue;
        }
        const frontDenied = kind === 'tool' && !front(item.exposed);
        taken.set(key(kind, item.exposed), frontDenied ? { item, denied: 'virtual' } : { item });
        if (frontDenied) denied.push({ ...item, by: 'virtual' });
        else exposed.push(item);
      }
    }
  }
  // Denied by their own backend: the name answers with a refusal unless an allowed item holds it.
  for (const item of laterDenied) {
    if (taken.has(key(item.kind, item.exposed))) continue;
    taken.set(key(item.kind, item.exposed), { item, denied: 'server' });
    denied.push(item);
  }

  return {
    exposed,
    denied,
    conflicts,
    problems,
    resolve(kind, name) {
      const holder = taken.get(key(kind, name));
      if (!holder) return { verdict: 'unknown', kind, exposed: name };
      return holder.denied
        ? { verdict: 'denied', by: holder.denied, ...holder.item }
        : { verdict: 'exposed', ...holder.item };
    },
  };
}

/** A conflict as one sentence a person can act on (status, Events). */
export function describeConflict(c: Conflict): string {
  const what = c.kind === 'resourceTemplate' ? 'resource template' : c.kind;
  const as = (o: Origin) =>
    o.original === c.exposed ? `"${o.original}"` : `"${o.original}" (exposed as "${c.exposed}")`;
  const by =
    c.winner.backend === c.hidden.backend
      ? `its own ${what} ${as(c.winner)}`
      : `${c.winner.backend}'s ${what} ${as(c.winner)}, which comes first`;
  return `${what} ${as(c.hidden)} of ${c.hidden.backend} is hidden by ${by}: ${c.fix}`;
}
