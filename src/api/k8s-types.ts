/**
 * The Kubernetes types McpServer passes through to its children (affinity, tolerations, volume sources, volume
 * mounts, NetworkPolicy peers and ports), with their real schemas: the upstream OpenAPI of the pinned Kubernetes
 * version, extracted into a checked-in file by `scripts/k8s-openapi.ts`. So the CRD (and `render`) refuses a typo
 * deep inside them with its field path, instead of the API server refusing the child later.
 */
import upstream from './k8s-openapi/v1.34.4.json' with { type: 'json' };
import type { Rule, Schema, SchemaType } from './schema-types.ts';

type OpenApi = { [key: string]: unknown };

/**
 * Kubernetes' quantity syntax, with at most two exponent digits: the API server takes ~30 s to parse 1e999999999
 * and minutes to compare 1e99999999 with a limit (it builds the numbers), and no resource needs more than 1e18.
 */
export const QUANTITY = '^[+-]?(([0-9]+([.][0-9]*)?)|([.][0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]{1,2}))?$';
/** The pod fields a fieldRef may name (the Downward API); a volume item takes only the metadata ones. */
/** A label or annotation key: an optional DNS-subdomain prefix and '/', then a name of at most 63 characters. */
export const QUALIFIED_KEY =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$';
/** A label value: empty, or at most 63 of letters, digits, - _ . starting and ending alphanumeric. */
export const LABEL_VALUE = '^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$';
/** A label key's most characters: a 253-character DNS prefix, '/', a 63-character name. */
const LABEL_KEY_MAX = 317;
const labelKey = (s: Schema): Schema => ({ ...s, maxLength: LABEL_KEY_MAX, pattern: QUALIFIED_KEY });

export const FIELD_PATH = String.raw`^(metadata[.](name|namespace|uid)|metadata[.](labels|annotations)\['.+'\]|spec[.](nodeName|serviceAccountName)|status[.](hostIP|hostIPs|podIP|podIPs))$`;
/** The container resources a resourceFieldRef may name. */
export const RESOURCE_FIELD = '^(limits|requests)[.](cpu|memory|ephemeral-storage|hugepages-.+)$';
/** The longest quantity string taken (the API server's own are far shorter). */
const MAX_QUANTITY_CHARS = 64;

const data = upstream as unknown as { kubernetesVersion: string; definitions: Record<string, OpenApi> };

/** The Kubernetes version the pass-through schemas come from (the one the tests' control plane runs). */
export const KUBERNETES_VERSION = data.kubernetesVersion;

/** Names in the data file: `core.v1.Affinity`, `networking.v1.NetworkPolicyPeer`, ... */
export type K8sTypeName = keyof typeof upstream.definitions;

/** An upstream structural schema in the schema source's vocabulary (the inverse of `toOpenApi` in crd.ts). */
function fromOpenApi(node: OpenApi): Schema {
  const out: Schema = {};
  if (node['x-kubernetes-int-or-string']) out.intOrString = true;
  else if (node.type) out.type = node.type as SchemaType;
  if (node.description) out.description = node.description as string;
  if (node.format) out.format = node.format as string;
  if (node.pattern) out.pattern = node.pattern as string;
  if (node.required) out.required = node.required as string[];
  if (node.properties) {
    out.properties = Object.fromEntries(
      Object.entries(node.properties as Record<string, OpenApi>).map(([k, v]) => [k, fromOpenApi(v)]),
    );
  }
  if (node.items) out.items = fromOpenApi(node.items as OpenApi);
  if (node.additionalProperties) out.additionalProperties = fromOpenApi(node.additionalProperties as OpenApi);
  if (node['x-kubernetes-list-type']) out.listType = node['x-kubernetes-list-type'] as Schema['listType'];
  if (node['x-kubernetes-list-map-keys']) out.listMapKeys = node['x-kubernetes-list-map-keys'] as string[];
  if (node['x-kubernetes-map-type']) out.mapType = node['x-kubernetes-map-type'] as Schema['mapType'];
  return out;
}

/**
 * How many entries a list around a selector requirement may hold (matchExpressions, nodeSelectorTerms, affinity
 * terms): the API server sets no bound, and its CEL cost estimate needs one. No real selector comes near it.
 */
export const MAX_ITEMS_AROUND_RULES = 32;

const holdsRule = (s: Schema): boolean =>
  Boolean(s.rules?.length) ||
  Object.values(s.properties ?? {}).some(holdsRule) ||
  (s.items !== undefined && holdsRule(s.items)) ||
  (s.additionalProperties !== undefined && holdsRule(s.additionalProperties));

/**
 * A selector requirement's values against its operator, as the API server checks them in the child: In and
 * NotIn need at least one, Exists and DoesNotExist none, a node's Gt and Lt exactly one.
 */
function requirementValues(node: boolean): Rule {
  const count = (self: { values?: unknown[] }) => self.values?.length ?? 0;
  const gtLt = node ? ` : self.operator in ['Gt', 'Lt'] ? has(self.values) && size(self.values) == 1` : '';
  return {
    rule:
      `!has(self.operator) ? true : self.operator in ['In', 'NotIn'] ? has(self.values) && size(self.values) > 0` +
      `${gtLt} : !has(self.values) || size(self.values) == 0`,
    message: `values must list at least one value when operator is In or NotIn, and none when it is Exists or DoesNotExist${node ? ' (exactly one, an integer, for Gt and Lt)' : ''}`,
    fieldPath: '.values',
    reason: 'FieldValueInvalid',
    check: ((self: { operator?: string; values?: unknown[] }) => {
      if (self.operator === undefined) return true;
      if (self.operator === 'In' || self.operator === 'NotIn') return count(self) > 0;
      if (node && (self.operator === 'Gt' || self.operator === 'Lt')) return count(self) === 1;
      return count(self) === 0;
    }) as Rule['check'],
  };
}

/**
 * What the API server checks in these types beyond their OpenAPI (which says it only in descriptions), where a
 * schema can say it at no CEL cost: selector operators, label keys and values in selectors, topology keys,
 * affinity weights (1-100), quantities it can parse in
 * reasonable time, the Downward API's field and resource names, and file modes. Without it a typo such as
 * operator: in is accepted here and the Deployment refused at apply time. One CEL rule, a requirement's values
 * against its operator, with the lists around it bounded (unbounded, its cost estimate overruns the CRD's budget).
 */
function withApiServerChecks(schema: Schema): Schema {
  const props = schema.properties;
  const out: Schema = { ...schema };
  // Every resource.Quantity (volume size limits, divisors, claim templates' requests): bounded exponents, as ours.
  if (schema.intOrString && schema.pattern?.includes('KMGTPE')) {
    out.pattern = QUANTITY;
    out.maxLength = MAX_QUANTITY_CHARS;
  }
  if (props) {
    out.properties = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, withApiServerChecks(v)]));
    const nodeRequirement = schema.description?.startsWith('A node selector requirement');
    const labelRequirement = schema.description?.startsWith('A label selector requirement');
    if ((nodeRequirement || labelRequirement) && out.properties.operator) {
      const operators = ['In', 'NotIn', 'Exists', 'DoesNotExist', ...(nodeRequirement ? ['Gt', 'Lt'] : [])];
      out.properties.operator = { ...out.properties.operator, enum: operators };
      if (out.properties.key) out.properties.key = labelKey(out.properties.key);
      out.rules = [...(out.rules ?? []), requirementValues(Boolean(nodeRequirement))];
    }
    // A pod label selector's values are label values (node requirements' Gt and Lt take integers: not here).
    const values = out.properties.values?.items;
    if (labelRequirement && values)
      out.properties.values = { ...out.properties.values, items: { ...values, pattern: LABEL_VALUE, maxLength: 63 } };
    const matchLabels = out.properties.matchLabels?.additionalProperties;
    if (matchLabels && out.properties.matchExpressions) {
      out.properties.matchLabels = {
        ...out.properties.matchLabels,
        additionalProperties: { ...matchLabels, pattern: LABEL_VALUE, maxLength: 63 },
      };
    }
    // PodAffinityTerm: the API server requires a topologyKey, a label key of the nodes (kubernetes.io/hostname).
    if (out.properties.topologyKey && props.labelSelector)
      out.properties.topologyKey = labelKey(out.properties.topologyKey);
    if (out.properties.weight && (props.preference || props.podAffinityTerm)) {
      out.properties.weight = { ...out.properties.weight, minimum: 1, maximum: 100 };
    }
    const description = schema.description ?? '';
    if (description.startsWith('ObjectFieldSelector') && out.properties.fieldPath) {
      out.properties.fieldPath = { ...out.properties.fieldPath, pattern: FIELD_PATH };
    }
    if (description.startsWith('ResourceFieldSelector') && out.properties.resource) {
      out.properties.resource = { ...out.properties.resource, pattern: RESOURCE_FIELD };
    }
    // File modes (secret, configMap, downwardAPI and projected volumes and their items): 0-0777.
    for (const mode of ['defaultMode', 'mode'] as const) {
      if (out.properties[mode]?.type === 'integer')
        out.properties[mode] = { ...out.properties[mode], minimum: 0, maximum: 0o777 };
    }
  }
  if (schema.items) {
    out.items = withApiServerChecks(schema.items);
    // A list holding a rule needs a bound, or the API server's cost estimate for the rule overruns the budget.
    if (out.maxItems === undefined && holdsRule(out.items)) out.maxItems = MAX_ITEMS_AROUND_RULES;
  }
  if (schema.additionalProperties) out.additionalProperties = withApiServerChecks(schema.additionalProperties);
  return out;
}

/**
 * A Kubernetes type with its upstream schema, typed as the `@kubernetes/client-node` class. `description`
 * replaces the upstream one on this field (the nested fields keep theirs, for `kubectl explain`).
 */
export function k8sType(name: K8sTypeName, description?: string): Schema {
  const def = data.definitions[name];
  if (!def) throw new Error(`${name} is not in src/api/k8s-openapi/${KUBERNETES_VERSION}.json`);
  const schema = withApiServerChecks(fromOpenApi(def));
  return {
    ...schema,
    ...(description ? { description } : {}),
    tsType: `k8s.V1${name.replace(/^\w+\.v1\./, '')}`,
  };
}

/**
 * The fields of a Kubernetes type, to build one of our own on (our name, limits and rules on top):
 * `overrides` are merged into the upstream schema of each field named.
 */
export function k8sFields(name: K8sTypeName, overrides: Record<string, Partial<Schema>> = {}): Record<string, Schema> {
  const { properties = {} } = k8sType(name);
  for (const field of Object.keys(overrides)) if (!properties[field]) throw new Error(`${name} has no field ${field}`);
  return Object.fromEntries(
    Object.entries(properties).map(([field, schema]) => [field, { ...schema, ...overrides[field] }]),
  );
}
