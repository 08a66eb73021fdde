/**
 * Mutants of valid McpServers for differential testing of the offline validator against the API server: each
 * changes one field of a valid manifest in one way (wrong type, out of range, typo in the key, unknown field,
 * empty string, removed), guided by the schema source so bounds and enums are hit at their edges.
 */
import type { Schema } from '../../src/api/schema-types.ts';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Path = Array<string | number>;

export interface Mutant {
  /** Where and how, e.g. `spec.pod.tolerations[0].effect: wrong type`. */
  name: string;
  /** Deduplication key: the schema location (list indices dropped) and the kind of change. */
  key: string;
  manifest: Json;
}

/** A deep copy that shares no object between two places (structuredClone keeps such aliases). */
const clone = (v: Json): Json => JSON.parse(JSON.stringify(v));

const isObject = (v: unknown): v is { [key: string]: Json } => typeof v === 'object' && v !== null && !Array.isArray(v);

const show = (path: Path) =>
  path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('') || '<root>';
const shape = (path: Path) => path.map((p) => (typeof p === 'number' ? '[]' : `.${p}`)).join('');

/** The schema of the child `segment` of a node with schema `schema`. */
function childSchema(schema: Schema | undefined, segment: string | number): Schema | undefined {
  if (!schema) return undefined;
  if (typeof segment === 'number') return schema.items;
  return schema.properties?.[segment] ?? schema.additionalProperties;
}

/** A copy of `root` with the node at `path` replaced by `edit(node)` (or removed when it returns undefined). */
function replaceAt(root: Json, path: Path, edit: (node: Json) => Json | undefined): Json {
  const copy = clone(root);
  let parent: Json = copy;
  for (const segment of path.slice(0, -1)) parent = (parent as Record<string | number, Json>)[segment] as Json;
  const last = path[path.length - 1] as string | number;
  const container = parent as Record<string | number, Json>;
  const next = edit(container[last] as Json);
  if (next === undefined) {
    if (Array.isArray(container)) container.splice(last as number, 1);
    else delete container[last];
  } else container[last] = next;
  return copy;
}

/** The one-field changes for a node of schema `schema` holding `value`. */
function changes(schema: Schema | undefined, value: Json): Array<[kind: string, replacement: Json]> {
  const out: Array<[string, Json]> = [['null', null]];
  if (typeof value === 'string') {
    out.push(['wrong type', 42], ['fraction for a string', 0.5], ['boolean for a string', true], ['empty string', '']);
    if (schema?.maxLength !== undefined) {
      out.push(['too long', 'a'.repeat(schema.maxLength + 1)]);
      // The API server counts characters, not UTF-16 code units: an emoji is one.
      out.push(
        ['longest in emoji', '😀'.repeat(schema.maxLength)],
        ['too long in emoji', '😀'.repeat(schema.maxLength + 1)],
      );
    }
    if (schema?.enum) {
      out.push(['not in enum', 'Bogus']);
      // Every other allowed value: what the CEL rules across fields must then agree on.
      for (const other of schema.enum) if (other !== value) out.push([`enum ${other}`, other]);
    }
    if (schema?.pattern || schema?.rules) {
      out.push(['bad format', 'Not A/Valid Value'], ['upper case', value.toUpperCase()]);
      // Regular expressions: RE2's \s is ASCII whitespace only, JavaScript's is any Unicode space.
      out.push(['non-breaking space', `${value}\u00a0x`], ['trailing newline', `${value}\n`]);
    }
  } else if (typeof value === 'number') {
    out.push(['wrong type', 'seven'], ['fraction', value + 0.5]);
    if (schema?.minimum !== undefined) out.push(['minimum', schema.minimum], ['below minimum', schema.minimum - 1]);
    if (schema?.maximum !== undefined) out.push(['maximum', schema.maximum], ['above maximum', schema.maximum + 1]);
    out.push(['negative', -1], ['huge', 1e21]);
  } else if (typeof value === 'boolean') {
    out.push(['wrong type', String(value)], ['flipped', !value]);
  } else if (Array.isArray(value)) {
    out.push(['wrong type', 'x'], ['object for a list', {}]);
    if (schema?.maxItems !== undefined && value.length > 0 && !schema.listType) {
      out.push(['most items', Array.from({ length: schema.maxItems }, () => clone(value[0] as Json))]);
    }
    if (schema?.maxItems !== undefined && value.length > 0) {
      out.push(['too many items', Array.from({ length: schema.maxItems + 1 }, () => clone(value[0] as Json))]);
    }
    if (value.length > 0) out.push(['duplicate entry', [...value, clone(value[0] as Json)]]);
    out.push(['empty list', []]);
  } else if (isObject(value)) {
    out.push(['wrong type', 'x'], ['list for an object', []], ['unknown field', { ...value, unknownField: 'x' }]);
    out.push(['empty object', {}]);
  }
  return out;
}

/** Every one-field mutant of `manifest` under `under` (e.g. `spec`), `schema` being the manifest's schema. */
export function mutantsOf(manifest: Json, schema: Schema, under: string): Mutant[] {
  const mutants: Mutant[] = [];
  const visit = (node: Json, nodeSchema: Schema | undefined, path: Path) => {
    const at = show(path);
    for (const [kind, replacement] of changes(nodeSchema, node)) {
      mutants.push({
        name: `${at}: ${kind}`,
        key: `${shape(path)} ${kind}`,
        manifest: replaceAt(manifest, path, () => replacement),
      });
    }
    if (Array.isArray(node)) {
      node.forEach((item, i) => {
        visit(item, childSchema(nodeSchema, i), [...path, i]);
      });
    } else if (isObject(node)) {
      for (const [key, child] of Object.entries(node)) {
        const childPath = [...path, key];
        const keyed = nodeSchema?.properties ? `.${key}` : '.<key>';
        mutants.push({
          name: `${show(childPath)}: removed`,
          key: `${shape(path)}${keyed} removed`,
          manifest: replaceAt(manifest, childPath, () => undefined),
        });
        mutants.push({
          name: `${show(childPath)}: typo in the key`,
          key: `${shape(path)}${keyed} typo`,
          manifest: replaceAt(manifest, path, (o) => {
            const { [key]: moved, ...rest } = o as Record<string, Json>;
            return { ...rest, [`${key}${key.slice(-1)}`]: moved as Json };
          }),
        });
        visit(child, childSchema(nodeSchema, key), childPath);
      }
    }
  };
  const root = (manifest as Record<string, Json>)[under] as Json;
  visit(root, schema.properties?.[under], [under]);
  return mutants;
}

/** One mutant per schema location and kind of change, over all seeds, spread evenly when above `limit`. */
export function distinctMutants(seeds: Json[], schema: Schema, under: string, limit: number): Mutant[] {
  const byKey = new Map<string, Mutant>();
  for (const seed of seeds) for (const m of mutantsOf(seed, schema, under)) if (!byKey.has(m.key)) byKey.set(m.key, m);
  const all = [...byKey.values()];
  if (all.length <= limit) return all;
  const step = all.length / limit;
  return Array.from({ length: limit }, (_, i) => all[Math.floor(i * step)] as Mutant);
}
