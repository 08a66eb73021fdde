import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_AUDITED_KEYS } from '../../src/gateway/audit.ts';
import { MAX_JSON_DEPTH } from '../../src/gateway/protocol/jsonrpc.ts';
import {
  type AuditLine,
  client2025,
  EVERYTHING,
  metricValue,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';
import { call, deepCall, nested, post, RAW_SERVER, rawLegacy } from './hostile-helpers.ts';
import { confirmedSession } from './raw-http.ts';

afterAll(stopAll);

describe('deep nesting', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_DRAIN_TIMEOUT: '20s' } });
  });

  test('arguments nested 5,000 levels get -32600 with the request id in every era, and nothing stays in flight', async () => {
    const deep = nested(5000);
    const expectRefused = (answer: { status: number; json: () => unknown }, id: number | string) => {
      expect(answer.status).toBe(400);
      const body = answer.json() as { id: unknown; error: { code: number; message: string; data: unknown } };
      expect(body.id).toBe(id);
      expect(body.error.code).toBe(-32600);
      expect(body.error.message).toContain(`more than ${MAX_JSON_DEPTH} levels deep`);
      expect(body.error.data).toEqual({ reason: 'too_deep', maxDepth: MAX_JSON_DEPTH });
    };
    // Sessionless 2025-style, 2026-07-28, an open 2025 session, legacy SSE.
    expectRefused(await post(`${gw.url}/mcp`, deepCall(7, deep)), 7);
    expectRefused(
      await post(`${gw.url}/mcp`, deepCall('m-1', deep, true), {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'echo',
      }),
      'm-1',
    );
    const session = await confirmedSession(gw.port);
    expectRefused(await post(`${gw.url}/mcp`, deepCall(8, deep), { 'mcp-session-id': session }), 8);
    const legacy = await rawLegacy(gw);
    expectRefused(await post(legacy.messages, deepCall(9, deep)), 9);
    legacy.close();
    // A batch: each request answered by its own id.
    const batch = await post(`${gw.url}/mcp`, `[${deepCall(10, '1')},${deepCall(11, deep)}]`, {
      'mcp-session-id': session,
    });
    expect(batch.status).toBe(400);
    expect((batch.json() as Array<{ id: number; error: { code: number } }>).map((r) => [r.id, r.error.code])).toEqual([
      [10, -32600],
      [11, -32600],
    ]);
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
    expect(await metricValue(gw, 'mcp_gateway_http_responses_total', { code: '500' })).toBe(0);
  });

  test('arguments nested up to the limit are served', async () => {
    // The envelope takes three levels: message, params, arguments.
    const answer = await post(`${gw.url}/mcp`, deepCall(12, nested(MAX_JSON_DEPTH - 3)));
    expect(answer.status).toBe(200);
    expect(textOf((answer.json() as { result: unknown }).result)).toBe('Echo: hi');
  });

  test('afterwards a real client is served and a SIGTERM drain has nothing to wait for', async () => {
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    await client.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
    const draining = gw.logs.find((l) => l.msg === 'draining');
    expect(draining?.inflight).toBe(0);
    expect(gw.logs.some((l) => l.msg === 'drain deadline reached; failing the remaining requests')).toBe(false);
  });
});

describe('deep nesting from the server', () => {
  test('an answer nested 10,000 levels becomes an error for its caller; the gateway survives', async () => {
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER]);
    const deep = (await post(`${gw.url}/mcp`, call(61, 'nest', { depth: 10_000 }))).json() as {
      id: number;
      error?: { code: number; message: string };
    };
    expect(deep.id).toBe(61);
    expect(deep.error?.code).toBe(-32603);
    expect(deep.error?.message).toContain('nests more than 1000 levels deep');
    // Below the server-side bound the answer is forwarded whole.
    const fine = (await post(`${gw.url}/mcp`, call(62, 'nest', { depth: 900 }))).json() as {
      result: { structuredContent: { x: unknown } };
    };
    expect(JSON.stringify(fine.result.structuredContent.x)).toBe(`${'['.repeat(900)}${']'.repeat(900)}`);
    expect(gw.proc.exitCode).toBeNull();
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
  });
});

describe('an oversize answer from a stdio server', () => {
  test('fails its call at once with the limit named, whichever end holds the id; the next call is served', async () => {
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER], { env: { MCP_GATEWAY_REQUEST_TIMEOUT: '60s' } });
    for (const [id, idFirst] of [
      [71, false],
      [72, true],
    ] as const) {
      const started = Date.now();
      const answer = (await post(`${gw.url}/mcp`, call(id, 'big', { bytes: 33 * 1024 * 1024, idFirst }))).json() as {
        id: number;
        error?: { code: number; message: string };
      };
      expect(answer.id).toBe(id);
      expect(answer.error?.code).toBe(-32603);
      expect(answer.error?.message).toMatch(
        /answer is 346\d{5} bytes, larger than the gateway takes \(33554432 bytes\)/,
      );
      // Not the request timeout: the dropped answer is what ends the call.
      expect(Date.now() - started).toBeLessThan(30_000);
    }
    const audits = () => gw.logs.filter((l) => (l.audit as { tool?: string } | undefined)?.tool === 'big');
    await until(() => audits().length === 2, 5_000, 'both audit lines');
    expect(audits().map((l) => (l.audit as { outcome: string }).outcome)).toEqual(['error', 'error']);
    const fine = (await post(`${gw.url}/mcp`, call(73, 'big', { bytes: 1000 }))).json() as { result: unknown };
    expect(textOf(fine.result)).toBe('x'.repeat(1000));
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
    expect(await gw.stop()).toBe(0);
  }, 60_000);
});

describe('absurd tool names and unbounded log lines', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_MAX_BODY_BYTES: '8388608' } });
  });

  test('a 3 MB tool name is refused with -32602 and the id; its audit line stays small', async () => {
    const name = 'x'.repeat(3 * 1024 * 1024);
    const answer = await post(`${gw.url}/mcp`, call(21, name));
    expect(answer.status).toBe(200);
    const body = answer.json() as { id: number; error: { code: number; message: string } };
    expect(body.id).toBe(21);
    expect(body.error.code).toBe(-32602);
    expect(body.error.message).toContain(`a name of ${name.length} characters`);
    expect(body.error.message).toContain('1 to 128 characters of A-Z a-z 0-9 _ - .');
    expect(answer.text.length).toBeLessThan(1024);
    const audit = await waitForAudit(gw, (a) => a.outcome === 'invalid');
    expect(audit.tool?.startsWith('xxxx')).toBe(true);
    expect(audit.tool?.length).toBeLessThan(200);
    // Malformed names the server did not declare: spaces, an empty name, 129 characters.
    for (const bad of ['get sum', '', 'a'.repeat(129), 'rm -rf /']) {
      const refused = (await post(`${gw.url}/mcp`, call(22, bad))).json() as { id: number; error: { code: number } };
      expect(refused).toMatchObject({ id: 22, error: { code: -32602 } });
    }
    // Well-formed names reach the server, whatever it answers; 128 characters is still well-formed.
    const unknown = (await post(`${gw.url}/mcp`, call(23, 'a'.repeat(128)))).json() as { id: number };
    expect(unknown.id).toBe(23);
    expect(JSON.stringify(unknown)).not.toContain('is not a tool of this server');
  });

  test('argument keys, however many and long, are bounded in the audit line', async () => {
    const args: Record<string, string> = { message: 'keys' };
    for (let i = 0; i < 10_000; i++) args[`${'k'.repeat(300)}${i}`] = 'v';
    const answer = await post(`${gw.url}/mcp`, call(24, 'echo', args));
    expect(textOf((answer.json() as { result: unknown }).result)).toBe('Echo: keys');
    const line = await gw.waitForLog((l) => (l.audit as AuditLine | undefined)?.argumentKeys?.[0] === 'message');
    const audit = line.audit as AuditLine & { argumentKeysOmitted?: number };
    expect(audit.argumentKeys).toHaveLength(MAX_AUDITED_KEYS);
    expect(audit.argumentKeysOmitted).toBe(10_001 - MAX_AUDITED_KEYS);
    expect(JSON.stringify(line).length).toBeLessThan(8 * 1024);
  });

  test('no gateway log line is longer than a few kilobytes, and a real client is still served', async () => {
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'ok' } }))).toBe('Echo: ok');
    await client.close();
    const longest = Math.max(...gw.logs.map((l) => JSON.stringify(l).length));
    expect(longest).toBeLessThan(8 * 1024);
  });
});

describe('client identity behind a proxy', () => {
  test('an X-Forwarded-For entry that is not an address is not taken as the client (it is a log field and a limit key)', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_TRUST_PROXY: 'true' } });
    await post(`${gw.url}/mcp`, call(71, 'echo', { message: 'who' }), {
      'x-forwarded-for': '198.51.100.7, 203.0.113.9',
    });
    expect((await waitForAudit(gw, (a) => a.client === 'ip:203.0.113.9')).outcome).toBe('ok');
    const junk = `10.0.0.1, ${'x'.repeat(8000)}`;
    await post(`${gw.url}/mcp`, call(72, 'echo', { message: 'junk' }), { 'x-forwarded-for': junk });
    const line = await waitForAudit(gw, (a) => a.client !== 'ip:203.0.113.9');
    expect(line.client).toBe('ip:127.0.0.1');
  });
});

describe('metric labels', () => {
  test('only tools the server declared get a label: 300 junk names cannot push echo into a shared bucket', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING]);
    for (let i = 0; i < 300; i++) await post(`${gw.url}/mcp`, call(100 + i, `junk-${i}`));
    // No client has listed the tools: the gateway read the server's list itself.
    const answer = await post(`${gw.url}/mcp`, call(1, 'echo', { message: 'labelled' }));
    expect(textOf((answer.json() as { result: unknown }).result)).toBe('Echo: labelled');
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'echo' })).toBe(1);
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: '_unknown' })).toBe(300);
    const text = await (await fetch(`${gw.health}/metrics`)).text();
    expect(text).not.toContain('junk-');
    expect(text).not.toContain('_other');
    // Junk methods share one method label too.
    for (let i = 0; i < 70; i++) {
      await post(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: i, method: `junk/${i}` }));
    }
    await post(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(await metricValue(gw, 'mcp_gateway_rpc_requests_total', { method: 'tools/list' })).toBeGreaterThan(0);
    expect(await metricValue(gw, 'mcp_gateway_rpc_requests_total', { method: '_unknown' })).toBe(70);
  });

  test('a tool added later (list_changed) is labelled, and a declared name outside the MCP format is served', async () => {
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER, '--late-tool']);
    const before = (await post(`${gw.url}/mcp`, call(1, 'late:tool'))).json() as { error?: { code: number } };
    expect(before.error?.code).toBe(-32602);
    await post(`${gw.url}/mcp`, call(2, 'grow'));
    // The gateway reads the list again after list_changed; until then the name is still refused.
    await until(
      async () => {
        const after = (await post(`${gw.url}/mcp`, call(3, 'late:tool', { message: 'late' }))).json();
        return textOf((after as { result?: unknown }).result ?? {}) === 'Echo: late';
      },
      10_000,
      'late:tool served',
    );
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'late:tool', outcome: 'ok' })).toBe(1);
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'grow' })).toBe(1);
  });
});
