/** Turns the schema source into the CustomResourceDefinition (what `crds/` holds and the chart installs). */
import {
  GROUP,
  KIND,
  mcpServerSchema,
  PLURAL,
  printerColumns,
  SHORT_NAMES,
  SINGULAR,
  VERSION,
  VIRTUAL_KIND,
  VIRTUAL_PLURAL,
  VIRTUAL_SHORT_NAMES,
  VIRTUAL_SINGULAR,
  virtualMcpServerSchema,
  virtualPrinterColumns,
} from './schema.ts';
import type { Schema } from './schema-types.ts';

export type OpenApiSchema = { [key: string]: unknown };

/** The structural OpenAPI v3 schema the API server validates and defaults with. */
export function toOpenApi(schema: Schema): OpenApiSchema {
  const out: OpenApiSchema = {};
  if (schema.intOrString) {
    out['x-kubernetes-int-or-string'] = true;
    out.anyOf = [{ type: 'integer' }, { type: 'string' }];
  } else if (schema.type) {
    out.type = schema.type;
  }
  if (schema.description) out.description = schema.description;
  const copied = [
    'enum',
    'default',
    'minimum',
    'maximum',
    'minLength',
    'maxLength',
    'minItems',
    'maxItems',
    'maxProperties',
    'pattern',
    'format',
  ] as const;
  for (const key of copied) if (schema[key] !== undefined) out[key] = schema[key];
  if (schema.required?.length) out.required = [...schema.required];
  if (schema.properties) {
    out.properties = Object.fromEntries(Object.entries(schema.properties).map(([k, v]) => [k, toOpenApi(v)]));
  }
  if (schema.items) out.items = toOpenApi(schema.items);
  if (schema.additionalProperties) out.additionalProperties = toOpenApi(schema.additionalProperties);
  if (schema.preserveUnknownFields) out['x-kubernetes-preserve-unknown-fields'] = true;
  if (schema.listType) out['x-kubernetes-list-type'] = schema.listType;
  if (schema.listMapKeys) out['x-kubernetes-list-map-keys'] = [...schema.listMapKeys];
  if (schema.mapType) out['x-kubernetes-map-type'] = schema.mapType;
  if (schema.rules?.length) {
    out['x-kubernetes-validations'] = schema.rules.map(({ rule, message, messageExpression, fieldPath, reason }) => ({
      rule,
      message,
      ...(messageExpression ? { messageExpression } : {}),
      ...(fieldPath ? { fieldPath } : {}),
      ...(reason ? { reason } : {}),
    }));
  }
  return out;
}

/** What names one kind's CRD. */
interface KindNames {
  kind: string;
  plural: string;
  singular: string;
  shortNames: readonly string[];
  columns: ReadonlyArray<{ name: string; type: string; jsonPath: string }>;
  schema: Schema;
}

function crdOf(names: KindNames) {
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: {
      name: `${names.plural}.${GROUP}`,
      labels: { 'app.kubernetes.io/part-of': 'mcp-operator' },
    },
    spec: {
      group: GROUP,
      names: {
        kind: names.kind,
        listKind: `${names.kind}List`,
        plural: names.plural,
        singular: names.singular,
        shortNames: [...names.shortNames],
      },
      scope: 'Namespaced',
      versions: [
        {
          name: VERSION,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: names.columns.map((c) => ({ ...c })),
          schema: { openAPIV3Schema: toOpenApi(names.schema) },
        },
      ],
    },
  };
}

export function mcpServerCrd() {
  return crdOf({
    kind: KIND,
    plural: PLURAL,
    singular: SINGULAR,
    shortNames: SHORT_NAMES,
    columns: printerColumns,
    schema: mcpServerSchema,
  });
}

export function virtualMcpServerCrd() {
  return crdOf({
    kind: VIRTUAL_KIND,
    plural: VIRTUAL_PLURAL,
    singular: VIRTUAL_SINGULAR,
    shortNames: VIRTUAL_SHORT_NAMES,
    columns: virtualPrinterColumns,
    schema: virtualMcpServerSchema,
  });
}

/** Every CRD the operator installs, in install order. */
export const allCrds = () => [mcpServerCrd(), virtualMcpServerCrd()];
