/**
 * Every client era against one shared child: the real server-everything from npm behind the gateway, with the
 * SDK 2.x client on the stateless 2026-07-28 revision, SDK 1.x and 2.x clients on 2025 sessions, the SDK 1.x
 * legacy HTTP+SSE client, and the MCP Inspector CLI.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  ResourceListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childPids,
  client2xLegacy,
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  INSPECTOR,
  metricValue,
  NODE,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';
import { JSON_POST, legacyStream, raw } from './raw-http.ts';

const execFileAsync = promisify(execFile);

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    env: { MCP_GATEWAY_SECRET_PROBE: 'must-not-leak', MCP_GATEWAY_KEEPALIVE_INTERVAL: '1s' },
  });
});

afterAll(async () => {
  await stopAll();
});

describe('one child, every era', () => {
  test('2026-07-28 stateless client: discover, list, call, progress', async () => {
    const { client } = await client2026(gw.url);
    expect(client.getServerVersion()?.name).toBe('mcp-servers/everything');
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('echo');
    const echoed = await client.callTool({ name: 'echo', arguments: { message: 'from 2026' } });
    expect(textOf(echoed)).toBe('Echo: from 2026');
    const progress: number[] = [];
    const long = await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(textOf(long)).toContain('Long running operation completed');
    expect(progress).toEqual([1, 2, 3]);
    await client.close();
  });

  test('2025 session clients (SDK 1.x and 2.x) and the legacy SSE client share the child', async () => {
    const before = childPids(gw.proc.pid as number);
    expect(before).toHaveLength(1);
    const a = await client2025(gw.url);
    const b = await client2xLegacy(gw.url);
    const c = await clientSse(`${gw.url}/sse`);
    expect(a.transport.sessionId).toMatch(/^[A-Za-z0-9_-]{24,}/);
    expect(b.transport.sessionId).toMatch(/^[A-Za-z0-9_-]{24,}/);
    expect(a.transport.sessionId).not.toBe(b.transport.sessionId);
    const [ra, rb, rc] = await Promise.all([
      a.client.callTool({ name: 'echo', arguments: { message: 'a' } }),
      b.client.callTool({ name: 'echo', arguments: { message: 'b' } }),
      c.client.callTool({ name: 'echo', arguments: { message: 'c' } }),
    ]);
    expect([textOf(ra), textOf(rb), textOf(rc)]).toEqual(['Echo: a', 'Echo: b', 'Echo: c']);
    // Still the one child: sessions do not spawn processes in shared mode.
    expect(childPids(gw.proc.pid as number)).toEqual(before);
    const progress: number[] = [];
    await c.client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.4, steps: 2 } },
      undefined,
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(progress).toEqual([1, 2]);
    await Promise.all([a.client.close(), b.client.close(), c.client.close()]);
  });

  test('request ids are rewritten: concurrent sessions with the same ids only see their own answers', async () => {
    const sessions = await Promise.all([0, 1, 2, 3].map(() => client2025(gw.url)));
    const results = await Promise.all(
      sessions.flatMap((s, i) =>
        Array.from({ length: 25 }, (_, j) =>
          s.client.callTool({ name: 'echo', arguments: { message: `s${i}-${j}` } }).then((r) => [i, j, textOf(r)]),
        ),
      ),
    );
    for (const [i, j, text] of results) expect(text).toBe(`Echo: s${i}-${j}`);
    await Promise.all(sessions.map((s) => s.client.close()));
  });

  test('progress goes only to the session that asked, with its own token', async () => {
    const a = await client2025(gw.url);
    const b = await client2025(gw.url);
    const seenA: number[] = [];
    const seenB: number[] = [];
    await Promise.all([
      a.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.6, steps: 3 } }, undefined, {
        onprogress: (p) => seenA.push(p.progress),
      }),
      b.client.callTool({ name: 'trigger-long-running-operation', arguments: { duration: 0.4, steps: 2 } }, undefined, {
        onprogress: (p) => seenB.push(p.progress),
      }),
    ]);
    expect(seenA).toEqual([1, 2, 3]);
    expect(seenB).toEqual([1, 2]);
    await Promise.all([a.client.close(), b.client.close()]);
  });

  /** A long call once the server runs it (its first progress): then it is surely in flight. */
  async function runningCall(
    client: Awaited<ReturnType<typeof client2025>>['client'],
    seconds: number,
  ): Promise<{ done: Promise<unknown> }> {
    let running!: () => void;
    const started = new Promise<void>((r) => {
      running = r;
    });
    const done = client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: 4 } },
      undefined,
      { onprogress: () => running() },
    );
    await started;
    return { done };
  }

  test('sampling and elicitation go to the session that caused them, never to another', async () => {
    const calls: string[] = [];
    const sampler = (who: string) => async (req: { params: { messages: Array<{ content: unknown }> } }) => {
      calls.push(who);
      const first = req.params.messages[0]?.content as { text?: string } | undefined;
      return {
        model: 'test-model',
        role: 'assistant' as const,
        content: { type: 'text' as const, text: `${who}: ${first?.text}` },
      };
    };
    const caller = await client2025(gw.url, { capabilities: { sampling: {}, elicitation: {} } });
    caller.client.setRequestHandler(CreateMessageRequestSchema, sampler('caller'));
    caller.client.setRequestHandler(ElicitRequestSchema, async () => ({
      action: 'accept',
      content: { color: 'green', number: 7, pets: 'cats' },
    }));
    // The only session with a call in flight is the caller: attribution is exact.
    const sampled = await caller.client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'hello', maxTokens: 5 },
    });
    expect(textOf(sampled)).toContain('caller: ');
    expect(textOf(sampled)).toContain('hello');
    const elicited = await caller.client.callTool({ name: 'trigger-elicitation-request', arguments: {} });
    expect(textOf(elicited)).toContain('green');

    // A bystander without the sampling capability has a call in flight. The shared handshake declared sampling
    // for every session, so the request may be the bystander's: the caller must not get another's prompt, and
    // the gateway refuses with the fix rather than guess.
    const plain = await client2025(gw.url);
    const busy = await runningCall(plain.client, 2);
    const guessed = await caller.client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'guess', maxTokens: 5 },
    });
    expect(textOf(guessed)).toContain('perSession');
    await busy.done;

    // A second sampling-capable session with a call in flight: the same, and the bystander's handler is never
    // called.
    const capable = await client2025(gw.url, { capabilities: { sampling: {} } });
    capable.client.setRequestHandler(CreateMessageRequestSchema, sampler('bystander'));
    const busy2 = await runningCall(capable.client, 4);
    const refused = await caller.client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'again', maxTokens: 5 },
    });
    await busy2.done;
    expect(textOf(refused)).toContain('perSession');
    expect(calls).toEqual(['caller']);
    await Promise.all([caller.client.close(), plain.client.close(), capable.client.close()]);
  });

  test('resources/updated reaches only the subscribed session', async () => {
    const subscriber = await client2025(gw.url);
    const other = await client2025(gw.url);
    const got: string[] = [];
    const otherGot: string[] = [];
    const { ResourceUpdatedNotificationSchema } = await import('@modelcontextprotocol/sdk/types.js');
    subscriber.client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
      got.push(n.params.uri);
    });
    other.client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
      otherGot.push(n.params.uri);
    });
    const resources = await subscriber.client.listResources();
    const uri = resources.resources[0]?.uri as string;
    expect(uri).toMatch(/^[a-z]+:\/\//);
    await subscriber.client.subscribeResource({ uri });
    await subscriber.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    const { until } = await import('./helpers.ts');
    await until(() => got.length > 0, 20_000, 'a resources/updated notification');
    expect(got[0]).toBe(uri);
    expect(otherGot).toEqual([]);
    await subscriber.client.callTool({ name: 'toggle-subscriber-updates', arguments: {} });
    await subscriber.client.unsubscribeResource({ uri });
    await Promise.all([subscriber.client.close(), other.client.close()]);
  });

  test('list_changed reaches every session of every era, not just one', async () => {
    const sessions = await Promise.all([client2025(gw.url), client2025(gw.url)]);
    const sdk2 = await client2xLegacy(gw.url);
    const legacy = await clientSse(`${gw.url}/sse`);
    const modern = await client2026(gw.url);
    const got = new Map<string, number>();
    const count = (who: string) => async () => {
      got.set(who, (got.get(who) ?? 0) + 1);
    };
    sessions.forEach((s, i) => {
      s.client.setNotificationHandler(ResourceListChangedNotificationSchema, count(`2025-${i}`));
    });
    sdk2.client.setNotificationHandler('notifications/resources/list_changed', count('2025-sdk2'));
    legacy.client.setNotificationHandler(ResourceListChangedNotificationSchema, count('sse'));
    modern.client.setNotificationHandler('notifications/resources/list_changed', count('2026-listen'));
    const subscription = await modern.client.listen({ resourcesListChanged: true });
    expect(subscription.honoredFilter.resourcesListChanged).toBe(true);
    // A new session resource: server-everything registers it and announces resources/list_changed.
    const name = `list-changed-${Date.now()}.gz`;
    await legacy.client.callTool({
      name: 'gzip-file-as-resource',
      arguments: { name, data: 'data:text/plain;base64,aGVsbG8=', outputType: 'resourceLink' },
    });
    const everyone = ['2025-0', '2025-1', '2025-sdk2', 'sse', '2026-listen'];
    await until(() => everyone.every((who) => (got.get(who) ?? 0) >= 1), 10_000, 'list_changed on every session');
    // Once each: one announcement, fanned out, never duplicated.
    expect(Object.fromEntries(got)).toEqual(Object.fromEntries(everyone.map((who) => [who, 1])));
    await subscription.close();
    await Promise.all([...sessions, sdk2, legacy, modern].map((s) => s.client.close()));
  });

  test('2026-07-28: an Mcp-Method or Mcp-Name header that disagrees with the body is 400 with -32020', async () => {
    const envelope = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const call = (headers: Record<string, string>) =>
      fetch(`${gw.url}/mcp`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'mcp-protocol-version': '2026-07-28',
          ...headers,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'tools/call',
          params: { name: 'echo', arguments: { message: 'headers' }, _meta: envelope },
        }),
      });
    // The same request with matching headers is served: only the headers differ below.
    const ok = await call({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    expect(ok.status).toBe(200);
    expect(JSON.stringify(await ok.json())).toContain('Echo: headers');
    for (const headers of [
      { 'mcp-method': 'tools/list', 'mcp-name': 'echo' },
      { 'mcp-method': 'tools/call', 'mcp-name': 'get-env' },
    ]) {
      const res = await call(headers);
      expect(res.status, JSON.stringify(headers)).toBe(400);
      const body = (await res.json()) as { error: { code: number; message: string } };
      expect(body.error.code).toBe(-32020);
      expect(body.error.message).toMatch(/headers and body disagree/);
    }
  });

  test('the MCP Inspector CLI works over Streamable HTTP and over SSE', async () => {
    const run = (args: string[]) =>
      execFileAsync(NODE, [INSPECTOR, '--cli', ...args], { timeout: 60_000, env: { ...process.env, HOME: '/tmp' } });
    const list = await run([`${gw.url}/mcp`, '--transport', 'http', '--method', 'tools/list']);
    expect(list.stdout).toContain('"echo"');
    const call = await run([
      `${gw.url}/sse`,
      '--transport',
      'sse',
      '--method',
      'tools/call',
      '--tool-name',
      'echo',
      '--tool-arg',
      'message=inspector',
    ]);
    expect(call.stdout).toContain('Echo: inspector');
  });

  test('the child does not inherit MCP_GATEWAY_* variables', async () => {
    const { client } = await client2025(gw.url);
    const env = JSON.parse(textOf(await client.callTool({ name: 'get-env', arguments: {} }))) as Record<string, string>;
    expect(Object.keys(env).filter((k) => k.startsWith('MCP_GATEWAY_'))).toEqual([]);
    expect(env.PATH).toMatch(/\/bin/); // the rest of the environment is passed on
    await client.close();
  });

  test('an audit line per tool call with argument keys only, and metrics by tool and outcome', async () => {
    const { client } = await client2025(gw.url);
    await client.callTool({ name: 'echo', arguments: { message: 'secret-argument-value' } });
    const audit = await waitForAudit(gw, (a) => a.tool === 'echo');
    expect(audit.argumentKeys).toEqual(['message']);
    expect(audit.outcome).toBe('ok');
    expect(typeof audit.durationMs).toBe('number');
    expect(audit.client).toBe('ip:127.0.0.1');
    expect(JSON.stringify(gw.logs)).not.toContain('secret-argument-value');
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'echo', outcome: 'ok' })).toBeGreaterThan(0);
    expect(await metricValue(gw, 'mcp_gateway_tool_call_duration_seconds_count', { tool: 'echo' })).toBeGreaterThan(0);
    expect(await metricValue(gw, 'mcp_gateway_child_up')).toBe(1);
    expect(await metricValue(gw, 'mcp_gateway_active_sessions', { transport: 'streamable_http' })).toBeGreaterThan(0);
    await client.close();
  });

  test('child stderr becomes pino log lines', async () => {
    const line = await gw.waitForLog((l) => l.stream === 'stderr');
    expect(line.msg).toContain('Starting default (STDIO) server');
  });
});

describe('the 2024-11-05 SSE era at its edges', () => {
  test('a POST whose stream closed while its body was arriving is 404, and its call never reaches the server', async () => {
    const sums = () => metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'get-sum' });
    const before = await sums();
    const { stream, sessionId } = await legacyStream(gw.port);
    const messages = `/messages?sessionId=${encodeURIComponent(sessionId)}`;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'get-sum', arguments: { a: 1, b: 2 } },
    });
    const socket = connect({ port: gw.port, host: '127.0.0.1' });
    let answer = '';
    socket.on('data', (c: Buffer) => {
      answer += c.toString('utf8');
    });
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST ${messages} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 20)}`,
    );
    await new Promise((r) => setTimeout(r, 200)); // the gateway has the headers and is reading the body
    stream.close(); // the client's stream goes, and with it the session
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 8, method: 'ping' });
    await until(
      async () => (await raw(gw.port, { path: messages, headers: JSON_POST, body: ping })).status === 404,
      5_000,
      'the session closed with its stream',
    );
    socket.end(body.slice(20));
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 404 /);
    expect(answer).toContain('"code":-32001');
    // Had it been dispatched, the call would have run for nobody: it is counted once answered (at once).
    await new Promise((r) => setTimeout(r, 500));
    expect(await sums()).toBe(before);
  });

  test('a second initialize on a session is refused, as on a 2025 session; the first handshake stands', async () => {
    const { stream, sessionId } = await legacyStream(gw.port);
    const messages = `/messages?sessionId=${encodeURIComponent(sessionId)}`;
    const initialize = (id: number, protocolVersion: string, capabilities: Record<string, unknown>) =>
      JSON.stringify({
        jsonrpc: '2.0',
        id,
        method: 'initialize',
        params: { protocolVersion, capabilities, clientInfo: { name: 'raw', version: '1' } },
      });
    const first = await raw(gw.port, { path: messages, headers: JSON_POST, body: initialize(1, '2024-11-05', {}) });
    expect(first.status).toBe(202);
    await until(() => stream.received().includes('"id":1,"result"'), 5_000, 'the first handshake answered');
    const again = await raw(gw.port, {
      path: messages,
      headers: JSON_POST,
      body: initialize(2, '2025-11-25', { sampling: {} }),
    });
    expect(again.status).toBe(400);
    expect(again.json).toMatchObject({ id: 2, error: { code: -32600 } });
    expect(again.json?.error?.message).toBe(
      'Invalid Request: this session is already initialized; open a new stream with GET /sse for a new session',
    );
    const ping = await raw(gw.port, {
      path: messages,
      headers: JSON_POST,
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'ping' }),
    });
    expect(ping.status).toBe(202);
    await until(() => stream.received().includes('"id":3,"result"'), 5_000, 'the session still served');
    expect(stream.received()).not.toContain('"id":2');
    stream.close();
  });
});
