/**
 * What the caches keep of each object: only what the controller reads, as controller-runtime's cache transforms
 * do. managedFields, kubectl's last-applied copy, server-side bookkeeping and unread status are dropped when an
 * object enters the cache, so 1,000 McpServers cost a few MiB, not a copy of etcd.
 */
import type {
  V1ContainerState,
  V1ContainerStatus,
  V1Deployment,
  V1DeploymentStatus,
  V1Pod,
} from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import type { Cached } from '../kube/informer.ts';
import { canonicalJSON, sha256 } from './compare.ts';
import { MIN_SESSION_KEY_BYTES, type ReferencedObject } from './gates.ts';
import { shareCommon } from './share.ts';

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

type Meta = Cached['metadata'] & {
  uid?: string;
  generation?: number;
  creationTimestamp?: unknown;
  deletionTimestamp?: unknown;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  ownerReferences?: unknown[];
};

/** The metadata a reconcile reads: identity, versions, labels, annotations (without kubectl's copy), owners. */
export function keptMetadata(metadata: Meta): Meta {
  const { name, namespace, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp } = metadata;
  const { [LAST_APPLIED]: _copy, ...annotations } = metadata.annotations ?? {};
  const kept: Meta = { name, namespace, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp };
  if (metadata.labels) kept.labels = metadata.labels;
  if (Object.keys(annotations).length) kept.annotations = annotations;
  if (metadata.ownerReferences) kept.ownerReferences = metadata.ownerReferences;
  for (const key of Object.keys(kept) as Array<keyof Meta>) if (kept[key] === undefined) delete kept[key];
  return kept;
}

/** McpServers: spec and status whole (both are read), metadata trimmed; finalizers for status while deleting. */
export function projectMcpServer(object: Cached): McpServer & Cached {
  const raw = object as McpServer & Cached;
  const { finalizers } = raw.metadata;
  return {
    ...raw,
    metadata: { ...keptMetadata(raw.metadata as Meta), ...(finalizers ? { finalizers } : {}) },
  } as McpServer & Cached;
}

/** The Deployment status fields status.ts reads; conditions without their timestamps. */
function deploymentStatus(status: V1DeploymentStatus): V1DeploymentStatus {
  const { observedGeneration, replicas, readyReplicas, availableReplicas, updatedReplicas } = status;
  return {
    observedGeneration,
    replicas,
    readyReplicas,
    availableReplicas,
    updatedReplicas,
    conditions: status.conditions?.map(({ type, status: s, reason, message }) => ({
      type,
      status: s,
      reason,
      message,
    })),
  };
}

/**
 * Children: what compare.ts matches against (every top-level field but status, e.g. spec, which drift detection
 * reads) and trimmed metadata; status only for the Deployment, whose rollout status.ts reports.
 */
export function projectChild(object: Cached): Cached {
  const { metadata, status, ...rest } = object as Cached & { status?: unknown };
  const kept: Cached = { ...rest, metadata: keptMetadata(metadata as Meta) } as Cached;
  if (object.kind === 'Deployment' && status)
    (kept as V1Deployment).status = deploymentStatus(status as V1DeploymentStatus);
  // What a thousand Deployments repeat (containers, probes, volumes, defaults) is kept once (share.ts).
  return shareCommon(kept);
}

/** Bytes that a base64 string decodes to. */
export function base64Bytes(value: string): number {
  const padding = value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0;
  return Math.max(0, Math.floor((value.length * 3) / 4) - padding);
}

/** Secrets and ConfigMaps: key names and a hash of the contents. Values never stay in memory. */
export function projectReferenced(object: Cached): ReferencedObject {
  const raw = object as Cached & { data?: Record<string, string>; binaryData?: Record<string, string> };
  const keys = [...Object.keys(raw.data ?? {}), ...Object.keys(raw.binaryData ?? {})].sort();
  const { name, namespace, uid, resourceVersion, ownerReferences } = raw.metadata;
  // A Secret's values are base64: their size is read off the encoding, nothing is decoded or kept.
  const shortKeys =
    raw.kind === 'Secret'
      ? Object.entries(raw.data ?? {})
          .filter(([, v]) => base64Bytes(v) < MIN_SESSION_KEY_BYTES)
          .map(([k]) => k)
      : [];
  return {
    apiVersion: raw.apiVersion,
    kind: raw.kind,
    metadata: { name, namespace, uid, resourceVersion, ...(ownerReferences ? { ownerReferences } : {}) },
    keys,
    ...(shortKeys.length ? { shortKeys } : {}),
    hash: sha256(canonicalJSON([raw.data ?? {}, raw.binaryData ?? {}])).slice(0, 32),
  };
}

/** Bounds what a pod's cached termination message may cost (status shows only its end). */
const TERMINATION_MESSAGE_KEPT = 1024;

/** Pods: what status reads (names, labels, container states), nothing else: no spec, no env, no managedFields. */
export function projectPod(object: Cached): V1Pod & Cached {
  const raw = object as V1Pod & Cached;
  const { name, namespace, uid, resourceVersion, labels, deletionTimestamp } = raw.metadata;
  const bounded = (state: V1ContainerState | undefined): V1ContainerState | undefined =>
    state?.terminated
      ? {
          ...state,
          terminated: { ...state.terminated, message: state.terminated.message?.slice(-TERMINATION_MESSAGE_KEPT) },
        }
      : state;
  const container = (c: V1ContainerStatus): V1ContainerStatus => ({
    name: c.name,
    image: c.image,
    imageID: '',
    ready: c.ready,
    restartCount: c.restartCount,
    ...(c.state ? { state: bounded(c.state) } : {}),
    ...(c.lastState ? { lastState: bounded(c.lastState) } : {}),
  });
  return {
    apiVersion: raw.apiVersion,
    kind: raw.kind,
    metadata: { name, namespace, uid, resourceVersion, labels, ...(deletionTimestamp ? { deletionTimestamp } : {}) },
    status: {
      phase: raw.status?.phase,
      initContainerStatuses: raw.status?.initContainerStatuses?.map(container),
      containerStatuses: raw.status?.containerStatuses?.map(container),
    },
  };
}

/**
 * Someone else's object of a child kind: its name is all the controller keeps (it must not apply over it), and
 * a reconcile that meets it reads it whole from the API server (live-child.ts).
 */
export function projectName(object: Cached): Cached {
  const { name, namespace, resourceVersion } = object.metadata;
  return { metadata: namespace === undefined ? { name, resourceVersion } : { name, namespace, resourceVersion } };
}
