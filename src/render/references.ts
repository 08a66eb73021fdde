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

type Ref = { name?: string; key?: string; optional?: boolean } | undefined;
type Source = { name?: string; optional?: boolean; items?: Array<{ key?: string }> } | undefined;

export function referencedObjects(mcp: McpServer): ObjectReference[] {
  const refs: ObjectReference[] = [];
  const add = (kind: ObjectReference['kind'], ref: Ref, field: string, name = ref?.name) => {
    if (!ref || !name) return;
    refs.push({ kind, name, ...(ref.key ? { key: ref.key } : {}), optional: ref.optional ?? false, field });
  };
  const spec = mcp.spec;
  spec.env?.forEach((env, i) => {
    add('Secret', env.valueFrom?.secretKeyRef, `spec.env[${i}].valueFrom.secretKeyRef`);
    add('ConfigMap', env.valueFrom?.configMapKeyRef, `spec.env[${i}].valueFrom.configMapKeyRef`);
  });
  spec.envFrom?.forEach((source, i) => {
    add('Secret', source.secretRef, `spec.envFrom[${i}].secretRef`);
    add('ConfigMap', source.configMapRef, `spec.envFrom[${i}].configMapRef`);
  });
  const bearer = spec.auth?.bearer?.secretRef;
  add('Secret', bearer && { ...bearer, optional: false }, 'spec.auth.bearer.secretRef');
  // A volume's items name keys: one that is missing (and not optional) fails the mount, and the pod waits unstarted.
  const addWithItems = (kind: ObjectReference['kind'], source: Source, field: string, name = source?.name) => {
    add(kind, source, field, name);
    for (const [k, item] of (source?.items ?? []).entries()) {
      add(kind, { key: item.key, optional: source?.optional }, `${field}.items[${k}].key`, name);
    }
  };
  spec.pod?.volumes?.forEach((volume, i) => {
    volume.projected?.sources?.forEach((source, j) => {
      const field = `spec.pod.volumes[${i}].projected.sources[${j}]`;
      addWithItems('Secret', source.secret, `${field}.secret`);
      addWithItems('ConfigMap', source.configMap, `${field}.configMap`);
    });
    addWithItems('Secret', volume.secret, `spec.pod.volumes[${i}].secret`, volume.secret?.secretName);
    addWithItems('ConfigMap', volume.configMap, `spec.pod.volumes[${i}].configMap`);
  });
  return refs;
}
