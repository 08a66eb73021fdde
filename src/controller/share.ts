/**
 * One copy of what cached objects have in common. A thousand McpServers' Deployments differ in a few names and
 * labels and repeat the rest (containers, probes, security contexts, volumes, server defaults), and every watch
 * event parses a fresh copy of all of it. Small subtrees equal by value are shared between cached objects, frozen
 * (a write to one would be a write to all: it throws instead), and forgotten once no cached object holds them.
 */

/** Subtrees up to this size (as JSON) are shared. */
const MAX_SHARED_JSON = 1024;

/**
 * Subtrees by a hash of their JSON: a number, not the JSON itself, so what is never repeated (a label with the
 * server's name) costs a table entry, not a second copy as a key. A hit is checked against the JSON.
 */
const table = new Map<number, WeakRef<object>>();
const forget = new FinalizationRegistry<number>((hash) => {
  if (table.get(hash)?.deref() === undefined) table.delete(hash);
});

/** 52 bits of two 32-bit string hashes (FNV-1a and djb2): collisions are rare, and only cost sharing. */
function hashOf(text: string): number {
  let fnv = 0x811c9dc5;
  let djb = 5381;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    fnv = Math.imul(fnv ^ c, 0x01000193);
    djb = (Math.imul(djb, 33) + c) | 0;
  }
  return (fnv >>> 0) * 2 ** 20 + (djb >>> 12);
}

interface Shared {
  value: unknown;
  /** The value as JSON, or undefined when it is too big to share (then no container of it is shared either). */
  json: string | undefined;
}

function shareNode(value: unknown): Shared {
  if (value === null || typeof value !== 'object') {
    // undefined is dropped by JSON: a container holding it is not shared (it would not round-trip).
    if (typeof value === 'string')
      return { value, json: value.length > MAX_SHARED_JSON ? undefined : JSON.stringify(value) };
    return { value, json: value === undefined ? undefined : String(value) };
  }
  // The key is built only while it can still fit: a big container's children are shared, not the container.
  let json: string | undefined;
  let copy: object;
  if (Array.isArray(value)) {
    const items: unknown[] = new Array(value.length);
    json = '[';
    for (let i = 0; i < value.length; i++) {
      const part = shareNode(value[i]);
      items[i] = part.value;
      if (json !== undefined) json = part.json === undefined ? undefined : `${json}${i ? ',' : ''}${part.json}`;
      if (json !== undefined && json.length > MAX_SHARED_JSON) json = undefined;
    }
    if (json !== undefined) json += ']';
    copy = items;
  } else {
    const pairs: Array<[string, unknown]> = [];
    json = '{';
    for (const k of Object.keys(value)) {
      const part = shareNode((value as Record<string, unknown>)[k]);
      pairs.push([k, part.value]);
      if (json !== undefined)
        json =
          part.json === undefined
            ? undefined
            : `${json}${pairs.length > 1 ? ',' : ''}${JSON.stringify(k)}:${part.json}`;
      if (json !== undefined && json.length > MAX_SHARED_JSON) json = undefined;
    }
    if (json !== undefined) json += '}';
    // Made at once, not field by field: V8 then sizes the object to its fields (measured: a third less memory).
    copy = Object.fromEntries(pairs);
  }
  if (json === undefined || json.length > MAX_SHARED_JSON) return { value: copy, json: undefined };
  const hash = hashOf(json);
  const known = table.get(hash)?.deref();
  if (known) return JSON.stringify(known) === json ? { value: known, json } : { value: copy, json };
  Object.freeze(copy);
  table.set(hash, new WeakRef(copy));
  forget.register(copy, hash);
  return { value: copy, json };
}

/**
 * The same object, its fields' small subtrees shared with every object shared so far (see above). The object
 * itself and its metadata stay its own and writable.
 */
export function shareCommon<T extends object>(object: T): T {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(object)) copy[k] = k === 'metadata' ? v : shareNode(v).value;
  return copy as T;
}

/** How many subtrees the table holds (for tests). */
export const sharedCount = () => table.size;
