/**
 * Policy against the real gateway and server-everything, continued (policy.test.ts): the tool deny list in every
 * era, per-tool and per-client rate limits, and a per-client limit that counts JSON-RPC requests, not HTTP
 * requests. After every refusal a well-behaved client is still served.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type AuditLine,
  client2025,
  client2026,
  EVERYTHING,
  metricValue,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  waitForAudit,
} from './helpers.ts';
import { auth, postTo, startPolicyGateway, stillServed, TOKENS } from './policy-helpers.ts';

let gw: RunningGateway;

beforeAll(async () => {
  ({ gw } = await startPolicyGateway());
});

afterAll(async () => {
  await stopAll();
});

const post = (body: string, headers: Record<string, string>) => postTo(gw, body, headers);

describe('tool policy and rate limits', () => {
  test('denied tools are hidden from tools/list and refused on tools/call, in every era', async () => {
    const a = await client2025(gw.url, { headers: auth(TOKENS.main) });
    const names = (await a.client.listTools()).tools.map((t) => t.name);
    expect(names).toContain('echo');
    expect(names).not.toContain('get-env');
    expect(names).not.toContain('gzip-file-as-resource');
    await expect(a.client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(/not available/);
    const m = await client2026(gw.url, { headers: auth(TOKENS.main) });
    expect((await m.client.listTools()).tools.map((t) => t.name)).not.toContain('get-env');
    await expect(m.client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(/not available/);
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'get-env', outcome: 'denied' })).toBe(2);
    const audit = await waitForAudit(gw, (a) => a.outcome === 'denied');
    expect(audit.tool).toBe('get-env');
    await Promise.all([a.client.close(), m.client.close()]);
  });

  test('a per-tool limit answers in-band with a JSON-RPC error; other tools keep working', async () => {
    const { client } = await client2025(gw.url, { headers: auth(TOKENS.perTool) });
    for (let i = 0; i < 3; i++) {
      expect(textOf(await client.callTool({ name: 'get-sum', arguments: { a: i, b: 1 } }))).toContain(String(i + 1));
    }
    await expect(client.callTool({ name: 'get-sum', arguments: { a: 1, b: 1 } })).rejects.toThrow(
      /Rate limit for tool get-sum/,
    );
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'ok' } }))).toBe('Echo: ok');
    expect(await metricValue(gw, 'mcp_gateway_rate_limited_total', { scope: 'tool' })).toBeGreaterThanOrEqual(1);
    await client.close();
  });

  test('a flood past the per-client limit gets 429 with Retry-After, each counted by code; other clients are unaffected', async () => {
    const h = { 'content-type': 'application/json', ...auth(TOKENS.flood) };
    const counted = (code: string) => metricValue(gw, 'mcp_gateway_http_responses_total', { code });
    const [ok0, limited0] = [await counted('200'), await counted('429')];
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    let code: number | undefined;
    for (let i = 0; i < 50; i++) {
      const res = await post(JSON.stringify({ jsonrpc: '2.0', id: i, method: 'ping' }), h);
      statuses.push(res.status);
      if (res.status === 429) {
        retryAfter = res.headers.get('retry-after');
        code = ((await res.json()) as { error: { code: number } }).error.code;
      } else await res.body?.cancel();
    }
    expect(statuses.filter((s) => s === 200).length).toBe(40);
    expect(statuses.filter((s) => s === 429).length).toBe(10);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    expect(code).toBe(-32029);
    expect(await counted('429')).toBe(limited0 + 10);
    // At least: a stream of an earlier test's session may end (and be counted) meanwhile.
    expect(await counted('200')).toBeGreaterThanOrEqual(ok0 + 40);
    await stillServed(gw);
  });
});

describe('the per-client limit counts JSON-RPC requests, not HTTP requests', () => {
  const RPM = 10;
  let limited: RunningGateway;

  beforeAll(async () => {
    // Trusting X-Forwarded-For lets each test be its own client (the identity is the address).
    limited = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_RATE_LIMIT_RPM: String(RPM), MCP_GATEWAY_TRUST_PROXY: 'true' },
    });
  });

  const send = (body: unknown, address: string, headers: Record<string, string> = {}) =>
    fetch(`${limited.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'x-forwarded-for': address,
        ...headers,
      },
      body: JSON.stringify(body),
    });
  const pings = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: from + i, method: 'ping' }));

  test('a batch of N requests takes N tokens; notifications in it are free; a batch over the limit is refused whole', async () => {
    const client = '192.0.2.10';
    const six = await send(pings(6), client);
    expect(six.status).toBe(200);
    expect((await six.json()) as unknown[]).toHaveLength(6);
    // 4 tokens left: a batch of 5 is refused as a whole (and takes nothing)...
    const five = await send(pings(5, 10), client);
    expect(five.status).toBe(429);
    expect(Number(five.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(((await five.json()) as { error: { code: number } }).error.code).toBe(-32029);
    // ...so 4 requests plus a notification still fit,
    const four = await send([...pings(4, 20), { jsonrpc: '2.0', method: 'notifications/initialized' }], client);
    expect(four.status).toBe(200);
    expect((await four.json()) as unknown[]).toHaveLength(4);
    // and then nothing does, except a body with no request in it.
    const one = await send({ jsonrpc: '2.0', id: 30, method: 'ping' }, client);
    expect(one.status).toBe(429);
    await one.body?.cancel();
    const note = await send({ jsonrpc: '2.0', method: 'notifications/initialized' }, client);
    expect(note.status).toBe(202);
    // A batch larger than a minute's worth can never pass: no Retry-After, a message that says why.
    const huge = await send(pings(RPM + 1), '192.0.2.11');
    expect(huge.status).toBe(429);
    expect(huge.headers.get('retry-after')).toBeNull();
    const body = (await huge.json()) as { error: { code: number; message: string } };
    expect(body.error.code).toBe(-32029);
    expect(body.error.message).toContain(`the batch holds ${RPM + 1} requests, more than the limit of ${RPM}`);
    // That client's bucket was left untouched.
    const full = await send(pings(RPM), '192.0.2.11');
    expect(full.status).toBe(200);
    expect((await full.json()) as unknown[]).toHaveLength(RPM);
    // Refusals count the requests refused: 5 + 1 + 11.
    expect(await metricValue(limited, 'mcp_gateway_rate_limited_total', { scope: 'client' })).toBe(17);
  });

  test('tools/call requests the per-client limit refuses are audited and counted as rate_limited, keys only', async () => {
    const secret = 'value-that-must-not-be-logged';
    const call = (id: number, tool = 'echo') => ({
      jsonrpc: '2.0',
      id,
      method: 'tools/call',
      params: { name: tool, arguments: { message: secret } },
    });
    const address = '192.0.2.20';
    const { client, transport } = await client2025(limited.url, { headers: { 'x-forwarded-for': address } });
    const session = { 'mcp-session-id': transport.sessionId as string };
    expect(session['mcp-session-id']).toMatch(/^[A-Za-z0-9_-]{24,}/);
    // initialize took one token; nine calls take the rest.
    const nine = await send([...Array.from({ length: 9 }, (_, i) => call(i + 1))], address, session);
    expect(nine.status).toBe(200);
    expect((await nine.json()) as unknown[]).toHaveLength(9);
    const refused = await send(
      [call(20), call(21, 'get-sum'), { jsonrpc: '2.0', id: 22, method: 'ping' }],
      address,
      session,
    );
    expect(refused.status).toBe(429);
    await refused.body?.cancel();
    const fingerprint = createHash('sha256').update(session['mcp-session-id']).digest('hex').slice(0, 12);
    await waitForAudit(limited, (a) => a.outcome === 'rate_limited' && a.tool === 'get-sum');
    const lines = limited.logs
      .map((l) => l.audit as AuditLine | undefined)
      .filter((a) => a?.outcome === 'rate_limited' && a.client === `ip:${address}`);
    expect(lines.map((a) => a?.tool).sort()).toEqual(['echo', 'get-sum']);
    for (const a of lines) {
      expect(a).toMatchObject({ event: 'tool_call', argumentKeys: ['message'], session: fingerprint });
    }
    expect(await metricValue(limited, 'mcp_gateway_tool_calls_total', { tool: 'echo', outcome: 'rate_limited' })).toBe(
      1,
    );
    expect(
      await metricValue(limited, 'mcp_gateway_tool_calls_total', { tool: 'get-sum', outcome: 'rate_limited' }),
    ).toBe(1);
    await client.close();

    // A 2026-07-28 client past the limit: its refused call is audited the same way.
    const modernAddress = '192.0.2.21';
    const modern = await client2026(limited.url, { headers: { 'x-forwarded-for': modernAddress } });
    let rejection: Error | undefined;
    for (let i = 0; i <= RPM && !rejection; i++) {
      rejection = await modern.client.callTool({ name: 'echo', arguments: { message: secret } }).then(
        () => undefined,
        (err: Error) => err,
      );
    }
    expect(rejection?.message).toMatch(/429|Too Many Requests/);
    const modernLine = await waitForAudit(
      limited,
      (a) => a.outcome === 'rate_limited' && a.client === `ip:${modernAddress}`,
    );
    expect(modernLine).toMatchObject({ tool: 'echo', argumentKeys: ['message'], session: 'modern-refused' });
    expect(await metricValue(limited, 'mcp_gateway_tool_calls_total', { tool: 'echo', outcome: 'rate_limited' })).toBe(
      2,
    );
    expect(JSON.stringify(limited.logs)).not.toContain(secret);
    await modern.client.close();

    // A refused body costs nothing, so a huge batch is audited up to a bound and summed in one warning.
    const floodAddress = '192.0.2.22';
    const flooder = await client2025(limited.url, { headers: { 'x-forwarded-for': floodAddress } });
    const floodSession = { 'mcp-session-id': flooder.transport.sessionId as string };
    const batch = Array.from({ length: 40 }, (_, i) => call(100 + i, `flood-${i}`));
    const flood = await send(batch, floodAddress, floodSession);
    expect(flood.status).toBe(429);
    await flood.body?.cancel();
    const summary = await limited.waitForLog((l) => l.client === `ip:${floodAddress}` && l.refused === 40);
    expect(summary).toMatchObject({ audited: 10 });
    const floodLines = limited.logs.filter((l) => (l.audit as AuditLine | undefined)?.client === `ip:${floodAddress}`);
    expect(floodLines).toHaveLength(10);
    await flooder.client.close();
  });
});
