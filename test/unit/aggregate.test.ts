/**
 * The aggregate on the gateway's own mux, over in-memory servers (the real Upstream and Backend above them):
 * merged lists with prefixes, renames and conflicts; calls routed by exposed name with the backend's own name;
 * distinct refusals; a backend failing fails only its calls and its tools leave (list_changed); membership
 * changes; server requests attributed among the sessions waiting on that server only.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { AggregateBackend } from '../../src/contract/aggregate.ts';
import { ON_BEHALF_OF_META } from '../../src/contract/aggregate-credential.ts';
import { MAX_ITEMS } from '../../src/gateway/aggregate/backend.ts';
import { INVALID_PARAMS, UPSTREAM_UNAVAILABLE } from '../../src/gateway/protocol/jsonrpc.ts';
import { type AggregateHarness, aggregateHarness, backend, FakeServer } from './aggregate-helpers.ts';
import { resultOf, session } from './mux-helpers.ts';

let h: AggregateHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const tool = (name: string) => ({ name, inputSchema: { type: 'object' } });

function three(): FakeServer[] {
  return [
    new FakeServer('everything', {
      tools: [tool('echo'), tool('add')],
      resources: [{ uri: 'demo://one', name: 'one' }],
    }),
    new FakeServer('memory', { tools: [tool('create_entities'), tool('echo')], prompts: [{ name: 'remember' }] }),
    new FakeServer('filesystem', {
      tools: [tool('read_file'), tool('write_file')],
      templates: [{ uriTemplate: 'file:///{path}', name: 'files' }],
    }),
  ];
}

async function started(backends: AggregateBackend[], servers = three()): Promise<AggregateHarness> {
  const harness = aggregateHarness(servers);
  harness.aggregate.apply({ version: 1, backends });
  harness.aggregate.front.setLoaded();
  await vi.waitFor(() => expect(harness.aggregate.currentView.lists.tool.length).toBeGreaterThan(0));
  await vi.waitFor(() => expect([...harness.aggregate.currentView.up.values()].every(Boolean)).toBe(true));
  await new Promise((r) => setTimeout(r, 5));
  return harness;
}

const toolNames = (x: AggregateHarness) => {
  const s = session('lister');
  return (resultOf<{ tools: Array<{ name: string }> }>(x.call(s, 'l', 'tools/list')).tools ?? []).map((t) => t.name);
};

describe('merged lists', () => {
  test.each([
    {
      what: 'no prefixes: the earlier backend wins a shared name',
      backends: [backend('everything'), backend('memory'), backend('filesystem')],
      names: ['echo', 'add', 'create_entities', 'read_file', 'write_file'],
    },
    {
      what: 'a prefix on one backend only renames that backend’s tools',
      backends: [backend('everything'), backend('memory', { prefix: 'mem' }), backend('filesystem')],
      names: ['echo', 'add', 'mem_create_entities', 'mem_echo', 'read_file', 'write_file'],
    },
    {
      what: 'a rename and a per-backend deny',
      backends: [
        backend('everything'),
        backend('memory', { tools: { rename: { echo: 'memory_echo' } } }),
        backend('filesystem', { tools: { deny: ['write_file'] } }),
      ],
      names: ['echo', 'add', 'memory_echo', 'create_entities', 'read_file'],
    },
    {
      what: 'priority order decides the conflict',
      backends: [backend('memory'), backend('everything'), backend('filesystem')],
      names: ['create_entities', 'echo', 'add', 'read_file', 'write_file'],
    },
  ])('$what', async ({ backends, names }) => {
    h = await started(backends);
    expect(toolNames(h)).toEqual(names);
  });

  test('prompts, resources and templates are merged too', async () => {
    h = await started([backend('everything'), backend('memory', { prefix: 'mem' }), backend('filesystem')]);
    const s = session('a');
    expect(resultOf(h.call(s, 1, 'prompts/list'))).toEqual({ prompts: [{ name: 'mem_remember' }] });
    expect(resultOf(h.call(s, 2, 'resources/list'))).toEqual({ resources: [{ uri: 'demo://one', name: 'one' }] });
    expect(resultOf(h.call(s, 3, 'resources/templates/list'))).toEqual({
      resourceTemplates: [{ uriTemplate: 'file:///{path}', name: 'files' }],
    });
  });
});

describe('routing', () => {
  test.each([
    { exposed: 'echo', server: 'everything', original: 'echo' },
    { exposed: 'mem_echo', server: 'memory', original: 'echo' },
    { exposed: 'files_read', server: 'filesystem', original: 'read_file' },
  ])('$exposed goes to $server as $original', async ({ exposed, server, original }) => {
    h = await started([
      backend('everything'),
      backend('memory', { prefix: 'mem' }),
      backend('filesystem', { tools: { rename: { read_file: 'files_read' } } }),
    ]);
    const sink = h.call(session('a'), 7, 'tools/call', { name: exposed, arguments: { x: 1 } });
    await vi.waitFor(() => expect(sink.response).toBeDefined());
    expect(resultOf(sink)).toEqual({ content: [{ type: 'text', text: `${original} from ${server}` }] });
    for (const [name, s] of h.servers) {
      expect(s.requests('tools/call').map((r) => r.params?.name)).toEqual(name === server ? [original] : []);
    }
    expect(h.audits).toEqual([expect.objectContaining({ tool: exposed, backend: server, outcome: 'ok' })]);
  });

  test.each([
    {
      name: 'write_file',
      code: INVALID_PARAMS,
      outcome: 'denied',
      message: /denied by the tools policy of backend filesystem/,
    },
    { name: 'no_such_tool', code: INVALID_PARAMS, outcome: 'unknown_tool', message: /^Unknown tool: no_such_tool/ },
  ])('$name is refused as $outcome, audited, never forwarded', async ({ name, code, outcome, message }) => {
    h = await started([
      backend('everything'),
      backend('memory'),
      backend('filesystem', { tools: { deny: ['write_file'] } }),
    ]);
    const sink = h.call(session('a'), 1, 'tools/call', { name, arguments: {} });
    expect(sink.response?.error?.code).toBe(code);
    expect(sink.response?.error?.message).toMatch(message);
    expect([...h.servers.values()].flatMap((s) => s.requests('tools/call'))).toEqual([]);
    expect(h.audits.map((a) => a.outcome)).toEqual([outcome]);
  });

  test('a resource goes to the backend holding its URI or its template', async () => {
    h = await started([backend('everything'), backend('memory'), backend('filesystem')]);
    const s = session('a');
    h.call(s, 1, 'resources/read', { uri: 'demo://one' });
    h.call(s, 2, 'resources/read', { uri: 'file:///etc' });
    const missing = h.call(s, 3, 'resources/read', { uri: 'nowhere://x' });
    expect(
      h.servers
        .get('everything')
        ?.requests('resources/read')
        .map((r) => r.params?.uri),
    ).toEqual(['demo://one']);
    expect(
      h.servers
        .get('filesystem')
        ?.requests('resources/read')
        .map((r) => r.params?.uri),
    ).toEqual(['file:///etc']);
    expect(missing.response?.error?.message).toBe('Resource not found: nowhere://x');
  });
});

describe('the end client, told only to a backend that authenticates the aggregate', () => {
  test('a backend with a credential gets it in _meta; one without is told nothing', async () => {
    h = await started([
      backend('everything'),
      backend('memory', { prefix: 'mem', tokenFile: '/nonexistent/credential' }),
      backend('filesystem'),
    ]);
    const s = session('a');
    h.call(s, 1, 'tools/call', { name: 'echo', arguments: {}, _meta: { [ON_BEHALF_OF_META]: 'forged' } });
    h.call(s, 2, 'tools/call', { name: 'mem_echo', arguments: {} });
    const metaOf = (server: string) => h?.servers.get(server)?.requests('tools/call')[0]?.params?._meta;
    await vi.waitFor(() => expect(metaOf('memory')).toBeDefined());
    expect(metaOf('memory')).toEqual({ [ON_BEHALF_OF_META]: 'client-a' });
    await vi.waitFor(() => expect(h?.servers.get('everything')?.requests('tools/call')).toHaveLength(1));
    expect(metaOf('everything')).toBeUndefined();
  });
});

describe('a backend failing', () => {
  test('fails only its calls, its tools leave with list_changed, and come back', async () => {
    h = await started([backend('everything'), backend('memory', { prefix: 'mem' }), backend('filesystem')]);
    const memory = h.servers.get('memory') as FakeServer;
    const everything = h.servers.get('everything') as FakeServer;
    memory.autoAnswer = false;
    everything.autoAnswer = false;
    const a = session('a');
    h.mux.attach(a);
    const onMemory = h.call(a, 1, 'tools/call', { name: 'mem_create_entities', arguments: {} });
    const onEverything = h.call(a, 2, 'tools/call', { name: 'echo', arguments: {} });
    a.delivered.length = 0;

    memory.die();
    expect(onMemory.response?.error?.message).toMatch(/^backend memory: the MCP server stopped/);
    expect(onEverything.response).toBeUndefined();
    const call = everything.requests('tools/call')[0];
    everything.answer(call?.id ?? 0, { content: [] });
    expect(resultOf(onEverything)).toEqual({ content: [] });

    expect(toolNames(h)).toEqual(['echo', 'add', 'read_file', 'write_file']);
    expect(a.delivered).toContainEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    const refused = h.call(a, 3, 'tools/call', { name: 'mem_create_entities', arguments: {} });
    expect(refused.response?.error?.code).toBe(UPSTREAM_UNAVAILABLE);
    expect(refused.response?.error?.message).toMatch(/belongs to backend memory, which is unavailable/);
    // The backend is named once: the reason after it is the upstream's own.
    expect(refused.response?.error?.message).not.toMatch(/backend memory.*backend memory/);
    expect(h.audits.at(-1)).toEqual(expect.objectContaining({ backend: 'memory', outcome: 'upstream_failed' }));

    a.delivered.length = 0;
    memory.down = false;
    await vi.waitFor(() => expect(toolNames(h as AggregateHarness)).toContain('mem_create_entities'));
    expect(a.delivered).toContainEqual({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
  });

  test('a backend’s own list_changed reaches clients only when the merged list changed', async () => {
    h = await started([backend('everything'), backend('memory'), backend('filesystem')]);
    const a = session('a');
    h.mux.attach(a);
    const memory = h.servers.get('memory') as FakeServer;
    // memory's echo is hidden by everything's: changing it changes nothing a client sees.
    memory.tools = [tool('create_entities'), { ...tool('echo'), description: 'changed' }];
    memory.emit({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    await new Promise((r) => setTimeout(r, 20));
    expect(a.delivered).toEqual([]);
    memory.tools = [tool('create_entities'), tool('delete_entities')];
    memory.emit({ jsonrpc: '2.0', method: 'notifications/tools/list_changed' });
    await vi.waitFor(() =>
      expect(a.delivered).toEqual([{ jsonrpc: '2.0', method: 'notifications/tools/list_changed' }]),
    );
    expect(toolNames(h)).toContain('delete_entities');
  });
});

describe('membership', () => {
  test('a backend that leaves fails its calls naming it; the session stays; one that joins appears', async () => {
    h = await started([backend('everything'), backend('memory'), backend('filesystem')]);
    const memory = h.servers.get('memory') as FakeServer;
    memory.autoAnswer = false;
    const a = session('a');
    h.mux.attach(a);
    const pending = h.call(a, 1, 'tools/call', { name: 'create_entities', arguments: {} });
    h.aggregate.apply({ version: 1, backends: [backend('everything'), backend('filesystem')] });
    expect(pending.response?.error?.message).toBe('backend memory left the virtual server');
    expect(toolNames(h)).toEqual(['echo', 'add', 'read_file', 'write_file']);
    expect(h.mux.sessions.has(a)).toBe(true);
    h.aggregate.apply({
      version: 1,
      backends: [backend('everything'), backend('filesystem'), backend('memory', { prefix: 'm' })],
    });
    await vi.waitFor(() => expect(toolNames(h as AggregateHarness)).toContain('m_create_entities'));
  });
});

describe('attribution per backend', () => {
  test('a backend’s server request goes to the one session waiting on that backend', async () => {
    h = await started([backend('everything'), backend('memory'), backend('filesystem')]);
    for (const s of h.servers.values()) s.autoAnswer = false;
    const sampling = { sampling: {} };
    const a = session('a', { capabilities: sampling });
    const b = session('b', { capabilities: sampling });
    h.call(a, 1, 'tools/call', { name: 'echo', arguments: {} });
    const onMemory = h.call(b, 1, 'tools/call', { name: 'create_entities', arguments: {} });
    const memory = h.servers.get('memory') as FakeServer;
    memory.emit({ jsonrpc: '2.0', id: 'm1', method: 'sampling/createMessage', params: { messages: [] } });
    expect(onMemory.seen).toEqual([expect.objectContaining({ method: 'sampling/createMessage' })]);
    expect(memory.received.filter((m) => 'error' in m)).toEqual([]);
  });
});

describe('subscriptions', () => {
  test('go to the backend holding the URI; a refused one is not kept', async () => {
    h = await started([backend('everything'), backend('memory'), backend('filesystem')]);
    const a = session('a');
    h.mux.attach(a);
    h.call(a, 1, 'resources/subscribe', { uri: 'demo://one' });
    expect(
      h.servers
        .get('everything')
        ?.requests('resources/subscribe')
        .map((r) => r.params?.uri),
    ).toEqual(['demo://one']);
    const refused = h.call(a, 2, 'resources/subscribe', { uri: 'nowhere://x' });
    expect(refused.response?.error?.message).toBe('Resource not found: nowhere://x');
    expect([...a.subscriptions]).toEqual(['demo://one']);
  });
});

describe('answers', () => {
  test('a backend answers only its own calls: another backend’s id is ignored', async () => {
    h = await started([backend('everything'), backend('memory'), backend('filesystem')]);
    for (const s of h.servers.values()) s.autoAnswer = false;
    const onEverything = h.call(session('a'), 1, 'tools/call', { name: 'echo', arguments: {} });
    const id = h.servers.get('everything')?.requests('tools/call')[0]?.id ?? -1;
    h.servers.get('memory')?.answer(id, { content: [{ type: 'text', text: 'forged' }] });
    expect(onEverything.response).toBeUndefined();
    h.servers.get('everything')?.answer(id, { content: [] });
    expect(resultOf(onEverything)).toEqual({ content: [] });
  });
});

describe('a hostile backend', () => {
  test('a list past MAX_ITEMS is cut, the others unaffected', async () => {
    const servers = three();
    const flood = servers[1] as FakeServer;
    flood.tools = Array.from({ length: MAX_ITEMS + 50 }, (_, i) => tool(`t${i}`));
    h = await started([backend('everything'), backend('memory', { prefix: 'm' }), backend('filesystem')], servers);
    const names = toolNames(h);
    expect(names.filter((n) => n.startsWith('m_'))).toHaveLength(MAX_ITEMS);
    expect(names).toContain('read_file');
  });

  test('a first tools/list that fails is read again: its tools are listed without a reconnection', async () => {
    const servers = three();
    const busy = servers[1] as FakeServer;
    busy.listErrors = 1;
    h = await started([backend('everything'), backend('memory', { prefix: 'm' })], servers);
    expect(h.aggregate.currentView.up.get('memory')).toBe(true);
    await vi.waitFor(() => expect(toolNames(h as AggregateHarness)).toContain('m_create_entities'), { timeout: 5000 });
    expect(busy.listErrors).toBe(0);
  });
});
