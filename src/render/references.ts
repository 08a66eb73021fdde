/** The Secrets and ConfigMaps an McpServer's pods read: checked before rollout and hashed into the pod template. */
import type { McpServer } from '../api/types.generated.ts';

export interface ObjectReference {
  kind: 'Secret' | 'ConfigMap';
  name: string;
  /** The key the pod needs; undefined when the whole object is used (envFrom, volumes). */
  key?: string;
  /** The pod starts without it. */
  optional: boolean;
  /** The McpServer field that makes the reference, for messages. */
  field: string;
}

export function referencedObjects(mcp: McpServer): ObjectReference[] {
  const refs: ObjectReference[] = [];
  const spec = mcp.spec;
  spec.env?.forEach((env, i) => {
    const from = env.valueFrom;
    if (from?.secretKeyRef) {
      const { name, key, optional } = from.secretKeyRef;
      refs.push({
        kind: 'Secret',
        name,
        key,
        optional: optional ?? false,
        field: `spec.env[${i}].valueFrom.secretKeyRef`,
      });
    }
    if (from?.configMapKeyRef) {
      const { name, key, optional } = from.configMapKeyRef;
      refs.push({
        kind: 'ConfigMap',
        name,
        key,
        optional: optional ?? false,
        field: `spec.env[${i}].valueFrom.configMapKeyRef`,
      });
    }
  });
  spec.envFrom?.forEach((source, i) => {
    if (source.secretRef) {
      const { name, optional } = source.secretRef;
      refs.push({ kind: 'Secret', name, optional: optional ?? false, field: `spec.envFrom[${i}].secretRef` });
    }
    if (source.configMapRef) {
      const { name, optional } = source.configMapRef;
      refs.push({ kind: 'ConfigMap', name, optional: optional ?? false, field: `spec.envFrom[${i}].configMapRef` });
    }
  });
  const bearer = spec.auth?.bearer?.secretRef;
  if (bearer)
    refs.push({
      kind: 'Secret',
      name: bearer.name,
      key: bearer.key,
      optional: false,
      field: 'spec.auth.bearer.secretRef',
    });
  spec.pod?.volumes?.forEach((volume, i) => {
    volume.projected?.sources?.forEach((source, j) => {
      const field = `spec.pod.volumes[${i}].projected.sources[${j}]`;
      if (source.secret?.name) {
        refs.push({
          kind: 'Secret',
          name: source.secret.name,
          optional: source.secret.optional ?? false,
          field: `${field}.secret`,
        });
      }
      if (source.configMap?.name) {
        refs.push({
          kind: 'ConfigMap',
          name: source.configMap.name,
          optional: source.configMap.optional ?? false,
          field: `${field}.configMap`,
        });
      }
    });
    if (volume.secret?.secretName) {
      refs.push({
        kind: 'Secret',
        name: volume.secret.secretName,
        optional: volume.secret.optional ?? false,
        field: `spec.pod.volumes[${i}].secret`,
      });
    }
    if (volume.configMap?.name) {
      refs.push({
        kind: 'ConfigMap',
        name: volume.configMap.name,
        optional: volume.configMap.optional ?? false,
        field: `spec.pod.volumes[${i}].configMap`,
      });
    }
  });
  return refs;
}
