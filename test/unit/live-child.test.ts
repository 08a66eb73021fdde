import { describe, expect, it } from 'vitest';
import { type ChildLookup, liveChild } from '../../src/controller/live-child.ts';
import { KubeApiError, type KubeClient } from '../../src/kube/client.ts';
import type { Cached } from '../../src/kube/informer.ts';

const child = { apiVersion: 'v1', kind: 'Service', metadata: { name: 'github', namespace: 'team-a' } };
const ours: Cached = { metadata: { name: 'github', namespace: 'team-a', resourceVersion: '7' } };
const theirs: Cached = { metadata: { name: 'github', namespace: 'team-a', resourceVersion: '3' } };
const holding = (object: Cached | undefined): ChildLookup => ({
  get: (namespace, name) =>
    object && object.metadata.namespace === namespace && object.metadata.name === name ? object : undefined,
});

/** A client whose only call is the GET liveChild may make; it counts them. */
function client(answer: () => Promise<Cached>) {
  const gets: string[] = [];
  return {
    gets,
    client: {
      get: (path: string) => {
        gets.push(path);
        return answer();
      },
    } as unknown as KubeClient,
  };
}

describe('liveChild', () => {
  it.each([
    { what: 'ours, cached', owned: ours, foreign: undefined, known: true, live: ours, cached: true, reads: 0 },
    {
      what: 'a free name',
      owned: undefined,
      foreign: undefined,
      known: true,
      live: undefined,
      cached: false,
      reads: 0,
    },
    {
      what: 'a name someone else holds',
      owned: undefined,
      foreign: theirs,
      known: true,
      live: theirs,
      cached: false,
      reads: 1,
    },
    {
      what: 'no name cache: ask',
      owned: undefined,
      foreign: undefined,
      known: false,
      live: theirs,
      cached: false,
      reads: 1,
    },
  ])('$what: $reads read(s)', async ({ owned, foreign, known, live, cached, reads }) => {
    const api = client(async () => theirs);
    const result = await liveChild(child, {
      client: api.client,
      owned: holding(owned),
      foreign: known ? holding(foreign) : undefined,
      path: '/api/v1/namespaces/team-a/services/github',
    });
    expect(result).toEqual({ live, cached });
    expect(api.gets).toHaveLength(reads);
  });

  it('a name held a moment ago and gone by the read is free (404)', async () => {
    const api = client(async () => {
      throw new KubeApiError(404, 'NotFound', 'services "github" not found', undefined);
    });
    const result = await liveChild(child, {
      client: api.client,
      owned: undefined,
      foreign: holding(theirs),
      path: '/x',
    });
    expect(result).toEqual({ live: undefined, cached: false });
  });

  it('any other error is the caller’s to retry', async () => {
    const api = client(async () => {
      throw new KubeApiError(500, 'InternalError', 'etcd timeout', undefined);
    });
    await expect(
      liveChild(child, { client: api.client, owned: undefined, foreign: holding(theirs), path: '/x' }),
    ).rejects.toThrow('etcd timeout');
  });
});
