/**
 * Shared helpers of the renderer unit tests (render*.test.ts): a manifest through parseMcpServer, as the API
 * server would default it, then rendered; and finders for the children and their containers.
 */
import type { KubernetesObject, V1Container, V1Deployment, V1Probe, V1Volume } from '@kubernetes/client-node';
import { expect } from 'vitest';
import { parseMcpServer } from '../../src/api/validate.ts';
import { type RenderOptions, renderChildren } from '../../src/render/index.ts';
import type { Manifest } from '../fixtures/manifests.ts';

export const GATEWAY_IMAGE = 'registry.test/mcp-operator:9.9.9';
export const EXPECTED_LABELS = (instance: string) => ({
  'app.kubernetes.io/name': 'mcp-server',
  'app.kubernetes.io/instance': instance,
  'app.kubernetes.io/component': 'mcp-server',
  'app.kubernetes.io/managed-by': 'mcp-operator',
  'app.kubernetes.io/part-of': 'mcp-operator',
});

export function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}`);
  return value;
}

export function withMeta(manifest: Manifest, meta: Record<string, unknown>): Manifest {
  return { ...manifest, metadata: { ...manifest.metadata, ...meta } };
}

export function render(manifest: Manifest, options: Partial<RenderOptions> = {}): KubernetesObject[] {
  return renderChildren(parseMcpServer(manifest), { gatewayImage: GATEWAY_IMAGE, ...options });
}

export function find<T extends KubernetesObject>(children: KubernetesObject[], kind: string): T | undefined {
  const found = children.filter((c) => c.kind === kind);
  expect(found.length, `at most one ${kind}`).toBeLessThanOrEqual(1);
  return found[0] as T | undefined;
}

export const deploymentOf = (manifest: Manifest, options: Partial<RenderOptions> = {}): V1Deployment =>
  must(find<V1Deployment>(render(manifest, options), 'Deployment'), 'a Deployment');
export const podSpecOf = (d: V1Deployment) => must(d.spec?.template.spec, 'a pod spec');
export const containersOf = (d: V1Deployment): V1Container[] => podSpecOf(d).containers;
export const initContainersOf = (d: V1Deployment): V1Container[] => podSpecOf(d).initContainers ?? [];
export const allContainersOf = (d: V1Deployment): V1Container[] => [...initContainersOf(d), ...containersOf(d)];
export const container = (d: V1Deployment, name: string): V1Container =>
  must(
    containersOf(d).find((c) => c.name === name),
    `container ${name}`,
  );
export const envValue = (c: V1Container, name: string): string | undefined =>
  c.env?.find((e) => e.name === name)?.value;
export const gatewayEnvNames = (c: V1Container): string[] =>
  (c.env ?? []).map((e) => e.name).filter((n) => n.startsWith('MCP_GATEWAY_'));
export const volume = (d: V1Deployment, name: string): V1Volume =>
  must(
    podSpecOf(d).volumes?.find((v) => v.name === name),
    `volume ${name}`,
  );
export const mountPathOf = (c: V1Container, volumeName: string) =>
  c.volumeMounts?.filter((m) => m.name === volumeName).map((m) => m.mountPath);

export function probesOf(c: V1Container): V1Probe[] {
  return [c.startupProbe, c.livenessProbe, c.readinessProbe].filter((p): p is V1Probe => p !== undefined);
}
