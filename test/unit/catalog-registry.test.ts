/**
 * The catalog's pure mappers: objects to entries (one path for every McpServer-like kind), entries to the
 * official registry's server.json and read-API envelopes, validated against the vendored official schemas
 * (test/fixtures/mcp-registry), and the list endpoint's paging.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CatalogEntry, entryOf, type StatusLike } from '../../src/catalog/entry.ts';
import {
  listServers,
  MAX_NAME_PREFIX,
  parseListQuery,
  registryName,
  SERVER_SCHEMA_URL,
  serverJson,
  serverResponse,
  versionResponse,
} from '../../src/catalog/registry.ts';
import { REGISTRY_FIXTURES as FIXTURES, registryValidators } from '../support/registry-schema.ts';

const v = registryValidators();
const valid = (validate: ValidateFunction, value: unknown) => {
  const ok = validate(value);
  expect(validate.errors ?? [], JSON.stringify(value)).toEqual([]);
  return ok;
};

const OPTIONS = { namePrefix: 'com.example.cluster' };

function mcp(name: string, extra: { spec?: StatusLike['spec']; status?: StatusLike['status'] } = {}): StatusLike {
  return {
    kind: 'McpServer',
    metadata: { name, namespace: 'team-a', creationTimestamp: '2026-11-30T10:00:00Z' },
    spec: { transport: 'stdio', gateway: { enabled: true }, ...extra.spec },
    status: {
      url: `http://${name}.team-a.svc:8080/mcp`,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Available',
          message: 'all replicas ready',
          lastTransitionTime: '2026-11-30T10:05:00Z',
        },
      ],
      serverInfo: { name: 'github-mcp-server', version: '0.20.0', protocolVersion: '2025-06-18' },
      tools: ['get_issue', 'list_prs'],
      ...extra.status,
    },
  };
}

describe('the vendored official schema', () => {
  it('is the published 2025-12-11 server.schema.json, byte for byte', () => {
    const bytes = readFileSync(join(FIXTURES, 'server.schema.json'));
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(
      '3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0',
    );
    expect(JSON.parse(bytes.toString('utf8')).$id).toBe(SERVER_SCHEMA_URL);
  });

  it('refuses what it should (so a pass below means something)', () => {
    expect(v.server({ name: 'no-slash', description: 'x', version: '1' })).toBe(false);
    expect(v.server({ name: 'a.b/c', description: 'x'.repeat(101), version: '1' })).toBe(false);
    expect(
      v.server({ name: 'a.b/c', description: 'x', version: '1', remotes: [{ type: 'sse', url: 'ftp://x' }] }),
    ).toBe(false);
    expect(
      v.response({
        server: { name: 'a.b/c', description: 'x', version: '1' },
        _meta: { 'io.modelcontextprotocol.registry/official': { extra: 1 } },
      }),
    ).toBe(false);
  });
});

describe('entryOf', () => {
  it('shows what each tool does, from status.toolDescriptions, and nothing for a name it does not list', () => {
    const entry = entryOf(
      mcp('github', {
        status: { toolDescriptions: { get_issue: 'Get an issue by number', constructor: 'not a tool of this server' } },
      }),
    );
    expect(entry.tools).toEqual([{ name: 'get_issue', description: 'Get an issue by number' }, { name: 'list_prs' }]);
  });

  it('reads Ready, the URLs, the transports and the auth mode from an McpServer', () => {
    const entry = entryOf(
      mcp('github', {
        spec: { auth: { bearer: { secretRef: { name: 's' } } }, title: 'GitHub', description: 'Issues and PRs' },
        status: { externalURL: 'https://mcp.example.com/github/mcp' },
      }),
    );
    expect(entry).toMatchObject({
      kind: 'McpServer',
      namespace: 'team-a',
      name: 'github',
      title: 'GitHub',
      description: 'Issues and PRs',
      ready: { status: 'True', reason: 'Available' },
      transport: 'stdio',
      auth: 'bearer',
      tools: [{ name: 'get_issue' }, { name: 'list_prs' }],
      updatedAt: '2026-11-30T10:05:00Z',
    });
    expect(entry.endpoints).toEqual([
      { type: 'streamable-http', url: 'https://mcp.example.com/github/mcp', scope: 'external' },
      { type: 'sse', url: 'https://mcp.example.com/github/sse', scope: 'external' },
      { type: 'streamable-http', url: 'http://github.team-a.svc:8080/mcp', scope: 'cluster' },
      { type: 'sse', url: 'http://github.team-a.svc:8080/sse', scope: 'cluster' },
    ]);
  });

  it('without the gateway, offers only what the server itself speaks', () => {
    const entry = entryOf(
      mcp('legacy', {
        spec: { transport: 'sse', gateway: { enabled: false } },
        status: { url: 'http://legacy.team-a.svc:8080/sse' },
      }),
    );
    expect(entry.endpoints).toEqual([{ type: 'sse', url: 'http://legacy.team-a.svc:8080/sse', scope: 'cluster' }]);
  });

  it('maps a VirtualMcpServer through the same function (status url, conditions, tools with descriptions)', () => {
    const entry = entryOf(
      {
        metadata: { name: 'all', namespace: 'team-a' },
        spec: { servers: [{ name: 'github' }] },
        status: {
          url: 'http://all.team-a.svc:8080/mcp',
          conditions: [{ type: 'Ready', status: 'False', reason: 'BackendsNotReady', message: 'github is not Ready' }],
          tools: [{ name: 'gh_get_issue', description: 'Get an issue' }],
          readyBackends: '1/2',
        },
      },
      'VirtualMcpServer',
    );
    expect(entry).toMatchObject({
      kind: 'VirtualMcpServer',
      transport: 'virtual',
      ready: { status: 'False', reason: 'BackendsNotReady', message: 'github is not Ready' },
      tools: [{ name: 'gh_get_issue', description: 'Get an issue' }],
      readyBackends: '1/2',
    });
    expect(entry.endpoints.map((e) => e.type)).toEqual(['streamable-http', 'sse']);
  });

  it('says Unknown, with a reason, before the operator wrote a status', () => {
    const entry = entryOf({ kind: 'McpServer', metadata: { name: 'new', namespace: 'n' }, spec: {} });
    expect(entry.ready).toMatchObject({ status: 'Unknown', reason: 'NotObserved' });
    expect(entry.endpoints).toEqual([]);
  });
});

describe('the registry mapping', () => {
  const entry = (name: string, extra?: Parameters<typeof mcp>[1]) => entryOf(mcp(name, extra));

  it('maps an entry to a server.json the official schema accepts, header templates without values', () => {
    const withAuth = entry('github', {
      spec: { auth: { bearer: {} }, title: 'GitHub', description: 'Issues and PRs' },
      status: { externalURL: 'https://mcp.example.com/github/mcp' },
    });
    const server = serverJson(withAuth, OPTIONS);
    valid(v.server, server);
    expect(server).toMatchObject({
      $schema: SERVER_SCHEMA_URL,
      name: 'com.example.cluster.team-a/github',
      title: 'GitHub',
      description: 'Issues and PRs',
      version: '0.20.0',
    });
    expect(server.remotes.map((r) => [r.type, r.url])).toEqual([
      ['streamable-http', 'https://mcp.example.com/github/mcp'],
      ['sse', 'https://mcp.example.com/github/sse'],
      ['streamable-http', 'http://github.team-a.svc:8080/mcp'],
      ['sse', 'http://github.team-a.svc:8080/sse'],
    ]);
    expect(server.remotes[0]?.headers).toEqual([
      expect.objectContaining({ name: 'Authorization', isRequired: true, isSecret: true, value: 'Bearer {token}' }),
    ]);
    const open = serverJson(entry('open'), OPTIONS);
    valid(v.server, open);
    expect(open.remotes.every((r) => r.headers === undefined)).toBe(true);
  });

  it('fills what the schema requires when the spec and status are silent, within its limits', () => {
    const bare = entryOf({ kind: 'McpServer', metadata: { name: 'bare', namespace: 'n' } });
    const long = entry('long', { spec: { description: 'd'.repeat(140), title: 't'.repeat(140) } });
    for (const e of [bare, long]) valid(v.server, serverJson(e, OPTIONS));
    expect(serverJson(bare, OPTIONS)).toMatchObject({
      description: 'McpServer n/bare',
      version: '0.0.0-unknown',
      remotes: [],
    });
    expect(serverJson(long, OPTIONS).description).toHaveLength(100);
  });

  it('counts limits in characters, as the schema and the CRD do: an emoji is never cut in half', () => {
    // The CRD lets 100 emoji through (Kubernetes counts characters); each is two UTF-16 code units.
    const full = '\u{1F680}'.repeat(100);
    const fits = entry('emoji', { spec: { description: full, title: full } });
    expect(serverJson(fits, OPTIONS)).toMatchObject({ description: full, title: full });
    const version = `1.0.0-${'\u{1F680}'.repeat(300)}`;
    const over = entry('emoji-version', { status: { serverInfo: { name: 's', version } } });
    const clipped = serverJson(over, OPTIONS).version;
    expect(clipped.isWellFormed()).toBe(true);
    expect(Array.from(clipped)).toHaveLength(255);
    for (const e of [fits, over]) valid(v.server, serverJson(e, OPTIONS));
  });

  it('fits the longest name the longest allowed --name-prefix gives in the schema', () => {
    const longest: CatalogEntry = {
      ...entry('x'),
      kind: 'VirtualMcpServer',
      namespace: `n${'s'.repeat(62)}`,
      name: `a${'b'.repeat(62)}`,
    };
    const detail = serverJson(longest, { namePrefix: `com.${'p'.repeat(MAX_NAME_PREFIX - 4)}` });
    expect(detail.name).toHaveLength(200);
    valid(v.server, detail);
  });

  it('keeps a VirtualMcpServer apart from an McpServer of the same name', () => {
    const virtual: CatalogEntry = { ...entry('github'), kind: 'VirtualMcpServer' };
    expect(registryName(virtual, OPTIONS)).toBe('com.example.cluster.team-a.virtual/github');
    expect(registryName(entry('github'), OPTIONS)).toBe('com.example.cluster.team-a/github');
    valid(v.server, serverJson(virtual, OPTIONS));
  });

  it('wraps it in a ServerResponse with the official registry metadata and ours', () => {
    const response = serverResponse(entry('github'), OPTIONS);
    valid(v.response, response);
    expect(response._meta['io.modelcontextprotocol.registry/official']).toEqual({
      status: 'active',
      isLatest: true,
      publishedAt: '2026-11-30T10:00:00Z',
      updatedAt: '2026-11-30T10:05:00Z',
    });
    expect(response._meta['io.mcpoperator/catalog']).toMatchObject({ ready: { status: 'True' }, auth: 'none' });
    expect(versionResponse(entry('github'), 'latest', OPTIONS)).toEqual(response);
    expect(versionResponse(entry('github'), '0.20.0', OPTIONS)).toEqual(response);
    expect(versionResponse(entry('github'), '0.19.0', OPTIONS)).toBeUndefined();
  });

  it('pages a list by an opaque cursor, each page a valid ServerList', () => {
    const entries = ['e', 'a', 'd', 'c', 'b'].map((n) => entry(n));
    const seen: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const page = listServers(entries, { limit: 2, cursor }, OPTIONS);
      valid(v.list, page);
      seen.push(...page.servers.map((s) => s.server.name.split('/')[1] ?? ''));
      expect(page.metadata.count).toBe(page.servers.length);
      cursor = page.metadata.nextCursor;
      pages++;
    } while (cursor);
    expect(seen).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pages).toBe(3);
  });

  it('filters by search, version and updated_since', () => {
    const entries = [entry('github'), entry('postgres', { status: { serverInfo: { version: '1.2.3' } } })];
    const names = (q: Parameters<typeof listServers>[1]) =>
      listServers(entries, q, OPTIONS).servers.map((s) => s.server.name);
    expect(names({ search: 'GIT' })).toEqual(['com.example.cluster.team-a/github']);
    expect(names({ version: '1.2.3' })).toEqual(['com.example.cluster.team-a/postgres']);
    expect(names({ version: 'latest' })).toHaveLength(2);
    expect(names({ updatedSince: '2026-11-30T10:04:00Z' })).toHaveLength(2);
    expect(names({ updatedSince: '2026-12-01T00:00:00Z' })).toEqual([]);
  });

  it('refuses a bad query naming the parameter', () => {
    expect(parseListQuery(new URLSearchParams('limit=0'))).toEqual({
      ok: false,
      error: 'limit must be a positive integer (at most 100 are returned)',
    });
    expect(parseListQuery(new URLSearchParams('updated_since=yesterday'))).toMatchObject({
      ok: false,
      error: expect.stringContaining('updated_since'),
    });
    expect(parseListQuery(new URLSearchParams('limit=1000&search=git'))).toEqual({
      ok: true,
      query: { limit: 100, search: 'git' },
    });
  });
});

describe('the list query from a careless or hostile client (property)', () => {
  const entry = (name: string) => entryOf(mcp(name));
  const q = (text: string) => parseListQuery(new URLSearchParams(text));

  it.each([
    'limit=1e2',
    'limit=0x10',
    'limit=%205',
    'limit=1.0',
    'limit=-1',
    'limit=NaN',
    'limit=Infinity',
    'limit=',
    'updated_since=1',
    'updated_since=2026',
    'updated_since=Tue',
    'updated_since=2026-13-45T99:99:99Z',
    'cursor=!!!!',
    'cursor=%00',
  ])('refuses %s, naming the parameter', (text) => {
    const parsed = q(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(new RegExp(`^${text.split('=')[0]} `));
  });

  it('takes a limit exactly when it is decimal digits without a leading zero, clamped to the maximum', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.stringMatching(/^[-+ 0-9.ex]{1,5}$/),
          fc.bigInt({ min: -10n, max: 10n ** 30n }).map(String),
        ),
        (limit) => {
          const parsed = parseListQuery(new URLSearchParams({ limit }));
          expect(parsed.ok).toBe(/^[1-9][0-9]*$/.test(limit));
          if (parsed.ok) expect(parsed.query.limit).toBe(Math.min(Number(limit), 100));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('never throws on any query string, and any search is a plain substring (no regular expression)', () => {
    const entries = ['git.hub', 'a(b', 'star*', 'ünï'].map((n) => entry(n));
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ maxLength: 40 }), (search, raw) => {
        expect(() => parseListQuery(new URLSearchParams(raw))).not.toThrow();
        const names = listServers(entries, { search, limit: 100 }, OPTIONS).servers.map((s) => s.server.name);
        const expected = entries
          .map((e) => `com.example.cluster.team-a/${e.name}`)
          .filter((n) => n.toLowerCase().includes(search.toLowerCase()))
          .sort();
        expect(names).toEqual(expected);
      }),
      { numRuns: 500 },
    );
  });

  it('refuses every cursor it did not issue, and following nextCursor visits every entry once, in order', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,10}$/), { minLength: 1, maxLength: 25 }),
        fc.integer({ min: 1, max: 7 }),
        fc.string({ maxLength: 20 }),
        (names, limit, garbage) => {
          const entries = names.map((n) => entry(n));
          const seen: string[] = [];
          let cursor: string | undefined;
          do {
            const parsed = parseListQuery(new URLSearchParams({ limit: String(limit), ...(cursor ? { cursor } : {}) }));
            expect(parsed.ok).toBe(true);
            if (!parsed.ok) return;
            const page = listServers(entries, parsed.query, OPTIONS);
            seen.push(...page.servers.map((s) => s.server.name));
            cursor = page.metadata.nextCursor;
          } while (cursor);
          expect(seen).toEqual(names.map((n) => `com.example.cluster.team-a/${n}`).sort());
          const issued = Buffer.from(Buffer.from(garbage, 'base64url').toString('utf8'), 'utf8').toString('base64url');
          const parsed = parseListQuery(new URLSearchParams({ cursor: garbage }));
          expect(parsed.ok).toBe(
            garbage === '' || (issued === garbage && Buffer.from(garbage, 'base64url').length > 0),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
