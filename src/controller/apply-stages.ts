/** The order children are applied in: a stage that fails holds back the stages after it. */
import type { KubernetesObject } from '@kubernetes/client-node';

/**
 * An McpServer's apply order. The ServiceAccount first (pods are refused without it), then the NetworkPolicy: no
 * pod may be created or updated without the policy the spec asks for. Then every other child side by side.
 */
export const APPLY_STAGES: ReadonlyArray<ReadonlyArray<string>> = [['ServiceAccount'], ['NetworkPolicy']];

/** The children in `stages` (by kind, in that order), then every other child side by side; empty stages dropped. */
export function applyStages(
  desired: KubernetesObject[],
  stages: ReadonlyArray<ReadonlyArray<string>>,
): KubernetesObject[][] {
  const staged = new Set(stages.flat());
  return [
    ...stages.map((kinds) => desired.filter((c) => kinds.includes(c.kind ?? ''))),
    desired.filter((c) => !staged.has(c.kind ?? '')),
  ].filter((stage) => stage.length > 0);
}

/**
 * The children that only expose a server, which a blocked reconcile still deletes once the spec stops asking for
 * them: nothing runs on them, and whoever removed spec.ingress wants the server off that route now, not once
 * an unrelated blocker (a missing Secret, a refused Deployment) is fixed. (The HTTPRoute: gateway-api.ts.)
 */
export const EXPOSURE_KINDS: ReadonlyArray<string> = ['Ingress'];
