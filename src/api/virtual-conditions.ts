/**
 * What the VirtualMcpServer controller writes (src/controller/virtual/): condition types, its own reasons and
 * Events, for docs/virtualmcpserver-reference.md. The reasons of its workload are McpServer's (WORKLOAD_REASONS);
 * reference.ts takes their text from the McpServer catalogue.
 */

import { ROUTE_CONDITION_REASONS, ROUTE_CONDITION_TYPES, type RouteConditionType } from './conditions.ts';

export type VirtualConditionType =
  | 'Ready'
  | 'Available'
  | 'Progressing'
  | 'Degraded'
  | 'BackendsReady'
  | 'ToolNamesResolved';

export const VIRTUAL_CONDITION_TYPES: Readonly<Record<VirtualConditionType | RouteConditionType, string>> = {
  Ready:
    "True when the gateway's replicas are updated and ready at status.url and at least one backend is ready; False says why not.",
  Available: "True when at least one of the gateway's replicas is available.",
  Progressing: "As on an McpServer, for the gateway's Deployment: True while it is created or rolled out.",
  Degraded:
    'True when something needs attention: a blocker, a missing or not-ready backend, a name conflict, a replica failure or a stalled rollout.',
  BackendsReady: 'True when every backend (listed or selected) exists and is Ready; False names those that are not.',
  ToolNamesResolved:
    'True when every tool of the ready and not-ready backends has a name of its own; False names the conflicts and the fix.',
  ...ROUTE_CONDITION_TYPES,
};

/** The McpServer reasons that apply to the aggregate's own workload (its rollout and the refusals). */
export const WORKLOAD_REASONS: ReadonlySet<string> = new Set([
  'Ready',
  'MinimumReplicasAvailable',
  'RolloutComplete',
  'AsExpected',
  'Creating',
  'RolloutInProgress',
  'DeploymentNotFound',
  'DeploymentUnavailable',
  'ScaledToZero',
  'ProgressDeadlineExceeded',
  'ReplicaFailure',
  'InvalidSpec',
  'SecretNotFound',
  'SecretKeyNotFound',
  'ConfigMapNotFound',
  'ConfigMapKeyNotFound',
  'ChildConflict',
  'IngressConflict',
  'ReservedServiceAccount',
  'Forbidden',
  'ApplyFailed',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  // spec.httpRoute is the McpServer's, and so is what the controller reports about it.
  ...ROUTE_CONDITION_REASONS.map((r) => r.reason),
]);

/** The reasons only a VirtualMcpServer has. */
export const VIRTUAL_CONDITION_REASONS: ReadonlyArray<{ reason: string; conditions: string; meaning: string }> = [
  { reason: 'AllBackendsReady', conditions: 'BackendsReady=True', meaning: 'every backend exists and is Ready' },
  {
    reason: 'BackendNotFound',
    conditions: 'BackendsReady=False, Degraded=True (Ready=False when no backend is ready)',
    meaning: 'a server in spec.servers does not exist in the namespace; the message names it and the fix',
  },
  {
    reason: 'BackendNotReady',
    conditions: 'BackendsReady=False, Degraded=True (Ready=False when no backend is ready)',
    meaning: 'a backend exists but is not Ready; the message names it and its own Ready reason',
  },
  {
    reason: 'NoBackends',
    conditions: 'BackendsReady=False, Ready=False, Degraded=True',
    meaning: 'spec.servers is empty and spec.selector matches no McpServer',
  },
  {
    reason: 'TooManyBackends',
    conditions: 'Degraded=True',
    meaning: 'spec.selector matches more McpServers than a VirtualMcpServer takes; the last ones are left out',
  },
  {
    reason: 'BackendNamedLikeSelf',
    conditions: 'Degraded=True',
    meaning:
      "spec.selector matches an McpServer with this VirtualMcpServer's own name: it is left out (its Service is the aggregate's own); rename one of them or change its labels",
  },
  { reason: 'NamesResolved', conditions: 'ToolNamesResolved=True', meaning: 'no two backends expose one name' },
  {
    reason: 'ToolNameConflict',
    conditions: 'ToolNamesResolved=False, Degraded=True',
    meaning:
      'two backends expose one tool name: the earlier keeps it, the other is hidden; status.conflicts names both and the fix (a prefix or a rename)',
  },
  {
    reason: 'ToolNameInvalid',
    conditions: 'ToolNamesResolved=False, Degraded=True',
    meaning: 'a prefixed or renamed tool name is not a valid MCP name (over 128 characters): it is hidden',
  },
];

export const VIRTUAL_EVENT_REASONS: ReadonlyArray<{ type: 'Normal' | 'Warning'; reason: string; meaning: string }> = [
  { type: 'Normal', reason: 'Created', meaning: 'the children were created; the message lists their kinds' },
  { type: 'Normal', reason: 'Applied', meaning: 'children were updated; the message lists them' },
  { type: 'Normal', reason: 'Deleted', meaning: 'children the spec no longer asks for were deleted' },
  { type: 'Normal', reason: 'Ready', meaning: 'Ready became True' },
  {
    type: 'Normal',
    reason: 'BackendsChanged',
    meaning: 'a backend joined or left (a listed McpServer created or deleted, labels changed)',
  },
  {
    type: 'Warning',
    reason: 'the condition reason',
    meaning:
      'a blocker, BackendNotFound, BackendNotReady, NoBackends or ToolNameConflict appeared or its message changed: the same reason and message as the condition',
  },
];
