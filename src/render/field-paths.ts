/**
 * The renderer read backwards, for error messages: a field of a child, as the API server names it when it refuses
 * the child (`spec.template.spec.affinity...`, `.spec.ingress[0].from[0]...`, `containers[name="server"]`), back to
 * the McpServer field the user wrote (`spec.pod.affinity...`, `spec.networkPolicy.ingressFrom[0]...`). Lists are
 * matched by rendering the McpServer and finding the user's own entries in the output, so the mapping follows
 * whatever the renderer adds around them. Pure, like the renderer.
 */
import type { V1Container, V1Deployment, V1NetworkPolicy } from '@kubernetes/client-node';
import type { McpServer, VirtualMcpServer } from '../api/types.generated.ts';
import { renderIngress, renderNetworkPolicy } from './network.ts';
import { renderDeployment, SERVER_CONTAINER } from './workload.ts';

/** A path step: a field name, a list index, or a list-map key such as `name="server"`. */
type Step = string | number | { key: string };
type Path = Step[];

const STEP = /([A-Za-z0-9_$-]+)|\[(\d+)\]|\[([^\]]*)\]/g;

function parsePath(text: string): Path {
  const path: Path = [];
  for (const m of text.replace(/^\./, '').matchAll(STEP)) {
    if (m[1] !== undefined) path.push(m[1]);
    else if (m[2] !== undefined) path.push(Number(m[2]));
    else path.push({ key: m[3] ?? '' });
  }
  return path;
}

function formatPath(path: Path): string {
  return path
    .map((step, i) =>
      typeof step === 'number' ? `[${step}]` : typeof step === 'string' ? `${i ? '.' : ''}${step}` : `[${step.key}]`,
    )
    .join('');
}

const startsWith = (path: Path, prefix: readonly Step[]) => prefix.every((step, i) => path[i] === step);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** `name="server"` -> server */
const keyName = (step: Step) => (typeof step === 'object' ? /^name="?([^",]*)"?$/.exec(step.key)?.[1] : undefined);

/**
 * The index in the user's list of the rendered entry a step points at (by index or by name), or undefined when the
 * entry is the renderer's own.
 */
function userIndex<T>(
  rendered: readonly T[] | undefined,
  user: readonly T[] | undefined,
  step: Step,
): number | undefined {
  if (!rendered || !user?.length) return undefined;
  const name = keyName(step);
  const entry =
    typeof step === 'number'
      ? rendered[step]
      : rendered.find((r) => name !== undefined && (r as { name?: string }).name === name);
  if (entry === undefined) return undefined;
  const index = user.findIndex((u) => same(u, entry));
  return index >= 0 ? index : undefined;
}

/** `[field, i, ...rest]` in a rendered list -> `[...target, j, ...rest]` in the user's list. */
function listField<T>(
  rendered: readonly T[] | undefined,
  user: readonly T[] | undefined,
  rest: Path,
  target: Path,
): Path | undefined {
  const [step, ...tail] = rest;
  if (step === undefined) return user?.length ? target : undefined;
  const index = userIndex(rendered, user, step);
  return index === undefined ? undefined : [...target, index, ...tail];
}

function serverContainerField(mcp: McpServer, server: V1Container, path: Path): Path | undefined {
  const { spec } = mcp;
  const [field, ...rest] = path;
  const http = spec.transport !== 'stdio';
  switch (field) {
    case 'image':
    case 'imagePullPolicy':
      return ['spec', field];
    case 'resources':
      return ['spec', 'resources', ...rest];
    case 'env':
      return listField(server.env, spec.env, rest, ['spec', 'env']);
    case 'envFrom':
      return listField(server.envFrom, spec.envFrom, rest, ['spec', 'envFrom']);
    case 'volumeMounts':
      return listField(server.volumeMounts, spec.pod?.volumeMounts, rest, ['spec', 'pod', 'volumeMounts']);
    case 'ports':
      return http ? ['spec', 'port'] : undefined;
    case 'livenessProbe':
    case 'startupProbe':
      return http ? ['spec', 'livenessProbe', ...rest] : undefined;
    case 'command':
      return http ? ['spec', 'command', ...rest] : undefined;
    case 'args': {
      if (http) return ['spec', 'args', ...rest];
      // stdio: `mcp-gateway stdio -- <command...> <args...>`
      const [index, ...tail] = rest;
      if (typeof index !== 'number' || index < 2) return undefined;
      const command = spec.command?.length ?? 0;
      return index - 2 < command
        ? ['spec', 'command', index - 2, ...tail]
        : ['spec', 'args', index - 2 - command, ...tail];
    }
    default:
      return undefined;
  }
}

/** Pod spec fields copied from spec.pod under the same name. */
const POD_FIELDS = new Set([
  'affinity',
  'nodeSelector',
  'priorityClassName',
  'serviceAccountName',
  'terminationGracePeriodSeconds',
]);

function deploymentField(mcp: McpServer, path: Path): Path | undefined {
  if (startsWith(path, ['spec', 'replicas'])) return ['spec', 'replicas'];
  const d: V1Deployment = renderDeployment(mcp, { gatewayImage: 'image' });
  const pod = d.spec?.template.spec;
  if (startsWith(path, ['spec', 'template', 'metadata'])) {
    const field = path[3];
    return field === 'labels' || field === 'annotations' ? ['spec', 'pod', field, ...path.slice(4)] : undefined;
  }
  if (!pod || !startsWith(path, ['spec', 'template', 'spec'])) return undefined;
  const [field, ...rest] = path.slice(3);
  const user = mcp.spec.pod;
  if (typeof field === 'string' && POD_FIELDS.has(field)) return ['spec', 'pod', field, ...rest];
  switch (field) {
    case 'tolerations':
      return listField(pod.tolerations, user?.tolerations, rest, ['spec', 'pod', 'tolerations']);
    case 'imagePullSecrets':
      return listField(pod.imagePullSecrets, user?.imagePullSecrets, rest, ['spec', 'pod', 'imagePullSecrets']);
    case 'volumes':
      return listField(pod.volumes, user?.volumes, rest, ['spec', 'pod', 'volumes']);
    case 'securityContext': {
      const id = rest[0];
      return id === 'runAsUser' || id === 'runAsGroup' || id === 'fsGroup'
        ? ['spec', 'pod', 'securityContext', id]
        : undefined;
    }
    case 'containers': {
      const [which, ...inner] = rest;
      const container =
        typeof which === 'number'
          ? pod.containers[which]
          : pod.containers.find((c) => which !== undefined && c.name === keyName(which));
      return container?.name === SERVER_CONTAINER ? serverContainerField(mcp, container, inner) : undefined;
    }
    default:
      return undefined;
  }
}

function networkPolicyField(mcp: McpServer, path: Path): Path | undefined {
  const policy = mcp.spec.networkPolicy;
  const rendered: V1NetworkPolicy | undefined = renderNetworkPolicy(mcp);
  if (!policy || !rendered) return undefined;
  const [spec, direction, rule, field, ...rest] = path;
  if (spec !== 'spec' || typeof rule !== 'number') return undefined;
  if (direction === 'egress') {
    return rule < (policy.egress?.length ?? 0)
      ? ['spec', 'networkPolicy', 'egress', rule, ...path.slice(3)]
      : undefined;
  }
  if (direction !== 'ingress' || field !== 'from') return undefined;
  // The renderer writes `from` (client-node's type calls it `_from`).
  const from = (rendered.spec?.ingress?.[rule] as { from?: unknown } | undefined)?.from;
  // The first rule holds ingressFrom; a later one with the same peers as metricsFrom holds metricsFrom.
  const list = rule === 0 ? 'ingressFrom' : same(from, policy.metricsFrom) ? 'metricsFrom' : undefined;
  return list ? ['spec', 'networkPolicy', list, ...rest] : undefined;
}

function ingressField(mcp: McpServer, path: Path): Path | undefined {
  if (!renderIngress(mcp)) return undefined;
  if (startsWith(path, ['metadata', 'annotations'])) return ['spec', 'ingress', 'annotations', ...path.slice(2)];
  if (startsWith(path, ['spec', 'ingressClassName'])) return ['spec', 'ingress', 'className'];
  if (startsWith(path, ['spec', 'rules', 0, 'host']) || startsWith(path, ['spec', 'tls', 0, 'hosts'])) {
    return ['spec', 'ingress', 'host'];
  }
  if (startsWith(path, ['spec', 'rules', 0, 'http', 'paths', 0, 'path'])) return ['spec', 'ingress', 'path'];
  if (startsWith(path, ['spec', 'tls', 0, 'secretName'])) return ['spec', 'ingress', 'tls', 'secretName'];
  return undefined;
}

/** The McpServer field a child's field comes from, e.g. Deployment `spec.template.spec.affinity` -> `spec.pod.affinity`. */
export function mcpServerField(mcp: McpServer, kind: string, childPath: string): string | undefined {
  const path = parsePath(childPath);
  if (startsWith(path, ['metadata', 'name'])) return 'metadata.name';
  const mapped =
    kind === 'Deployment'
      ? deploymentField(mcp, path)
      : kind === 'NetworkPolicy'
        ? networkPolicyField(mcp, path)
        : kind === 'Ingress'
          ? ingressField(mcp, path)
          : undefined;
  return mapped ? formatPath(mapped) : undefined;
}

/** A child field path inside an API server message: `spec.x[0].y` or `.spec.x[name="y"]`, after a space, `(` or start. */
const CHILD_PATH = /(?<![\w.])\.?((?:spec|metadata)(?:\.[A-Za-z0-9_$-]+|\[[^\]\s]*\])+)/g;

/**
 * The API server's message with every child field it names replaced by the McpServer field, and the fields found.
 * Fields the renderer sets itself stay as they are.
 */
export function translateChildPaths(
  mcp: McpServer,
  kind: string,
  message: string,
): { message: string; fields: string[] } {
  return translatePaths(message, (path) => mcpServerField(mcp, kind, path));
}

/**
 * The VirtualMcpServer field a child's field comes from, where the mapping needs no rendering: its NetworkPolicy's
 * egress rules (the user's, first and in order) and first ingress rule (ingressFrom). Anything else stays the
 * child's: no hint beats a wrong one.
 */
export function virtualServerField(vmcp: VirtualMcpServer, kind: string, childPath: string): string | undefined {
  const path = parsePath(childPath);
  if (startsWith(path, ['metadata', 'name'])) return 'metadata.name';
  const policy = vmcp.spec.networkPolicy;
  if (kind !== 'NetworkPolicy' || !policy) return undefined;
  const [spec, direction, rule, field, ...rest] = path;
  if (spec !== 'spec' || typeof rule !== 'number') return undefined;
  if (direction === 'egress' && rule < (policy.egress?.length ?? 0)) {
    return formatPath(['spec', 'networkPolicy', 'egress', rule, ...path.slice(3)]);
  }
  if (direction === 'ingress' && rule === 0 && field === 'from' && policy.ingressFrom?.length) {
    return formatPath(['spec', 'networkPolicy', 'ingressFrom', ...rest]);
  }
  return undefined;
}

/** The message with each child field replaced by what `fieldOf` maps it to (as translateChildPaths), and those found. */
export function translatePaths(
  message: string,
  fieldOf: (path: string) => string | undefined,
): { message: string; fields: string[] } {
  const fields: string[] = [];
  const translated = message.replace(CHILD_PATH, (whole, path: string) => {
    const field = fieldOf(path);
    if (!field) return whole;
    if (!fields.includes(field)) fields.push(field);
    return field;
  });
  return { message: translated, fields };
}
