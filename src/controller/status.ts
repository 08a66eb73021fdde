/**
 * Pure: the McpServer's status from what the controller observed. Conditions keep their
 * lastTransitionTime while their status holds, so an unchanged world writes nothing.
 */
import type { V1ContainerStatus, V1Deployment, V1Pod } from '@kubernetes/client-node';
import type { ConditionType } from '../api/conditions.ts';
import type { Condition, McpServer, McpServerStatus } from '../api/types.generated.ts';
import type { RouteCondition } from './route-status.ts';

export type { ConditionType } from '../api/conditions.ts';

/** Why the controller could not (fully) apply the spec; becomes Ready=False and Degraded=True. */
export interface Blocker {
  reason: string;
  message: string;
}

export interface Observation {
  mcp: McpServer;
  /** The Deployment as the cache has it, if it exists. */
  deployment?: V1Deployment | undefined;
  /** The McpServer's pods (read while a rollout is not done): their waiting reasons say why no replica is ready. */
  pods?: readonly V1Pod[] | undefined;
  blocker?: Blocker | undefined;
  url?: string | undefined;
  externalURL?: string | undefined;
  /** With spec.httpRoute: RouteAccepted and RouteResolvedRefs (route-status.ts), appended as they are. */
  routeConditions?: RouteCondition[] | undefined;
  /** What the server reported about itself (discovery.ts); absent: keep what status has. */
  discovered?: Pick<McpServerStatus, 'serverInfo' | 'tools' | 'toolDescriptions'> | undefined;
  now: string;
}

type Draft = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/** Characters of a condition message: 4 bytes each at most in UTF-8, within metav1.Condition's 32768 bytes. */
export const MAX_CONDITION_MESSAGE = 8192;

/**
 * A condition as written: its lastTransitionTime kept while its status holds, its message cut to fit. A longer
 * message fails the whole status write (an API server refusal listing each invalid field can pass the limit), and
 * then nothing at all was reported.
 */
export function settledCondition(draft: Draft, previous: readonly Condition[] | undefined, at: Stamp): Condition {
  const before = previous?.find((c) => c.type === draft.type);
  const lastTransitionTime = before && before.status === draft.status ? before.lastTransitionTime : at.now;
  const { message } = draft;
  const cut =
    message.length <= MAX_CONDITION_MESSAGE
      ? message
      : `${message.slice(0, MAX_CONDITION_MESSAGE - 40)}…[${message.length - MAX_CONDITION_MESSAGE + 40} more characters]`;
  const { type, status, reason } = draft;
  return { type, status, reason, message: cut, observedGeneration: at.generation, lastTransitionTime };
}

/** When a status is computed: the object's generation, and the time a changed condition is stamped with. */
export interface Stamp {
  generation: number;
  now: string;
}

function deploymentFailure(deployment: V1Deployment | undefined): string | undefined {
  const failed = deployment?.status?.conditions?.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
  return failed?.message;
}

/** Waiting reasons that do not go away by waiting: the pod needs a fix (or an outside change) first. */
const STUCK_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
]);
const IMAGE_REASONS = new Set(['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull']);
/** Termination messages can be 4 KiB; the end says the most (the last error). */
const MESSAGE_TAIL = 300;

const tail = (text: string) => {
  const trimmed = text.trim().replace(/\s+/g, ' ');
  return trimmed.length > MESSAGE_TAIL ? `...${trimmed.slice(-MESSAGE_TAIL)}` : trimmed;
};

function describeStuck(pod: string, c: V1ContainerStatus, reason: string, kubeletMessage: string): string {
  const who = `container ${c.name} of pod ${pod}`;
  if (IMAGE_REASONS.has(reason)) {
    const fix =
      c.name === 'server'
        ? 'check spec.image (and spec.pod.imagePullSecrets for a private registry)'
        : "check the operator's --gateway-image";
    return `${who} cannot pull image "${c.image}" (${reason}): ${tail(kubeletMessage) || 'no detail from the kubelet'}; ${fix}`;
  }
  if (reason === 'CrashLoopBackOff') {
    // Not the kubelet's message: it names the growing back-off delay, which would rewrite status on every restart.
    const last = c.lastState?.terminated;
    const exit = last ? `last exit code ${last.exitCode}${last.reason ? ` (${last.reason})` : ''}` : 'no exit code yet';
    const said = last?.message ? `, its last message: "${tail(last.message)}"` : '';
    // 137/143: SIGKILL/SIGTERM from outside, most often the kubelet after failed liveness or startup checks.
    const killed =
      last && (last.exitCode === 137 || last.exitCode === 143) && last.reason !== 'OOMKilled'
        ? `; killed by a signal: if its liveness or startup probe failed (kubectl describe pod ${pod}), check it (spec.livenessProbe for HTTP servers)`
        : '';
    return `${who} keeps exiting (CrashLoopBackOff): ${exit}${said}${killed}; see kubectl logs ${pod} -c ${c.name} --previous`;
  }
  return `${who} cannot start (${reason}): ${tail(kubeletMessage) || 'no detail from the kubelet'}`;
}

/**
 * The first stuck container of the McpServer's pods (by pod name, init containers first, so the answer is stable):
 * an image that cannot be pulled, a crash loop, a container the kubelet cannot create.
 */
function stuckPod(pods: readonly V1Pod[] | undefined): Blocker | undefined {
  const live = (pods ?? []).filter((p) => !p.metadata?.deletionTimestamp);
  const sorted = [...live].sort((a, b) => String(a.metadata?.name).localeCompare(String(b.metadata?.name)));
  for (const pod of sorted) {
    for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
      const waiting = c.state?.waiting;
      if (!waiting?.reason || !STUCK_REASONS.has(waiting.reason)) continue;
      const name = pod.metadata?.name ?? 'unknown';
      return { reason: waiting.reason, message: describeStuck(name, c, waiting.reason, waiting.message ?? '') };
    }
  }
  return undefined;
}

interface Rollout {
  available: Draft;
  progressing: Draft;
  done: boolean;
  ready: number;
  /** A pod of the rollout that cannot start. */
  stuck?: Blocker | undefined;
}

const NO_DEPLOYMENT: Draft = {
  type: 'Available',
  status: 'False',
  reason: 'DeploymentNotFound',
  message: 'the Deployment does not exist yet',
};

function rollout(obs: Observation): Rollout {
  const wanted = obs.mcp.spec.replicas;
  const d = obs.deployment;
  if (!d && obs.blocker) {
    // Nothing is being created while a blocker holds the Deployment back.
    return {
      available: NO_DEPLOYMENT,
      progressing: {
        type: 'Progressing',
        status: 'False',
        reason: obs.blocker.reason,
        message: `the Deployment is not created until this is fixed: ${obs.blocker.message}`,
      },
      done: false,
      ready: 0,
    };
  }
  if (!d) {
    return {
      available: NO_DEPLOYMENT,
      progressing: { type: 'Progressing', status: 'True', reason: 'Creating', message: 'creating the Deployment' },
      done: false,
      ready: 0,
    };
  }
  const s = d.status ?? {};
  const ready = s.readyReplicas ?? 0;
  const available = s.availableReplicas ?? 0;
  const updated = s.updatedReplicas ?? 0; // decides "done", not the message
  const seen = (s.observedGeneration ?? 0) >= (d.metadata?.generation ?? 0);
  const done = seen && updated >= wanted && ready >= wanted && (s.replicas ?? 0) <= wanted;
  const failure = deploymentFailure(d);
  const stuck = done ? undefined : stuckPod(obs.pods);
  const availableCondition: Draft =
    wanted === 0
      ? { type: 'Available', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' }
      : available > 0
        ? {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: `${available}/${wanted} replicas available`,
          }
        : {
            type: 'Available',
            status: 'False',
            reason: 'DeploymentUnavailable',
            message: failure
              ? `no replica is available: ${failure}`
              : stuck
                ? `no replica is available: ${stuck.message}`
                : `no replica is available yet (0/${wanted}); see kubectl describe pods -l app.kubernetes.io/instance=${obs.mcp.metadata?.name}`,
          };
  const stalled = d.status?.conditions?.find(
    (c) => c.type === 'Progressing' && c.reason === 'ProgressDeadlineExceeded',
  );
  const progressing: Draft = done
    ? {
        type: 'Progressing',
        status: 'False',
        reason: 'RolloutComplete',
        message: `${ready}/${wanted} replicas updated and ready`,
      }
    : stalled
      ? {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: stalled.message ?? 'rollout stalled',
        }
      : stuck
        ? {
            type: 'Progressing',
            status: 'False',
            reason: stuck.reason,
            message: `the rollout is stuck: ${stuck.message}`,
          }
        : {
            type: 'Progressing',
            status: 'True',
            reason: 'RolloutInProgress',
            // Readiness only: a message that changed on every replica count would cost a status write each time.
            message: `rolling out: ${ready}/${wanted} replicas ready`,
          };
  return { available: availableCondition, progressing, done, ready, stuck };
}

export function computeStatus(obs: Observation, previous: McpServerStatus | undefined): McpServerStatus {
  const { mcp, blocker } = obs;
  const wanted = mcp.spec.replicas;
  const r = rollout(obs);
  const failure = deploymentFailure(obs.deployment);
  const stalled = r.progressing.reason === 'ProgressDeadlineExceeded';
  const ready: Draft = blocker
    ? { type: 'Ready', status: 'False', reason: blocker.reason, message: blocker.message }
    : wanted === 0
      ? { type: 'Ready', status: 'False', reason: 'ScaledToZero', message: 'spec.replicas is 0' }
      : r.available.status === 'True' && r.done
        ? {
            type: 'Ready',
            status: 'True',
            reason: 'Ready',
            message: `${r.ready}/${wanted} replicas ready at ${obs.url}`,
          }
        : r.stuck
          ? { type: 'Ready', status: 'False', reason: r.stuck.reason, message: r.stuck.message }
          : {
              type: 'Ready',
              status: 'False',
              reason: r.available.status === 'True' ? 'RolloutInProgress' : r.available.reason,
              message: r.available.status === 'True' ? r.progressing.message : r.available.message,
            };
  const degraded: Draft = blocker
    ? { type: 'Degraded', status: 'True', reason: blocker.reason, message: blocker.message }
    : failure
      ? { type: 'Degraded', status: 'True', reason: 'ReplicaFailure', message: failure }
      : r.stuck
        ? { type: 'Degraded', status: 'True', reason: r.stuck.reason, message: r.stuck.message }
        : stalled
          ? { type: 'Degraded', status: 'True', reason: 'ProgressDeadlineExceeded', message: r.progressing.message }
          : { type: 'Degraded', status: 'False', reason: 'AsExpected', message: 'no problems observed' };

  const generation = mcp.metadata?.generation ?? 0;
  const conditions = [ready, r.available, r.progressing, degraded, ...(obs.routeConditions ?? [])].map((draft) =>
    settledCondition(draft, previous?.conditions, { generation, now: obs.now }),
  );
  const status: McpServerStatus = {
    observedGeneration: generation,
    conditions,
    replicas: wanted,
    readyReplicas: obs.deployment?.status?.readyReplicas ?? 0,
    ...(obs.url ? { url: obs.url } : {}),
    ...(obs.externalURL ? { externalURL: obs.externalURL } : {}),
    // Discovered by the controller through the Service once Ready (discovery.ts); otherwise kept as is.
    ...((obs.discovered ?? previous)?.serverInfo ? { serverInfo: (obs.discovered ?? previous)?.serverInfo } : {}),
    ...((obs.discovered ?? previous)?.tools ? { tools: (obs.discovered ?? previous)?.tools } : {}),
    ...((obs.discovered ?? previous)?.toolDescriptions
      ? { toolDescriptions: (obs.discovered ?? previous)?.toolDescriptions }
      : {}),
  };
  return status;
}

export const conditionOf = (status: McpServerStatus | undefined, type: ConditionType) =>
  status?.conditions?.find((c) => c.type === type);

/**
 * An McpServer being deleted (a finalizer holds it): Ready=False, Deleting, for its current generation (setting
 * deletionTimestamp bumps it). The other conditions stay as the last reconcile left them.
 */
export function deletingStatus(mcp: McpServer, now: string): McpServerStatus {
  const previous = mcp.status ?? {};
  const generation = mcp.metadata?.generation ?? 0;
  const before = conditionOf(previous, 'Ready');
  const waiting = mcp.metadata?.finalizers?.length
    ? `: waiting for finalizers ${mcp.metadata.finalizers.join(', ')}`
    : '';
  const ready: Condition = {
    type: 'Ready',
    status: 'False',
    reason: 'Deleting',
    message: `the McpServer is being deleted${waiting}; its children go with it`,
    observedGeneration: generation,
    lastTransitionTime: before?.status === 'False' ? before.lastTransitionTime : now,
  };
  const others = (previous.conditions ?? []).filter((c) => c.type !== 'Ready');
  return { ...previous, observedGeneration: generation, conditions: [ready, ...others] };
}
