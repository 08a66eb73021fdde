/**
 * The one schema source for the McpServer API (mcpoperator.io/v1alpha1). `npm run generate` turns it into
 * `crds/mcpoperator.io_mcpservers.yaml` and `src/api/types.generated.ts`; a unit test fails when they drift.
 * Every CEL rule carries a TypeScript mirror (`check`) so `render` refuses what the API server refuses; the
 * integration tests feed the same invalid manifests to both.
 */
import { GATEWAY_ENV_PREFIX, GATEWAY_HEALTH_PORT, GATEWAY_MCP_PORT } from '../contract/gateway.ts';
import { type K8sTypeName, k8sFields, k8sType, LABEL_VALUE, QUALIFIED_KEY, QUANTITY } from './k8s-types.ts';
import { OPERATOR_LABEL_KEYS } from './labels.ts';
import { ALLOWED_VOLUME_SOURCES, OPERATOR_MOUNT_PATHS, RESERVED_VOLUME_NAMES } from './pod-layout.ts';
import { compareQuantities, parseQuantity, type Quantity } from './quantity.ts';
import type { Rule, Schema } from './schema-types.ts';

export const GROUP = 'mcpoperator.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'McpServer';
export const PLURAL = 'mcpservers';
export const SINGULAR = 'mcpserver';
export const SHORT_NAMES = ['mcps'] as const;

/** Ports the gateway owns inside every pod (the public contract, see DESIGN.md), spelled in src/contract/gateway.ts. */
export { GATEWAY_HEALTH_PORT, GATEWAY_MCP_PORT };

// Patterns kept free of backslashes so the same text reads the same in TypeScript, YAML and CEL.
const DNS_1035_LABEL = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
const DNS_1123_LABEL = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS_1123_SUBDOMAIN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
/** 64 characters with no dot: a DNS label over its 63-character limit. */
const LONG_DNS_LABEL = '[^.]{64}';
const INGRESS_HOST = '^([*][.])?[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
const ENV_NAME = '^[A-Za-z_][-._A-Za-z0-9]*$';
const SECRET_LOOKING_NAME = '(?i)(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)$';
const SECRET_LOOKING_NAME_JS = /(^|_)(TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|PRIVATE_?KEY|ACCESS_?KEY|CREDENTIALS?)$/i;
const DURATION = '^([0-9]+(ms|s|m|h))+$';
/** A duration of zero in every unit ("0s", "0m0s"): the gateway refuses it at start, so the schema does. */
const ZERO_DURATION = '^(0+(ms|s|m|h))+$';
/** A Secret or ConfigMap key as the API server accepts one. */
const CONFIG_KEY = '^[-._a-zA-Z0-9]+$';
/** A container resource name: the standard ones, huge pages of a size, or a domain-qualified extended resource. */
const RESOURCE_NAME =
  '^(cpu|memory|ephemeral-storage|hugepages-[0-9]+([KMGTPE]i|[kMGTPE])?|[a-z0-9]([-a-z0-9]*[a-z0-9])?([.][a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$';
/** An IPv4 address, or anything made of hex digits, dots and colons with a colon in it (IPv6, maybe bracketed). */
const IPV4 = '^[0-9]+([.][0-9]+){3}$';
const IPV6 = '^[[]?[0-9a-fA-F:.]*:[0-9a-fA-F:.]*]?$';
/** Two parentRefs (p1, p2, in CEL) to one Gateway: the same name and namespace (unset is not the same as set). */
const SAME_GATEWAY =
  "p1.name == p2.name && (has(p1.__namespace__) ? p1.__namespace__ : '') == (has(p2.__namespace__) ? p2.__namespace__ : '')";
/** A `..` path segment, also percent-encoded (`%2e%2e`), which proxies and servers may resolve upwards. */
const DOT_DOT_SEGMENT = '(^|/)([.]|%2[eE])([.]|%2[eE])(/|$)';
/**
 * What an HTTPRoute PathPrefix takes (Gateway API HTTPPathMatch, an Ingress Prefix path likewise): no `.`
 * segment, no encoded slash, only RFC 3986 path characters (a single quote too is refused: CEL quoting).
 */
const DOT_SEGMENT = '(^|/)([.]|%2[eE])(/|$)';
const ROUTE_PATH_CHARS = '^([-A-Za-z0-9/._~!$&()*+,;=:@]|%[0-9a-fA-F]{2})+$';
/** MCP tool names (SEP-986: letters, digits, _ - . /) with the glob characters * and ?. */
const TOOL_PATTERN = '^[A-Za-z0-9_./*?-]+$';
/** `.*` or `.?` after a separator or at the start: a regular expression (get_.*), not a glob (github.*). */
const REGEX_DOT_STAR = '(^|[^A-Za-z0-9*?])[.][*?]';
/**
 * Values that are secrets whatever the variable is called: well-known token formats (anchored at a word
 * boundary and long enough that words like sk-learn pass) and URLs with a password in the userinfo (a
 * password written as $(VAR), expanded from another variable, is fine).
 */
const SECRET_VALUES = [
  { what: 'a GitHub token', re: '(^|[^A-Za-z0-9_])(gh[opusr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})' },
  { what: 'a GitLab token', re: '(^|[^A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}' },
  { what: 'a Slack token', re: '(^|[^A-Za-z0-9])xox[abposr]-[A-Za-z0-9-]{10,}' },
  { what: 'an API key (sk-...)', re: '(^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{32,}' },
  { what: 'an AWS access key id', re: '(^|[^A-Z0-9])(AKIA|ASIA)[A-Z0-9]{16}([^A-Z0-9]|$)' },
  {
    what: 'a URL with a password',
    re: '[A-Za-z][A-Za-z0-9+.-]*://[^/?#@ :]*:[^/?#@ $][^/?#@ ]*@',
    or: ' (or take the password from another variable: postgres://user:$(DB_PASSWORD)@db/app)',
  },
] as const;
const VOLUME_SOURCE_TYPES: Record<(typeof ALLOWED_VOLUME_SOURCES)[number], K8sTypeName> = {
  configMap: 'core.v1.ConfigMapVolumeSource',
  secret: 'core.v1.SecretVolumeSource',
  emptyDir: 'core.v1.EmptyDirVolumeSource',
  persistentVolumeClaim: 'core.v1.PersistentVolumeClaimVolumeSource',
  projected: 'core.v1.ProjectedVolumeSource',
  downwardAPI: 'core.v1.DownwardAPIVolumeSource',
  csi: 'core.v1.CSIVolumeSource',
  ephemeral: 'core.v1.EphemeralVolumeSource',
};

// biome-ignore lint/suspicious/noExplicitAny: a rule's mirror reads the same loosely typed node CEL does
type Node = any;
/** A CEL rule and its TypeScript mirror; `check` receives the node the rule is attached to. */
const rule = (
  r: Omit<Rule, 'check' | 'messageOf'> & { check: (self: Node) => boolean; messageOf?: (self: Node) => string },
): Rule => r as Rule;
/** A rateLimit.perTool key the gateway's comma-separated tool=N setting can carry. */
const perToolKeyOk = (k: string) => k !== '' && !k.includes(',') && k.trim() === k;
const has = (o: Node, key: string): boolean => o != null && o[key] !== undefined;
const exactlyOne = (o: Node, keys: readonly string[]): boolean => keys.filter((k) => has(o, k)).length === 1;

/** A piece of a message: literal text, or a value CEL and TypeScript each compute from `self`. */
type MessagePart = string | { cel: string; ts: (self: Node) => string };
const celString = (text: string) => `'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
/**
 * A message that quotes the bad value (the API server alone prints only its type): CEL builds it with
 * messageExpression, TypeScript with messageOf, from the same parts.
 */
const quoting = (...parts: MessagePart[]) => {
  // Adjacent literals become one CEL string; computed parts are parenthesised (a ternary binds looser than +).
  const merged: MessagePart[] = [];
  for (const p of parts) {
    const last = merged[merged.length - 1];
    if (typeof p === 'string' && typeof last === 'string') merged[merged.length - 1] = last + p;
    else merged.push(p);
  }
  return {
    messageExpression: merged.map((p) => (typeof p === 'string' ? celString(p) : `(${p.cel})`)).join(' + '),
    messageOf: (self: Node) => merged.map((p) => (typeof p === 'string' ? p : p.ts(self))).join(''),
  };
};
/** `"<value>"` of a string field (`self`, or a field of it). */
const quoted = (cel = 'self', ts: (self: Node) => unknown = (s) => s): MessagePart[] => [
  '"',
  { cel, ts: (s) => String(ts(s)) },
  '"',
];

/** The user's env names in the gateway's namespace. */
const gatewayEnvNames = (s: Node): string[] =>
  Array.isArray(s?.env)
    ? s.env.map((e: Node) => e?.name).filter((n: unknown) => typeof n === 'string' && n.startsWith(GATEWAY_ENV_PREFIX))
    : [];
/** An empty (`//`), `.` or `..` segment of a mount path. Trailing slashes are left to OPERATOR_MOUNT_PATH. */
const MOUNT_PATH_DETOUR = '//+[^/]|(^|/)[.][.]?(/|$)';
/** One of the operator's mount paths, with or without trailing slashes. */
const OPERATOR_MOUNT_PATH = `^(${OPERATOR_MOUNT_PATHS.join('|')})/*$`;

/** A path must not climb out of where it is mounted or routed. */
const noDotDot = (example: string) =>
  rule({
    rule: `!self.matches('${DOT_DOT_SEGMENT}')`,
    message: `must not contain a '..' segment: write the path without it, e.g. ${example}`,
    ...quoting(...quoted(), ` has a '..' segment: write the path without it, e.g. ${example}`),
    check: (s) => !new RegExp(DOT_DOT_SEGMENT).test(s),
  });
/** No query, fragment, whitespace or `//`: a path the gateway can serve under as it is. */
const plainPathRule = (example: string) =>
  rule({
    rule: "!self.matches('[?#]') && !self.matches('[ \\t\\n\\r\\f]') && !self.contains('//')",
    message: `must be a plain path, without a query (?), a fragment (#), spaces or //, e.g. ${example}`,
    ...quoting(...quoted(), ` is not a plain path: remove the query (?), fragment (#), spaces or //, e.g. ${example}`),
    check: (s) => typeof s !== 'string' || (!/[?#\t\n\r\f ]/.test(s) && !s.includes('//')),
  });
/** A path field's rules: absolute, without `..` segments, and (`plain`) a path the gateway serves under. */
const pathRules = (example: string, absolute = "must start with '/'", plain = false) => [
  rule({
    rule: "self.startsWith('/')",
    message: `${absolute}, e.g. ${example}`,
    ...quoting(...quoted(), ` ${absolute}, e.g. ${example}`),
    check: (s) => typeof s === 'string' && s.startsWith('/'),
  }),
  noDotDot(example),
  // The gateway serves under a plain path (MCP_GATEWAY_BASE_PATH) and refuses to start otherwise: the pod would
  // crash-loop on a spec the API server accepted. (The upstream's path may carry a query: it is a URL.)
  ...(plain ? [plainPathRule(example)] : []),
];

/** Only the gateway serves under a path prefix: without it, `exposure`.path must stay '/'. */
const prefixNeedsGateway = (exposure: 'ingress' | 'httpRoute') =>
  rule({
    rule: `!has(self.gateway) || self.gateway.enabled || !has(self.${exposure}) || !has(self.${exposure}.path) || self.${exposure}.path == '/'`,
    message: `an ${exposure} path prefix is served by the gateway: enable it or use path '/'`,
    fieldPath: `.${exposure}.path`,
    reason: 'FieldValueForbidden',
    check: (s) =>
      !has(s, 'gateway') ||
      s.gateway.enabled !== false ||
      !has(s, exposure) ||
      !has(s[exposure], 'path') ||
      s[exposure].path === '/',
  });

/**
 * CEL: quantity a is above quantity b. False when either does not match the pattern (which reports it): a
 * pattern error does not stop CEL rules, and quantity() must never see a huge exponent.
 */
const celQuantityAbove = (a: string, b: string) =>
  `(string(${a}).matches('${QUANTITY}') && string(${b}).matches('${QUANTITY}') && quantity(string(${a})).compareTo(quantity(string(${b}))) > 0)`;
const quantityAbove = (a: unknown, b: unknown): boolean => {
  const [x, y] = [String(a), String(b)];
  if (!new RegExp(QUANTITY).test(x) || !new RegExp(QUANTITY).test(y)) return false;
  return compareQuantities(parseQuantity(x) as Quantity, parseQuantity(y) as Quantity) > 0;
};
/**
 * The resource a message names when requests are above limits: cpu, memory, ephemeral-storage first, in that
 * order, then any other (CEL iterates a map in no fixed order and has no sort; min() has no size bound).
 */
const COMMON_RESOURCES = ['cpu', 'memory', 'ephemeral-storage'] as const;
const celAbove = (k: string) =>
  `${k} in self.requests && ${k} in self.limits && ${celQuantityAbove(`self.requests[${k}]`, `self.limits[${k}]`)}`;
const celCommon = `[${COMMON_RESOURCES.map((r) => `'${r}'`).join(', ')}]`;
const firstAbove = `(${celCommon}.exists(k, ${celAbove('k')}) ? ${celCommon}.filter(k, ${celAbove('k')})[0] : self.requests.filter(k, ${celAbove('k')})[0])`;
/** Resource names whose request is above their limit, in the order the message picks them. */
const requestsAboveLimits = (s: Node): string[] => {
  if (!has(s, 'requests') || !has(s, 'limits')) return [];
  const above = Object.keys(s.requests).filter((k) => has(s.limits, k) && quantityAbove(s.requests[k], s.limits[k]));
  const common = COMMON_RESOURCES.filter((k) => above.includes(k));
  return [...common, ...above.filter((k) => !common.includes(k as never))];
};

/** A tool name or glob in tools.allow / tools.deny. */
const toolPatternRules = [
  rule({
    rule: `self.matches('${TOOL_PATTERN}') && !self.matches('${REGEX_DOT_STAR}')`,
    message:
      'must be a tool name or a glob: globs use * (any characters) and ? (one character), e.g. get_*; regular expressions are not supported',
    ...quoting(
      ...quoted(),
      ' is not a tool name or a glob: globs use * (any characters) and ? (one character), e.g. get_*; regular expressions are not supported',
    ),
    check: (s) => new RegExp(TOOL_PATTERN).test(s) && !new RegExp(REGEX_DOT_STAR).test(s),
  }),
];
const toolList = (what: string): Schema => ({
  type: 'array',
  description: `${what} Exact tool names or globs: * matches any characters, ? one character (get_* matches get_issue and get_pr); nothing else is special, regular expressions are refused.`,
  maxItems: 256,
  listType: 'set',
  items: { type: 'string', description: 'A tool name or glob.', maxLength: 128, rules: toolPatternRules },
});

/** A URL the gateway fetches keys or metadata from: https only, or a network attacker picks the keys. */
const httpsRules = (example: string) => [
  rule({
    rule: "self.startsWith('https://')",
    message: `must be an https:// URL, e.g. ${example}`,
    ...quoting(...quoted(), ` is not an https:// URL: use https, e.g. ${example}`),
    check: (s) => typeof s === 'string' && s.startsWith('https://'),
  }),
];

/** CEL: volumeMount `m` names a volume of pod.volumes (`self` is pod). */
const celDeclared = (m: string) => `(has(self.volumes) && self.volumes.exists(v, v.name == ${m}.name))`;
const mountsWithDotDot = (pod: Node, field: 'mountPath' | 'subPath'): string[] =>
  ((pod.volumeMounts ?? []) as Array<Record<string, string | undefined>>)
    .map((m) => m[field] ?? '')
    .filter((p) => new RegExp(DOT_DOT_SEGMENT).test(p));
const undeclaredMounts = (pod: Node): string[] =>
  ((pod.volumeMounts ?? []) as Array<{ name: string }>)
    .filter((m) => !((pod.volumes ?? []) as Array<{ name: string }>).some((v) => v.name === m.name))
    .map((m) => m.name);

const str = (description: string, extra: Partial<Schema> = {}): Schema => ({
  type: 'string',
  description,
  maxLength: 253,
  ...extra,
});
const stringList = (description: string, maxItems: number, maxLength = 4096): Schema => ({
  type: 'array',
  description,
  maxItems,
  items: { type: 'string', description: 'An entry.', maxLength },
});
const stringMap = (description: string): Schema => ({
  type: 'object',
  description,
  maxProperties: 64,
  additionalProperties: { type: 'string', description: 'A value.', maxLength: 4096 },
});

export { LABEL_VALUE, QUALIFIED_KEY };

/** The API server also bounds a key's DNS prefix (253 characters), which a pattern cannot. */
const keyOk = (k: string) => new RegExp(QUALIFIED_KEY).test(k) && (k.indexOf('/') < 0 || k.indexOf('/') <= 253);
const KEY_OK_CEL = (k: string) => `(${k}.matches('${QUALIFIED_KEY}') && ${k}.indexOf('/') <= 253)`;
const badKeys = (s: Node): string[] => (s && typeof s === 'object' ? Object.keys(s).filter((k) => !keyOk(k)) : []);
/**
 * Keys the API server takes on labels and annotations (it refuses the child otherwise, at apply time). The
 * example is what a user most likely meant.
 */
const qualifiedKeys = (what: string) =>
  rule({
    rule: `self.all(k, ${KEY_OK_CEL('k')})`,
    message: `every ${what} key must be a name of letters, digits, - _ . (at most 63), optionally prefixed by a DNS name (at most 253) and /, e.g. example.com/team`,
    ...quoting(
      `the ${what} key `,
      ...quoted(`self.filter(k, !${KEY_OK_CEL('k')})[0]`, (s) => badKeys(s)[0]),
      ' is not a valid key: use letters, digits, - _ . (at most 63), optionally prefixed by a DNS name (at most 253) and /, e.g. example.com/team',
    ),
    check: (s) => badKeys(s).length === 0,
  });
/** Labels (pod labels, a node selector): keys and values the API server takes. */
const labelMap = (description: string, what: string): Schema => ({
  ...stringMap(description),
  additionalProperties: {
    type: 'string',
    description: 'A label value: at most 63 letters, digits, - _ . starting and ending with a letter or digit.',
    maxLength: 63,
    pattern: LABEL_VALUE,
  },
  rules: [qualifiedKeys(what)],
});
/**
 * Pod annotations that set a security profile. The API server copies an AppArmor annotation into the container's
 * securityContext at pod creation, so `unconfined` would run the server without AppArmor wherever Pod Security is
 * not enforced; restricted allows only runtime/default and localhost/ profiles. Seccomp annotations are refused
 * outright: the pod sets seccompProfile RuntimeDefault, and the API server refuses a pod whose annotation differs.
 */
const APPARMOR_ANNOTATION = 'container.apparmor.security.beta.kubernetes.io/';
const SECCOMP_ANNOTATIONS = [
  'seccomp.security.alpha.kubernetes.io/',
  'container.seccomp.security.alpha.kubernetes.io/',
];
const profileAnnotationOk = (k: string, v: unknown) =>
  SECCOMP_ANNOTATIONS.every((p) => !k.startsWith(p)) &&
  (!k.startsWith(APPARMOR_ANNOTATION) ||
    v === 'runtime/default' ||
    (typeof v === 'string' && v.startsWith('localhost/')));
const PROFILE_ANNOTATION_OK_CEL = (k: string) =>
  `(${SECCOMP_ANNOTATIONS.map((p) => `!${k}.startsWith('${p}')`).join(' && ')} && (!${k}.startsWith('${APPARMOR_ANNOTATION}') || self[${k}] == 'runtime/default' || self[${k}].startsWith('localhost/')))`;
const badProfileAnnotations = (s: Node): string[] =>
  s && typeof s === 'object' ? Object.keys(s).filter((k) => !profileAnnotationOk(k, s[k])) : [];
const profileAnnotations = rule({
  rule: `self.all(k, ${PROFILE_ANNOTATION_OK_CEL('k')})`,
  message:
    'pod.annotations cannot loosen the security profiles: AppArmor may be runtime/default or localhost/PROFILE, and seccomp is set by the operator (RuntimeDefault)',
  ...quoting(
    'the pod.annotations key ',
    ...quoted(`self.filter(k, !${PROFILE_ANNOTATION_OK_CEL('k')})[0]`, (s) => badProfileAnnotations(s)[0]),
    ' would loosen the security profiles Pod Security "restricted" allows: AppArmor may be runtime/default or localhost/PROFILE, and seccomp is set by the operator (RuntimeDefault); remove it',
  ),
  check: (s) => badProfileAnnotations(s).length === 0,
});

/** Annotations: keys the API server takes, any value. */
/** Bytes of annotations a user may add to one object: the API server allows 256 KiB, and the operator adds its own. */
const MAX_ANNOTATION_BYTES = 128 * 1024;
const annotationBytes = (s: Node): number =>
  s && typeof s === 'object'
    ? Object.entries(s).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(String(v)), 0)
    : 0;
/** The total the API server counts (UTF-8 bytes of keys and values), which per-value character limits cannot bound. */
const annotationsSize = (what: string) =>
  rule({
    rule: `self.map(k, size(bytes(k)) + size(bytes(self[k]))).sum() <= ${MAX_ANNOTATION_BYTES}`,
    message: `the ${what} take more than ${MAX_ANNOTATION_BYTES / 1024} KiB (keys and values, in UTF-8 bytes): the API server allows 256 KiB of annotations on an object and the operator adds its own; shorten them`,
    check: (s) => annotationBytes(s) <= MAX_ANNOTATION_BYTES,
  });
const annotationMap = (description: string, what: string): Schema => ({
  ...stringMap(description),
  rules: [qualifiedKeys(what), annotationsSize(what)],
});
/** A memory quantity with no unit under 1,000,000: bytes, as the API server reads it (1 to 999999). */
const BARE_SMALL_MEMORY = '^0*[1-9][0-9]{0,5}$';
/**
 * A memory limit with its unit left off: "512" is 512 bytes. The API server takes it, and no container starts
 * under it (a request that small only tells the scheduler). Written over all keys, as the negative rule: on
 * self.memory, or with quantity(), the rule is past the CEL cost budget.
 */
const memoryLimitWithUnit = rule({
  rule: `self.all(k, k != 'memory' || !string(self[k]).matches('${BARE_SMALL_MEMORY}'))`,
  message:
    'memory is counted in bytes: a limit of a plain number under 1000000 (e.g. 512) is too little for any container to start; write a unit, e.g. 512Mi',
  check: (s) => !has(s, 'memory') || !new RegExp(BARE_SMALL_MEMORY).test(String(s.memory)),
});
const quantityMap = (description: string, ...more: Rule[]): Schema => ({
  type: 'object',
  description,
  maxProperties: 16,
  additionalProperties: {
    description:
      'A resource quantity, e.g. 100m, 0.5 or 128Mi (suffixes m, k, M, G, T, P, E, Ki, Mi, Gi, Ti, Pi, Ei, or an exponent like 2e3). A YAML number is taken only when it is a whole number: quote a fraction ("0.5") or use millicores (500m).',
    intOrString: true,
    maxLength: 64,
    pattern: QUANTITY,
  },
  rules: [
    rule({
      // The pattern takes a sign (quantities elsewhere may be negative); the API server refuses it in a container.
      rule: "self.all(k, !string(self[k]).startsWith('-'))",
      message: 'a resource request or limit cannot be negative: write 0 or more, e.g. 100m or 128Mi',
      ...quoting(
        'the ',
        { cel: "self.filter(k, string(self[k]).startsWith('-'))[0]", ts: (s) => negativeResources(s)[0] ?? '' },
        ' quantity is negative: a request or limit is 0 or more, e.g. 100m or 128Mi',
      ),
      check: (s) => negativeResources(s).length === 0,
    }),
    rule({
      // The API server refuses the Deployment over a name it does not know (cpus, Memory) at apply time.
      rule: `self.all(k, k.matches('${RESOURCE_NAME}'))`,
      message:
        'a resource is cpu, memory, ephemeral-storage, hugepages-SIZE, or an extended resource with its domain, e.g. nvidia.com/gpu',
      ...quoting(
        'the resource ',
        ...quoted(`self.filter(k, !k.matches('${RESOURCE_NAME}'))[0]`, (s) => unknownResources(s)[0]),
        ' is not one: write cpu, memory, ephemeral-storage, hugepages-SIZE (e.g. hugepages-2Mi), or an extended resource with its domain, e.g. nvidia.com/gpu',
      ),
      check: (s) => unknownResources(s).length === 0,
    }),
    ...more,
  ],
});
const unknownResources = (s: Node): string[] =>
  s && typeof s === 'object' ? Object.keys(s).filter((k) => !new RegExp(RESOURCE_NAME).test(k)) : [];
const negativeResources = (s: Node): string[] =>
  s && typeof s === 'object' ? Object.keys(s).filter((k) => String(s[k]).startsWith('-')) : [];
const keySelector = (what: 'Secret' | 'ConfigMap'): Schema => ({
  type: 'object',
  description: `A key of a ${what} in the McpServer's namespace.`,
  required: ['name', 'key'],
  properties: {
    name: str(`Name of the ${what}.`, { pattern: DNS_1123_SUBDOMAIN }),
    // The API server's config-key syntax: otherwise it refuses the Deployment at apply time.
    key: str(`Key within the ${what}: letters, digits, - _ .`, { maxLength: 253, pattern: CONFIG_KEY }),
    optional: { type: 'boolean', description: `Start even when the ${what} or key is missing.` },
  },
});
const objectRef = (what: 'Secret' | 'ConfigMap'): Schema => ({
  type: 'object',
  description: `A ${what} in the McpServer's namespace; every key becomes an environment variable.`,
  required: ['name'],
  properties: {
    name: str(`Name of the ${what}.`, { pattern: DNS_1123_SUBDOMAIN }),
    optional: { type: 'boolean', description: `Start even when the ${what} is missing.` },
  },
});

/** The path prefix of an Ingress or HTTPRoute: one rule set for both, so a migration keeps the same value. */
const exposurePath = (description: string): Schema =>
  str(description, {
    maxLength: 256,
    default: '/',
    rules: [
      ...pathRules('/github', undefined, true),
      // Else the API server refuses the HTTPRoute or Ingress at apply time, after the McpServer was accepted.
      rule({
        rule: `!self.matches('${DOT_SEGMENT}') && !self.contains('%2f') && !self.contains('%2F')`,
        message: "must not contain a '.' segment or an encoded slash (%2F): write the path plainly, e.g. /github",
        ...quoting(...quoted(), " has a '.' segment or an encoded slash (%2F): write the path plainly, e.g. /github"),
        check: (s) => !new RegExp(DOT_SEGMENT).test(s) && !s.includes('%2f') && !s.includes('%2F'),
      }),
      rule({
        // The characters the plain-path rule reports are left to it: one message per mistake.
        rule: `self.matches('[?#]') || self.matches('[ \\t\\n\\r\\f]') || self.matches('${ROUTE_PATH_CHARS}')`,
        message:
          "must use only letters, digits, / - . _ ~ ! $ & ( ) * + , ; = : @ and %XX escapes (an HTTPRoute's path characters), e.g. /github",
        ...quoting(
          ...quoted(),
          ' has a character an HTTPRoute path does not take: use letters, digits, / - . _ ~ ! $ & ( ) * + , ; = : @ and %XX escapes, e.g. /github',
        ),
        check: (s) => /[?#\t\n\r\f ]/.test(s) || new RegExp(ROUTE_PATH_CHARS).test(s),
      }),
    ],
  });

/**
 * A lower-case DNS name, a leading `*.` allowed, never an IP address: Ingress hosts and Gateway API hostnames
 * follow the same rules (both route by host name).
 */
const hostName = (description: string, what: 'an Ingress' | 'an HTTPRoute', field: 'host' | 'hostnames'): Schema =>
  str(description, {
    rules: [
      rule({
        rule: `!self.matches('${IPV4}') && !self.matches('${IPV6}')`,
        message: `must be a DNS name, not an IP address: ${what} routes by host name; use a name like mcp.example.com, or omit ${field} to match any host`,
        ...quoting(
          ...quoted(),
          ` is an IP address: ${what} routes by host name; use a name like mcp.example.com, or omit ${field} to match any host`,
        ),
        check: (s) => !new RegExp(IPV4).test(s) && !new RegExp(IPV6).test(s),
      }),
      rule({
        // An IP address gets the rule above only.
        rule: `self.matches('${IPV4}') || self.matches('${IPV6}') || self.matches('${INGRESS_HOST}')`,
        message: 'must be a lower-case DNS name like mcp.example.com (a leading *. is allowed)',
        ...quoting(...quoted(), ' must be a lower-case DNS name like mcp.example.com (a leading *. is allowed)'),
        check: (s) => new RegExp(IPV4).test(s) || new RegExp(IPV6).test(s) || new RegExp(INGRESS_HOST).test(s),
      }),
      rule({
        // The API server takes longer labels; no resolver or certificate authority does.
        rule: `!self.matches('${LONG_DNS_LABEL}')`,
        message: 'has a part longer than 63 characters between dots: a DNS label is at most 63 characters',
        ...quoting(
          ...quoted(),
          ' has a part longer than 63 characters between dots: a DNS label is at most 63 characters',
        ),
        check: (s) => !new RegExp(LONG_DNS_LABEL).test(s),
      }),
    ],
  });

const envVar: Schema = {
  type: 'object',
  tsName: 'EnvVar',
  description: 'An environment variable: a literal value, or a reference to a Secret or ConfigMap key.',
  required: ['name'],
  properties: {
    name: str('Variable name.', { maxLength: 256 }),
    value: str(
      'Literal value, at most 8 KiB (a longer one belongs in a ConfigMap: valueFrom.configMapKeyRef). Never put secrets here: use valueFrom.secretKeyRef.',
      { maxLength: 8192 },
    ),
    valueFrom: {
      type: 'object',
      tsName: 'EnvVarSource',
      description: 'Where the value comes from: exactly one source.',
      properties: {
        secretKeyRef: keySelector('Secret'),
        configMapKeyRef: keySelector('ConfigMap'),
        fieldRef: k8sType('core.v1.ObjectFieldSelector', 'A field of the pod (downward API).'),
        resourceFieldRef: k8sType('core.v1.ResourceFieldSelector', 'A resource of the container.'),
      },
      rules: [
        rule({
          rule: '[has(self.secretKeyRef), has(self.configMapKeyRef), has(self.fieldRef), has(self.resourceFieldRef)].filter(x, x).size() == 1',
          message: 'set exactly one of secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef',
          check: (s) => exactlyOne(s, ['secretKeyRef', 'configMapKeyRef', 'fieldRef', 'resourceFieldRef']),
        }),
      ],
    },
  },
  rules: [
    rule({
      rule: `self.name.matches('${ENV_NAME}')`,
      message: 'must be a valid environment variable name: a letter or _, then letters, digits, _ . -',
      ...quoting(
        ...quoted('self.name', (s) => s.name),
        ' is not a valid environment variable name: start with a letter or _, then use letters, digits, _ . -',
      ),
      fieldPath: '.name',
      check: (s) => new RegExp(ENV_NAME).test(s.name),
    }),
    rule({
      rule: '!(has(self.value) && has(self.valueFrom))',
      message: 'set either value or valueFrom, not both',
      fieldPath: '.valueFrom',
      reason: 'FieldValueForbidden',
      check: (s) => !(has(s, 'value') && has(s, 'valueFrom')),
    }),
    rule({
      rule: `!has(self.value) || self.value == '' || !self.name.matches('${SECRET_LOOKING_NAME}')`,
      message:
        'this looks like a secret: do not inline it; store it in a Secret and use valueFrom.secretKeyRef {name, key}',
      // Quotes the variable's name, never its value.
      ...quoting(
        { cel: 'self.name', ts: (s) => s.name },
        ' looks like a secret by its name: do not inline it; store it in a Secret and use valueFrom.secretKeyRef {name, key}',
      ),
      fieldPath: '.value',
      reason: 'FieldValueForbidden',
      check: (s) => !has(s, 'value') || s.value === '' || !SECRET_LOOKING_NAME_JS.test(s.name),
    }),
    // One rule per format: the API server's cost estimate (128 values of 8 KiB, times the pattern's length)
    // takes each alone, not all in one rule.
    ...SECRET_VALUES.map((format) => {
      const { what, re } = format;
      const fix = `do not inline it; store it in a Secret and use valueFrom.secretKeyRef {name, key}${'or' in format ? format.or : ''}`;
      return rule({
        rule: `!has(self.value) || !self.value.matches('${re}')`,
        message: `the value looks like ${what}: ${fix}`,
        // Names the variable and what its value looks like, never the value.
        ...quoting('the value of ', { cel: 'self.name', ts: (s) => s.name }, ` looks like ${what}: ${fix}`),
        fieldPath: '.value',
        reason: 'FieldValueForbidden',
        check: (s) => !has(s, 'value') || !new RegExp(re).test(s.value),
      });
    }),
  ],
};

const envFromSource: Schema = {
  type: 'object',
  tsName: 'EnvFromSource',
  description: 'Every key of a Secret or ConfigMap as environment variables: exactly one of secretRef, configMapRef.',
  properties: {
    prefix: str('Prepended to every variable name.', { pattern: '^[A-Za-z_][-._A-Za-z0-9]*$' }),
    secretRef: objectRef('Secret'),
    configMapRef: objectRef('ConfigMap'),
  },
  rules: [
    rule({
      rule: 'has(self.secretRef) != has(self.configMapRef)',
      message: 'set exactly one of secretRef or configMapRef',
      check: (s) => has(s, 'secretRef') !== has(s, 'configMapRef'),
    }),
  ],
};

const volume: Schema = {
  type: 'object',
  tsName: 'Volume',
  description: `A pod volume. Only the types Pod Security "restricted" allows: ${ALLOWED_VOLUME_SOURCES.join(', ')}.`,
  required: ['name'],
  properties: {
    name: str('Volume name, referenced by pod.volumeMounts.', { maxLength: 63, pattern: DNS_1035_LABEL }),
    ...Object.fromEntries(
      ALLOWED_VOLUME_SOURCES.map((source) => [
        source,
        k8sType(VOLUME_SOURCE_TYPES[source], `A ${source} volume source (Kubernetes core type).`),
      ]),
    ),
  },
  rules: [
    rule({
      rule: `[${ALLOWED_VOLUME_SOURCES.map((s) => `has(self.${s})`).join(', ')}].filter(x, x).size() == 1`,
      message: `set exactly one volume source of ${ALLOWED_VOLUME_SOURCES.join(', ')} (others, like hostPath, are not allowed under Pod Security "restricted")`,
      check: (s) => exactlyOne(s, ALLOWED_VOLUME_SOURCES),
    }),
    rule({
      rule: `!(self.name in [${RESERVED_VOLUME_NAMES.map((n) => `'${n}'`).join(', ')}])`,
      message: `the volume names ${RESERVED_VOLUME_NAMES.join(', ')} are used by the operator: pick another name`,
      ...quoting(
        'the volume name ',
        ...quoted('self.name', (s) => s.name),
        ` is used by the operator (as are ${RESERVED_VOLUME_NAMES.join(', ')}): pick another name`,
      ),
      fieldPath: '.name',
      check: (s) => !(RESERVED_VOLUME_NAMES as readonly string[]).includes(s.name),
    }),
  ],
};

/**
 * A Toleration, with the checks the API server makes on a pod's tolerations (which the upstream OpenAPI does not
 * carry): otherwise a typo such as operator: Equals is accepted here and the Deployment refused at apply time.
 */
const toleration: Schema = {
  ...k8sType('core.v1.Toleration', 'A Toleration.'),
  properties: k8sFields('core.v1.Toleration', {
    // Empty: the defaults (Equal; every effect).
    operator: { enum: ['', 'Equal', 'Exists'] },
    effect: { enum: ['', 'NoSchedule', 'PreferNoSchedule', 'NoExecute'] },
  }),
  rules: [
    rule({
      rule: "!has(self.operator) || self.operator != 'Exists' || !has(self.value) || self.value == ''",
      message: 'a toleration with operator Exists matches any value: remove value, or use operator Equal',
      fieldPath: '.value',
      reason: 'FieldValueForbidden',
      check: (s) => s.operator !== 'Exists' || !has(s, 'value') || s.value === '',
    }),
    rule({
      rule: "(has(self.key) && self.key != '') || (has(self.operator) && self.operator == 'Exists')",
      message: 'a toleration without a key matches every taint only with operator: Exists: set key, or operator Exists',
      fieldPath: '.operator',
      check: (s) => (has(s, 'key') && s.key !== '') || s.operator === 'Exists',
    }),
    rule({
      rule: "!has(self.tolerationSeconds) || (has(self.effect) && self.effect == 'NoExecute')",
      message: 'tolerationSeconds applies only to effect NoExecute: set effect: NoExecute, or remove tolerationSeconds',
      fieldPath: '.effect',
      check: (s) => !has(s, 'tolerationSeconds') || s.effect === 'NoExecute',
    }),
  ],
};

/** A NetworkPolicy egress rule, its ports' protocol checked as the API server does (TCP, UDP, SCTP; capitals). */
const egressRule: Schema = (() => {
  const schema = k8sType('networking.v1.NetworkPolicyEgressRule', 'A NetworkPolicyEgressRule.');
  const protocol = schema.properties?.ports?.items?.properties?.protocol;
  if (!protocol) throw new Error('networking.v1.NetworkPolicyEgressRule: no ports[].protocol in the upstream schema');
  protocol.enum = ['TCP', 'UDP', 'SCTP'];
  return schema;
})();

const probePort: Schema = {
  type: 'integer',
  description: 'Port to check; default spec.port.',
  minimum: 1,
  maximum: 65535,
};
const probeSeconds = (description: string): Schema => ({ type: 'integer', description, minimum: 1, maximum: 3600 });

/**
 * The server container's liveness check in HTTP transports (the gateway's own probes only cover the gateway,
 * so a hung server would never be restarted). A small subset of the Kubernetes Probe, one check at most.
 */
const livenessProbe: Schema = {
  type: 'object',
  tsName: 'LivenessProbe',
  description:
    "HTTP transports: how the kubelet checks that the server process itself is alive; it restarts the server container after failureThreshold failed checks in a row (default: every 10 s, 3 failures), once a startup probe with the same check has given it 5 minutes to start. The default check, also when only timings are set: with the gateway, GET /livez/upstream on the gateway's port 9090, 200 when the gateway opens a TCP connection to spec.port on 127.0.0.1 within 1 s (so a server listening only on 127.0.0.1, FastMCP's default, is checked; the check also fails while the gateway container is down); with gateway.enabled false, a TCP connect to spec.port on the pod's IP, where clients reach the server anyway. A TCP check passes for a server that hangs while its socket still accepts connections: catch that with httpGet or exec. tcpSocket and httpGet reach the pod's IP: a server listening only on 127.0.0.1 fails them (make it listen on 0.0.0.0, or use exec). stdio servers are supervised by the gateway instead.",
  properties: {
    tcpSocket: {
      type: 'object',
      tsName: 'TcpSocketCheck',
      description:
        "Alive while the port accepts TCP connections on the pod's IP (the default check without the gateway).",
      properties: { port: probePort },
    },
    httpGet: {
      type: 'object',
      tsName: 'HttpGetCheck',
      description:
        'Alive while GET path answers 200-399, e.g. /healthz. Not the MCP path: a GET there may be 405, which would restart the server in a loop.',
      required: ['path'],
      properties: {
        path: str('Path to GET, e.g. /healthz.', {
          maxLength: 256,
          rules: [
            rule({
              rule: "self.startsWith('/')",
              message: "must start with '/', e.g. /healthz",
              check: (s) => typeof s === 'string' && s.startsWith('/'),
            }),
          ],
        }),
        port: probePort,
      },
    },
    exec: {
      type: 'object',
      tsName: 'ExecCheck',
      description:
        'Alive while this command, run in the server container, exits 0; it can reach 127.0.0.1. The image must have the program.',
      required: ['command'],
      properties: {
        command: {
          ...stringList('The program and its arguments (no shell), e.g. [python, /app/alive.py].', 32),
          minItems: 1,
        },
      },
    },
    periodSeconds: probeSeconds('Seconds between checks (default 10).'),
    timeoutSeconds: probeSeconds('Seconds a check may take (default 3).'),
    failureThreshold: {
      type: 'integer',
      description: 'Failed checks in a row that restart the server container (default 3).',
      minimum: 1,
      maximum: 100,
    },
  },
  rules: [
    rule({
      rule: '[has(self.tcpSocket), has(self.httpGet), has(self.exec)].filter(x, x).size() <= 1',
      message: 'set one check: tcpSocket, httpGet or exec',
      reason: 'FieldValueForbidden',
      check: (s) => ['tcpSocket', 'httpGet', 'exec'].filter((k) => has(s, k)).length <= 1,
    }),
  ],
};

/** What people see in `mcp-operator catalog` and its MCP Registry API (limits from server.json); both kinds have them. */
const catalogFields: Record<string, Schema> = {
  title: str('Display name in the catalog and its registry entry, e.g. GitHub.', { minLength: 1, maxLength: 100 }),
  description: str('What the server does, in one line: shown in the catalog and its registry entry.', {
    minLength: 1,
    maxLength: 100,
  }),
};

const spec: Schema = {
  type: 'object',
  tsName: 'McpServerSpec',
  description: 'The desired MCP server.',
  required: ['image'],
  properties: {
    // Catalog fields: what people see in `mcp-operator catalog` and its MCP Registry API (limits from server.json).
    ...catalogFields,
    image: str('Container image of the MCP server, e.g. ghcr.io/github/github-mcp-server:v0.20.0.', {
      minLength: 1,
      maxLength: 512,
      pattern: '^[^\\s]+$',
    }),
    imagePullPolicy: {
      type: 'string',
      description: 'When the kubelet pulls the image.',
      enum: ['Always', 'IfNotPresent', 'Never'],
    },
    transport: {
      type: 'string',
      description:
        'How the server speaks MCP: stdio (the gateway spawns it and bridges to HTTP), streamable-http, or sse (the gateway proxies its port).',
      enum: ['stdio', 'streamable-http', 'sse'],
      default: 'stdio',
    },
    command: {
      ...stringList(
        'stdio: the server process the gateway spawns (required). HTTP transports: overrides the image entrypoint.',
        64,
      ),
      // An empty entry (a template's unset value) is no program: the gateway could only fail to spawn it.
      items: { type: 'string', description: 'An entry.', minLength: 1, maxLength: 4096 },
    },
    args: {
      ...stringList('Arguments to command. Never secrets: pass them as $(VAR) of an env variable from a Secret.', 256),
      items: {
        type: 'string',
        description: 'An entry.',
        maxLength: 4096,
        // The same well-known formats as env values: a token on the command line is as inline as one in env.
        rules: SECRET_VALUES.map((format) =>
          rule({
            rule: `!self.matches('${format.re}')`,
            message: `this argument looks like ${format.what}: do not inline it; put it in a Secret, expose it as an env variable (valueFrom.secretKeyRef) and write $(VARIABLE) here`,
            reason: 'FieldValueForbidden',
            check: (s) => typeof s !== 'string' || !new RegExp(format.re).test(s),
          }),
        ),
      },
    },
    port: {
      type: 'integer',
      description:
        'HTTP transports: the port the server itself listens on (required; not 8080 or 9090, the gateway uses them).',
      minimum: 1,
      maximum: 65535,
    },
    path: str('HTTP transports: the path the server serves MCP on (default /mcp, or /sse for sse).', {
      maxLength: 256,
      rules: pathRules('/mcp'),
    }),
    env: {
      type: 'array',
      description: 'Environment variables for the server. Secrets only by reference (valueFrom.secretKeyRef).',
      maxItems: 128,
      listType: 'map',
      listMapKeys: ['name'],
      items: envVar,
    },
    envFrom: {
      type: 'array',
      description: 'Secrets and ConfigMaps whose keys all become environment variables.',
      maxItems: 32,
      items: envFromSource,
    },
    replicas: {
      type: 'integer',
      description: 'Number of pods. Any replica serves any session, no sticky sessions needed.',
      minimum: 0,
      maximum: 50,
      default: 1,
    },
    resources: {
      type: 'object',
      tsName: 'ResourceRequirements',
      description: 'CPU and memory for the server container. Empty: requests 50m/128Mi, limit 512Mi memory.',
      properties: {
        requests: quantityMap('Minimum resources, e.g. {cpu: 100m, memory: 128Mi}. Each at most its limit.'),
        limits: quantityMap('Maximum resources, e.g. {memory: 512Mi}.', memoryLimitWithUnit),
      },
      rules: [
        rule({
          rule: `!has(self.requests) || !has(self.limits) || !self.requests.exists(k, k in self.limits && ${celQuantityAbove('self.requests[k]', 'self.limits[k]')})`,
          message: 'a request is above its limit: lower resources.requests or raise resources.limits',
          ...quoting(
            {
              cel: `${firstAbove} + ' request ' + string(self.requests[${firstAbove}]) + ' is above its limit ' + string(self.limits[${firstAbove}])`,
              ts: (s) => {
                const k = requestsAboveLimits(s)[0] as string;
                return `${k} request ${s.requests[k]} is above its limit ${s.limits[k]}`;
              },
            },
            ': lower resources.requests or raise resources.limits',
          ),
          fieldPath: '.requests',
          check: (s) => requestsAboveLimits(s).length === 0,
        }),
      ],
    },
    sessions: {
      type: 'object',
      tsName: 'SessionsSpec',
      description: 'How client sessions map to server processes.',
      default: {},
      properties: {
        mode: {
          type: 'string',
          description:
            'shared: one server process serves every session (ids rewritten, default); a request the server sends to clients (sampling, elicitation) while several sessions have calls in flight is refused, since the stdio wire does not say whose it is. perSession: a process per session (isolation, exact routing of such requests, more memory; stdio only).',
          enum: ['shared', 'perSession'],
          default: 'shared',
        },
        max: {
          type: 'integer',
          description:
            'Most concurrent sessions per pod. Default: 1000 in shared mode (an idle session costs the gateway about 45 KB), 100 in perSession mode (each session is a server process). At the limit the least recently used idle session is closed for a new one; only when every session is in use is a new one refused (503).',
          minimum: 1,
          maximum: 10000,
        },
        idleTimeout: str('A session idle this long is closed, e.g. 30m.', {
          maxLength: 32,
          pattern: DURATION,
          default: '30m',
          rules: [
            rule({
              rule: `!self.matches('${ZERO_DURATION}')`,
              message: 'must be longer than zero (the gateway refuses 0 and would not start), e.g. 30m',
              check: (s) => typeof s !== 'string' || !new RegExp(ZERO_DURATION).test(s),
            }),
          ],
        }),
        maxPerClient: {
          type: 'integer',
          description:
            "Most sessions one client holds at once (its token or OIDC subject; without auth, its address, as seen by the Ingress when there is one). Default 100, 10 in perSession mode (each session is a server process). Over it, that client's least recently used idle session is closed; when all of them are in use the new one is refused (429). Open 2026-07-28 listen streams are held to the same limit (429 over it).",
          minimum: 1,
          maximum: 10000,
        },
      },
    },
    tools: {
      type: 'object',
      tsName: 'ToolsSpec',
      description: 'Which tools clients may list and call, enforced by the gateway. Empty allow: all tools.',
      properties: {
        allow: toolList('Only these tools.'),
        deny: toolList('Never these tools (deny wins over allow).'),
      },
      rules: [
        rule({
          rule: '!has(self.allow) || !has(self.deny) || self.allow.all(t, !(t in self.deny))',
          message: 'a tool is in both allow and deny: remove it from one list',
          ...quoting(
            // The first such tool: joining them all has no size bound the API server's cost estimate accepts.
            ...quoted('self.allow.filter(t, t in self.deny)[0]', (s) =>
              s.allow.find((t: string) => s.deny.includes(t)),
            ),
            ' is in both allow and deny: remove it from one list',
          ),
          fieldPath: '.deny',
          check: (s) => !has(s, 'allow') || !has(s, 'deny') || s.allow.every((t: string) => !s.deny.includes(t)),
        }),
      ],
    },
    auth: {
      type: 'object',
      tsName: 'AuthSpec',
      description: 'Who may call the server, enforced by the gateway: exactly one of bearer or oidc.',
      properties: {
        bearer: {
          type: 'object',
          tsName: 'BearerAuth',
          description: 'Static bearer tokens read from a Secret key (one token per line), compared in constant time.',
          required: ['secretRef'],
          properties: {
            secretRef: {
              type: 'object',
              description: 'The Secret key that holds the tokens.',
              required: ['name'],
              properties: {
                name: str('Name of the Secret.', { pattern: DNS_1123_SUBDOMAIN }),
                key: str('Key within the Secret: letters, digits, - _ .', { default: 'token', pattern: CONFIG_KEY }),
              },
            },
          },
        },
        oidc: {
          type: 'object',
          tsName: 'OidcAuth',
          description: "OIDC JWT validation: issuer, audience and the issuer's JWKS.",
          required: ['issuer', 'audience'],
          properties: {
            issuer: str('Issuer URL (https).', { maxLength: 2048, rules: httpsRules('https://id.example.com') }),
            audience: str('Expected audience (aud claim).'),
            jwksURL: str('JWKS URL (https); default: discovered from the issuer.', {
              maxLength: 2048,
              rules: httpsRules('https://id.example.com/.well-known/jwks.json'),
            }),
          },
        },
      },
      rules: [
        rule({
          rule: 'has(self.bearer) != has(self.oidc)',
          message: 'set exactly one of auth.bearer or auth.oidc',
          check: (s) => has(s, 'bearer') !== has(s, 'oidc'),
        }),
      ],
    },
    rateLimit: {
      type: 'object',
      tsName: 'RateLimitSpec',
      description: 'Request limits per client, enforced by the gateway (429 with Retry-After).',
      properties: {
        requestsPerMinute: {
          type: 'integer',
          description: 'Requests per minute per client.',
          minimum: 1,
          maximum: 1000000,
        },
        perTool: {
          type: 'object',
          description: 'Calls per minute per client for a tool, by tool name.',
          maxProperties: 256,
          additionalProperties: {
            type: 'integer',
            description: 'Calls per minute.',
            minimum: 1,
            maximum: 1000000,
          },
          rules: [
            // The gateway's setting is one comma-separated tool=N list: a key it cannot spell stops the gateway.
            rule({
              rule: "self.all(k, k != '' && !k.contains(',') && k.trim() == k)",
              message: 'every rateLimit.perTool key must be a tool name without commas or surrounding spaces',
              ...quoting(
                'the key ',
                ...quoted("self.filter(k, k == '' || k.contains(',') || k.trim() != k)[0]", (s) =>
                  Object.keys(s).find((k) => !perToolKeyOk(k)),
                ),
                ' is not a tool name: a rateLimit.perTool key has no commas or surrounding spaces',
              ),
              check: (s) => Object.keys(s).every(perToolKeyOk),
            }),
          ],
        },
      },
    },
    gateway: {
      type: 'object',
      tsName: 'GatewaySpec',
      description: 'The MCP gateway in the pod (bridge, auth, limits, metrics, health).',
      default: {},
      properties: {
        enabled: {
          type: 'boolean',
          description: 'HTTP transports may turn it off (no auth, limits or deep health then). stdio needs it.',
          default: true,
        },
      },
    },
    ingress: {
      type: 'object',
      tsName: 'IngressSpec',
      description: 'Expose the server through an Ingress configured for streaming. Omitted: no Ingress.',
      properties: {
        className: str('IngressClass name, e.g. nginx.', { pattern: DNS_1123_SUBDOMAIN }),
        host: hostName('Host name, e.g. mcp.example.com (a DNS name, not an IP address).', 'an Ingress', 'host'),
        path: exposurePath('Path prefix, e.g. /github. The gateway serves MCP under it.'),
        tls: {
          type: 'object',
          tsName: 'IngressTls',
          description: 'Serve HTTPS with the certificate in this Secret.',
          required: ['secretName'],
          properties: { secretName: str('A kubernetes.io/tls Secret.', { pattern: DNS_1123_SUBDOMAIN }) },
        },
        annotations: {
          ...annotationMap(
            "Extra Ingress annotations; they override the operator's streaming defaults. No snippets.",
            'ingress.annotations',
          ),
          rules: [
            qualifiedKeys('ingress.annotations'),
            annotationsSize('ingress.annotations'),
            rule({
              rule: "self.all(k, !k.endsWith('-snippet') && !k.endsWith('-snippets'))",
              message:
                'snippet annotations are refused: they inject raw nginx configuration (disabled by default in ingress-nginx since the 2025 CVEs); use plain annotations',
              reason: 'FieldValueForbidden',
              check: (s) => Object.keys(s).every((k) => !k.endsWith('-snippet') && !k.endsWith('-snippets')),
            }),
          ],
        },
      },
      rules: [
        rule({
          rule: '!has(self.tls) || has(self.host)',
          message: 'TLS needs a host name: set ingress.host',
          fieldPath: '.host',
          reason: 'FieldValueRequired',
          check: (s) => !has(s, 'tls') || has(s, 'host'),
        }),
      ],
    },
    httpRoute: {
      type: 'object',
      tsName: 'HttpRouteSpec',
      description:
        'Expose the server through a Gateway API HTTPRoute (gateway.networking.k8s.io/v1) attached to existing Gateways. Omitted: no HTTPRoute. May be set together with ingress while migrating. The route sets rules[].timeouts.request to "0s": GEP-1742 defines 0s as "no timeout" (or the longest an implementation allows), and an MCP event stream (a long tool call, a listen stream) must never be cut by a request deadline: Envoy-based Gateways otherwise default to a 15 s route timeout; Istio, Contour and kgateway disable it on 0s; Traefik 3.6 accepts the field and applies no route timeout.',
      required: ['parentRefs'],
      properties: {
        parentRefs: {
          type: 'array',
          description:
            'The Gateways (and optionally their listeners) the route attaches to. A Gateway named more than once needs a different sectionName each time.',
          minItems: 1,
          maxItems: 32,
          rules: [
            // The HTTPRoute CRD's own two rules (standard channel): else the route is refused at apply time.
            rule({
              rule: `self.all(p1, self.exists_one(p2, ${SAME_GATEWAY}) || self.all(p2, !(${SAME_GATEWAY}) || (has(p1.sectionName) && has(p2.sectionName)))) && self.all(p1, self.exists_one(p2, ${SAME_GATEWAY} && (has(p1.sectionName) ? p1.sectionName : '') == (has(p2.sectionName) ? p2.sectionName : '')))`,
              message:
                'names the same Gateway more than once: give each of them a different sectionName (a listener of that Gateway), or list the Gateway once',
              check: (refs) => {
                const list = refs as Array<{ name: string; namespace?: string; sectionName?: string }>;
                const gateway = (p: (typeof list)[number]) => `${p.namespace ?? ''}/${p.name}`;
                return list.every((p1) => {
                  const same = list.filter((p2) => gateway(p2) === gateway(p1));
                  if (same.length === 1) return true;
                  return (
                    same.every((p2) => p2.sectionName !== undefined) &&
                    same.filter((p2) => p2.sectionName === p1.sectionName).length === 1
                  );
                });
              },
            }),
          ],
          items: {
            type: 'object',
            tsName: 'GatewayParentRef',
            description: 'A Gateway, by name; in another namespace only when its listener allows routes from this one.',
            required: ['name'],
            properties: {
              name: str('Name of the Gateway.', { pattern: DNS_1123_SUBDOMAIN }),
              namespace: str("Namespace of the Gateway (default: the McpServer's).", {
                maxLength: 63,
                pattern: DNS_1123_LABEL,
              }),
              sectionName: str(
                'Name of the listener to attach to, e.g. https (default: every listener that allows it).',
                {
                  pattern: DNS_1123_SUBDOMAIN,
                },
              ),
              port: {
                type: 'integer',
                description: 'Attach to the listeners on this port only.',
                minimum: 1,
                maximum: 65535,
              },
            },
          },
        },
        hostnames: {
          ...stringList("Host names the route matches, e.g. mcp.example.com. Empty: the listeners' host names.", 16),
          items: hostName('A host name (a DNS name, not an IP address).', 'an HTTPRoute', 'hostnames'),
          listType: 'set',
        },
        path: exposurePath('Path prefix, e.g. /github. The gateway serves MCP under it (same rules as ingress.path).'),
        annotations: annotationMap('Extra HTTPRoute annotations.', 'httpRoute.annotations'),
      },
    },
    networkPolicy: {
      type: 'object',
      tsName: 'NetworkPolicySpec',
      description:
        'Restrict traffic with a NetworkPolicy. Present: MCP port open to ingressFrom (everyone if empty), health port to metricsFrom only, egress limited to the rules given plus DNS when egress is set.',
      properties: {
        ingressFrom: {
          type: 'array',
          description:
            "Who may reach the MCP port (NetworkPolicyPeer). Empty: everyone. Set: these and the replicas (an McpServer's also admits the operator's namespace, for tool discovery).",
          maxItems: 32,
          items: k8sType('networking.v1.NetworkPolicyPeer', 'A NetworkPolicyPeer.'),
        },
        metricsFrom: {
          type: 'array',
          description: 'Who may reach the health and metrics port 9090 (NetworkPolicyPeer), e.g. Prometheus.',
          maxItems: 32,
          items: k8sType('networking.v1.NetworkPolicyPeer', 'A NetworkPolicyPeer.'),
        },
        egress: {
          type: 'array',
          description: 'Allowed egress (NetworkPolicyEgressRule). Omitted: egress is not restricted.',
          maxItems: 32,
          items: egressRule,
        },
      },
    },
    pod: {
      type: 'object',
      tsName: 'PodOptions',
      description: 'Pod-level settings. Security settings can only stay within Pod Security "restricted".',
      properties: {
        annotations: {
          ...annotationMap(
            'Extra pod annotations. An AppArmor one may name only runtime/default or a localhost/ profile, and seccomp ones are refused (the operator sets seccompProfile RuntimeDefault).',
            'pod.annotations',
          ),
          rules: [qualifiedKeys('pod.annotations'), annotationsSize('pod.annotations'), profileAnnotations],
        },
        labels: {
          ...labelMap(
            `Extra pod labels. Not the operator's own (${OPERATOR_LABEL_KEYS.join(', ')}): they select the pods.`,
            'pod.labels',
          ),
          rules: [
            qualifiedKeys('pod.labels'),
            rule({
              rule: `!self.exists(k, k in [${OPERATOR_LABEL_KEYS.map((k) => `'${k}'`).join(', ')}])`,
              message: `the labels ${OPERATOR_LABEL_KEYS.join(', ')} are set by the operator (its Service and Deployment select pods by them): use other keys`,
              ...quoting(
                'pod.labels may not set ',
                {
                  cel: `[${OPERATOR_LABEL_KEYS.map((k) => `'${k}'`).join(', ')}].filter(k, k in self)[0]`,
                  ts: (s) => OPERATOR_LABEL_KEYS.find((k) => has(s, k)) ?? '',
                },
                `: the operator sets ${OPERATOR_LABEL_KEYS.join(', ')} itself (its Service and Deployment select pods by them); remove it from pod.labels or use another key`,
              ),
              reason: 'FieldValueForbidden',
              check: (s) => !OPERATOR_LABEL_KEYS.some((k) => has(s, k)),
            }),
          ],
        },
        nodeSelector: labelMap('Node labels the pod must match.', 'pod.nodeSelector'),
        tolerations: {
          type: 'array',
          description: 'Tolerations (Kubernetes core type).',
          maxItems: 32,
          items: toleration,
        },
        affinity: k8sType('core.v1.Affinity', 'Affinity (Kubernetes core type).'),
        priorityClassName: str('PriorityClass name.', { pattern: DNS_1123_SUBDOMAIN }),
        serviceAccountName: str(
          "Run as this existing ServiceAccount instead of the one the operator creates (naming that one, the server's own name, keeps it).",
          {
            pattern: DNS_1123_SUBDOMAIN,
          },
        ),
        imagePullSecrets: {
          type: 'array',
          description: 'Secrets for pulling the image.',
          maxItems: 16,
          items: {
            type: 'object',
            description: 'A Secret name.',
            required: ['name'],
            properties: { name: str('Name of the Secret.', { pattern: DNS_1123_SUBDOMAIN }) },
          },
        },
        volumes: {
          type: 'array',
          description: 'Extra volumes.',
          maxItems: 32,
          listType: 'map',
          listMapKeys: ['name'],
          items: volume,
        },
        volumeMounts: {
          type: 'array',
          description: 'Where the server container mounts the extra volumes (one mount per mountPath).',
          maxItems: 32,
          // As in a container: two mounts at one path are refused (by the Deployment, at apply time, otherwise).
          listType: 'map',
          listMapKeys: ['mountPath'],
          items: {
            type: 'object',
            tsName: 'VolumeMount',
            description: 'A volume mount.',
            required: ['name', 'mountPath'],
            // The Kubernetes VolumeMount, with lengths bounded (CEL cost) and an absolute mountPath.
            properties: k8sFields('core.v1.VolumeMount', {
              name: str('Name of a volume in pod.volumes.'),
              mountPath: str('Path in the container.', {
                maxLength: 1024,
                rules: [
                  rule({
                    rule: "self.startsWith('/')",
                    message: 'must be an absolute path',
                    check: (s) => typeof s === 'string' && s.startsWith('/'),
                  }),
                  rule({
                    // Written plainly, so the operator's own paths below cannot be reached another way (//tmp,
                    // /./tmp, /opt/x/.), which the API server takes and the container runtime resolves.
                    rule: `!self.matches('${MOUNT_PATH_DETOUR}')`,
                    message: 'must be written plainly: no empty, . or .. segments, e.g. /data',
                    ...quoting(...quoted(), ' has an empty, . or .. segment: write it plainly, e.g. /data'),
                    check: (s) => typeof s !== 'string' || !new RegExp(MOUNT_PATH_DETOUR).test(s),
                  }),
                  rule({
                    // The API server would refuse the Deployment (a duplicate mountPath), or, with a trailing
                    // slash, shadow the operator's volume.
                    rule: `!self.matches('${OPERATOR_MOUNT_PATH}')`,
                    message: `the operator mounts its own volumes at ${OPERATOR_MOUNT_PATHS.join(', ')}: mount somewhere else, e.g. /data`,
                    ...quoting(
                      ...quoted(),
                      ` is where the operator mounts one of its own volumes (${OPERATOR_MOUNT_PATHS.join(', ')}): mount somewhere else, e.g. /data`,
                    ),
                    check: (s) => typeof s !== 'string' || !new RegExp(OPERATOR_MOUNT_PATH).test(s),
                  }),
                ],
              }),
              subPath: str('Sub-path within the volume.', { maxLength: 1024 }),
              subPathExpr: { maxLength: 1024 },
              // Bidirectional needs a privileged container, which the restricted profile never runs.
              mountPropagation: { enum: ['None', 'HostToContainer'] },
              recursiveReadOnly: { enum: ['Disabled', 'IfPossible', 'Enabled'] },
            }),
            rules: [
              rule({
                rule: "!has(self.recursiveReadOnly) || self.recursiveReadOnly == 'Disabled' || (has(self.readOnly) && self.readOnly)",
                message: 'recursiveReadOnly IfPossible or Enabled needs readOnly: true on the same mount',
                fieldPath: '.recursiveReadOnly',
                reason: 'FieldValueForbidden',
                check: (m) => !has(m, 'recursiveReadOnly') || m.recursiveReadOnly === 'Disabled' || m.readOnly === true,
              }),
              rule({
                rule: "!has(self.recursiveReadOnly) || self.recursiveReadOnly == 'Disabled' || !has(self.mountPropagation) || self.mountPropagation == 'None'",
                message: 'recursiveReadOnly IfPossible or Enabled needs mountPropagation None (or unset)',
                fieldPath: '.mountPropagation',
                reason: 'FieldValueForbidden',
                check: (m) =>
                  !has(m, 'recursiveReadOnly') ||
                  m.recursiveReadOnly === 'Disabled' ||
                  !has(m, 'mountPropagation') ||
                  m.mountPropagation === 'None',
              }),
            ],
          },
        },
        securityContext: {
          type: 'object',
          tsName: 'PodSecurityOverrides',
          description: 'User and group ids (non-zero). Everything else stays at the restricted defaults.',
          properties: {
            runAsUser: { type: 'integer', description: 'UID (default 65532).', minimum: 1, maximum: 2147483647 },
            runAsGroup: { type: 'integer', description: 'GID (default 65532).', minimum: 1, maximum: 2147483647 },
            fsGroup: { type: 'integer', description: 'fsGroup (default 65532).', minimum: 1, maximum: 2147483647 },
          },
        },
        terminationGracePeriodSeconds: {
          type: 'integer',
          description: 'Time the gateway gets to drain in-flight calls on shutdown.',
          minimum: 1,
          maximum: 3600,
        },
      },
      rules: [
        rule({
          rule: `!has(self.volumeMounts) || self.volumeMounts.all(m, ${celDeclared('m')})`,
          message: `every volumeMount must name a volume in pod.volumes: declare the volume there or fix the name (the operator's own volumes ${RESERVED_VOLUME_NAMES.join(', ')} cannot be mounted)`,
          ...quoting(
            'pod.volumeMounts names ',
            // map, then filter: the API server can bound the size of a name only along that path.
            ...quoted(
              `self.volumeMounts.map(m, m.name).filter(n, !(has(self.volumes) && self.volumes.exists(v, v.name == n)))[0]`,
              (s) => undeclaredMounts(s)[0],
            ),
            `, which is not in pod.volumes: declare the volume there or fix the name (the operator's own volumes ${RESERVED_VOLUME_NAMES.join(', ')} cannot be mounted)`,
          ),
          fieldPath: '.volumeMounts',
          check: (s) => undeclaredMounts(s).length === 0,
        }),
        // Here rather than on the mount's fields, which follow the Kubernetes VolumeMount type.
        ...(['mountPath', 'subPath'] as const).map((field) =>
          rule({
            rule: `!has(self.volumeMounts) || self.volumeMounts.all(m, !has(m.${field}) || !m.${field}.matches('${DOT_DOT_SEGMENT}'))`,
            message: `a volumeMount's ${field} must not contain a '..' segment: write the path without it`,
            ...quoting(
              `pod.volumeMounts ${field} `,
              ...quoted(
                `self.volumeMounts.map(m, has(m.${field}) ? m.${field} : '').filter(p, p.matches('${DOT_DOT_SEGMENT}'))[0]`,
                (s) => mountsWithDotDot(s, field)[0],
              ),
              ` has a '..' segment: write the path without it, e.g. ${field === 'mountPath' ? '/data' : 'config/app.yaml'}`,
            ),
            fieldPath: '.volumeMounts',
            check: (s) => mountsWithDotDot(s, field).length === 0,
          }),
        ),
      ],
    },
    livenessProbe,
  },
  rules: [
    rule({
      rule: "self.transport != 'stdio' || (has(self.command) && size(self.command) > 0)",
      message:
        'a stdio server needs spec.command: the executable the gateway spawns, e.g. [npx, -y, @modelcontextprotocol/server-everything]',
      fieldPath: '.command',
      reason: 'FieldValueRequired',
      check: (s) => s.transport !== 'stdio' || (Array.isArray(s.command) && s.command.length > 0),
    }),
    rule({
      rule: "self.transport == 'stdio' || has(self.port)",
      message: 'streamable-http and sse servers need spec.port: the port the server listens on',
      fieldPath: '.port',
      reason: 'FieldValueRequired',
      check: (s) => s.transport === 'stdio' || has(s, 'port'),
    }),
    rule({
      // A stdio server speaks on stdin and stdout: a port or path would be ignored without a word, and an HTTP
      // server left on the default transport would be spawned and spoken to over a pipe it never reads.
      rule: "self.transport != 'stdio' || (!has(self.port) && !has(self.path))",
      message:
        'spec.port and spec.path are for HTTP servers: set transport: streamable-http or sse (the default is stdio), or remove them',
      fieldPath: '.transport',
      reason: 'FieldValueInvalid',
      check: (s) => s.transport !== 'stdio' || (!has(s, 'port') && !has(s, 'path')),
    }),
    rule({
      rule: "self.transport != 'stdio' || !has(self.gateway) || self.gateway.enabled",
      message: 'a stdio server needs the gateway to reach the network: remove gateway.enabled: false',
      fieldPath: '.gateway.enabled',
      reason: 'FieldValueForbidden',
      check: (s) => s.transport !== 'stdio' || !has(s, 'gateway') || s.gateway.enabled !== false,
    }),
    rule({
      // In a stdio pod the gateway runs in the server's container: a variable of the same name is refused by the
      // API server as a duplicate (or would reconfigure the gateway), and the server never sees it anyway.
      rule: `self.transport != 'stdio' || !has(self.env) || self.env.all(e, !e.name.startsWith('${GATEWAY_ENV_PREFIX}'))`,
      message: `${GATEWAY_ENV_PREFIX}* variables configure the gateway, which shares a stdio server's container (the server never sees them): rename the variable, or set the McpServer field the gateway reads`,
      ...quoting(
        'the variable ',
        ...quoted(
          `self.env.map(e, e.name).filter(n, n.startsWith('${GATEWAY_ENV_PREFIX}'))[0]`,
          (s) => gatewayEnvNames(s)[0],
        ),
        ` is in the gateway's ${GATEWAY_ENV_PREFIX}* namespace: the gateway shares a stdio server's container and the server never sees these; rename the variable, or set the McpServer field the gateway reads`,
      ),
      fieldPath: '.env',
      reason: 'FieldValueForbidden',
      check: (s) => s.transport !== 'stdio' || gatewayEnvNames(s).length === 0,
    }),
    rule({
      // The same namespace through envFrom: a prefix of MCP_GATEWAY_ would set the gateway's settings from a
      // ConfigMap's keys (TRUST_PROXY, ALLOWED_ORIGINS...). Keys that only combine into it are the controller's check.
      rule: `self.transport != 'stdio' || !has(self.envFrom) || self.envFrom.all(f, !has(f.prefix) || !f.prefix.startsWith('${GATEWAY_ENV_PREFIX}'))`,
      message: `an envFrom prefix of ${GATEWAY_ENV_PREFIX} would set the gateway's own settings, which shares a stdio server's container: pick another prefix`,
      fieldPath: '.envFrom',
      reason: 'FieldValueForbidden',
      check: (s) =>
        s.transport !== 'stdio' ||
        !Array.isArray(s.envFrom) ||
        s.envFrom.every((f: Node) => typeof f?.prefix !== 'string' || !f.prefix.startsWith(GATEWAY_ENV_PREFIX)),
    }),
    rule({
      rule: `self.transport == 'stdio' || !has(self.port) || (has(self.gateway) && !self.gateway.enabled) || (self.port != ${GATEWAY_MCP_PORT} && self.port != ${GATEWAY_HEALTH_PORT})`,
      message: `ports ${GATEWAY_MCP_PORT} and ${GATEWAY_HEALTH_PORT} are the gateway's in the same pod: run the server on another port`,
      ...quoting(
        'port ',
        // Not string(self.port): the API server cannot bound the size of a converted number.
        {
          cel: `self.port == ${GATEWAY_MCP_PORT} ? '${GATEWAY_MCP_PORT}' : '${GATEWAY_HEALTH_PORT}'`,
          ts: (s) => String(s.port),
        },
        ` is the gateway's in the same pod (it uses ${GATEWAY_MCP_PORT} and ${GATEWAY_HEALTH_PORT}): run the server on another port`,
      ),
      fieldPath: '.port',
      check: (s) =>
        s.transport === 'stdio' ||
        !has(s, 'port') ||
        (has(s, 'gateway') && s.gateway.enabled === false) ||
        (s.port !== GATEWAY_MCP_PORT && s.port !== GATEWAY_HEALTH_PORT),
    }),
    rule({
      rule: '!has(self.gateway) || self.gateway.enabled || !(has(self.auth) || has(self.tools) || has(self.rateLimit))',
      message: 'auth, tools and rateLimit are enforced by the gateway: enable it or remove them',
      fieldPath: '.gateway.enabled',
      reason: 'FieldValueForbidden',
      check: (s) =>
        !has(s, 'gateway') ||
        s.gateway.enabled !== false ||
        !(has(s, 'auth') || has(s, 'tools') || has(s, 'rateLimit')),
    }),
    prefixNeedsGateway('ingress'),
    prefixNeedsGateway('httpRoute'),
    rule({
      rule: "!has(self.ingress) || !has(self.httpRoute) || (has(self.ingress.path) ? self.ingress.path : '/') == (has(self.httpRoute.path) ? self.httpRoute.path : '/')",
      message:
        'ingress.path and httpRoute.path differ: the gateway serves one path prefix, so give both the same path while migrating',
      fieldPath: '.httpRoute.path',
      check: (s) => !has(s, 'ingress') || !has(s, 'httpRoute') || (s.ingress.path ?? '/') === (s.httpRoute.path ?? '/'),
    }),
    rule({
      rule: "self.transport == 'stdio' || !has(self.sessions) || !has(self.sessions.mode) || self.sessions.mode == 'shared'",
      message: 'perSession mode spawns a process per session, which only stdio servers have: use mode shared',
      fieldPath: '.sessions.mode',
      check: (s) =>
        s.transport === 'stdio' || !has(s, 'sessions') || !has(s.sessions, 'mode') || s.sessions.mode === 'shared',
    }),
    rule({
      rule: "self.transport != 'stdio' || !has(self.livenessProbe)",
      message:
        'livenessProbe is for HTTP transports: a stdio server is a child of the gateway, which restarts it; remove spec.livenessProbe',
      fieldPath: '.livenessProbe',
      reason: 'FieldValueForbidden',
      check: (s) => s.transport !== 'stdio' || !has(s, 'livenessProbe'),
    }),
  ],
};

const condition: Schema = {
  type: 'object',
  tsName: 'Condition',
  description: 'An observation of the McpServer (metav1.Condition).',
  required: ['type', 'status', 'lastTransitionTime', 'reason', 'message'],
  properties: {
    type: str('Ready, Available, Progressing or Degraded.', { maxLength: 316 }),
    status: { type: 'string', description: 'True, False or Unknown.', enum: ['True', 'False', 'Unknown'] },
    observedGeneration: {
      type: 'integer',
      description: 'The generation this condition was computed from.',
      minimum: 0,
    },
    lastTransitionTime: str('When status last changed (RFC 3339).', { maxLength: 64 }),
    reason: str('Machine-readable CamelCase reason.', { maxLength: 1024 }),
    message: str('What happened and what to do about it.', { maxLength: 32768 }),
  },
};

const status: Schema = {
  type: 'object',
  tsName: 'McpServerStatus',
  description: 'What the operator observed.',
  properties: {
    observedGeneration: { type: 'integer', description: 'The spec generation the status describes.' },
    conditions: {
      type: 'array',
      description: 'Ready, Available, Progressing, Degraded.',
      maxItems: 16,
      listType: 'map',
      listMapKeys: ['type'],
      items: condition,
    },
    url: str('In-cluster URL of the MCP endpoint.', { maxLength: 2048 }),
    externalURL: str(
      'URL from outside the cluster: through the HTTPRoute once every parent Gateway accepted it (scheme from the listener), else through the Ingress once it is ours and the API server accepted it; unset otherwise (a refused or conflicting Ingress or route, or only wildcard host names such as *.example.com: they name no one host).',
      { maxLength: 2048 },
    ),
    replicas: { type: 'integer', description: 'Pods wanted.' },
    readyReplicas: { type: 'integer', description: 'Pods ready to serve.' },
    serverInfo: {
      type: 'object',
      tsName: 'ServerInfo',
      description: 'What the server said about itself.',
      properties: {
        name: str('Server name.'),
        version: str('Server version.'),
        protocolVersion: str('MCP protocol revision.'),
      },
    },
    tools: stringList('Names of the tools the server offers (after the tool filter).', 1024, 256),
    toolDescriptions: {
      type: 'object',
      description:
        'What each tool of status.tools does, as the server describes it (clipped to 512 characters), for people choosing a server (the catalog shows it).',
      maxProperties: 1024,
      additionalProperties: { type: 'string', description: 'A description.', maxLength: 512 },
    },
  },
};

export const mcpServerSchema: Schema = {
  type: 'object',
  tsName: 'McpServer',
  description: 'An MCP (Model Context Protocol) server run as a hardened, observable network service.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string', description: 'mcpoperator.io/v1alpha1', tsType: 'typeof API_VERSION' },
    kind: { type: 'string', description: 'McpServer', tsType: 'typeof KIND' },
    // The API server allows nothing but `type: object` here: metadata is validated by its own rules.
    metadata: { type: 'object', tsType: 'k8s.V1ObjectMeta' },
    spec,
    status,
  },
  rules: [
    rule({
      rule: `size(self.metadata.name) <= 63 && self.metadata.name.matches('${DNS_1035_LABEL}')`,
      message:
        'metadata.name also names the Service, so it must be a DNS-1035 label: at most 63 lower-case letters, digits and -, starting with a letter',
      ...quoting(
        'metadata.name ',
        ...quoted('self.metadata.name', (s) => s.metadata.name),
        ' also names the Service, so it must be a DNS-1035 label: at most 63 lower-case letters, digits and -, starting with a letter',
      ),
      check: (s) =>
        typeof s?.metadata?.name === 'string' &&
        s.metadata.name.length <= 63 &&
        new RegExp(DNS_1035_LABEL).test(s.metadata.name),
    }),
  ],
};

export const printerColumns = [
  { name: 'Transport', type: 'string', jsonPath: '.spec.transport' },
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Replicas', type: 'integer', jsonPath: '.status.readyReplicas' },
  { name: 'URL', type: 'string', jsonPath: '.status.url' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;

// ---------------------------------------------------------------------------------------------------------------
// VirtualMcpServer: one endpoint over several McpServers of its namespace. Its own block, reusing McpServer's
// parts by reference (one meaning for auth, tools, rateLimit, sessions, ...).
// ---------------------------------------------------------------------------------------------------------------

export const VIRTUAL_KIND = 'VirtualMcpServer';
export const VIRTUAL_PLURAL = 'virtualmcpservers';
export const VIRTUAL_SINGULAR = 'virtualmcpserver';
export const VIRTUAL_SHORT_NAMES = ['vmcps'] as const;
/** Backends listed in spec.servers, and backends in all (listed plus selected). */
export const MAX_LISTED_SERVERS = 64;
export const MAX_BACKENDS = 256;

/** A tool prefix: a letter, then letters, digits or -, at most 16 (joined with `_`: gh_create_issue). */
const TOOL_PREFIX = '^[A-Za-z][-A-Za-z0-9]{0,15}$';
/** A whole MCP tool name (2025-11-25 format): what a rename produces and what it renames. */
const TOOL_NAME = '^[A-Za-z0-9_.-]{1,128}$';
const LABEL_KEY_MAX = 317;

const mcpParts = spec.properties as Record<string, Schema>;
const part = (name: string): Schema => {
  const schema = mcpParts[name];
  if (!schema) throw new Error(`McpServer spec has no ${name}`);
  return schema;
};

const renameMap: Schema = {
  type: 'object',
  description:
    "Exposed names for some of this server's tools, by its own tool name, e.g. {create_issue: new_issue}. The new name is the whole exposed name (the prefix is not added to it); the tool's other names are not exposed.",
  // The duplicate-target rule compares every pair: 32 keeps it within the API server's CEL cost budget.
  maxProperties: 32,
  additionalProperties: {
    type: 'string',
    description: 'The exposed name: 1 to 128 of A-Z a-z 0-9 _ - .',
    maxLength: 128,
    rules: [
      rule({
        rule: `self.matches('${TOOL_NAME}')`,
        message: 'must be a valid MCP tool name: 1 to 128 of A-Z a-z 0-9 _ - . (e.g. new_issue)',
        ...quoting(...quoted(), ' is not a valid MCP tool name: use 1 to 128 of A-Z a-z 0-9 _ - . (e.g. new_issue)'),
        check: (s) => new RegExp(TOOL_NAME).test(s),
      }),
    ],
  },
  rules: [
    rule({
      rule: `self.all(k, k.matches('${TOOL_NAME}'))`,
      message: "every key must be one of the server's tool names (an exact name, no globs)",
      ...quoting(
        'the key ',
        ...quoted(`self.filter(k, !k.matches('${TOOL_NAME}'))[0]`, (s) =>
          Object.keys(s).find((k) => !new RegExp(TOOL_NAME).test(k)),
        ),
        " is not a tool name: rename keys are the server's own tool names, exact (no globs)",
      ),
      check: (s) => Object.keys(s).every((k) => new RegExp(TOOL_NAME).test(k)),
    }),
    rule({
      rule: 'self.all(k, self.filter(j, self[j] == self[k]).size() == 1)',
      message: 'two tools are renamed to the same name: give each its own',
      ...quoting(
        'two tools are renamed to ',
        ...quoted('self.filter(k, self.filter(j, self[j] == self[k]).size() > 1).map(k, self[k])[0]', (s) => {
          const values = Object.values(s) as string[];
          return values.find((v, i) => values.indexOf(v) !== i);
        }),
        ': give each its own name',
      ),
      check: (s) => new Set(Object.values(s)).size === Object.keys(s).length,
    }),
  ],
};

const serverRef: Schema = {
  type: 'object',
  tsName: 'VirtualServerRef',
  description: 'An McpServer of this namespace behind the endpoint, and how its names are exposed.',
  required: ['name'],
  properties: {
    name: str('Name of the McpServer (same namespace).', { maxLength: 63, pattern: DNS_1035_LABEL }),
    prefix: str(
      "Exposes this server's tools and prompts as <prefix>_<name>, e.g. gh -> gh_create_issue. Omitted: its own names. Only where names collide: the others keep theirs.",
      {
        maxLength: 16,
        rules: [
          rule({
            rule: `self.matches('${TOOL_PREFIX}')`,
            message: 'must be a letter, then letters, digits or -, at most 16 characters, e.g. gh',
            ...quoting(
              ...quoted(),
              ' is not a valid prefix: start with a letter, then letters, digits or -, at most 16 characters, e.g. gh',
            ),
            check: (s) => new RegExp(TOOL_PREFIX).test(s),
          }),
        ],
      },
    ),
    tools: {
      type: 'object',
      tsName: 'VirtualServerTools',
      description:
        "Which of this server's tools are exposed, by the server's own tool names (before prefix or rename), and their exposed names.",
      properties: {
        // Fewer entries than on an McpServer: the CEL cost budget counts every server's lists.
        allow: { ...toolList("Only these of the server's tools."), maxItems: 64 },
        deny: {
          ...toolList("Never these of the server's tools (deny wins over allow); calling one is an audited refusal."),
          maxItems: 64,
        },
        rename: renameMap,
      },
      rules: part('tools').rules ?? [],
    },
  },
};

const selectorRequirement: Schema = {
  type: 'object',
  tsName: 'LabelSelectorRequirement',
  description: 'A label requirement: key, operator, values.',
  required: ['key', 'operator'],
  properties: {
    key: str('The label key.', { maxLength: LABEL_KEY_MAX, pattern: QUALIFIED_KEY }),
    operator: {
      type: 'string',
      description: 'In, NotIn, Exists or DoesNotExist.',
      enum: ['In', 'NotIn', 'Exists', 'DoesNotExist'],
    },
    values: {
      type: 'array',
      description: 'Values for In and NotIn (at least one); none for Exists and DoesNotExist.',
      maxItems: 64,
      items: { type: 'string', description: 'A label value.', maxLength: 63, pattern: LABEL_VALUE },
    },
  },
  rules: [
    rule({
      rule: "(self.operator in ['In', 'NotIn']) == (has(self.values) && size(self.values) > 0)",
      message: 'In and NotIn need values; Exists and DoesNotExist take none',
      ...quoting(
        'operator ',
        { cel: 'self.operator', ts: (s) => s.operator },
        ': In and NotIn need values (values: [a, b]); Exists and DoesNotExist take none (remove values)',
      ),
      fieldPath: '.values',
      check: (s) => ['In', 'NotIn'].includes(s.operator) === (Array.isArray(s.values) && s.values.length > 0),
    }),
  ],
};

const virtualSpec: Schema = {
  type: 'object',
  tsName: 'VirtualMcpServerSpec',
  description:
    'One MCP endpoint over several McpServers of this namespace: their tools, prompts and resources as one server.',
  properties: {
    ...catalogFields,
    servers: {
      type: 'array',
      description:
        "McpServers of this namespace, in priority order: when two expose the same name, the earlier one's is exposed and the other's is hidden (status.conflicts says which, and the fix).",
      maxItems: MAX_LISTED_SERVERS,
      // The API server refuses a name listed twice (Duplicate value), at no CEL cost.
      listType: 'map',
      listMapKeys: ['name'],
      items: serverRef,
    },
    selector: {
      type: 'object',
      tsName: 'VirtualServerSelector',
      description:
        'Also every McpServer of this namespace with these labels, after the listed ones (by name), with their own names. {} selects every McpServer of the namespace.',
      properties: {
        matchLabels: labelMap('Labels the McpServer must have, e.g. {team: a}.', 'selector.matchLabels'),
        matchExpressions: {
          type: 'array',
          description: 'Label requirements, all of which must hold.',
          maxItems: 16,
          items: selectorRequirement,
        },
      },
    },
    tools: {
      ...part('tools'),
      tsName: 'ToolsSpec',
      description:
        'Which exposed tools clients may list and call, by exposed name (after prefix and rename), enforced by the gateway. Empty allow: all tools. A denied call is an audited refusal.',
    },
    auth: part('auth'),
    rateLimit: part('rateLimit'),
    sessions: part('sessions'),
    replicas: part('replicas'),
    resources: {
      ...part('resources'),
      description: 'CPU and memory for the gateway container. Empty: requests 50m/64Mi, limit 256Mi memory.',
    },
    pod: part('pod'),
    ingress: part('ingress'),
    httpRoute: part('httpRoute'),
    networkPolicy: {
      ...part('networkPolicy'),
      description:
        "Restrict traffic with a NetworkPolicy. Present: MCP port open to ingressFrom (everyone if empty), health port to metricsFrom only; when egress is set, egress is limited to it plus DNS, the replicas, and the backends' pods on their MCP port.",
    },
  },
  rules: [
    rule({
      rule: '(has(self.servers) && size(self.servers) > 0) || has(self.selector)',
      message: 'name the backends: list McpServers in spec.servers, or select them with spec.selector (or both)',
      reason: 'FieldValueRequired',
      fieldPath: '.servers',
      check: (s) => (Array.isArray(s.servers) && s.servers.length > 0) || has(s, 'selector'),
    }),
    rule({
      rule: "!has(self.sessions) || !has(self.sessions.mode) || self.sessions.mode == 'shared'",
      message: 'a VirtualMcpServer runs no server process of its own, so perSession does not apply: use mode shared',
      fieldPath: '.sessions.mode',
      check: (s) => !has(s, 'sessions') || !has(s.sessions, 'mode') || s.sessions.mode === 'shared',
    }),
    ...(spec.rules ?? []).filter((r) => r.fieldPath === '.httpRoute.path' && r.message.startsWith('ingress.path')),
  ],
};

const virtualBackendStatus: Schema = {
  type: 'object',
  tsName: 'VirtualBackendStatus',
  description: 'A backend as the controller saw it.',
  required: ['name', 'ready'],
  properties: {
    name: str('The McpServer.', { maxLength: 63 }),
    ready: { type: 'boolean', description: 'The McpServer exists and is Ready.' },
    toolCount: { type: 'integer', description: 'Tools it exposes here (after its allow/deny and conflicts).' },
    url: str('Its in-cluster URL, which the gateway connects to.', { maxLength: 2048 }),
    reason: str('Why it is not ready: BackendNotFound, or its own Ready reason.', { maxLength: 1024 }),
  },
};

const virtualConflict: Schema = {
  type: 'object',
  tsName: 'VirtualConflict',
  description: "Two backends exposing one name: the earlier wins, the other's item is hidden.",
  required: ['kind', 'name', 'server', 'hiddenServer', 'message'],
  properties: {
    kind: {
      type: 'string',
      description: 'tool, prompt, resource or resourceTemplate.',
      enum: ['tool', 'prompt', 'resource', 'resourceTemplate'],
    },
    name: str('The exposed name (or URI) both would take.', { maxLength: 2048 }),
    server: str('The backend whose item is exposed.', { maxLength: 63 }),
    original: str("The winner's own name for it.", { maxLength: 2048 }),
    hiddenServer: str('The backend whose item is hidden.', { maxLength: 63 }),
    hiddenOriginal: str("The hidden item's own name.", { maxLength: 2048 }),
    message: str('What happened and the fix (a prefix or a rename).', { maxLength: 4096 }),
  },
};

const virtualStatus: Schema = {
  type: 'object',
  tsName: 'VirtualMcpServerStatus',
  description: 'What the operator observed.',
  properties: {
    observedGeneration: { type: 'integer', description: 'The spec generation the status describes.' },
    conditions: {
      type: 'array',
      description: 'Ready, Available, Progressing, Degraded, BackendsReady, ToolNamesResolved.',
      maxItems: 16,
      listType: 'map',
      listMapKeys: ['type'],
      items: condition,
    },
    url: str('In-cluster URL of the MCP endpoint.', { maxLength: 2048 }),
    externalURL: str('URL from outside the cluster (as for McpServer).', { maxLength: 2048 }),
    replicas: { type: 'integer', description: 'Pods wanted.' },
    readyReplicas: { type: 'integer', description: 'Pods ready to serve.' },
    readyBackends: str('Backends ready / backends, e.g. 2/3.', { maxLength: 16 }),
    backends: {
      type: 'array',
      description: 'The backends in priority order: spec.servers, then those the selector adds.',
      maxItems: MAX_BACKENDS,
      items: virtualBackendStatus,
    },
    toolCount: { type: 'integer', description: 'Tools exposed (the length of tools).' },
    tools: stringList('Exposed tool names, in priority order (ready backends only).', 4096, 128),
    conflictCount: { type: 'integer', description: 'Names hidden by a conflict (the length of conflicts).' },
    conflicts: {
      type: 'array',
      description: 'Names two backends expose: who wins, who is hidden, and the fix.',
      maxItems: 256,
      items: virtualConflict,
    },
  },
};

export const virtualMcpServerSchema: Schema = {
  type: 'object',
  tsName: 'VirtualMcpServer',
  description: 'One MCP endpoint over several McpServers of its namespace, with names that never churn.',
  required: ['spec'],
  properties: {
    apiVersion: { type: 'string', description: 'mcpoperator.io/v1alpha1', tsType: 'typeof API_VERSION' },
    kind: { type: 'string', description: 'VirtualMcpServer', tsType: 'typeof VIRTUAL_KIND' },
    metadata: { type: 'object', tsType: 'k8s.V1ObjectMeta' },
    spec: virtualSpec,
    status: virtualStatus,
  },
  rules: [
    ...(mcpServerSchema.rules ?? []),
    rule({
      // Its children (Service, Deployment, ...) take its name, as the McpServer's take theirs.
      rule: '!has(self.spec.servers) || !self.spec.servers.exists(s, s.name == self.metadata.name)',
      message:
        "a VirtualMcpServer cannot share its name with one of its servers: its Service would be the McpServer's; rename the VirtualMcpServer",
      ...quoting(
        'metadata.name ',
        ...quoted('self.metadata.name', (s) => s.metadata.name),
        " is also the name of a server in spec.servers: the VirtualMcpServer's Service would be that McpServer's; rename the VirtualMcpServer",
      ),
      check: (s) => !Array.isArray(s?.spec?.servers) || !s.spec.servers.some((x: Node) => x?.name === s.metadata?.name),
    }),
  ],
};

export const virtualPrinterColumns = [
  { name: 'Ready', type: 'string', jsonPath: '.status.conditions[?(@.type=="Ready")].status' },
  { name: 'Backends', type: 'string', jsonPath: '.status.readyBackends' },
  { name: 'Tools', type: 'integer', jsonPath: '.status.toolCount' },
  { name: 'Conflicts', type: 'integer', jsonPath: '.status.conflictCount' },
  { name: 'URL', type: 'string', jsonPath: '.status.url' },
  { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' },
] as const;
