/**
 * The node cluster's DNS (src/local-cluster/cluster-dns.ts), served on loopback and asked by Node's own resolver
 * (c-ares, a real DNS client): Service names resolve, unknown ones are NXDOMAIN, other names go upstream.
 */
import { createSocket, type Socket } from 'node:dgram';
import { Resolver } from 'node:dns/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  answer,
  firstNameserver,
  parseQuery,
  serveClusterDns,
  serviceOf,
} from '../../src/local-cluster/cluster-dns.ts';
import { freePort } from '../../src/local-cluster/control-plane.ts';

const services: Record<string, string> = { 'memory.team': '10.96.0.17', 'kubernetes.default': '10.96.0.1' };
let cluster: Socket;
let upstream: Socket;
let resolver: Resolver;

beforeAll(async () => {
  // The host's resolver: answers 192.0.2.9 for any name.
  upstream = createSocket('udp4');
  upstream.on('message', (msg, from) => {
    const q = parseQuery(msg);
    if (q)
      upstream.send(
        answer(msg, { ...q, name: 'any.where.svc.cluster.local' }, () => '192.0.2.9'),
        from.port,
        from.address,
      );
  });
  await new Promise<void>((ok) => upstream.bind(0, '127.0.0.1', () => ok()));
  const port = await freePort();
  cluster = await serveClusterDns({
    host: '127.0.0.1',
    port,
    lookup: (service, namespace) => services[`${service}.${namespace}`],
    upstream: '127.0.0.1',
    upstreamPort: upstream.address().port,
  });
  resolver = new Resolver({ timeout: 2_000, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
});

afterAll(() => {
  cluster?.close();
  upstream?.close();
});

describe('cluster DNS', () => {
  it('resolves a Service by its full name, case-insensitively', async () => {
    expect(await resolver.resolve4('memory.team.svc.cluster.local')).toEqual(['10.96.0.17']);
    expect(await resolver.resolve4('Kubernetes.Default.SVC.cluster.local')).toEqual(['10.96.0.1']);
  });

  it('answers NXDOMAIN for a name of the cluster domain that is no Service (the search list goes on)', async () => {
    await expect(resolver.resolve4('memory.team.svc.team.svc.cluster.local')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    await expect(resolver.resolve4('github.team.svc.cluster.local')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  it('has no AAAA record for a Service: an empty answer, not an error the client waits on', async () => {
    await expect(resolver.resolve6('memory.team.svc.cluster.local')).rejects.toMatchObject({ code: 'ENODATA' });
  });

  it('relays every other name to the host resolver', async () => {
    expect(await resolver.resolve4('registry.example.com')).toEqual(['192.0.2.9']);
  });

  it('reads names and nameservers', () => {
    expect(serviceOf('a.b.svc.cluster.local')).toEqual({ service: 'a', namespace: 'b' });
    expect(serviceOf('a.b.c.svc.cluster.local')).toBeUndefined();
    expect(serviceOf('a.b.svc.example.com')).toBeUndefined();
    expect(firstNameserver('search x\nnameserver 10.255.255.53\nnameserver 1.1.1.1\n')).toBe('10.255.255.53');
  });
});
