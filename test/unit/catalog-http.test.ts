/**
 * The registry API over real HTTP against a careless or hostile client: path tricks, percent-encoding, forged
 * cursors and every non-GET method, each answered with a clear status and message, never a 500 or a hang.
 */
import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { CatalogServer } from '../../src/catalog/server.ts';
import { createLogger } from '../../src/observability/log.ts';
import { MemorySource } from '../support/memory-source.ts';

const entry = (name: string): CatalogEntry => ({
  kind: 'McpServer',
  namespace: 'team-a',
  name,
  ready: { status: 'True', reason: 'Ready', message: 'ok' },
  transport: 'stdio',
  auth: 'none',
  endpoints: [{ type: 'streamable-http', url: `http://${name}.team-a.svc:8080/mcp`, scope: 'cluster' }],
  tools: [],
});

let server: CatalogServer;
let base: string;
beforeAll(async () => {
  const source = new MemorySource();
  source.entries = ['alpha', 'beta', 'gamma'].map(entry);
  server = new CatalogServer({
    source,
    registry: { namePrefix: 'local.cluster' },
    log: createLogger({ name: 'catalog-test', level: 'silent' }),
  });
  base = `http://127.0.0.1:${(await server.listen(0, '127.0.0.1')).port}`;
});
afterAll(() => server.close());

const get = async (path: string) => {
  const res = await fetch(`${base}${path}`);
  return { status: res.status, body: await res.text() };
};

describe('the registry API and hostile paths', () => {
  it.each([
    ['/v0.1/servers/local.cluster.team-a%2Falpha/versions/latest', 200, '"name":"local.cluster.team-a/alpha"'],
    ['/v0.1/servers/local.cluster.team-a/alpha/versions/latest', 200, '"name":"local.cluster.team-a/alpha"'],
    ['/v0.1/servers/local.cluster.team-a%252Falpha/versions/latest', 404, 'Server not found'],
    ['/v0.1/servers/..%2F..%2Fetc%2Fpasswd/versions/latest', 404, 'Server not found'],
    ['/v0.1/servers/%E0%A4%A/versions', 400, 'not valid percent-encoding'],
    ['/v0.1/servers/local.cluster.team-a%2Falpha/versions/9.9.9', 404, 'Server version not found'],
    ['/v0.1/servers/a/versions/b/c', 404, 'no such path'],
    ['/v0.1/servers?cursor=!!!!', 400, 'cursor is not one this registry issued'],
    ['/v0.1/servers?limit=1e2', 400, 'limit must be a positive integer'],
    ['/v0.1/servers?updated_since=2026', 400, 'updated_since must be an RFC 3339 date-time'],
    [`/v0.1/servers?search=${encodeURIComponent('.*(')}`, 200, '"servers":[]'],
    ['//', 404, 'no such path: //'],
    ['//api/catalog', 404, 'no such path: //api/catalog'],
  ])('%s: %i', async (path, status, says) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.body).toContain(says);
  });

  it('answers any path and query with a clear status, never 500 (property)', async () => {
    const part = fc.oneof(
      fc.string({ maxLength: 12 }),
      fc.constantFrom('..', '%2F', '%2e%2e', '%00', '%', '%ZZ', 'versions', 'servers', 'v0.1', '//', 'latest'),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(part, { maxLength: 6 }), fc.string({ maxLength: 30 }), async (parts, query) => {
        const path = `/v0.1/servers/${parts.map((p) => p.replace(/[#?]/g, '')).join('/')}`;
        const res = await fetch(`${base}${encodeURI(path).replace(/%25/g, '%')}?${encodeURIComponent(query)}`);
        expect([200, 400, 404]).toContain(res.status);
        // `..` segments may normalise to a page file; everything else answers JSON.
        const type = res.headers.get('content-type') ?? '';
        if (type.startsWith('application/json')) expect(JSON.parse(await res.text())).toBeTypeOf('object');
        else
          expect([res.status, type.split(';')[0]]).toEqual([
            200,
            expect.stringMatching(/^text\/(html|css|javascript)$/),
          ]);
      }),
      { numRuns: 200 },
    );
  });

  it.each(['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])('%s is refused: the catalog is read-only', async (method) => {
    const res = await fetch(`${base}/v0.1/servers`, { method });
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('bearer auth on every data path', () => {
  it('refuses each data path and method without the exact token; the page files stay public', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const { TokenFileAuthenticator } = await import('../../src/gateway/policy/auth.ts');
    const log = createLogger({ name: 'catalog-test', level: 'silent' });
    const file = join(mkdtempSync(join(tmpdir(), 'catalog-auth-')), 'tokens');
    writeFileSync(file, 'the-token\n');
    const auth = new TokenFileAuthenticator(file, log);
    await auth.load();
    const source = new MemorySource();
    source.entries = [entry('alpha')];
    for (const basePath of ['', '/catalog']) {
      const guarded = new CatalogServer({
        source,
        registry: { namePrefix: 'local.cluster' },
        log,
        authenticator: auth,
        basePath,
      });
      const url = `http://127.0.0.1:${(await guarded.listen(0, '127.0.0.1')).port}${basePath}`;
      try {
        const paths = [
          '/api/catalog',
          '/api/catalog?x=1',
          '/api/events',
          '/v0/servers',
          '/v0.1/servers',
          '/v0.1/servers/',
          '/v0.1/servers/local.cluster.team-a%2Falpha/versions',
          '/v0.1/servers/local.cluster.team-a%2Falpha/versions/latest',
          '/./api/catalog',
          '/x/../api/catalog',
        ];
        for (const path of paths)
          for (const method of ['GET', 'HEAD'])
            for (const authorization of [
              undefined,
              'Bearer',
              'Bearer the-toke',
              'Bearer the-token2',
              'Basic dGhlLXRva2Vu',
              'the-token',
            ]) {
              const res = await fetch(`${url}${path}`, { method, headers: authorization ? { authorization } : {} });
              await res.body?.cancel();
              expect(res.status, `${method} ${basePath}${path} ${authorization}`).toBe(401);
            }
        const ok = await fetch(`${url}/v0.1/servers`, { headers: { authorization: 'Bearer the-token' } });
        expect(ok.status).toBe(200);
        for (const asset of ['/', '/catalog.js', '/catalog.css']) {
          const res = await fetch(`${url}${asset}`);
          expect(res.status, asset).toBe(200);
          expect(await res.text()).not.toContain('alpha');
        }
      } finally {
        guarded.server.closeAllConnections();
        await guarded.close();
      }
    }
  });
});

describe('OIDC auth while the identity provider cannot be reached', () => {
  it('answers 503 with Retry-After, not a 401 that tells the page and clients to drop a good token', async () => {
    const { createServer } = await import('node:net');
    const { OidcAuthenticator } = await import('../../src/gateway/policy/auth.ts');
    // A port that was just free: nothing listens there, so the JWKS fetch is refused.
    const closed = createServer();
    const port = await new Promise<number>((resolve) =>
      closed.listen(0, '127.0.0.1', () => resolve((closed.address() as { port: number }).port)),
    );
    await new Promise((resolve) => closed.close(resolve));
    const log = createLogger({ name: 'catalog-test', level: 'silent' });
    const auth = new OidcAuthenticator({
      issuer: 'https://id.example.test',
      audience: 'catalog',
      jwksUrl: `http://127.0.0.1:${port}/jwks`,
      log,
    });
    const source = new MemorySource();
    source.entries = [entry('alpha')];
    const guarded = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log, authenticator: auth });
    const url = `http://127.0.0.1:${(await guarded.listen(0, '127.0.0.1')).port}`;
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const jwt = `${b64({ alg: 'RS256', kid: 'k1' })}.${b64({ iss: 'https://id.example.test', aud: 'catalog' })}.c2ln`;
    try {
      for (const path of ['/v0.1/servers', '/api/catalog', '/api/events']) {
        const res = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${jwt}` } });
        const body = await res.text();
        expect(res.status, path).toBe(503);
        expect(res.headers.get('retry-after'), path).toBe('5');
        expect(res.headers.get('www-authenticate'), path).toBeNull();
        expect(body, path).toContain('the identity provider cannot be reached');
      }
      // A request without a token is still the client's fault.
      const anonymous = await fetch(`${url}/v0.1/servers`);
      await anonymous.body?.cancel();
      expect(anonymous.status).toBe(401);
    } finally {
      await guarded.close();
    }
  });
});

describe('before the watch has listed the cluster', () => {
  it('answers the data paths 503 with Retry-After, not an empty list a mirroring client would act on', async () => {
    const log = createLogger({ name: 'catalog-test', level: 'silent' });
    const source = new MemorySource();
    source.entries = [entry('alpha')];
    const listing = Object.assign(Object.create(source) as MemorySource, { synced: false });
    const early = new CatalogServer({ source: listing, registry: { namePrefix: 'local.cluster' }, log });
    const url = `http://127.0.0.1:${(await early.listen(0, '127.0.0.1')).port}`;
    try {
      for (const path of ['/v0.1/servers', '/v0/servers', '/api/catalog', '/api/events']) {
        const res = await fetch(`${url}${path}`);
        expect(res.status, path).toBe(503);
        expect(res.headers.get('retry-after'), path).toBe('1');
        expect(await res.text(), path).toContain('still listing the cluster');
      }
      // The page's own files and the probes answer as before.
      for (const [path, status] of [
        ['/', 200],
        ['/healthz', 200],
        ['/readyz', 503],
      ] as const) {
        const res = await fetch(`${url}${path}`);
        await res.body?.cancel();
        expect(res.status, path).toBe(status);
      }
    } finally {
      await early.close();
    }
  });
});

describe('a page on another site rebinding its name to the loopback catalog', () => {
  /** One request with this Host header, as a browser sends it after DNS rebinding (fetch will not set Host). */
  const withHost = (port: number, path: string, host: string) =>
    new Promise<number>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      req.end();
    });

  it('is refused on loopback unless the Host is loopback; a catalog on every address answers any Host', async () => {
    const log = createLogger({ name: 'catalog-test', level: 'silent' });
    const source = new MemorySource();
    source.entries = [entry('alpha')];
    const local = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log });
    const { port } = await local.listen(0, '127.0.0.1');
    try {
      for (const path of ['/api/catalog', '/api/events', '/v0.1/servers', '/'])
        expect(await withHost(port, path, `attacker.example:${port}`), path).toBe(403);
      for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `[::1]:${port}`, '127.1.2.3'])
        expect(await withHost(port, '/v0.1/servers', host), host).toBe(200);
    } finally {
      await local.close();
    }
    const everywhere = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log });
    const open = await everywhere.listen(0, '0.0.0.0');
    try {
      expect(await withHost(open.port, '/v0.1/servers', 'catalog.example.com')).toBe(200);
    } finally {
      await everywhere.close();
    }
  });
});
