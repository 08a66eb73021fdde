/** The manifests `up` applies: examples/ read from disk, placeholder Secrets for what they reference, the apply. */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { KubernetesObject } from '@kubernetes/client-node';
import { parseAllDocuments } from 'yaml';
import type { McpServer } from '../api/types.generated.ts';
import { parseMcpServer } from '../api/validate.ts';
import { type KubeClient, resourcePath } from '../kube/client.ts';
import { readBounded } from './render.ts';

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

/**
 * The McpServers, Secrets and ConfigMaps of `dir`'s YAML files (other kinds are left to kubectl). Read before
 * anything starts: a missing directory, a file that is not YAML, an invalid McpServer or no McpServer at all is an
 * Error naming the file and the fix, not a stack trace after the cluster is up.
 */
export function readManifests(dir: string): KubernetesObject[] {
  let files: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('it is not a directory');
    files = readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'it does not exist' : (err as Error).message;
    throw new Error(`--examples ${dir}: ${reason}; pass a directory of McpServer manifests (*.yaml)`);
  }
  const objects: KubernetesObject[] = [];
  for (const file of files) {
    const path = join(dir, file);
    let text: string;
    try {
      text = readBounded(path);
    } catch (err) {
      throw new Error(`cannot read ${path}: ${(err as Error).message}`);
    }
    for (const [index, doc] of parseAllDocuments(text, { merge: true }).entries()) {
      const where = `${path} (document ${index + 1})`;
      if (doc.errors.length) throw new Error(`${where} is not valid YAML: ${doc.errors[0]?.message}`);
      let object: KubernetesObject | null;
      try {
        object = doc.toJS() as KubernetesObject | null;
      } catch (err) {
        throw new Error(`${where} cannot be read: ${(err as Error).message}`);
      }
      if (!object?.kind || !RESOURCES[object.kind]) continue;
      if (object.kind === 'McpServer') {
        try {
          parseMcpServer(object);
        } catch (err) {
          throw new Error(`${where}: ${(err as Error).message}`);
        }
      }
      objects.push(object);
    }
  }
  if (!objects.some((o) => o.kind === 'McpServer'))
    throw new Error(`--examples ${dir}: no McpServer in its *.yaml files; pass a directory that holds some`);
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
