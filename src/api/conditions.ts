/**
 * The McpServer's condition vocabulary: every condition type and reason the controller writes, with what each
 * means. Part of the API (like a kubebuilder api package's condition constants): the controller imports it, and
 * docs/mcpserver-reference.md is generated from it; a unit test keeps it complete.
 */

export type RouteConditionType = 'RouteAccepted' | 'RouteResolvedRefs';

export const ROUTE_CONDITION_TYPES: Readonly<Record<RouteConditionType, string>> = {
  RouteAccepted:
    "Only with spec.httpRoute: the route's Accepted condition from every parent Gateway (False names the Gateway and its controller's reason; Unknown while no controller has answered).",
  RouteResolvedRefs:
    "Only with spec.httpRoute: the route's ResolvedRefs condition (can the Gateway reach the Service).",
};

/** Reasons controller/route-status.ts and gateway-api.ts write (merged into CONDITION_REASONS below). */
export const ROUTE_CONDITION_REASONS: ReadonlyArray<{ reason: string; conditions: string; meaning: string }> = [
  {
    reason: 'GatewayAPINotInstalled',
    conditions: 'Ready=False, Degraded=True',
    meaning:
      'spec.httpRoute is set but the Gateway API CRDs are not installed; the message names the missing ones and how to install them (rechecked every 15 s)',
  },
  {
    reason: 'GatewayAPIDisabled',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'spec.httpRoute is set but the operator runs with --gateway-api=false (chart value gatewayAPI.enabled)',
  },
  {
    reason: 'RouteConflict',
    conditions: 'Ready=False, Degraded=True',
    meaning: "an HTTPRoute with the McpServer's name exists and is not managed by it; it is never overwritten",
  },
  {
    reason: 'RoutePathConflict',
    conditions: 'Ready=False, Degraded=True',
    meaning:
      "another server's HTTPRoute already routes the same host name and path through the same Gateway listener; the Gateway serves the older route, so this one is withheld (rechecked every 15 s)",
  },
  {
    reason: 'GatewayNotFound',
    conditions: 'RouteAccepted=False, Ready=False, Degraded=True',
    meaning: 'a Gateway in spec.httpRoute.parentRefs does not exist (no controller will ever answer for it)',
  },
  {
    reason: 'RouteNotAccepted',
    conditions: 'Ready=False, Degraded=True',
    meaning: "a Gateway's controller refused the route (Accepted=False); RouteAccepted has its reason and message",
  },
  {
    reason: 'RouteRefsNotResolved',
    conditions: 'Ready=False, Degraded=True',
    meaning: "a Gateway's controller cannot resolve the route's backend (ResolvedRefs=False)",
  },
  {
    reason: 'Accepted',
    conditions: 'RouteAccepted=True',
    meaning: 'every parent Gateway accepted the route; otherwise RouteAccepted carries the reason its controller gave',
  },
  {
    reason: 'ResolvedRefs',
    conditions: 'RouteResolvedRefs=True',
    meaning: "every parent Gateway's controller resolved the route's backend (the McpServer's Service)",
  },
  {
    reason: 'NotAccepted',
    conditions: 'RouteAccepted=False',
    meaning: "a Gateway's controller refused the route without a CamelCase reason of its own",
  },
  {
    reason: 'RefsNotResolved',
    conditions: 'RouteResolvedRefs=False',
    meaning: "a Gateway's controller could not resolve the backend, without a CamelCase reason of its own",
  },
  {
    reason: 'Pending',
    conditions: 'RouteAccepted=Unknown, RouteResolvedRefs=Unknown',
    meaning: "no Gateway controller has written the route's status for its current generation yet",
  },
];

export type ConditionType = 'Ready' | 'Available' | 'Progressing' | 'Degraded';

/** What each condition means, for docs/mcpserver-reference.md. */
export const CONDITION_TYPES: Readonly<Record<ConditionType | RouteConditionType, string>> = {
  Ready: 'True when every wanted replica is updated and ready at status.url; False says why not.',
  Available: 'True when at least one replica is available.',
  Progressing:
    "True while the Deployment is being created or rolled out; False when the rollout completed or stalled, when a pod cannot start (the pod's reason), or when a blocker holds the Deployment back (the blocker's reason).",
  Degraded: 'True when something needs attention: a blocker, a replica failure or a stalled rollout.',
  ...ROUTE_CONDITION_TYPES,
};

/** Every reason the controller writes (status.ts, the reconcile gates, refusal.ts, route-status.ts). */
export const CONDITION_REASONS: ReadonlyArray<{ reason: string; conditions: string; meaning: string }> = [
  { reason: 'Ready', conditions: 'Ready=True', meaning: 'all wanted replicas are updated and ready' },
  { reason: 'MinimumReplicasAvailable', conditions: 'Available=True', meaning: 'at least one replica is available' },
  { reason: 'RolloutComplete', conditions: 'Progressing=False', meaning: 'the rollout finished' },
  { reason: 'AsExpected', conditions: 'Degraded=False', meaning: 'no problems observed' },
  {
    reason: 'Creating',
    conditions: 'Progressing=True',
    meaning: 'the Deployment does not exist yet and is being created',
  },
  {
    reason: 'RolloutInProgress',
    conditions: 'Progressing=True, Ready=False',
    meaning: 'pods are being replaced or started; some replicas are not ready yet',
  },
  {
    reason: 'DeploymentNotFound',
    conditions: 'Available=False, Ready=False',
    meaning: 'the Deployment does not exist yet',
  },
  {
    reason: 'DeploymentUnavailable',
    conditions: 'Available=False, Ready=False',
    meaning: 'no replica is available: see kubectl describe pods -l app.kubernetes.io/instance=NAME',
  },
  { reason: 'ScaledToZero', conditions: 'Available=False, Ready=False', meaning: 'spec.replicas is 0' },
  {
    reason: 'ProgressDeadlineExceeded',
    conditions: 'Progressing=False, Degraded=True',
    meaning: 'the rollout stalled (the Deployment passed its progress deadline)',
  },
  {
    reason: 'ReplicaFailure',
    conditions: 'Degraded=True',
    meaning: 'the Deployment cannot create pods (quota, admission, ...); the message says why',
  },
  {
    reason: 'InvalidSpec',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'the spec breaks a rule of the schema; the message names each field and the fix',
  },
  {
    reason: 'SecretNotFound',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'a referenced Secret does not exist; the controller converges once it is created',
  },
  {
    reason: 'SecretKeyNotFound',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'a referenced Secret lacks the key; the message lists the keys it has',
  },
  {
    reason: 'ConfigMapNotFound',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'a referenced ConfigMap does not exist',
  },
  {
    reason: 'ConfigMapKeyNotFound',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'a referenced ConfigMap lacks the key',
  },
  {
    reason: 'ChildConflict',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'an object with a child name already exists and is not owned by this McpServer',
  },
  {
    reason: 'IngressConflict',
    conditions: 'Ready=False, Degraded=True',
    meaning:
      "another server's Ingress already serves the same host and path in the same ingress class (or either has none: the default class) (paths compared as Ingress Prefix matching does: /base is /base/); this one's Ingress is withheld until the route is free",
  },
  {
    reason: 'ReservedServiceAccount',
    conditions: 'Ready=False, Degraded=True',
    meaning:
      "spec.pod.serviceAccountName names the operator's own ServiceAccount in the operator's namespace: refused, and a Deployment it already had is deleted",
  },
  {
    reason: 'ReservedEnvName',
    conditions: 'Ready=False, Degraded=True',
    meaning:
      "a stdio server's envFrom Secret or ConfigMap has a key that, with the source's prefix, is an MCP_GATEWAY_* variable: it would change the gateway's own settings",
  },
  {
    reason: 'Forbidden',
    conditions: 'Ready=False, Degraded=True',
    meaning: 'the API server refused to apply a child (RBAC or an admission policy); the message is its answer',
  },
  {
    reason: 'ApplyFailed',
    conditions: 'Ready=False, Degraded=True, Progressing=False',
    meaning:
      'the API server refused a child (a 4xx, or a 5xx three times in a row), with its answer and the McpServer field it is about; retried with backoff. A refused NetworkPolicy holds back the Deployment: no pod runs without the policy',
  },
  {
    reason: 'Deleting',
    conditions: 'Ready=False',
    meaning:
      'the McpServer is being deleted and a finalizer (named in the message) holds it; its children are deleted with it',
  },
  ...['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName', 'ErrImageNeverPull'].map((reason) => ({
    reason,
    conditions: 'Ready=False, Degraded=True, Progressing=False',
    meaning: "a pod cannot pull its image; the message names the pod, the container, the image and the kubelet's error",
  })),
  {
    reason: 'CrashLoopBackOff',
    conditions: 'Ready=False, Degraded=True, Progressing=False',
    meaning: 'a container keeps exiting; the message gives its last exit code and the end of its termination message',
  },
  ...['CreateContainerConfigError', 'CreateContainerError', 'RunContainerError'].map((reason) => ({
    reason,
    conditions: 'Ready=False, Degraded=True, Progressing=False',
    meaning: 'the kubelet cannot start a container (e.g. a missing Secret key); the message is its error',
  })),
  ...ROUTE_CONDITION_REASONS,
];
