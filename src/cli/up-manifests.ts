/** The manifests `up` applies: examples/ read from disk, placeholder Secrets for what they reference, the apply. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { McpServer } from '../api/types.generated.ts';
import { type KubeClient, resourcePath } from '../kube/client.ts';

export const RESOURCES: Record<string, { apiVersion: string; plural: string }> = {
  McpServer: { apiVersion: 'mcpoperator.io/v1alpha1', plural: 'mcpservers' },
  Secret: { apiVersion: 'v1', plural: 'secrets' },
  ConfigMap: { apiVersion: 'v1', plural: 'configmaps' },
};

/** The examples reference Secrets a real user creates by hand; the demo makes placeholders so everything converges. */
export type PlaceholderSecret = KubernetesObject & { stringData: Record<string, string> };

export function demoSecrets(servers: McpServer[]): PlaceholderSecret[] {
  const needed = new Map<string, Set<string>>();
  const add = (name: string, key: string) => needed.set(name, (needed.get(name) ?? new Set()).add(key));
  for (const s of servers) {
    for (const env of s.spec.env ?? [])
      if (env.valueFrom?.secretKeyRef) add(env.valueFrom.secretKeyRef.name, env.valueFrom.secretKeyRef.key);
    const bearer = s.spec.auth?.bearer?.secretRef;
    if (bearer) add(bearer.name, bearer.key ?? 'token');
  }
  return [...needed].map(([name, keys]) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, labels: { 'mcpoperator.io/demo': 'placeholder' } },
    stringData: Object.fromEntries([...keys].map((k) => [k, `placeholder-${k}`])),
  }));
}

export function readManifests(dir: string): KubernetesObject[] {
  const objects: KubernetesObject[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(dir, file), 'utf8'))) {
      const object = doc.toJS() as KubernetesObject | null;
      if (object?.kind && RESOURCES[object.kind]) objects.push(object);
    }
  }
  return objects;
}

export async function applyAll(client: KubeClient, namespace: string, objects: KubernetesObject[]): Promise<void> {
  for (const object of objects) {
    const type = RESOURCES[object.kind as string];
    if (!type) continue;
    const name = object.metadata?.name;
    const body = { ...object, metadata: { ...object.metadata, namespace } };
    await client.apply(resourcePath(type, { namespace, name }), body, 'mcp-operator-up');
  }
}

/** A namespace enforcing Pod Security "restricted" (created, or left as it is). */
export async function restrictedNamespace(client: KubeClient, name: string): Promise<void> {
  await client.apply(
    resourcePath({ apiVersion: 'v1', plural: 'namespaces' }, { name }),
    {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    },
    'mcp-operator-up',
  );
}

export function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
