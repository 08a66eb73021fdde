/**
 * The Kubernetes types McpServer passes through carry their upstream schemas (src/api/k8s-types.ts): `render`
 * refuses a typo or a wrong type deep inside them with the field path, as the CRD does (the integration test
 * test/integration/pass-through.test.ts feeds the same cases to the real API server), and valid ones reach the
 * children unchanged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { mcpServerCrd } from '../../src/api/crd.ts';
import { KUBERNETES_VERSION } from '../../src/api/k8s-types.ts';
import { ALLOWED_VOLUME_SOURCES } from '../../src/api/pod-layout.ts';
import { mcpServerSchema } from '../../src/api/schema.ts';
import { parseMcpServer } from '../../src/api/validate.ts';
import { runRender } from '../../src/cli/render.ts';
import { passThroughCases, passThroughServer, passThroughSpec } from '../fixtures/pass-through.ts';
import { selectorGapCases } from '../fixtures/validation-gaps-selectors.ts';

const ROOT = join(import.meta.dirname, '../..');

function render(manifest: object) {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const code = runRender(['-f', 'server.yaml'], {
    stdout: (t) => stdout.push(t),
    stderr: (t) => stderr.push(t),
    readFile: () => stringify(manifest),
  });
  return { code, stdout: stdout.join(''), stderr: stderr.join('') };
}

describe('pass-through Kubernetes types', () => {
  it.each(passThroughCases.map((c) => [c.name, c] as const))('render refuses %s, naming the field', (_name, c) => {
    const r = render(c.manifest);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${c.field}:`);
    expect(r.stderr).toMatch(c.says);
    expect(r.stdout).toBe('');
  });

  it('suggests the field a typo was meant to be, and where kubectl explain documents it', () => {
    const r = render(passThroughCases[0]?.manifest as object);
    expect(r.stderr).toContain(
      'unknown field "operatr": did you mean "operator"? (kubectl explain mcpserver.spec.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms.matchExpressions)',
    );
  });

  it('says what a topology key and selector labels must look like, with an example', () => {
    const [emptyKey, , spacedValue] = selectorGapCases;
    expect(render(emptyKey?.manifest as object).stderr).toContain(
      `${emptyKey?.field}: "" does not match a label key: letters, digits, - _ . (at most 63, starting and ending alphanumeric), optionally prefixed by a DNS name and /, e.g. kubernetes.io/hostname`,
    );
    expect(render(spacedValue?.manifest as object).stderr).toContain(
      `${spacedValue?.field}: "my app" does not match a label value: at most 63 letters`,
    );
    // In a NetworkPolicy peer too (its podSelector is a label selector).
    const peer = passThroughServer();
    (peer.spec as Record<string, unknown>).networkPolicy = {
      ingressFrom: [{ podSelector: { matchLabels: { app: 'a b' } } }],
    };
    expect(render(peer).stderr).toContain(
      'spec.networkPolicy.ingressFrom[0].podSelector.matchLabels.app: "a b" does not match a label value',
    );
  });

  it('accepts valid values of every pass-through type and renders them into the children unchanged', () => {
    const mcp = parseMcpServer(passThroughServer());
    expect(mcp.spec.pod).toEqual(passThroughSpec.pod);
    expect(mcp.spec.networkPolicy).toEqual(passThroughSpec.networkPolicy);
    const r = render(passThroughServer());
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    for (const text of [
      'operator: In',
      'podAntiAffinity',
      'tolerationSeconds: 300',
      'sizeLimit: 64Mi',
      'endPort: 8100',
    ])
      expect(r.stdout).toContain(text);
  });

  it('keeps the CRD small: below 256 KiB, so even a client-side kubectl apply (last-applied annotation) takes it', () => {
    const size = Buffer.byteLength(JSON.stringify(mcpServerCrd()));
    expect(size).toBeLessThan(256 * 1024);
  });

  it('takes the schemas from the pinned Kubernetes version, the one the test control plane runs', () => {
    const pin = readFileSync(join(ROOT, 'scripts/k8s-binaries.sh'), 'utf8').match(/K8S_VERSION:-(v[0-9.]+)/)?.[1];
    expect(KUBERNETES_VERSION).toBe(pin);
    const data = JSON.parse(readFileSync(join(ROOT, `src/api/k8s-openapi/${pin}.json`), 'utf8'));
    expect(data.kubernetesVersion).toBe(pin);
    // Every volume source the restricted-volume rule allows has its upstream schema, and no other source is there.
    const volume = mcpServerSchema.properties?.spec?.properties?.pod?.properties?.volumes?.items;
    expect(Object.keys(volume?.properties ?? {}).sort()).toEqual(['name', ...ALLOWED_VOLUME_SOURCES].sort());
    for (const source of ALLOWED_VOLUME_SOURCES) expect(volume?.properties?.[source]?.properties).toBeDefined();
  });
});
