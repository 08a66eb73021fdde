/**
 * Offline twin of the API server's admission for McpServers: applies the schema's defaults, then checks
 * types, bounds, patterns, unknown fields and the CEL rules' TypeScript mirrors. Used by `render` and by
 * the controller (defence in depth against an outdated CRD). Errors name the field and say how to fix it.
 */

import { FIELD_PATH, QUANTITY, RESOURCE_FIELD } from './k8s-types.ts';
import { ALLOWED_VOLUME_SOURCES } from './pod-layout.ts';
import {
  API_VERSION,
  DNS_1123_SUBDOMAIN,
  KIND,
  LABEL_VALUE,
  mcpServerSchema,
  QUALIFIED_KEY,
  VIRTUAL_KIND,
  virtualMcpServerSchema,
} from './schema.ts';
import type { Rule, Schema } from './schema-types.ts';
import type { McpServer, VirtualMcpServer } from './types.generated.ts';

export interface FieldError {
  /** Kubernetes-style path, e.g. spec.env[0].name */
  field: string;
  message: string;
}

export class InvalidMcpServerError extends Error {
  readonly errors: FieldError[];
  constructor(name: string, errors: FieldError[], kind: string = KIND) {
    super(`${kind} ${name} is invalid:\n${errors.map((e) => `  - ${e.field}: ${e.message}`).join('\n')}`);
    this.name = 'InvalidMcpServerError';
    this.errors = errors;
  }
}

/** What a pattern means, for the patterns whose text alone would not tell a user the fix. */
const PATTERN_HINTS: Record<string, string> = {
  [QUANTITY]: 'is not a quantity: write e.g. 100m, 128Mi or 2e3 (an exponent of at most two digits)',
  [FIELD_PATH]:
    "is not a field the Downward API gives: metadata.name, metadata.namespace, metadata.uid, metadata.labels['KEY'], metadata.annotations['KEY'], spec.nodeName, spec.serviceAccountName, status.hostIP(s) or status.podIP(s)",
  [RESOURCE_FIELD]:
    'is not a container resource: limits. or requests. followed by cpu, memory, ephemeral-storage or hugepages-SIZE',
  [DNS_1123_SUBDOMAIN]:
    'is not a Kubernetes name: lowercase letters, digits, - and ., starting and ending alphanumeric',
  [QUALIFIED_KEY]:
    'does not match a label key: letters, digits, - _ . (at most 63, starting and ending alphanumeric), optionally prefixed by a DNS name and /, e.g. kubernetes.io/hostname',
  [LABEL_VALUE]:
    'does not match a label value: at most 63 letters, digits, - _ . starting and ending alphanumeric, or empty',
};

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A deep copy with the schema's defaults filled in, as the API server does before validating. Like it, a
 * null field is dropped first (none of ours is nullable), so a null required field is missing and a null
 * defaulted field gets its default; nulls in unknown fields stay, to be refused as unknown.
 */
export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (value === undefined) return value;
  if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    const items = schema.items;
    return value.map((v) => applyDefaults(items, v));
  }
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = { ...value };
  for (const key of Object.keys(out)) {
    const prop = schema.properties?.[key] ?? schema.additionalProperties;
    if (prop && out[key] === null) delete out[key];
  }
  if (schema.properties) {
    for (const [key, prop] of Object.entries(schema.properties)) {
      if (out[key] === undefined && prop.default !== undefined) out[key] = structuredClone(prop.default);
      if (out[key] !== undefined) out[key] = applyDefaults(prop, out[key]);
    }
  } else if (schema.additionalProperties) {
    const values = schema.additionalProperties;
    for (const key of Object.keys(out)) out[key] = applyDefaults(values, out[key]);
  }
  return out;
}

/** RE2's Perl classes are ASCII-only; JavaScript's \s also matches Unicode spaces, \d and \w do not differ. */
const RE2_SPACE = '\\t\\n\\f\\r ';
const compiled = new Map<string, RegExp>();
/** A schema `pattern` (RE2, as the API server reads it) as a JavaScript RegExp with the same meaning. */
function re2(pattern: string): RegExp {
  let regexp = compiled.get(pattern);
  if (!regexp) {
    let out = '';
    let inClass = false;
    for (let i = 0; i < pattern.length; i++) {
      const c = pattern[i] as string;
      const next = pattern[i + 1];
      if (c === '\\' && (next === 's' || next === 'S')) {
        if (inClass && next === 'S') throw new Error(`pattern ${pattern}: \\S inside a class is not supported`);
        out += inClass ? RE2_SPACE : `[${next === 'S' ? '^' : ''}${RE2_SPACE}]`;
        i++;
        continue;
      }
      if (c === '\\') {
        out += c + (next ?? '');
        i++;
        continue;
      }
      if (c === '[') inClass = true;
      else if (c === ']') inClass = false;
      out += c;
    }
    // u: characters, not UTF-16 code units, as RE2 reads UTF-8.
    regexp = new RegExp(out, 'u');
    compiled.set(pattern, regexp);
  }
  return regexp;
}

/** What the API server takes as an integer: JSON numbers without a fraction that fit in an int64. */
const isInteger = (v: unknown): v is number =>
  Number.isInteger(v) && (v as number) >= -(2 ** 63) && (v as number) < 2 ** 63;

/** Every Kubernetes object name is a DNS-1123 subdomain (apimachinery's ValidateObjectMeta). */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Edit distance (insertions, deletions, substitutions), for "did you mean". */
function distance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row[j] = Math.min(
        (previous[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
    }
    previous = row;
  }
  return previous[b.length] as number;
}

/** `did you mean "operator"?` when a known field is a near miss (case, or up to two edits) of `key`. */
function suggestion(key: string, known: string[]): string {
  const near = known
    .map((k) => ({ k, d: k.toLowerCase() === key.toLowerCase() ? 0 : distance(k, key) }))
    .filter(({ d }) => d <= 2)
    .sort((x, y) => x.d - y.d);
  return near[0] ? `did you mean "${near[0].k}"?` : 'check the spelling';
}

/** How an unknown-field error starts: the API server reports those alone (strict decoding comes first). */
const UNKNOWN_FIELD = 'unknown field';
const RESTRICTED =
  'not allowed: McpServer pods run under Pod Security "restricted", and the operator sets that hardening itself';
/**
 * Kubernetes fields the schema leaves out on purpose: a user who writes one means it, so the message says why it
 * is refused rather than suggesting a spelling (the API server, without these messages, says only "unknown field").
 */
const LEFT_OUT: Record<string, string> = {
  ...Object.fromEntries(
    ['hostNetwork', 'hostPID', 'hostIPC', 'hostUsers', 'privileged', 'capabilities', 'allowPrivilegeEscalation']
      .concat(['runAsNonRoot', 'procMount', 'seLinuxOptions', 'windowsOptions', 'hostPort', 'shareProcessNamespace'])
      .map((k) => [k, RESTRICTED]),
  ),
  ...Object.fromEntries(
    ['hostPath', 'nfs', 'iscsi', 'rbd', 'cephfs', 'glusterfs', 'flexVolume', 'gitRepo', 'awsElasticBlockStore']
      .concat(['gcePersistentDisk', 'azureDisk', 'azureFile', 'fc', 'flocker', 'portworxVolume', 'quobyte'])
      .concat(['scaleIO', 'storageos', 'vsphereVolume', 'photonPersistentDisk', 'cinder'])
      .map((k) => [
        k,
        `not a volume source Pod Security "restricted" allows: use one of ${ALLOWED_VOLUME_SOURCES.join(', ')}`,
      ]),
  ),
};

/** The fields of ObjectMeta (the API server refuses any other under kubectl's strict field validation). */
const OBJECT_META_FIELDS = [
  'name',
  'generateName',
  'namespace',
  'selfLink',
  'uid',
  'resourceVersion',
  'generation',
  'creationTimestamp',
  'deletionTimestamp',
  'deletionGracePeriodSeconds',
  'labels',
  'annotations',
  'ownerReferences',
  'finalizers',
  'managedFields',
];
const NAMESPACE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const QUALIFIED_KEY_RE = new RegExp(QUALIFIED_KEY);
const LABEL_VALUE_RE = new RegExp(LABEL_VALUE);

/**
 * What the API server would refuse in a manifest's metadata, which the schema leaves to it: offline (render), the
 * same checks, so a typo such as `nmespace` is not dropped silently and a label the API server refuses is not
 * printed as if it would apply.
 */
export function metadataErrors(metadata: unknown): FieldError[] {
  if (!isObject(metadata)) return [{ field: 'metadata', message: 'must be an object' }];
  const errors: FieldError[] = [];
  for (const key of Object.keys(metadata)) {
    if (!OBJECT_META_FIELDS.includes(key))
      errors.push({ field: `metadata.${key}`, message: `${UNKNOWN_FIELD}: ${suggestion(key, OBJECT_META_FIELDS)}` });
  }
  const { name, namespace, labels, annotations } = metadata;
  if (name !== undefined && typeof name !== 'string')
    errors.push({ field: 'metadata.name', message: `must be a string, got ${describe(name)}: quote it` });
  if (namespace !== undefined) {
    if (typeof namespace !== 'string')
      errors.push({ field: 'metadata.namespace', message: `must be a string, got ${describe(namespace)}: quote it` });
    else if (namespace.length > 63 || !NAMESPACE_NAME.test(namespace))
      errors.push({
        field: 'metadata.namespace',
        message: `${describe(namespace)} is not a namespace name: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit`,
      });
  }
  for (const [field, map, isLabels] of [
    ['labels', labels, true],
    ['annotations', annotations, false],
  ] as const) {
    if (map === undefined) continue;
    if (!isObject(map)) {
      errors.push({ field: `metadata.${field}`, message: 'must be a map of strings' });
      continue;
    }
    for (const [k, v] of Object.entries(map)) {
      // The API server bounds the DNS prefix too (253 characters), which the pattern cannot.
      if (!QUALIFIED_KEY_RE.test(k) || k.indexOf('/') > 253)
        errors.push({
          field: `metadata.${field}`,
          message: `the key ${describe(k)} is not valid: letters, digits, - _ . (at most 63), optionally prefixed by a DNS name (at most 253) and /, e.g. example.com/team`,
        });
      if (typeof v !== 'string')
        errors.push({ field: `metadata.${field}.${k}`, message: `must be a string, got ${describe(v)}: quote it` });
      else if (isLabels && !LABEL_VALUE_RE.test(v))
        errors.push({
          field: `metadata.${field}.${k}`,
          message: `${describe(v)} is not a label value: at most 63 letters, digits, - _ . starting and ending with a letter or digit`,
        });
    }
  }
  return errors;
}

/**
 * The API server skips the CEL rules when schema validation found a type, enum, required, too-long or too-many
 * error (apiextensions' hasBlockingErr); pattern, bound and duplicate errors do not stop them.
 */
const BLOCKING = new WeakSet<FieldError>();
const blocking = (error: FieldError): FieldError => {
  BLOCKING.add(error);
  return error;
};
const isBlocking = (error: FieldError): boolean => BLOCKING.has(error);

const describe = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(JSON.stringify(v)));

/** A failed rule's text as the API server shows it: messageExpression's, or `message` when that is unusable. */
function ruleMessage(rule: Rule, value: unknown): string {
  if (!rule.messageOf) return rule.message;
  let text: string;
  try {
    text = (rule.messageOf as (self: unknown) => string)(value);
  } catch {
    return rule.message;
  }
  // The API server falls back to `message` for an empty, multi-line or over-long messageExpression result.
  return text.trim() === '' || text.includes('\n') || text.length > 5000 ? rule.message : text;
}

/** Structural errors for `value` at `path`, in document order, and rule errors when `rules` is set. */
export function validateAgainst(
  schema: Schema,
  value: unknown,
  path: string,
  rules = true,
  explain = 'mcpserver',
): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (message: string, field = path) => errors.push({ field, message });
  const block = (message: string, field = path) => errors.push(blocking({ field, message }));

  if (schema.intOrString) {
    // anyOf integer or string, as the API server checks it: 0.5 is neither, and must be quoted.
    if (isInteger(value)) return errors;
    if (typeof value === 'number') {
      const millis = Math.round(value * 1000); // 0.7 * 1000 is 700.0000000000001
      const inMillis = Math.abs(millis - value * 1000) < 1e-6 ? ` (or, for CPU, millicores: ${millis}m)` : '';
      return [
        blocking({
          field: path,
          message: `must be an integer or a string, got ${value}: quote it ("${value}")${inMillis}`,
        }),
      ];
    }
    if (typeof value !== 'string')
      return [blocking({ field: path, message: `must be an integer or a string, got ${describe(value)}` })];
  } else if (schema.type) {
    const ok =
      (schema.type === 'object' && isObject(value)) ||
      (schema.type === 'array' && Array.isArray(value)) ||
      (schema.type === 'string' && typeof value === 'string') ||
      (schema.type === 'boolean' && typeof value === 'boolean') ||
      (schema.type === 'integer' && isInteger(value)) ||
      (schema.type === 'number' && typeof value === 'number');
    if (!ok) return [blocking({ field: path, message: `must be of type ${schema.type}, got ${describe(value)}` })];
  }

  if (typeof value === 'string') {
    if (schema.enum && !schema.enum.includes(value))
      block(`must be one of ${schema.enum.join(', ')}; got ${describe(value)}`);
    // Characters (code points), as the API server counts them: an emoji is one, not two UTF-16 units.
    const length = [...value].length;
    if (schema.minLength !== undefined && length < schema.minLength)
      fail(schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && length > schema.maxLength)
      block(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern && !re2(schema.pattern).test(value)) {
      fail(`${describe(value)} ${PATTERN_HINTS[schema.pattern] ?? `does not match ${schema.pattern}`}`);
    }
  }
  if (typeof value === 'number') {
    // `format` (int32, int64) is not checked: the API server does not check it on custom resources either.
    if (schema.minimum !== undefined && value < schema.minimum)
      fail(
        `must be ${schema.maximum !== undefined ? `between ${schema.minimum} and ${schema.maximum}` : `at least ${schema.minimum}`}; got ${value}`,
      );
    if (schema.maximum !== undefined && value > schema.maximum)
      fail(
        `must be ${schema.minimum !== undefined ? `between ${schema.minimum} and ${schema.maximum}` : `at most ${schema.maximum}`}; got ${value}`,
      );
  }
  if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      fail(`needs at least ${schema.minItems} entries`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      block(`allows at most ${schema.maxItems} entries; got ${value.length}`);
    value.forEach((item, i) => {
      if (schema.items) errors.push(...validateAgainst(schema.items, item, `${path}[${i}]`, rules, explain));
    });
    const keys = schema.listType === 'map' ? schema.listMapKeys : schema.listType === 'set' ? [] : undefined;
    if (keys) {
      const seen = new Map<string, number>();
      value.forEach((item, i) => {
        const id = keys.length
          ? JSON.stringify(keys.map((k) => (item as Record<string, unknown>)?.[k]))
          : JSON.stringify(item);
        const times = (seen.get(id) ?? 0) + 1;
        seen.set(id, times);
        // Blamed on the first repeat only, as the API server does.
        if (times === 2) fail(`duplicate entry ${id}: each entry must be unique`, `${path}[${i}]`);
      });
    }
  }
  if (isObject(value) && !schema.preserveUnknownFields) {
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties)
      block(`allows at most ${schema.maxProperties} entries`);
    for (const key of schema.required ?? [])
      if (value[key] === undefined) block('required field is missing', `${path}.${key}`);
    for (const [key, v] of Object.entries(value)) {
      const prop = schema.properties?.[key] ?? schema.additionalProperties;
      if (!prop) {
        if (schema.properties)
          fail(
            `${UNKNOWN_FIELD} "${key}": ${LEFT_OUT[key] ?? `${suggestion(key, Object.keys(schema.properties))} (kubectl explain ${explain}${path.replace(/\[\d+\]/g, '')})`}`,
            `${path}.${key}`,
          );
        continue;
      }
      if (v === undefined || v === null) continue;
      errors.push(...validateAgainst(prop, v, `${path}.${key}`, rules, explain));
    }
  }
  // parseMcpServer runs the rules only when nothing blocks them (see hasBlockingError), as the API server does.
  if (rules) {
    for (const r of schema.rules ?? []) {
      if (!(r.check as (self: unknown) => boolean)(value))
        fail(ruleMessage(r, value), r.fieldPath ? `${path}${r.fieldPath}` : path);
    }
  }
  return errors;
}

/** Defaults and validates a manifest; returns the McpServer as the API server would store it. */
export function parseMcpServer(manifest: unknown): McpServer {
  return parseKind(manifest, KIND, mcpServerSchema) as unknown as McpServer;
}

/** The same for a VirtualMcpServer. */
export function parseVirtualMcpServer(manifest: unknown): VirtualMcpServer {
  return parseKind(manifest, VIRTUAL_KIND, virtualMcpServerSchema) as unknown as VirtualMcpServer;
}

function parseKind(manifest: unknown, kind: string, schema: Schema): Record<string, unknown> {
  const explain = kind.toLowerCase();
  const name =
    isObject(manifest) && isObject(manifest.metadata) ? String(manifest.metadata.name ?? '<unnamed>') : '<unnamed>';
  const errors: FieldError[] = [];
  if (!isObject(manifest))
    throw new InvalidMcpServerError(name, [{ field: '<root>', message: 'must be an object' }], kind);
  if (manifest.apiVersion !== API_VERSION)
    errors.push({ field: 'apiVersion', message: `must be ${API_VERSION}; got ${describe(manifest.apiVersion)}` });
  if (manifest.kind !== kind)
    errors.push({ field: 'kind', message: `must be ${kind}; got ${describe(manifest.kind)}` });
  if (!isObject(manifest.metadata) || typeof manifest.metadata.name !== 'string' || !manifest.metadata.name)
    errors.push({ field: 'metadata.name', message: `required: every ${kind} needs a name` });
  if (errors.length) throw new InvalidMcpServerError(name, errors, kind);
  const { status: _ignored, ...withoutStatus } = manifest;
  const defaulted = applyDefaults(schema, withoutStatus) as Record<string, unknown>;
  // metadata is validated by the API server's own rules; only our rule on the name applies here.
  const check = {
    ...schema,
    properties: {
      ...schema.properties,
      metadata: { type: 'object' as const, description: '', preserveUnknownFields: true },
    },
  };
  // As the API server (with kubectl's strict field validation): unknown fields are refused on their own, before
  // anything else is checked, and the CEL rules run only once the whole object is structurally valid.
  const structural = validateAgainst(check, defaulted, '', false, explain);
  const unknown = structural.filter((e) => e.message.startsWith(UNKNOWN_FIELD));
  const reported = unknown.length
    ? unknown
    : structural.some(isBlocking)
      ? structural
      : validateAgainst(check, defaulted, '', true, explain);
  const found = reported.map((e) => ({
    ...e,
    field: e.field.replace(/^\./, '') || '<root>',
  }));
  // The API server's own rule for every object's name, checked beside the schema (and the CEL rules).
  const objectName = (manifest.metadata as { name: string }).name;
  if (!unknown.length && !(objectName.length <= 253 && OBJECT_NAME.test(objectName)))
    found.push({
      field: 'metadata.name',
      message: `${describe(objectName)} is not a valid object name: at most 253 lower-case letters, digits, '-' and '.', starting and ending with a letter or digit`,
    });
  if (found.length) throw new InvalidMcpServerError(name, found, kind);
  return defaulted;
}
