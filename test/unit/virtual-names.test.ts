/** How a VirtualMcpServer names its backends' items: exposed names, conflicts, policy, and the way back. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { globMatches } from '../../src/contract/tool-patterns.ts';
import {
  type BackendNaming,
  buildCatalog,
  describeConflict,
  exposedName,
  type Offered,
} from '../../src/contract/virtual-names.ts';

const github: BackendNaming = {
  name: 'github',
  prefix: 'gh',
  tools: { deny: ['delete_repository'], rename: { create_issue: 'new_issue' } },
  listedAt: 0,
};
const memory: BackendNaming = { name: 'memory', listedAt: 1 };

describe('exposedName', () => {
  it.each([
    ['a prefixed tool', github, 'tool', 'search_code', 'gh_search_code'],
    ['a renamed tool: the rename is the whole name', github, 'tool', 'create_issue', 'new_issue'],
    [
      'a prompt: prefixed, never renamed',
      { ...github, tools: { rename: { review: 'x' } } },
      'prompt',
      'review',
      'gh_review',
    ],
    ['a tool of a server without prefix', memory, 'tool', 'read_graph', 'read_graph'],
    ['a resource keeps its URI', github, 'resource', 'repo://a/b', 'repo://a/b'],
    ['a resource template keeps its URI template', github, 'resourceTemplate', 'repo://{owner}', 'repo://{owner}'],
  ] as const)('%s', (_what, backend, kind, original, exposed) => {
    expect(exposedName(backend, kind, original)).toBe(exposed);
  });
});

describe('buildCatalog', () => {
  it('exposes every backend in priority order, each under its own names', () => {
    const catalog = buildCatalog({
      backends: [github, memory],
      offered: {
        github: { tool: ['create_issue', 'search_code', 'delete_repository'], prompt: ['review'] },
        memory: { tool: ['read_graph', 'search_nodes'], resource: ['memory://graph'] },
      },
    });
    expect(catalog.exposed.map((e) => `${e.kind}:${e.exposed}<-${e.backend}/${e.original}`)).toEqual([
      'tool:new_issue<-github/create_issue',
      'tool:gh_search_code<-github/search_code',
      'prompt:gh_review<-github/review',
      'tool:read_graph<-memory/read_graph',
      'tool:search_nodes<-memory/search_nodes',
      'resource:memory://graph<-memory/memory://graph',
    ]);
    expect(catalog.conflicts).toEqual([]);
  });

  it.each<[string, BackendNaming[], Record<string, Offered>, string, string, RegExp]>([
    [
      'two tools of one name: the earlier server wins, the fix names the later one’s prefix and rename',
      [
        { name: 'a', listedAt: 0 },
        { name: 'b', listedAt: 1 },
      ],
      { a: { tool: ['search'] }, b: { tool: ['search'] } },
      'a',
      'b',
      /set spec\.servers\[1\]\.prefix, or spec\.servers\[1\]\.tools\.rename: \{search: b_search\}/,
    ],
    [
      'a prompt: the fix is a prefix only',
      [
        { name: 'a', listedAt: 0 },
        { name: 'b', listedAt: 1 },
      ],
      { a: { prompt: ['review'] }, b: { prompt: ['review'] } },
      'a',
      'b',
      /set spec\.servers\[1\]\.prefix \(prompts are not renamed\)/,
    ],
    [
      'a resource URI: the fix is the order',
      [
        { name: 'a', listedAt: 0 },
        { name: 'b', listedAt: 1 },
      ],
      { a: { resource: ['file:///x'] }, b: { resource: ['file:///x'] } },
      'a',
      'b',
      /URIs are exposed as they are/,
    ],
    [
      'a server the selector adds: the fix is to list it',
      [{ name: 'a', listedAt: 0 }, { name: 'c' }],
      { a: { tool: ['t'] }, c: { tool: ['t'] } },
      'a',
      'c',
      /c joins through spec\.selector: list it in spec\.servers with a prefix/,
    ],
    [
      'a rename onto another server’s name',
      [
        { name: 'a', listedAt: 0 },
        { name: 'b', listedAt: 1, tools: { rename: { find: 'search' } } },
      ],
      { a: { tool: ['search'] }, b: { tool: ['find'] } },
      'a',
      'b',
      /spec\.servers\[1\]/,
    ],
    [
      'a rename onto the same server’s own name: the rename wins',
      [{ name: 'a', listedAt: 0, tools: { rename: { find: 'search' } } }],
      { a: { tool: ['search', 'find'] } },
      'a',
      'a',
      /rename one of the two tools/,
    ],
  ])('%s', (_what, backends, offered, winner, hidden, fix) => {
    const catalog = buildCatalog({ backends, offered });
    expect(catalog.conflicts).toHaveLength(1);
    const [conflict] = catalog.conflicts;
    expect(conflict?.winner.backend).toBe(winner);
    expect(conflict?.hidden.backend).toBe(hidden);
    expect(conflict?.fix).toMatch(fix);
    const text = describeConflict(conflict as never);
    expect(text).toContain(hidden);
    expect(text).toContain(winner);
    // The winner's item answers to the name.
    const resolved = catalog.resolve(conflict?.kind ?? 'tool', conflict?.exposed ?? '');
    expect(resolved).toMatchObject({ verdict: 'exposed', backend: winner, original: conflict?.winner.original });
  });

  it('resolves an exposed name back to its backend and original name', () => {
    const catalog = buildCatalog({
      backends: [github, memory],
      offered: { github: { tool: ['create_issue'] }, memory: { tool: ['create_issue'] } },
    });
    expect(catalog.resolve('tool', 'new_issue')).toMatchObject({
      verdict: 'exposed',
      backend: 'github',
      original: 'create_issue',
    });
    expect(catalog.resolve('tool', 'create_issue')).toMatchObject({
      verdict: 'exposed',
      backend: 'memory',
      original: 'create_issue',
    });
    expect(catalog.resolve('tool', 'gh_create_issue')).toEqual({
      verdict: 'unknown',
      kind: 'tool',
      exposed: 'gh_create_issue',
    });
    expect(catalog.resolve('prompt', 'new_issue').verdict).toBe('unknown');
  });

  it.each<[string, BackendNaming[], { allow?: string[]; deny?: string[] } | undefined, string, string, string]>([
    ['denied on its server', [github], undefined, 'gh_delete_repository', 'server', 'delete_repository'],
    [
      'denied overall, by exposed name',
      [github],
      { deny: ['gh_search_*'] },
      'gh_search_code',
      'virtual',
      'search_code',
    ],
    ['not in the overall allow list', [github], { allow: ['new_issue'] }, 'gh_search_code', 'virtual', 'search_code'],
    [
      'not in its server allow list',
      [{ ...github, tools: { allow: ['create_*'] } }],
      undefined,
      'gh_search_code',
      'server',
      'search_code',
    ],
  ])('a tool %s is refused by name, never "unknown"', (_what, backends, tools, name, by, original) => {
    const catalog = buildCatalog({
      backends,
      offered: { github: { tool: ['create_issue', 'search_code', 'delete_repository'] } },
      tools,
    });
    expect(catalog.exposed.map((e) => e.exposed)).not.toContain(name);
    expect(catalog.resolve('tool', name)).toMatchObject({ verdict: 'denied', by, backend: 'github', original });
  });

  it('a tool denied on its server does not take a name from another server, nor block it', () => {
    const catalog = buildCatalog({
      backends: [
        { name: 'a', listedAt: 0, tools: { deny: ['search'] } },
        { name: 'b', listedAt: 1 },
      ],
      offered: { a: { tool: ['search'] }, b: { tool: ['search'] } },
    });
    expect(catalog.conflicts).toEqual([]);
    expect(catalog.resolve('tool', 'search')).toMatchObject({ verdict: 'exposed', backend: 'b' });
  });

  it('an overall deny keeps the name denied: a later server’s item does not take its place', () => {
    const catalog = buildCatalog({
      backends: [
        { name: 'a', listedAt: 0 },
        { name: 'b', listedAt: 1 },
      ],
      offered: { a: { tool: ['drop'] }, b: { tool: ['drop'] } },
      tools: { deny: ['drop'] },
    });
    expect(catalog.resolve('tool', 'drop')).toMatchObject({ verdict: 'denied', by: 'virtual', backend: 'a' });
    expect(catalog.conflicts.map((c) => c.hidden.backend)).toEqual(['b']);
  });

  it('hides a name that is too long once prefixed, and says how to fix it', () => {
    const long = 'x'.repeat(127);
    const catalog = buildCatalog({ backends: [github], offered: { github: { tool: [long] } } });
    expect(catalog.exposed).toEqual([]);
    expect(catalog.problems).toEqual([
      expect.objectContaining({ original: long, fix: expect.stringContaining('rename it') }),
    ]);
  });
});

/** Backends with random prefixes and renames, offering random tool names from a small alphabet (so names collide). */
const toolName = fc.stringMatching(/^[a-c_]{1,4}$/);
const backendArb = (name: string) =>
  fc
    .record({
      prefix: fc.option(fc.constantFrom('p', 'q', 'x'), { nil: undefined }),
      rename: fc.dictionary(toolName, toolName, { maxKeys: 2 }),
      deny: fc.array(toolName, { maxLength: 2 }),
      tools: fc.uniqueArray(toolName, { maxLength: 6 }),
    })
    .map((r) => ({
      naming: { name, prefix: r.prefix, tools: { rename: r.rename, deny: r.deny } } as BackendNaming,
      offered: { tool: r.tools, prompt: r.tools } as Offered,
    }));
const fleet = fc
  .uniqueArray(fc.constantFrom('s1', 's2', 's3', 's4', 's5'), { minLength: 1, maxLength: 5 })
  .chain((names) => fc.tuple(...names.map(backendArb)));

describe('names never churn (property)', () => {
  it("a server's exposed names do not change when other servers join or leave", () => {
    fc.assert(
      fc.property(fleet, fc.nat(), (backends, pick) => {
        const offered = Object.fromEntries(backends.map((b) => [b.naming.name, b.offered]));
        const all = buildCatalog({ backends: backends.map((b) => b.naming), offered });
        const me = backends[pick % backends.length];
        if (!me) return;
        const alone = buildCatalog({ backends: [me.naming], offered });
        // Every item of mine visible with others is visible alone under the same name...
        const mine = (c: typeof all) =>
          c.exposed.filter((e) => e.backend === me.naming.name).map((e) => `${e.kind}:${e.original}=${e.exposed}`);
        for (const item of mine(all)) expect(mine(alone)).toContain(item);
        // ...and whatever others are present, each item's name is the one its own server gives it.
        for (const e of all.exposed) {
          const own = backends.find((b) => b.naming.name === e.backend)?.naming as BackendNaming;
          expect(e.exposed).toBe(exposedName(own, e.kind, e.original));
        }
      }),
      { numRuns: 300 },
    );
  });

  it('servers that join later in priority order never hide an earlier server’s items', () => {
    fc.assert(
      fc.property(fleet, fc.nat(), (backends, cut) => {
        const offered = Object.fromEntries(backends.map((b) => [b.naming.name, b.offered]));
        const first = backends.slice(0, (cut % backends.length) + 1).map((b) => b.naming);
        const before = buildCatalog({ backends: first, offered }).exposed;
        const after = buildCatalog({ backends: backends.map((b) => b.naming), offered }).exposed;
        expect(after.slice(0, before.length)).toEqual(before);
      }),
      { numRuns: 300 },
    );
  });

  it('every exposed name resolves back to the item that holds it, and no two items share one', () => {
    fc.assert(
      fc.property(fleet, (backends) => {
        const offered = Object.fromEntries(backends.map((b) => [b.naming.name, b.offered]));
        const catalog = buildCatalog({ backends: backends.map((b) => b.naming), offered });
        const keys = catalog.exposed.map((e) => `${e.kind}:${e.exposed}`);
        expect(new Set(keys).size).toBe(keys.length);
        for (const e of catalog.exposed)
          expect(catalog.resolve(e.kind, e.exposed)).toEqual({ verdict: 'exposed', ...e });
      }),
      { numRuns: 300 },
    );
  });
});

describe('the shared glob matcher', () => {
  it('agrees with a regular expression built from the pattern (* any run, ? one character)', () => {
    const oracle = (pattern: string, name: string) =>
      new RegExp(`^${pattern.replaceAll('*', '.*').replaceAll('?', '.')}$`).test(name);
    fc.assert(
      fc.property(fc.stringMatching(/^[ab*?]{0,6}$/), fc.stringMatching(/^[ab]{0,6}$/), (pattern, name) => {
        expect(globMatches(pattern, name)).toBe(oracle(pattern, name));
      }),
      { numRuns: 2000 },
    );
  });
});

describe('tool names that are Object.prototype keys (property)', () => {
  // An MCP server may name a tool `constructor` or `toString`; a rename map read from JSON is a plain object.
  const protoNames = ['constructor', 'toString', 'valueOf', 'hasOwnProperty', '__proto__', 'isPrototypeOf'];
  const name = fc.oneof(fc.constantFrom(...protoNames), fc.stringMatching(/^[a-c]{1,3}$/));
  const backend = fc.record({
    prefix: fc.option(fc.constantFrom('p', 'q'), { nil: undefined }),
    // Through JSON.parse, as the API server's objects arrive: `__proto__` becomes an own key there.
    rename: fc
      .uniqueArray(fc.tuple(name, fc.stringMatching(/^[x-z]{1,3}$/)), { maxLength: 3, selector: ([k]) => k })
      .map(
        (pairs) =>
          JSON.parse(`{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`) as Record<
            string,
            string
          >,
      ),
    tools: fc.uniqueArray(name, { minLength: 1, maxLength: 6 }),
  });

  it('exposes each under its own rename, else its prefixed or own name, never a prototype member', () => {
    fc.assert(
      fc.property(backend, ({ prefix, rename, tools }) => {
        const naming: BackendNaming = { name: 's', listedAt: 0, ...(prefix ? { prefix } : {}), tools: { rename } };
        for (const tool of tools) {
          const own = Object.hasOwn(rename, tool) ? rename[tool] : undefined;
          expect(exposedName(naming, 'tool', tool)).toBe(own ?? (prefix ? `${prefix}_${tool}` : tool));
        }
        const catalog = buildCatalog({ backends: [naming], offered: { s: { tool: tools } } });
        expect(catalog.problems).toEqual([]);
        const seen = new Set([
          ...catalog.exposed.map((e) => e.original),
          ...catalog.conflicts.map((c) => c.hidden.original),
        ]);
        expect([...seen].sort()).toEqual([...tools].sort());
      }),
      { numRuns: 500 },
    );
  });
});
