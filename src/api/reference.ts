/**
 * Turns the schema source into the McpServer reference (`docs/mcpserver-reference.md`): every field with its
 * type, default, limits and description, the CEL rules with their messages, the printer columns, and the
 * conditions, reasons and Events the controller writes. Same source as the CRD, so the two cannot disagree.
 */
import { CONDITION_REASONS, CONDITION_TYPES } from './conditions.ts';
import { EVENT_REASONS } from './events.ts';
import { KUBERNETES_VERSION } from './k8s-types.ts';
import {
  API_VERSION,
  KIND,
  mcpServerSchema,
  PLURAL,
  printerColumns,
  SHORT_NAMES,
  VIRTUAL_KIND,
  VIRTUAL_PLURAL,
  VIRTUAL_SHORT_NAMES,
  virtualMcpServerSchema,
  virtualPrinterColumns,
} from './schema.ts';
import type { Rule, Schema } from './schema-types.ts';
import {
  VIRTUAL_CONDITION_REASONS,
  VIRTUAL_CONDITION_TYPES,
  VIRTUAL_EVENT_REASONS,
  WORKLOAD_REASONS,
} from './virtual-conditions.ts';

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
export const VIRTUAL_REFERENCE_PATH = 'docs/virtualmcpserver-reference.md';

/** One kind's reference: its schema, names, printer columns and what the controller writes on it. */
export interface ReferenceKind {
  kind: string;
  plural: string;
  shortNames: readonly string[];
  schema: Schema;
  columns: ReadonlyArray<{ name: string; type: string; jsonPath: string }>;
  conditionTypes: Readonly<Record<string, string>>;
  conditionReasons: ReadonlyArray<{ reason: string; conditions: string; meaning: string }>;
  events: ReadonlyArray<{ type: string; reason: string; meaning: string }>;
  /** Sources named in the do-not-edit line. */
  sources: string;
  /** Which condition types status.conditions always holds. */
  alwaysHeld: string;
  /** Said after the field tables' introduction. */
  intro?: string;
}

export const MCP_SERVER_REFERENCE: ReferenceKind = {
  kind: KIND,
  plural: PLURAL,
  shortNames: SHORT_NAMES,
  schema: mcpServerSchema,
  columns: printerColumns,
  conditionTypes: CONDITION_TYPES,
  conditionReasons: CONDITION_REASONS,
  events: EVENT_REASONS,
  sources: 'src/api/schema.ts, src/api/conditions.ts and src/api/events.ts',
  alwaysHeld: 'these four types',
  intro: [
    'Size: each list below has its own limit, and the API server also bounds the work its validation rules may do',
    'for one object. An McpServer whose env values and args together run past about 1.2 MB (128 values of 8 KiB',
    'and 80 args of 4 KiB, say) is refused with "validation failed due to running out of cost budget", though each',
    'list is within its limit: keep configuration that large in a ConfigMap (envFrom, or a volume in pod.volumes).',
  ].join('\n'),
};

export const VIRTUAL_MCP_SERVER_REFERENCE: ReferenceKind = {
  kind: VIRTUAL_KIND,
  plural: VIRTUAL_PLURAL,
  shortNames: VIRTUAL_SHORT_NAMES,
  schema: virtualMcpServerSchema,
  columns: virtualPrinterColumns,
  conditionTypes: VIRTUAL_CONDITION_TYPES,
  conditionReasons: [
    ...CONDITION_REASONS.filter((r) => WORKLOAD_REASONS.has(r.reason)).map((r) => ({
      ...r,
      meaning: r.meaning.replaceAll('McpServer', 'VirtualMcpServer'),
    })),
    ...VIRTUAL_CONDITION_REASONS,
  ],
  events: VIRTUAL_EVENT_REASONS,
  sources: 'src/api/schema.ts, src/api/virtual-conditions.ts and src/api/conditions.ts',
  alwaysHeld: 'these six types',
  intro: [
    'auth, tools, rateLimit, sessions, replicas, resources, pod, ingress, httpRoute and networkPolicy mean what they',
    'mean on an McpServer ([reference](mcpserver-reference.md)). Names: a tool or prompt is exposed as',
    '`<prefix>_<name>` when its server has a prefix, a tool as its `tools.rename` entry when it has one, and as',
    'its own name otherwise; resources keep their URI. A name depends only on its own server, never on which',
    'others are present. When two servers expose one name, the earlier in priority order (spec.servers, then',
    'the servers the selector adds, by name) wins and the other is hidden; status.conflicts names both and the fix.',
    '',
    '```yaml',
    'apiVersion: mcpoperator.io/v1alpha1',
    'kind: VirtualMcpServer',
    'metadata: {name: team-tools, namespace: team}',
    'spec:',
    '  servers:                    # McpServers of this namespace, in priority order',
    '    - name: github',
    '      prefix: gh              # gh_search_code, ...',
    '      tools: {deny: [delete_repository], rename: {create_issue: new_issue}}',
    '    - name: memory',
    '  selector: {matchLabels: {team: a}}   # and every McpServer labelled team=a, after those',
    '  tools: {deny: [gh_merge_*]}          # by exposed name',
    '  replicas: 2',
    '```',
  ].join('\n'),
};

export function generateReference(ref: ReferenceKind = MCP_SERVER_REFERENCE): string {
  const root = ref.schema;
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
        return [field ? code(field) : `the ${ref.kind}`, r.message, code(r.rule)];
      }),
    ),
  );

  const columns = table(
    ['Column', 'Type', 'JSONPath'],
    ref.columns.map((c) => [c.name, c.type, code(c.jsonPath)]),
  );
  const conditionTypes = table(
    ['Type', 'Meaning'],
    Object.entries(ref.conditionTypes).map(([type, meaning]) => [code(type), meaning]),
  );
  const reasons = table(
    ['Reason', 'Set on', 'Meaning'],
    ref.conditionReasons.map((r) => [code(r.reason), r.conditions, r.meaning]),
  );
  const events = table(
    ['Type', 'Reason', 'When'],
    ref.events.map((e) => [e.type, e.reason.includes(' ') ? e.reason : code(e.reason), e.meaning]),
  );

  const short = ref.shortNames[0] ?? ref.plural;
  const explain = ref.kind.toLowerCase();
  return `${[
    `# ${ref.kind} reference`,
    `<!-- Generated by \`npm run generate\` from ${ref.sources}. Do not edit. -->`,
    [
      `\`apiVersion: ${API_VERSION}\`, \`kind: ${ref.kind}\`: namespaced, plural \`${ref.plural}\`, short name`,
      `${ref.shortNames.map(code).join(', ')}, with a status subresource. The API server validates and defaults`,
      'every field below (OpenAPI and CEL rules in the CRD); `mcp-operator render` applies the same rules',
      `offline, and \`kubectl explain ${explain}.spec\` shows the same descriptions. "Required" means required`,
      'whenever the enclosing object is set; `[]` marks the entries of a list, `<key>` the values of a map.',
      ...(ref.intro ? ['', ref.intro] : []),
    ].join('\n'),
    `## kubectl get ${short}\n\n${columns}`,
    ...sections,
    [
      '## Validation rules',
      '',
      'CEL rules (`x-kubernetes-validations`) the API server checks on create and update, after defaulting. The',
      'message is what `kubectl apply` prints, prefixed with the field.',
      '',
      rules,
    ].join('\n'),
    `## Conditions\n\n\`status.conditions\` always holds ${ref.alwaysHeld}, each with a reason and a message that says what to do.\n\n${conditionTypes}\n\n${reasons}`,
    `## Events\n\nRecorded on the ${ref.kind} (\`kubectl describe ${short} NAME\`, \`kubectl get events --field-selector involvedObject.name=NAME\`).\n\n${events}`,
  ].join('\n\n')}\n`;
}
