/**
 * `gateway aggregate`: one real gateway process in front of three real servers (server-everything,
 * server-memory, server-filesystem), each behind its own real gateway, the filesystem one with bearer auth
 * (the aggregate presents the credential the operator would mint from that gateway's session key).
 * Clients of every era see one server: prefixed and renamed names, a conflict won by priority, a denied tool
 * refused (and audited) as denied; a backend killed leaves the lists (list_changed) and its calls name it, and
 * it comes back; a membership change in the backends file applies without dropping the session.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ListRootsRequestSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AggregateBackend } from '../../src/contract/aggregate.ts';
import { credentialExpiry, mintCredential } from '../../src/contract/aggregate-credential.ts';
import { freePort } from '../../src/local-cluster/control-plane.ts';
import {
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  filesystem,
  MEMORY,
  metricValue,
  NODE,
  ROOT,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';

/** The filesystem gateway's users' token; the aggregate has none of its own, only the minted credential. */
const TOKEN = 'a-user-token-0123456789';
const SESSION_KEY = randomBytes(32);
const nowS = () => Math.floor(Date.now() / 1000);
const credential = (key: Buffer, expiresAt = credentialExpiry(nowS())) =>
  mintCredential(key, { namespace: 'team', aggregate: 'tools', backend: 'filesystem', expiresAt });
let dir: string;
let backendsFile: string;
let everything: RunningGateway;
let memory: RunningGateway;
let files: RunningGateway;
let aggregate: RunningGateway;

function writeBackends(backends: AggregateBackend[]): void {
  // As the kubelet does: the new file appears whole (written beside, then renamed over).
  const next = `${backendsFile}.next`;
  writeFileSync(next, JSON.stringify({ version: 1, backends }));
  renameSync(next, backendsFile);
}

const members = (): AggregateBackend[] => [
  { name: 'everything', url: `${everything.url}/mcp`, transport: 'streamable-http', prefix: 'ev' },
  {
    name: 'memory',
    url: `${memory.url}/mcp`,
    transport: 'streamable-http',
    // A rename into filesystem's read_file: memory comes first, so it wins the name.
    tools: { deny: ['delete_entities'], rename: { read_graph: 'graph', search_nodes: 'read_file' } },
  },
  {
    name: 'filesystem',
    url: `${files.url}/mcp`,
    transport: 'streamable-http',
    tokenFile: join(dir, 'aggregate-token'),
  },
];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'gw-aggregate-'));
  writeFileSync(join(dir, 'tokens'), `${TOKEN}\n`);
  writeFileSync(join(dir, 'session-key'), SESSION_KEY);
  writeFileSync(join(dir, 'aggregate-token'), `${credential(SESSION_KEY)}\n`);
  writeFileSync(join(dir, 'hello.txt'), 'hello from the filesystem');
  [everything, memory, files] = await Promise.all([
    startGateway(['stdio', '--', ...EVERYTHING]),
    startGateway(['stdio', '--', ...MEMORY]),
    startGateway(['stdio', '--', ...filesystem(dir)], {
      env: {
        MCP_GATEWAY_AUTH_TOKEN_FILE: join(dir, 'tokens'),
        MCP_GATEWAY_SESSION_SECRET_FILE: join(dir, 'session-key'),
        MCP_GATEWAY_ADVERTISE_ADDRESS: '127.0.0.1',
      },
    }),
  ]);
  backendsFile = join(dir, 'backends.json');
  writeBackends(members());
  aggregate = await startGateway(['aggregate', '--backends-file', backendsFile]);
  await until(
    async () => {
      const { client } = await client2025(aggregate.url);
      const names = (await client.listTools()).tools.map((t) => t.name);
      await client.close();
      return names.includes('ev_echo') && names.includes('graph') && names.includes('read_text_file');
    },
    30_000,
    'every backend listed',
  );
}, 90_000);

afterAll(stopAll);

const call = async (client: Awaited<ReturnType<typeof client2025>>['client'], name: string, args = {}) =>
  client.callTool({ name, arguments: args });

describe('three servers behind one endpoint', () => {
  test('tools/list: prefixed, renamed, denied and conflicting names as the naming rules say', async () => {
    const { client } = await client2025(aggregate.url);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).toEqual(expect.arrayContaining(['ev_echo', 'ev_get-sum', 'create_entities', 'graph', 'read_file']));
    expect(names.filter((n) => n === 'read_file')).toHaveLength(1);
    for (const absent of ['echo', 'read_graph', 'search_nodes', 'delete_entities']) expect(names).not.toContain(absent);
    expect(names).toContain('read_text_file');
    await client.close();
  });

  test('a call reaches the right backend under its own name, for every client era', async () => {
    const c25 = await client2025(aggregate.url);
    expect(textOf(await call(c25.client, 'ev_echo', { message: 'hi' }))).toBe('Echo: hi');
    await call(c25.client, 'create_entities', {
      entities: [{ name: 'aggregate', entityType: 'test', observations: ['one endpoint'] }],
    });
    expect(textOf(await call(c25.client, 'graph'))).toContain('one endpoint');
    // read_file is memory's search_nodes (the conflict's winner), not filesystem's read_file.
    expect(textOf(await call(c25.client, 'read_file', { query: 'aggregate' }))).toContain('one endpoint');
    // filesystem answers through its bearer-authenticated gateway.
    expect(textOf(await call(c25.client, 'read_text_file', { path: join(dir, 'hello.txt') }))).toBe(
      'hello from the filesystem',
    );
    await c25.client.close();

    const sse = await clientSse(`${aggregate.url}/sse`);
    expect(textOf(await sse.client.callTool({ name: 'ev_echo', arguments: { message: 'sse' } }))).toBe('Echo: sse');
    await sse.client.close();

    const c26 = await client2026(aggregate.url);
    expect((await c26.client.listTools()).tools.map((t) => t.name)).toContain('graph');
    expect(textOf(await c26.client.callTool({ name: 'ev_echo', arguments: { message: 'modern' } }))).toBe(
      'Echo: modern',
    );
    await c26.client.close();
    const audit = await waitForAudit(aggregate, (a) => a.tool === 'read_text_file');
    expect(audit).toMatchObject({ backend: 'filesystem', outcome: 'ok' });
    expect(await metricValue(aggregate, 'mcp_gateway_backend_tool_calls_total', { backend: 'memory' })).toBeGreaterThan(
      0,
    );
  });

  test('the filesystem backend refuses clients without the aggregate’s credential', async () => {
    await expect(client2025(files.url)).rejects.toThrow(/401|Unauthorized/i);
  });

  test('the backend audits the aggregate and the end client; its users’ tokens still work', async () => {
    const { client } = await client2025(aggregate.url);
    await call(client, 'read_text_file', { path: join(dir, 'hello.txt') });
    await client.close();
    const seen = await waitForAudit(files, (a) => a.tool === 'read_text_file' && !!a.client?.startsWith('aggregate:'));
    expect(seen.client).toBe('aggregate:team/tools');
    expect(seen.onBehalfOf).toMatch(/^ip:127\.0\.0\.1$/);
    // A user with a token of the backend's own, beside the aggregate.
    const user = await client2025(files.url, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(textOf(await call(user.client, 'read_text_file', { path: join(dir, 'hello.txt') }))).toBe(
      'hello from the filesystem',
    );
    await user.client.close();
    const direct = await waitForAudit(files, (a) => a.tool === 'read_text_file' && !!a.client?.startsWith('token:'));
    // A user cannot claim to act for someone: the claim is believed only from an aggregate.
    expect(direct.onBehalfOf).toBeUndefined();
  });

  test('a forged, foreign or expired credential gets 401 with the reason', async () => {
    const refusals = [
      [credential(randomBytes(32)), /signature mismatch/],
      [credential(SESSION_KEY, nowS() - 1), /expired/],
      [`${credential(SESSION_KEY).slice(0, -4)}AAAA`, /signature mismatch/],
      ['mcpagg1.e30', /malformed/],
    ] as const;
    for (const [token, reason] of refusals) {
      const res = await fetch(`${files.url}/mcp`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(reason);
    }
  });

  test('prompts (prefixed) and resources (by URI) reach the backend that offers them', async () => {
    const { client } = await client2025(aggregate.url);
    const prompts = (await client.listPrompts()).prompts;
    const simple = prompts.find((p) => p.name.startsWith('ev_') && !p.arguments?.some((a) => a.required));
    const name = simple?.name ?? '';
    expect(name, prompts.map((p) => p.name).join(', ')).not.toBe('');
    const got = await client.getPrompt({ name });
    expect(got.messages.length).toBeGreaterThan(0);
    // Its own name, unprefixed, is not exposed.
    await expect(client.getPrompt({ name: name.slice(3) })).rejects.toThrow(/Unknown prompt/);
    const resources = (await client.listResources()).resources;
    expect(resources.length).toBeGreaterThan(0);
    const first = resources[0] as { uri: string };
    const read = await client.readResource({ uri: first.uri });
    expect(read.contents[0]?.uri).toBe(first.uri);
    await client.close();
  });

  test('a denied tool is a distinct, audited refusal naming the policy', async () => {
    const { client } = await client2025(aggregate.url);
    const refused = await call(client, 'delete_entities', { entityNames: ['x'] }).catch((e: Error) => e);
    expect(String(refused)).toMatch(/delete_entities is denied by the tools policy of backend memory/);
    const unknown = await call(client, 'no_such_tool').catch((e: Error) => e);
    expect(String(unknown)).toMatch(/Unknown tool: no_such_tool/);
    expect(await waitForAudit(aggregate, (a) => a.tool === 'delete_entities')).toMatchObject({
      backend: 'memory',
      outcome: 'denied',
    });
    await client.close();
  });
});

describe('progress, cancellation and server requests across two gateways', () => {
  const sampler = (who: string) => async (req: { params: { messages: Array<{ content: unknown }> } }) => {
    const first = req.params.messages[0]?.content as { text?: string } | undefined;
    return {
      model: 'test',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: `${who}: ${first?.text}` },
    };
  };

  test('2025 sessions: progress, sampling and elicitation reach the calling client', async () => {
    const { client } = await client2025(aggregate.url, { capabilities: { sampling: {}, elicitation: {} } });
    client.setRequestHandler(CreateMessageRequestSchema, sampler('caller'));
    client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { color: 'green', number: 7, pets: 'cats' },
    }));
    const progress: number[] = [];
    await client.callTool(
      { name: 'ev_trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(progress).toEqual([1, 2, 3]);
    const sampled = await call(client, 'ev_trigger-sampling-request', { prompt: 'hello', maxTokens: 5 });
    expect(textOf(sampled)).toMatch(/caller: .*hello/);
    expect(textOf(await call(client, 'ev_trigger-elicitation-request'))).toContain('green');
    await client.close();
  });

  test('a cancelled call is cancelled at the backend; the session goes on', async () => {
    const { client } = await client2025(aggregate.url);
    const controller = new AbortController();
    const pending = client
      .callTool({ name: 'ev_trigger-long-running-operation', arguments: { duration: 5, steps: 5 } }, undefined, {
        signal: controller.signal,
        onprogress: () => controller.abort(),
      })
      .catch((e: Error) => e);
    expect(String(await pending)).toMatch(/abort/i);
    await waitForAudit(everything, (a) => a.tool === 'trigger-long-running-operation' && a.outcome === 'cancelled');
    expect(textOf(await call(client, 'ev_echo', { message: 'after' }))).toBe('Echo: after');
    await client.close();
  });

  test('2026-07-28: sampling becomes input_required and the call finishes', async () => {
    const { client } = await client2026(aggregate.url, { capabilities: { sampling: {} } });
    client.setRequestHandler('sampling/createMessage', async () => ({
      model: 'test',
      role: 'assistant' as const,
      content: { type: 'text' as const, text: 'forty-two' },
    }));
    const result = await client.callTool({
      name: 'ev_trigger-sampling-request',
      arguments: { prompt: 'the answer', maxTokens: 5 },
    });
    expect(textOf(result)).toContain('forty-two');
    await client.close();
  });
});

describe('a backend killed and back', () => {
  test('its tools leave with list_changed, calls name it, the others answer, and it returns', async () => {
    const { client } = await client2025(aggregate.url);
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changes++;
    });
    const port = memory.port;
    await memory.stop('SIGKILL');
    await until(async () => changes > 0, 30_000, 'tools/list_changed after the kill');
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('create_entities');
    expect(names).toContain('ev_echo');
    const down = await call(client, 'graph').catch((e: Error) => e);
    expect(String(down)).toMatch(/graph belongs to backend memory, which is unavailable/);
    expect(textOf(await call(client, 'ev_echo', { message: 'still here' }))).toBe('Echo: still here');

    const seen = changes;
    memory = await startGateway(['stdio', '--', ...MEMORY], { env: { MCP_GATEWAY_PORT: String(port) } });
    await until(async () => changes > seen, 30_000, 'tools/list_changed after the return');
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('create_entities');
    expect(textOf(await call(client, 'graph'))).toContain('entities');
    await client.close();
  }, 90_000);
});

describe('membership from the backends file', () => {
  test('a backend leaves and joins with a prefix, the session stays open', async () => {
    const { client } = await client2025(aggregate.url);
    let changes = 0;
    client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      changes++;
    });
    const [ev, mem, fs] = members() as [AggregateBackend, AggregateBackend, AggregateBackend];
    writeBackends([ev, fs]);
    await until(async () => !(await client.listTools()).tools.some((t) => t.name === 'graph'), 20_000, 'memory gone');
    writeBackends([ev, fs, { ...mem, prefix: 'mem', tools: {} }]);
    await until(
      async () => (await client.listTools()).tools.some((t) => t.name === 'mem_read_graph'),
      20_000,
      'memory back, prefixed',
    );
    expect(changes).toBeGreaterThanOrEqual(2);
    expect(textOf(await call(client, 'ev_echo', { message: 'same session' }))).toBe('Echo: same session');
    writeFileSync(backendsFile, '{"version": 1, "backends": [{"name": "broken"}]}');
    await aggregate.waitForLog((l) => l.msg === 'backends file invalid; keeping the last good list');
    expect((await client.listTools()).tools.map((t) => t.name)).toContain('mem_read_graph');
    writeBackends(members());
    await client.close();
  }, 60_000);
});

describe('a legacy SSE backend', () => {
  test('is listed and called like the others', async () => {
    writeBackends([...members(), { name: 'memory-sse', url: `${memory.url}/sse`, transport: 'sse', prefix: 'sse' }]);
    const { client } = await client2025(aggregate.url);
    await until(
      async () => (await client.listTools()).tools.some((t) => t.name === 'sse_read_graph'),
      20_000,
      'the SSE backend listed',
    );
    expect(textOf(await call(client, 'sse_read_graph'))).toContain('entities');
    await client.close();
    writeBackends(members());
  }, 40_000);
});

describe('two replicas without sticky sessions', () => {
  test('a session spread over both replicas keeps working (signed session ids)', async () => {
    const secretFile = join(dir, 'session-secret');
    writeFileSync(secretFile, 'a-shared-secret-of-at-least-16-bytes\n');
    const replica = async () => {
      const port = await freePort();
      return startGateway(['aggregate', '--backends-file', backendsFile], {
        env: {
          MCP_GATEWAY_PORT: String(port),
          MCP_GATEWAY_SESSION_SECRET_FILE: secretFile,
          MCP_GATEWAY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
        },
      });
    };
    const [a, b] = await Promise.all([replica(), replica()]);
    let n = 0;
    const hits = new Set<number>();
    const spread = (input: string | URL | Request, init?: RequestInit) => {
      const target = n++ % 2 === 0 ? a : b;
      hits.add(target.port);
      const url = new URL(input instanceof Request ? input.url : input.toString());
      url.port = String(target.port);
      return fetch(url, init);
    };
    const client = new Client({ name: 'spread', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), { fetch: spread }));
    await until(
      async () => (await client.listTools()).tools.some((t) => t.name === 'graph'),
      20_000,
      'both replicas serving every backend',
    );
    for (let i = 0; i < 4; i++) {
      expect(textOf(await call(client, 'ev_echo', { message: `round ${i}` }))).toBe(`Echo: round ${i}`);
    }
    expect(hits.size).toBe(2);
    await client.close();
  }, 60_000);
});

describe('roots and the limits at the front', () => {
  const ASK_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/ask-server.ts')];
  let front: RunningGateway;

  beforeAll(async () => {
    // spawns: node
    const asker = await startGateway(['stdio', '--', ...ASK_SERVER]);
    const file = join(dir, 'asker-backends.json');
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        backends: [
          { name: 'asker', url: `${asker.url}/mcp`, transport: 'streamable-http', prefix: 'ask' },
          { name: 'everything', url: `${everything.url}/mcp`, transport: 'streamable-http', prefix: 'ev' },
        ],
      }),
    );
    // Per-tool limits name exposed tools (after prefix); the per-client limit counts every request.
    front = await startGateway(['aggregate', '--backends-file', file], {
      env: { MCP_GATEWAY_RATE_LIMIT_PER_TOOL: 'ev_get-sum=2', MCP_GATEWAY_RATE_LIMIT_RPM: '100' },
    });
    await until(
      async () => {
        const { client } = await client2025(front.url);
        const names = (await client.listTools()).tools.map((t) => t.name);
        await client.close();
        return names.includes('ask_ask-together') && names.includes('ev_get-sum');
      },
      30_000,
      'both backends listed',
    );
  }, 60_000);

  test("a backend's roots/list during a call reaches the calling client only, of either era", async () => {
    const asked: string[] = [];
    const capabilities = { roots: { listChanged: true }, sampling: {} };
    const clientFor = async (who: string, legacy: boolean) => {
      const s = legacy
        ? await clientSse(`${front.url}/sse`, { capabilities })
        : await client2025(front.url, { capabilities });
      s.client.setRequestHandler(ListRootsRequestSchema, async () => {
        asked.push(who);
        return { roots: [{ uri: `file:///work/${who}`, name: who }] };
      });
      s.client.setRequestHandler(CreateMessageRequestSchema, async () => ({
        model: 'test-model',
        role: 'assistant' as const,
        content: { type: 'text' as const, text: `from-${who}` },
      }));
      return s.client;
    };
    const [modern, legacy] = [await clientFor('session', false), await clientFor('legacy', true)];
    expect(textOf(await modern.callTool({ name: 'ask_ask-together', arguments: {} }))).toBe(
      'roots=file:///work/session sample=from-session',
    );
    expect(textOf(await legacy.callTool({ name: 'ask_ask-together', arguments: {} }))).toBe(
      'roots=file:///work/legacy sample=from-legacy',
    );
    expect(asked).toEqual(['session', 'legacy']);
    await Promise.all([modern.close(), legacy.close()]);
  });

  test('a per-tool limit on an exposed name refuses in-band and is audited with its backend', async () => {
    const { client } = await client2025(front.url);
    for (let i = 0; i < 2; i++) {
      expect(textOf(await call(client, 'ev_get-sum', { a: i, b: 1 }))).toContain(String(i + 1));
    }
    await expect(call(client, 'ev_get-sum', { a: 1, b: 1 })).rejects.toThrow(/Rate limit for tool ev_get-sum/);
    // Another tool of the same backend is not limited.
    expect(textOf(await call(client, 'ev_echo', { message: 'free' }))).toBe('Echo: free');
    const audit = await waitForAudit(front, (a) => a.outcome === 'rate_limited');
    expect(audit).toMatchObject({ tool: 'ev_get-sum', backend: 'everything' });
    await client.close();
  });

  test('past the per-client limit a client gets 429 with Retry-After', async () => {
    const { client } = await client2025(front.url);
    let refused: unknown;
    for (let i = 0; i < 200 && !refused; i++) {
      await client.ping().catch((err: unknown) => {
        refused = err;
      });
    }
    expect(String(refused)).toMatch(/429|rate limit|Too Many/i);
    await client.close().catch(() => {});
  });
});
