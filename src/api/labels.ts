/**
 * The label keys the operator puts on every child and on the pod template (its selector among them). Defined
 * here, under the schema, so the CRD can refuse pod labels that would override them.
 */
export const LABEL_NAME = 'app.kubernetes.io/name';
export const LABEL_INSTANCE = 'app.kubernetes.io/instance';
export const LABEL_COMPONENT = 'app.kubernetes.io/component';
export const LABEL_MANAGED_BY = 'app.kubernetes.io/managed-by';
export const LABEL_PART_OF = 'app.kubernetes.io/part-of';

/** Every key of `commonLabels` (src/render/metadata.ts): pod.labels may not set them. */
export const OPERATOR_LABEL_KEYS = [
  LABEL_NAME,
  LABEL_INSTANCE,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_PART_OF,
] as const;
