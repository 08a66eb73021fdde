/**
 * Turns the schema source into the McpServer reference (`docs/mcpserver-reference.md`): every field with its
 * type, default, limits and description, the CEL rules with their messages, the printer columns, and the
 * conditions, reasons and Events the controller writes. Same source as the CRD, so the two cannot disagree.
 */
import { CONDITION_REASONS, CONDITION_TYPES } from './conditions.ts';
import { EVENT_REASONS } from './events.ts';
import { KUBERNETES_VERSION } from './k8s-types.ts';
import { API_VERSION, KIND, mcpServerSchema, PLURAL, printerColumns, SHORT_NAMES } from './schema.ts';
import type { Rule, Schema } from './schema-types.ts';

interface Row {
  path: string;
  schema: Schema;
  required: boolean;
}

interface RuleSite {
  path: string;
  rules: readonly Rule[];
}

/** A table cell: one line, pipes escaped (GitHub reads `\|` as a pipe, also inside code spans). */
const cell = (text: string) => text.replaceAll('\n', ' ').replaceAll('|', '\\|');
const code = (text: string) => `\`${text}\``;
const table = (head: string[], rows: string[][]) =>
  [
    `| ${head.join(' | ')} |`,
    `| ${head.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
  ].join('\n');

/** `k8s.V1Toleration` -> `Toleration`: a Kubernetes type passed through, documented upstream (not walked here). */
const coreType = (tsType: string | undefined) => tsType?.match(/^k8s\.V1(\w+)$/)?.[1];

const hasFields = (schema: Schema | undefined): schema is Schema & { properties: Record<string, Schema> } =>
  !!schema?.properties && !schema.preserveUnknownFields && !coreType(schema.tsType);

function typeName(schema: Schema): string {
  const core = coreType(schema.tsType);
  if (core) return core;
  if (schema.intOrString) return 'int-or-string';
  if (schema.type === 'array' && schema.items) return `[]${typeName(schema.items)}`;
  if (schema.type === 'object' && schema.additionalProperties) {
    return `map[string]${typeName(schema.additionalProperties)}`;
  }
  return schema.type ?? 'any';
}

const range = (min: number | undefined, max: number | undefined, unit = '') => {
  if (min !== undefined && max !== undefined) return `${min}–${max}${unit}`;
  if (min !== undefined) return `≥ ${min}${unit}`;
  if (max !== undefined) return `≤ ${max}${unit}`;
  return undefined;
};

const CORE_TYPE = `Kubernetes ${KUBERNETES_VERSION} schema`;

/** The limits of one node, not counting its children. */
function ownLimits(schema: Schema): string[] {
  const out: string[] = [];
  if (schema.enum) out.push(`one of ${schema.enum.map(code).join(', ')}`);
  const value = range(schema.minimum, schema.maximum);
  if (value) out.push(value);
  const length = range(schema.minLength, schema.maxLength, ' chars');
  if (length) out.push(length);
  const items = range(schema.minItems, schema.maxItems, ' items');
  if (items) out.push(items);
  if (schema.maxProperties !== undefined) out.push(`≤ ${schema.maxProperties} entries`);
  if (schema.pattern) out.push(`pattern ${code(schema.pattern)}`);
  if (schema.listType === 'map') out.push(`unique by ${(schema.listMapKeys ?? []).map(code).join(', ')}`);
  if (schema.listType === 'set') out.push('unique entries');
  if (coreType(schema.tsType)) out.push(CORE_TYPE);
  if (schema.rules?.length) out.push('[rules](#validation-rules)');
  return out;
}

/** Limits, with those of scalar list entries and map values folded in (they get no row of their own). */
function limits(schema: Schema): string {
  const out = ownLimits(schema);
  const inner = schema.items ?? schema.additionalProperties;
  if (inner && !hasFields(inner)) {
    const innerLimits = ownLimits(inner).filter((l) => l !== CORE_TYPE);
    if (innerLimits.length) out.push(`each ${schema.items ? 'entry' : 'value'}: ${innerLimits.join(', ')}`);
  }
  return out.join('; ');
}

function description(schema: Schema): string {
  const inner = schema.items ?? schema.additionalProperties;
  const parts = [schema.description ?? ''];
  // The entry's own description adds something for objects and quantities; "An entry." does not.
  if (inner?.description && (hasFields(inner) || inner.intOrString)) parts.push(`Each: ${inner.description}`);
  return parts.filter(Boolean).join(' ');
}

const defaultOf = (schema: Schema) =>
  schema.default === undefined
    ? ''
    : code(typeof schema.default === 'string' ? schema.default : JSON.stringify(schema.default));

/** Every field under `schema`, depth first, and every node that carries CEL rules. */
function walk(schema: Schema, path: string, rows: Row[], sites: RuleSite[]): void {
  if (schema.rules?.length) sites.push({ path, rules: schema.rules });
  const child = schema.items ?? schema.additionalProperties;
  if (child && hasFields(child)) {
    walk(child, schema.items ? `${path}[]` : `${path}.<key>`, rows, sites);
    return;
  }
  if (child?.rules?.length) sites.push({ path: schema.items ? `${path}[]` : `${path}.<key>`, rules: child.rules });
  if (!hasFields(schema)) return;
  for (const [name, prop] of Object.entries(schema.properties)) {
    const propPath = path ? `${path}.${name}` : name;
    rows.push({ path: propPath, schema: prop, required: schema.required?.includes(name) ?? false });
    walk(prop, propPath, rows, sites);
  }
}

const fieldTable = (rows: Row[]) =>
  table(
    ['Field', 'Type', 'Required', 'Default', 'Limits', 'Description'],
    rows.map((r) => [
      code(r.path),
      code(typeName(r.schema)),
      r.required ? 'yes' : '',
      defaultOf(r.schema),
      limits(r.schema),
      description(r.schema),
    ]),
  );

export const REFERENCE_PATH = 'docs/mcpserver-reference.md';

export function generateReference(root: Schema = mcpServerSchema): string {
  const props = root.properties ?? {};
  const sections: string[] = [];
  const sites: RuleSite[] = [];
  if (root.rules?.length) sites.push({ path: '', rules: root.rules });
  for (const part of ['spec', 'status'] as const) {
    const schema = props[part];
    if (!schema) continue;
    const rows: Row[] = [];
    walk(schema, part, rows, sites);
    const required = root.required?.includes(part) ? ' (required)' : '';
    sections.push(`## ${part}\n\n${schema.description ?? ''}${required}\n\n${fieldTable(rows)}`);
  }

  const rules = table(
    ['Field', 'Message', 'Rule (CEL)'],
    sites.flatMap(({ path, rules }) =>
      rules.map((r) => {
        const field = `${path}${r.fieldPath ?? ''}`.replace(/^\./, '');
        return [field ? code(field) : 'the McpServer', r.message, code(r.rule)];
      }),
    ),
  );

  const columns = table(
    ['Column', 'Type', 'JSONPath'],
    printerColumns.map((c) => [c.name, c.type, code(c.jsonPath)]),
  );
  const conditionTypes = table(
    ['Type', 'Meaning'],
    Object.entries(CONDITION_TYPES).map(([type, meaning]) => [code(type), meaning]),
  );
  const reasons = table(
    ['Reason', 'Set on', 'Meaning'],
    CONDITION_REASONS.map((r) => [code(r.reason), r.conditions, r.meaning]),
  );
  const events = table(
    ['Type', 'Reason', 'When'],
    EVENT_REASONS.map((e) => [e.type, e.reason.includes(' ') ? e.reason : code(e.reason), e.meaning]),
  );

  return `${[
    `# ${KIND} reference`,
    '<!-- Generated by `npm run generate` from src/api/schema.ts, src/api/conditions.ts and src/api/events.ts. Do not edit. -->',
    [
      `\`apiVersion: ${API_VERSION}\`, \`kind: ${KIND}\`: namespaced, plural \`${PLURAL}\`, short name`,
      `${SHORT_NAMES.map(code).join(', ')}, with a status subresource. The API server validates and defaults`,
      'every field below (OpenAPI and CEL rules in the CRD); `mcp-operator render` applies the same rules',
      'offline, and `kubectl explain mcpserver.spec` shows the same descriptions. "Required" means required',
      'whenever the enclosing object is set; `[]` marks the entries of a list, `<key>` the values of a map.',
    ].join('\n'),
    `## kubectl get mcps\n\n${columns}`,
    ...sections,
    [
      '## Validation rules',
      '',
      'CEL rules (`x-kubernetes-validations`) the API server checks on create and update, after defaulting. The',
      'message is what `kubectl apply` prints, prefixed with the field.',
      '',
      rules,
    ].join('\n'),
    `## Conditions\n\n\`status.conditions\` always holds these four types, each with a reason and a message that says what to do.\n\n${conditionTypes}\n\n${reasons}`,
    `## Events\n\nRecorded on the McpServer (\`kubectl describe mcps NAME\`, \`kubectl get events --field-selector involvedObject.name=NAME\`).\n\n${events}`,
  ].join('\n\n')}\n`;
}
