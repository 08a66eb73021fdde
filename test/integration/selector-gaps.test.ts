/**
 * The selector and topology-key values the CRD now refuses (test/fixtures/validation-gaps-selectors.ts; the CRD
 * side runs in validation-gaps.test.ts) are refused by the API server in a Deployment too: accepting them in an
 * McpServer only moved the refusal to apply time, as ApplyFailed. The look-alike is taken.
 */
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { requirementGapCases, selectorGapCases, selectorNeighbours } from '../fixtures/validation-gaps-selectors.ts';
import { adminClient, createRestrictedNamespace, KubeApiError, resourcePath, T } from '../support/kube.ts';

let admin: KubeClient;
let namespace: string;

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  namespace = await createRestrictedNamespace(admin, 'selgaps');
});

/** A dry-run Deployment whose pod has this affinity: the API server's error, or undefined when taken. */
async function deploymentError(affinity: unknown): Promise<string | undefined> {
  const labels = { app: 'probe' };
  const deployment = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'probe' },
    spec: {
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          affinity,
          securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'c',
              image: 'example.test/x:1',
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
  try {
    await admin.create(resourcePath(T.deployments, { namespace }), deployment, { dryRun: 'All' });
    return undefined;
  } catch (err) {
    if (err instanceof KubeApiError) return err.message;
    throw err;
  }
}

describe('selector values in a Deployment, on the API server', () => {
  it.each(selectorGapCases.map((c) => [c.name, c] as const))('refuses %s', async (_name, c) => {
    const message = await deploymentError(c.affinity);
    expect(message, c.name).toBeDefined();
    // The same field, under the pod template instead of spec.pod (a map's entry: the map).
    const field = c.field
      .replace('spec.pod.affinity', 'spec.template.spec.affinity')
      .replace(/(\.matchLabels)\..*$/, '$1');
    expect(message).toContain(`${field}: Invalid value`);
  });

  it.each(requirementGapCases.map((c) => [c.name, c] as const))('refuses %s', async (_name, c) => {
    const message = await deploymentError(c.affinity);
    expect(message, c.name).toBeDefined();
    expect(message).toContain(`${c.field.replace('spec.pod.affinity', 'spec.template.spec.affinity')}: ${c.apiServer}`);
  });

  it('takes the look-alikes', async () => {
    for (const c of selectorNeighbours) {
      const affinity = (c.manifest.spec as { pod: { affinity: unknown } }).pod.affinity;
      expect(await deploymentError(affinity), c.name).toBeUndefined();
    }
  });
});
