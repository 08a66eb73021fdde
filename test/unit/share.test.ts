/** Cached objects share what they have in common (src/controller/share.ts), by value, read-only. */
import { describe, expect, it } from 'vitest';
import { projectChild } from '../../src/controller/cache-transforms.ts';
import { shareCommon } from '../../src/controller/share.ts';
import type { Cached } from '../../src/kube/informer.ts';

const deployment = (name: string, image = 'node:24-slim'): Cached =>
  JSON.parse(
    JSON.stringify({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name, namespace: 'ns', resourceVersion: '1', labels: { 'app.kubernetes.io/instance': name } },
      spec: {
        replicas: 1,
        selector: { matchLabels: { 'app.kubernetes.io/instance': name } },
        template: {
          spec: {
            containers: [
              {
                name: 'server',
                image,
                securityContext: { runAsNonRoot: true, capabilities: { drop: ['ALL'] } },
                resources: { limits: { memory: '256Mi' } },
              },
            ],
          },
        },
      },
    }),
  );

type Container = { securityContext: object; resources: object; image: string };
const container = (d: Cached) =>
  (d as unknown as { spec: { template: { spec: { containers: Container[] } } } }).spec.template.spec
    .containers[0] as Container;

describe('shareCommon', () => {
  it('keeps one copy of equal subtrees across objects, and the objects equal to what was parsed', () => {
    const a = projectChild(deployment('a'));
    const b = projectChild(deployment('b'));
    expect(container(a).securityContext).toBe(container(b).securityContext);
    expect(container(a).resources).toBe(container(b).resources);
    // What differs stays apart; each object reads as before.
    expect(a.metadata).not.toBe(b.metadata);
    expect(a).toEqual({ ...deployment('a'), metadata: a.metadata });
    const spec = (d: Cached) => (d as Cached & { spec: unknown }).spec;
    expect(spec(projectChild(deployment('c', 'other:1')))).not.toBe(spec(a));
  });

  it('freezes what it shares, so a write to one object cannot change another', () => {
    const a = projectChild(deployment('a'));
    expect(() => {
      (container(a).securityContext as { runAsNonRoot: boolean }).runAsNonRoot = false;
    }).toThrow(TypeError);
    expect(container(projectChild(deployment('b'))).securityContext).toEqual({
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('leaves the object and its metadata its own and writable', () => {
    const a = shareCommon({ metadata: { name: 'a' }, spec: { x: 1 } });
    a.metadata.name = 'renamed';
    (a as { extra?: number }).extra = 1;
    expect(a).toMatchObject({ metadata: { name: 'renamed' }, extra: 1 });
  });

  it('does not confuse values that print alike', () => {
    const a = shareCommon({ spec: { v: '1' } });
    const b = shareCommon({ spec: { v: 1 } });
    const c = shareCommon({ spec: { v: [1] } });
    expect([a.spec.v, b.spec.v, c.spec.v]).toEqual(['1', 1, [1]]);
  });
});
