/** The informer's cache bookkeeping (src/kube/informer.ts): write-through over the version read, and its index. */
import { describe, expect, it } from 'vitest';
import type { KubeClient } from '../../src/kube/client.ts';
import { type Cached, Informer } from '../../src/kube/informer.ts';
import { createLogger } from '../../src/observability/log.ts';

const object = (name: string, resourceVersion: string, owner = 'a'): Cached => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'ns', resourceVersion, labels: { owner } } as Cached['metadata'],
});

/** Never started: no request is made, only the cache is exercised. */
const informer = () =>
  new Informer<Cached>({
    client: {} as KubeClient,
    type: { apiVersion: 'v1', plural: 'services' },
    namespace: 'ns',
    onEvent: () => {},
    log: createLogger({ name: 'test', level: 'silent' }),
    indexBy: (o) => (o.metadata as { labels?: Record<string, string> }).labels?.owner,
  });

describe('informer write-through (remember)', () => {
  it.each<[string, string | undefined, string | undefined, string | undefined]>([
    ['absent, read as absent: stored', undefined, undefined, '2'],
    ['cached at 1, read at 1: replaced', '1', '1', '2'],
    ['cached at 3 (the watch was faster), read at 1: the newer stays', '3', '1', '3'],
    ['cached at 1, read as absent (from the API server): left to the watch', '1', undefined, '1'],
  ])('%s', (_name, cached, read, expected) => {
    const cache = informer();
    if (cached) cache.remember(object('s', cached), undefined);
    cache.remember(object('s', '2'), read);
    expect(cache.get('ns', 's')?.metadata.resourceVersion).toBe(expected);
  });

  it('keeps the index in step when an object moves to another key or is replaced', () => {
    const cache = informer();
    cache.remember(object('s', '1', 'a'), undefined);
    cache.remember(object('t', '1', 'a'), undefined);
    expect(
      cache
        .indexed('a')
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual(['s', 't']);
    cache.remember(object('s', '2', 'b'), '1');
    expect(cache.indexed('a').map((o) => o.metadata.name)).toEqual(['t']);
    expect(cache.indexed('b').map((o) => o.metadata.resourceVersion)).toEqual(['2']);
    expect(cache.indexed('none')).toEqual([]);
  });
});
