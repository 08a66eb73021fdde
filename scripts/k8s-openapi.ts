// Extracts the Kubernetes types McpServer passes through (affinity, tolerations, volume sources, volume mounts,
// NetworkPolicy peers, ports and egress rules) from the upstream OpenAPI v3 spec of the pinned Kubernetes version,
// in the structural form a CRD accepts, into src/api/k8s-openapi/<version>.json. Run it when the pin changes:
//
//   node scripts/k8s-openapi.ts [--spec-dir DIR]
//
// The version is the one scripts/k8s-binaries.sh builds the test control plane from (K8S_VERSION), so the CRD
// carries the schemas of the API server the tests run. Without --spec-dir the spec is read from the
// k8s.io/kubernetes Go module (`go mod download`, usually already in the module cache from that build).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ALLOWED_VOLUME_SOURCES as VOLUME_SOURCES } from '../src/api/pod-layout.ts';

type Node = { [key: string]: unknown };

const ROOT = new URL('..', import.meta.url).pathname;
const ROOTS = [
  'io.k8s.api.core.v1.Affinity',
  'io.k8s.api.core.v1.Toleration',
  'io.k8s.api.core.v1.VolumeMount',
  'io.k8s.api.core.v1.ObjectFieldSelector',
  'io.k8s.api.core.v1.ResourceFieldSelector',
  'io.k8s.api.networking.v1.NetworkPolicyPeer',
  'io.k8s.api.networking.v1.NetworkPolicyPort',
  'io.k8s.api.networking.v1.NetworkPolicyEgressRule',
];
const SPEC_FILES = ['api__v1_openapi.json', 'apis__networking.k8s.io__v1_openapi.json'];
/** The pattern controller-gen gives resource.Quantity. */
const QUANTITY_PATTERN =
  '^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$';
/** Kept as is; everything else (defaults of Go zero values, patch strategies, oneOf) is dropped, as controller-gen does. */
const KEPT = [
  'type',
  'format',
  'required',
  'x-kubernetes-list-type',
  'x-kubernetes-list-map-keys',
  'x-kubernetes-map-type',
];

function pinnedVersion(): string {
  const script = readFileSync(join(ROOT, 'scripts/k8s-binaries.sh'), 'utf8');
  const version = script.match(/^K8S_VERSION="\$\{K8S_VERSION:-(v[0-9.]+)\}"/m)?.[1];
  if (!version) throw new Error('scripts/k8s-binaries.sh: K8S_VERSION pin not found');
  return version;
}

function specDir(version: string, given: string | undefined): string {
  if (given) return given;
  const work = mkdtempSync(join(tmpdir(), 'k8s-openapi-'));
  try {
    const out = execFileSync('go', ['mod', 'download', '-json', `k8s.io/kubernetes@${version}`], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, GOFLAGS: '-mod=mod' },
    });
    return join((JSON.parse(out) as { Dir: string }).Dir, 'api/openapi-spec/v3');
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The first paragraph of an upstream description, without the long format essays some types carry. */
const trim = (text: unknown) => (typeof text === 'string' ? text.split('\n\n')[0]?.trim() : undefined);

function extract(definitions: Record<string, Node>) {
  const named = (ref: string): [string, Node] => {
    const name = ref.replace('#/components/schemas/', '');
    const def = definitions[name];
    if (!def) throw new Error(`unresolved $ref ${ref}`);
    return [name, def];
  };

  /** The structural schema of `node`: refs inlined, special types in their CRD form, `description` from the field. */
  const resolve = (node: Node, stack: string[]): Node => {
    const ref = (node.$ref as string | undefined) ?? ((node.allOf as Node[] | undefined)?.[0]?.$ref as string);
    const description = trim(node.description);
    if (ref) {
      const [name, def] = named(ref);
      if (stack.includes(name)) throw new Error(`recursive type ${name}: cannot inline`);
      const inner = special(name, def) ?? resolve(def, [...stack, name]);
      return { ...inner, ...(description ? { description } : {}) };
    }
    const out: Node = {};
    if (description) out.description = description;
    for (const key of KEPT) if (node[key] !== undefined) out[key] = node[key];
    if (node.properties) {
      out.properties = Object.fromEntries(
        Object.entries(node.properties as Record<string, Node>).map(([k, v]) => [k, resolve(v, stack)]),
      );
    }
    if (node.items) out.items = resolve(node.items as Node, stack);
    if (node.additionalProperties) out.additionalProperties = resolve(node.additionalProperties as Node, stack);
    return out;
  };

  /** Types whose upstream schema is not structural, or not what a CRD field can hold. */
  const special = (name: string, def: Node): Node | undefined => {
    const description = trim(def.description);
    switch (name) {
      case 'io.k8s.apimachinery.pkg.util.intstr.IntOrString':
        return { description, 'x-kubernetes-int-or-string': true };
      case 'io.k8s.apimachinery.pkg.api.resource.Quantity':
        return { description, 'x-kubernetes-int-or-string': true, pattern: QUANTITY_PATTERN };
      // Only labels and annotations are allowed in a volume claim template's metadata (upstream validation).
      case 'io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta': {
        const props = def.properties as Record<string, Node>;
        return {
          type: 'object',
          properties: {
            labels: resolve(props.labels as Node, []),
            annotations: resolve(props.annotations as Node, []),
          },
        };
      }
      default:
        return undefined;
    }
  };

  const roots: Record<string, Node> = {};
  const short = (name: string) => name.replace(/^io\.k8s\.api\./, '');
  for (const name of ROOTS) roots[short(name)] = resolve({ $ref: `#/components/schemas/${name}` }, []);
  const volume = definitions['io.k8s.api.core.v1.Volume']?.properties as Record<string, Node>;
  for (const source of VOLUME_SOURCES) {
    const field = volume[source];
    if (!field) throw new Error(`Volume has no field ${source}`);
    const ref = (field.allOf as Node[])[0]?.$ref as string;
    roots[short(named(ref)[0])] = resolve({ $ref: ref }, []);
  }
  return roots;
}

const { values } = parseArgs({ options: { 'spec-dir': { type: 'string' } } });
const version = pinnedVersion();
const dir = specDir(version, values['spec-dir']);
const definitions: Record<string, Node> = {};
for (const file of SPEC_FILES) {
  const spec = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { components: { schemas: Record<string, Node> } };
  Object.assign(definitions, spec.components.schemas);
}
const out = {
  kubernetesVersion: version,
  source: `k8s.io/kubernetes@${version} api/openapi-spec/v3/{${SPEC_FILES.join(',')}}`,
  generatedBy: 'node scripts/k8s-openapi.ts',
  definitions: extract(definitions),
};
const path = `src/api/k8s-openapi/${version}.json`;
writeFileSync(join(ROOT, path), `${JSON.stringify(out, null, 2)}\n`);
console.log(`wrote ${path}`);
