/**
 * Offline twin of the API server's admission for McpServers: applies the schema's defaults, then checks
 * types, bounds, patterns, unknown fields and the CEL rules' TypeScript mirrors. Used by `render` and by
 * the controller (defence in depth against an outdated CRD). Errors name the field and say how to fix it.
 */
import { API_VERSION, KIND, mcpServerSchema } from './schema.ts';
import type { Rule, Schema } from './schema-types.ts';
import type { McpServer } from './types.generated.ts';

export interface FieldError {
  /** Kubernetes-style path, e.g. spec.env[0].name */
  field: string;
  message: string;
}

export class InvalidMcpServerError extends Error {
  readonly errors: FieldError[];
  constructor(name: string, errors: FieldError[]) {
    super(`McpServer ${name} is invalid:\n${errors.map((e) => `  - ${e.field}: ${e.message}`).join('\n')}`);
    this.name = 'InvalidMcpServerError';
    this.errors = errors;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A deep copy with the schema's defaults filled in, as the API server does before validating. */
export function applyDefaults(schema: Schema, value: unknown): unknown {
  if (value === undefined) return value;
  if (schema.type === 'array' && Array.isArray(value) && schema.items) {
    const items = schema.items;
    return value.map((v) => applyDefaults(items, v));
  }
  if (!isObject(value)) return value;
  const out: Record<string, unknown> = { ...value };
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

/** Structural and rule errors for `value` at `path`, in document order. */
export function validateAgainst(schema: Schema, value: unknown, path: string): FieldError[] {
  const errors: FieldError[] = [];
  const fail = (message: string, field = path) => errors.push({ field, message });

  if (schema.intOrString) {
    // The API server takes a whole number here (JSON integers up to int64), never a fraction: 0.5 must be a string.
    if (typeof value === 'number') {
      if (Number.isInteger(value) && Math.abs(value) < 2 ** 63) return errors;
      const millis = Math.round(value * 1000); // 0.7 * 1000 is 700.0000000000001
      const inMillis = Math.abs(millis - value * 1000) < 1e-6 ? ` (or, for CPU, millicores: ${millis}m)` : '';
      return [
        { field: path, message: `must be an integer or a string, got ${value}: quote it ("${value}")${inMillis}` },
      ];
    }
    if (typeof value !== 'string')
      return [{ field: path, message: `must be an integer or a string, got ${describe(value)}` }];
  } else if (schema.type) {
    const ok =
      (schema.type === 'object' && isObject(value)) ||
      (schema.type === 'array' && Array.isArray(value)) ||
      (schema.type === 'string' && typeof value === 'string') ||
      (schema.type === 'boolean' && typeof value === 'boolean') ||
      (schema.type === 'integer' && Number.isInteger(value)) ||
      (schema.type === 'number' && typeof value === 'number');
    if (!ok) return [{ field: path, message: `must be of type ${schema.type}, got ${describe(value)}` }];
  }

  if (typeof value === 'string') {
    if (schema.enum && !schema.enum.includes(value))
      fail(`must be one of ${schema.enum.join(', ')}; got ${describe(value)}`);
    if (schema.minLength !== undefined && value.length < schema.minLength)
      fail(schema.minLength === 1 ? 'must not be empty' : `must be at least ${schema.minLength} characters`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      fail(`must be at most ${schema.maxLength} characters`);
    if (schema.pattern && !new RegExp(schema.pattern).test(value))
      fail(`${describe(value)} does not match ${schema.pattern}`);
  }
  if (typeof value === 'number') {
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
      fail(`allows at most ${schema.maxItems} entries; got ${value.length}`);
    value.forEach((item, i) => {
      if (schema.items) errors.push(...validateAgainst(schema.items, item, `${path}[${i}]`));
    });
    const keys = schema.listType === 'map' ? schema.listMapKeys : schema.listType === 'set' ? [] : undefined;
    if (keys) {
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const id = keys.length
          ? JSON.stringify(keys.map((k) => (item as Record<string, unknown>)?.[k]))
          : JSON.stringify(item);
        if (seen.has(id)) fail(`duplicate entry ${id}: each entry must be unique`, `${path}[${i}]`);
        seen.add(id);
      });
    }
  }
  if (isObject(value) && !schema.preserveUnknownFields) {
    if (schema.maxProperties !== undefined && Object.keys(value).length > schema.maxProperties)
      fail(`allows at most ${schema.maxProperties} entries`);
    for (const key of schema.required ?? [])
      if (value[key] === undefined) fail('required field is missing', `${path}.${key}`);
    for (const [key, v] of Object.entries(value)) {
      const prop = schema.properties?.[key] ?? schema.additionalProperties;
      if (!prop) {
        if (schema.properties)
          fail(
            `unknown field "${key}": check the spelling (kubectl explain mcpserver.${path.replace(/\[\d+\]/g, '')})`,
            `${path}.${key}`,
          );
        continue;
      }
      if (v === undefined || v === null) continue;
      errors.push(...validateAgainst(prop, v, `${path}.${key}`));
    }
  }
  // Rules see a structurally valid node only, as on the API server.
  if (errors.length === 0) {
    for (const r of schema.rules ?? []) {
      if (!(r.check as (self: unknown) => boolean)(value))
        fail(ruleMessage(r, value), r.fieldPath ? `${path}${r.fieldPath}` : path);
    }
  }
  return errors;
}

/** Defaults and validates a manifest; returns the McpServer as the API server would store it. */
export function parseMcpServer(manifest: unknown): McpServer {
  const name =
    isObject(manifest) && isObject(manifest.metadata) ? String(manifest.metadata.name ?? '<unnamed>') : '<unnamed>';
  const errors: FieldError[] = [];
  if (!isObject(manifest)) throw new InvalidMcpServerError(name, [{ field: '<root>', message: 'must be an object' }]);
  if (manifest.apiVersion !== API_VERSION)
    errors.push({ field: 'apiVersion', message: `must be ${API_VERSION}; got ${describe(manifest.apiVersion)}` });
  if (manifest.kind !== KIND)
    errors.push({ field: 'kind', message: `must be ${KIND}; got ${describe(manifest.kind)}` });
  if (!isObject(manifest.metadata) || typeof manifest.metadata.name !== 'string' || !manifest.metadata.name)
    errors.push({ field: 'metadata.name', message: 'required: every McpServer needs a name' });
  if (errors.length) throw new InvalidMcpServerError(name, errors);
  const { status: _ignored, ...withoutStatus } = manifest;
  const defaulted = applyDefaults(mcpServerSchema, withoutStatus) as Record<string, unknown>;
  // metadata is validated by the API server's own rules; only our rule on the name applies here.
  const check = {
    ...mcpServerSchema,
    properties: {
      ...mcpServerSchema.properties,
      metadata: { type: 'object' as const, description: '', preserveUnknownFields: true },
    },
  };
  const found = validateAgainst(check, defaulted, '').map((e) => ({
    ...e,
    field: e.field.replace(/^\./, '') || '<root>',
  }));
  if (found.length) throw new InvalidMcpServerError(name, found);
  return defaulted as unknown as McpServer;
}
