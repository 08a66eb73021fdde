/**
 * An informer of a type the API server does not serve yet (an operator upgraded before its VirtualMcpServer CRD):
 * optional, it starts synced and empty and picks the type up once its CRD is installed; not optional, its start
 * fails with the API server's 404. Against the real API server, with a CRD of a test group of its own.
 */
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { type Cached, Informer } from '../../src/kube/informer.ts';
import { createLogger } from '../../src/observability/log.ts';
import { adminClient, eventually, KubeApiError, resourcePath, T } from '../support/kube.ts';

const GROUP = 'informer-optional.mcpoperator-test.io';
const WIDGETS = { apiVersion: `${GROUP}/v1`, plural: 'widgets' };
const CRD_NAME = `widgets.${GROUP}`;
const log = createLogger({ name: 'informer-optional', level: 'silent' });

let admin: KubeClient;
const informers: Informer<Cached>[] = [];
const informer = (optional: boolean, events: string[] = []) => {
  const i = new Informer<Cached>({
    client: admin,
    type: WIDGETS,
    onEvent: (e, o) => events.push(`${e}:${o.metadata.name}`),
    log,
    optional,
    retryUnservedMs: 300,
  });
  informers.push(i);
  return i;
};

afterAll(async () => {
  for (const i of informers) i.stop();
  await admin.delete(resourcePath(T.crds, { name: CRD_NAME })).catch(() => {});
});

describe('an informer of a type not served yet', () => {
  it('optional: starts synced and empty, then lists and watches the type once its CRD is installed', async () => {
    admin = adminClient(inject('adminKubeconfig'));
    await expect(informer(false).start()).rejects.toSatisfy((e) => e instanceof KubeApiError && e.status === 404);

    const events: string[] = [];
    const widgets = informer(true, events);
    await widgets.start();
    expect(widgets.synced).toBe(true);
    expect(widgets.list()).toEqual([]);

    await admin.create(resourcePath(T.crds), {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: CRD_NAME },
      spec: {
        group: GROUP,
        scope: 'Cluster',
        names: { plural: 'widgets', singular: 'widget', kind: 'Widget', listKind: 'WidgetList' },
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
          },
        ],
      },
    });
    await eventually(
      'the CRD served',
      async () => {
        try {
          return await admin.create(resourcePath(WIDGETS), {
            apiVersion: WIDGETS.apiVersion,
            kind: 'Widget',
            metadata: { name: 'first' },
          });
        } catch {
          return undefined;
        }
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    await eventually('the first widget cached', async () => widgets.get(undefined, 'first'), { timeoutMs: 30_000 });
    // Watching now, not only listed: a later object arrives by the watch.
    await admin.create(resourcePath(WIDGETS), {
      apiVersion: WIDGETS.apiVersion,
      kind: 'Widget',
      metadata: { name: 'second' },
    });
    await eventually('the second widget cached', async () => widgets.get(undefined, 'second'), { timeoutMs: 30_000 });
    expect(events).toEqual(['add:first', 'add:second']);
  });
});
