/**
 * Pure: a VirtualMcpServer's status from what the controller observed. The gateway's own workload is judged as an
 * McpServer's is (status.ts); on top come its backends (which exist, which are Ready, their tools) and the names
 * they expose (contract/virtual-names.ts). Conditions keep their lastTransitionTime while their status holds.
 */
import type { V1Deployment, V1Pod } from '@kubernetes/client-node';
import type {
  Condition,
  McpServer,
  McpServerStatus,
  VirtualBackendStatus,
  VirtualConflict,
  VirtualMcpServer,
  VirtualMcpServerStatus,
} from '../../api/types.generated.ts';
import type { VirtualConditionType } from '../../api/virtual-conditions.ts';
import { buildCatalog, type Catalog, describeConflict } from '../../contract/virtual-names.ts';
import type { Selection } from '../../render/virtual-backends.ts';
import type { RouteCondition } from '../route-status.ts';
import { type Blocker, computeStatus, conditionOf, settledCondition } from '../status.ts';

/** The schema's bounds on status lists. */
const MAX_TOOLS = 4096;
const MAX_CONFLICTS = 256;
/** Conflicts and backends a condition message names before "and N more". */
const NAMED_IN_MESSAGE = 3;

export interface VirtualObservation {
  vmcp: VirtualMcpServer;
  selection: Selection;
  deployment?: V1Deployment | undefined;
  pods?: readonly V1Pod[] | undefined;
  blocker?: Blocker | undefined;
  url?: string | undefined;
  externalURL?: string | undefined;
  routeConditions?: RouteCondition[] | undefined;
  /** Names of the VirtualMcpServers of the namespace: one listed in spec.servers is named as such. */
  virtualServers?: ReadonlySet<string> | undefined;
  now: string;
}

type Draft = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

const isReady = (server: McpServer | undefined) =>
  conditionOf(server?.status as McpServerStatus | undefined, 'Ready')?.status === 'True';

/** The tool names each found backend reported (status.tools, kept by the McpServer while it is not Ready). */
export function catalogOf(vmcp: VirtualMcpServer, selection: Selection): Catalog {
  const offered = new Map(
    selection.backends.map((b) => [b.naming.name, { tool: b.server?.status?.tools ?? [] }] as const),
  );
  return buildCatalog({ backends: selection.backends.map((b) => b.naming), offered, tools: vmcp.spec.tools });
}

const andMore = (items: string[]) =>
  items.length > NAMED_IN_MESSAGE
    ? `${items.slice(0, NAMED_IN_MESSAGE).join('; ')}; and ${items.length - NAMED_IN_MESSAGE} more`
    : items.join('; ');

function backendsCondition(
  vmcp: VirtualMcpServer,
  selection: Selection,
  virtualServers: ReadonlySet<string> = new Set(),
): Draft {
  const namespace = vmcp.metadata?.namespace ?? 'default';
  const { backends } = selection;
  if (!backends.length) {
    return {
      type: 'BackendsReady',
      status: 'False',
      reason: 'NoBackends',
      message: `no backend: spec.servers is empty and spec.selector matches no McpServer in namespace ${namespace}; list servers or label McpServers to match`,
    };
  }
  const missing = backends
    .filter((b) => !b.server)
    .map((b) =>
      // Creating an McpServer of that name would not help: its children would be the VirtualMcpServer's.
      virtualServers.has(b.naming.name)
        ? `spec.servers[${b.naming.listedAt}] names ${b.naming.name}, a VirtualMcpServer: backends are McpServers only (an aggregate cannot be nested); list the McpServers of ${b.naming.name} here instead, or remove it from spec.servers`
        : `spec.servers[${b.naming.listedAt}] names McpServer ${b.naming.name}, which does not exist in namespace ${namespace}: create it or remove it from spec.servers`,
    );
  const notReady = backends
    .filter((b) => b.server && !isReady(b.server))
    .map((b) => {
      const ready = conditionOf(b.server?.status as McpServerStatus | undefined, 'Ready');
      return `McpServer ${b.naming.name} is not Ready (${ready ? `${ready.reason}: ${ready.message}` : 'no status yet'}); its tools are left out until it is`;
    });
  if (!missing.length && !notReady.length) {
    return {
      type: 'BackendsReady',
      status: 'True',
      reason: 'AllBackendsReady',
      message: `${backends.length}/${backends.length} backends ready`,
    };
  }
  return {
    type: 'BackendsReady',
    status: 'False',
    reason: missing.length ? 'BackendNotFound' : 'BackendNotReady',
    message: andMore([...missing, ...notReady]),
  };
}

function namesCondition(catalog: Catalog, backends: number): Draft {
  const tools = catalog.conflicts.filter((c) => c.kind === 'tool');
  if (tools.length) {
    return {
      type: 'ToolNamesResolved',
      status: 'False',
      reason: 'ToolNameConflict',
      message: `${tools.length} tool name${tools.length > 1 ? 's' : ''} hidden by a conflict (status.conflicts): ${andMore(tools.map(describeConflict))}`,
    };
  }
  const invalid = catalog.problems.filter((p) => p.kind === 'tool');
  if (invalid.length) {
    return {
      type: 'ToolNamesResolved',
      status: 'False',
      reason: 'ToolNameInvalid',
      message: andMore(
        invalid.map(
          (p) =>
            `tool "${p.original}" of ${p.backend} would be "${p.exposed}", which is not a valid MCP name: ${p.fix}`,
        ),
      ),
    };
  }
  const exposed = catalog.exposed.filter((e) => e.kind === 'tool').length;
  return {
    type: 'ToolNamesResolved',
    status: 'True',
    reason: 'NamesResolved',
    message: `${exposed} tools from ${backends} backends, each under a name of its own`,
  };
}

const toConflict = (c: Catalog['conflicts'][number]): VirtualConflict => ({
  kind: c.kind,
  name: c.exposed,
  server: c.winner.backend,
  original: c.winner.original,
  hiddenServer: c.hidden.backend,
  hiddenOriginal: c.hidden.original,
  message: describeConflict(c),
});

export function computeVirtualStatus(
  obs: VirtualObservation,
  previous: VirtualMcpServerStatus | undefined,
): VirtualMcpServerStatus {
  const { vmcp, selection } = obs;
  // The workload is judged as an McpServer's: the fields computeStatus reads (replicas, metadata) are the same.
  const base = computeStatus(
    {
      mcp: vmcp as unknown as McpServer,
      deployment: obs.deployment,
      pods: obs.pods,
      blocker: obs.blocker,
      url: obs.url,
      externalURL: obs.externalURL,
      routeConditions: obs.routeConditions,
      now: obs.now,
    },
    previous as McpServerStatus | undefined,
  );
  const catalog = catalogOf(vmcp, selection);
  const ready = selection.backends.filter((b) => isReady(b.server));
  const backends = backendsCondition(vmcp, selection, obs.virtualServers);
  const names = namesCondition(catalog, selection.backends.length);
  const find = (type: string) => base.conditions?.find((c) => c.type === type) as Condition;

  let readyCondition: Draft = find('Ready');
  if (readyCondition.status === 'True' && !ready.length) {
    readyCondition = {
      type: 'Ready',
      status: 'False',
      reason: backends.reason,
      message: `no backend is ready: ${backends.message}`,
    };
  } else if (readyCondition.status === 'True') {
    readyCondition = {
      ...readyCondition,
      message: `${readyCondition.message}; ${ready.length}/${selection.backends.length} backends ready`,
    };
  }
  let degraded: Draft = find('Degraded');
  if (degraded.status === 'False') {
    // A selector matching the aggregate's own name is a spec mistake: said first, BackendsReady still says readiness.
    if (selection.ownName) {
      degraded = {
        type: 'Degraded',
        status: 'True',
        reason: 'BackendNamedLikeSelf',
        message: `spec.selector matches McpServer ${selection.ownName}, which has this VirtualMcpServer's name: it is left out (its Service would be this VirtualMcpServer's own); rename one of them or change its labels`,
      };
    } else if (backends.status === 'False') degraded = { ...backends, type: 'Degraded', status: 'True' };
    else if (names.status === 'False') degraded = { ...names, type: 'Degraded', status: 'True' };
    else if (selection.leftOut) {
      degraded = {
        type: 'Degraded',
        status: 'True',
        reason: 'TooManyBackends',
        message: `spec.selector matches ${selection.leftOut} McpServers more than the ${selection.backends.length} a VirtualMcpServer takes: those last by name are left out; narrow the selector`,
      };
    }
  }

  const generation = vmcp.metadata?.generation ?? 0;
  const drafts: Draft[] = [
    readyCondition,
    find('Available'),
    find('Progressing'),
    degraded,
    backends,
    names,
    ...(base.conditions ?? []).filter((c) => !['Ready', 'Available', 'Progressing', 'Degraded'].includes(c.type)),
  ];
  const conditions = drafts.map((draft) => settledCondition(draft, previous?.conditions, { generation, now: obs.now }));

  const readyNames = new Set(ready.map((b) => b.naming.name));
  const tools = catalog.exposed.filter((e) => e.kind === 'tool' && readyNames.has(e.backend)).map((e) => e.exposed);
  const toolCounts = new Map<string, number>();
  for (const e of catalog.exposed)
    if (e.kind === 'tool') toolCounts.set(e.backend, (toolCounts.get(e.backend) ?? 0) + 1);
  const backendStatus = selection.backends.map(
    ({ naming, server }): VirtualBackendStatus => ({
      name: naming.name,
      ready: isReady(server),
      toolCount: toolCounts.get(naming.name) ?? 0,
      ...(server?.status?.url ? { url: server.status.url } : {}),
      ...(!server
        ? { reason: 'BackendNotFound' }
        : isReady(server)
          ? {}
          : { reason: conditionOf(server.status as McpServerStatus, 'Ready')?.reason ?? 'BackendNotReady' }),
    }),
  );
  const conflicts = catalog.conflicts.filter((c) => c.kind === 'tool').map(toConflict);
  return {
    observedGeneration: generation,
    conditions,
    ...(base.url ? { url: base.url } : {}),
    ...(base.externalURL ? { externalURL: base.externalURL } : {}),
    replicas: base.replicas ?? vmcp.spec.replicas,
    readyReplicas: base.readyReplicas ?? 0,
    readyBackends: `${ready.length}/${selection.backends.length}`,
    backends: backendStatus,
    toolCount: tools.length,
    tools: tools.slice(0, MAX_TOOLS),
    conflictCount: conflicts.length,
    conflicts: conflicts.slice(0, MAX_CONFLICTS),
  };
}

export const virtualConditionOf = (status: VirtualMcpServerStatus | undefined, type: VirtualConditionType) =>
  status?.conditions?.find((c) => c.type === type);
