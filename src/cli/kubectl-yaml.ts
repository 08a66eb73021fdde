/**
 * `render` reads YAML 1.2; kubectl reads manifests with go-yaml v2 (through sigs.k8s.io/yaml), which resolves
 * unquoted scalars by YAML 1.1 rules: `yes`/`no`/`on`/`off`/`y`/`n` are booleans, `0755` is octal, `1_000` is
 * a number. So the same file can mean two things. This finds the unquoted scalars the two read differently.
 *
 * The model is go-yaml v2's `resolve` (goyaml.v2/resolve.go in sigs.k8s.io/yaml), not the YAML 1.1 spec: go-yaml
 * deliberately reads sexagesimal numbers (`1:30`) as strings, and keeps timestamps as strings, as YAML 1.2 does.
 */
import { type Document, isAlias, isPair, isScalar, isSeq, type Scalar, visit } from 'yaml';

const BOOLEANS: Record<string, boolean> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON'].map((s) => [s, true]),
  ...['n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF'].map((s) => [s, false]),
]);
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const SPECIAL_FLOATS: Record<string, number> = {
  '.nan': Number.NaN,
  '.NaN': Number.NaN,
  '.NAN': Number.NaN,
  ...Object.fromEntries(['.inf', '.Inf', '.INF', '+.inf', '+.Inf', '+.INF'].map((s) => [s, Infinity])),
  ...Object.fromEntries(['-.inf', '-.Inf', '-.INF'].map((s) => [s, -Infinity])),
};
const YAML_STYLE_FLOAT = /^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** Go's strconv.ParseInt(s, 0, 64) / ParseUint: base prefixes 0x 0o 0b, and a leading 0 means octal. */
function goInteger(s: string): bigint | undefined {
  const m = /^([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))$/.exec(s);
  if (!m) return undefined;
  const [, sign, hex, octal, binary, leadingZero, decimal] = m;
  const magnitude =
    hex !== undefined
      ? BigInt(`0x${hex}`)
      : octal !== undefined
        ? BigInt(`0o${octal}`)
        : binary !== undefined
          ? BigInt(`0b${binary}`)
          : leadingZero !== undefined
            ? BigInt(`0o${leadingZero || '0'}`)
            : BigInt(decimal as string);
  const value = sign === '-' ? -magnitude : magnitude;
  // ParseInt takes int64; ParseUint (no sign allowed) the rest up to 2^64-1.
  if (value >= INT64_MIN && value <= INT64_MAX) return value;
  if (sign === '' && value <= UINT64_MAX) return value;
  return undefined;
}

/** The value kubectl sends for an unquoted, untagged scalar written as `text`. */
export function kubectlScalar(text: string): boolean | null | number | string {
  // Own keys only: `constructor` or `__proto__` is plain text to kubectl, not an Object.prototype member.
  if (Object.hasOwn(BOOLEANS, text)) return BOOLEANS[text] as boolean;
  if (NULLS.has(text)) return null;
  if (Object.hasOwn(SPECIAL_FLOATS, text)) return SPECIAL_FLOATS[text] as number;
  const first = text[0] ?? '';
  if (first === '.') return /^\.[0-9]+([eE][-+]?[0-9]+)?$/.test(text) ? Number(text) : text;
  if (!/[-+0-9]/.test(first)) return text;
  const plain = text.replaceAll('_', '');
  const integer = goInteger(plain);
  if (integer !== undefined) return Number(integer);
  if (YAML_STYLE_FLOAT.test(plain)) return Number(plain);
  // Prefixed integers beyond 64 bits become big numbers (decimal ones were read as floats above).
  const big = /^([+-]?)(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+)$/.exec(plain);
  if (big) return Number(big[1] === '-' ? -BigInt(big[2] as string) : BigInt(big[2] as string));
  return text;
}

const same = (a: unknown, b: unknown) =>
  typeof a === 'number' && typeof b === 'number' ? a === b || (Number.isNaN(a) && Number.isNaN(b)) : a === b;

export interface ReadingDifference {
  /** Where, as a field path: spec.env[0].value; a mapping key ends in `(key)`. */
  path: string;
  /** The scalar as written. */
  source: string;
  kubectl: unknown;
  render: unknown;
}

const keyText = (key: unknown) => (isScalar(key) ? String(key.value) : String(key));

function pathOf(ancestors: readonly unknown[], node: Scalar): string {
  const chain = [...ancestors, node];
  let out = '';
  for (let i = 0; i < chain.length - 1; i++) {
    const [parent, child] = [chain[i], chain[i + 1]];
    if (isPair(parent)) {
      out += out ? `.${keyText(parent.key)}` : keyText(parent.key);
      if (parent.key === child) out += ' (key)';
    } else if (isSeq(parent)) {
      out += `[${parent.items.indexOf(child as never)}]`;
    }
  }
  return out || '<root>';
}

/** The unquoted scalars of `doc` that kubectl reads as another value than `render` does. */
export function kubectlReadingDifferences(doc: Document): ReadingDifference[] {
  const found: ReadingDifference[] = [];
  visit(doc, {
    Scalar(_key, node, ancestors) {
      // Quoted, block and explicitly tagged scalars are strings (or what the tag says) to both.
      if (node.type !== 'PLAIN' || node.tag || node.source === undefined) return;
      // A merge key: kubectl (YAML 1.1) merges, and render reads the document with merge keys on, as it does.
      if (node.source === '<<' && typeof node.value === 'symbol') return;
      const kubectl = kubectlScalar(node.source);
      if (same(kubectl, node.value)) return;
      const path = pathOf(ancestors, node);
      found.push({ path, source: node.source, kubectl, render: node.value });
    },
  });
  return found;
}

/** One line for stderr: what each reads, and the fix. */
export function describeDifference(where: string, d: ReadingDifference): string {
  const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));
  return `render: warning: ${where} ${d.path}: kubectl reads ${d.source} as ${show(d.kubectl)} (YAML 1.1) but render as ${show(d.render)} (YAML 1.2): quote it ("${d.source}") if you mean the text, or write ${show(d.kubectl)} if you mean that\n`;
}

/**
 * The first alias that refers to a node containing it (`spec: &s {args: *s}`): a value that would be infinite.
 * kubectl refuses it ("anchor 's' value contains itself"); read as JavaScript it is a cycle that nothing downstream
 * can print or validate. Its anchor name, or undefined.
 */
export function selfContainingAlias(doc: Document): string | undefined {
  let found: string | undefined;
  visit(doc, {
    Alias(_key, node, ancestors) {
      if (isAlias(node) && ancestors.includes(node.resolve(doc) as never)) {
        found = node.source;
        return visit.BREAK;
      }
    },
  });
  return found;
}
