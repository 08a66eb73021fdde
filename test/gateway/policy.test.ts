/**
 * Policy and bad input, against the real gateway and server-everything: bearer tokens from a file (and its
 * rotation), RFC 9728 metadata, tool deny list, per-client and per-tool rate limits, body limit, content type,
 * malformed JSON, unknown session, Origin. After every refusal a well-behaved client is still served.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type AuditLine,
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  metricValue,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';
import { raw } from './raw-http.ts';

let gw: RunningGateway;
let tokenFile: string;
const TOKENS = {
  main: 'tok-main-0123456789abcdef',
  flood: 'tok-flood-0123456789abcdef',
  perTool: 'tok-pertool-0123456789abcdef',
  rotated: 'tok-old-0123456789abcdef',
};
const auth = (t: string) => ({ authorization: `Bearer ${t}` });

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-policy-'));
  tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, `# one token per line\n${Object.values(TOKENS).join('\n')}\n`);
  gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    env: {
      MCP_GATEWAY_AUTH_TOKEN_FILE: tokenFile,
      MCP_GATEWAY_TOOLS_DENY: 'get-env,gzip-file-as-resource',
      MCP_GATEWAY_RATE_LIMIT_RPM: '40',
      MCP_GATEWAY_RATE_LIMIT_PER_TOOL: 'get-sum=3',
      MCP_GATEWAY_MAX_BODY_BYTES: '65536',
      MCP_GATEWAY_ALLOWED_ORIGINS: 'https://app.example',
    },
  });
});

afterAll(async () => {
  await stopAll();
});

async function post(body: string, headers: Record<string, string>) {
  return fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { accept: 'application/json, text/event-stream', ...headers },
    body,
  });
}

/** The resource_metadata URL of a WWW-Authenticate challenge. */
function resourceMetadataUrl(challenge: string | null): string {
  const url = /resource_metadata="([^"]+)"/.exec(challenge ?? '')?.[1];
  if (url === undefined) throw new Error(`no resource_metadata in ${challenge}`);
  return url;
}

/** The `resource` an RFC 9728 metadata document names. */
async function resourceOf(metadataUrl: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(metadataUrl, { headers });
  expect(res.status).toBe(200);
  return ((await res.json()) as { resource: string }).resource;
}

async function stillServed() {
  const { client } = await client2025(gw.url, { headers: auth(TOKENS.main) });
  const r = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
  expect(textOf(r)).toBe('Echo: still here');
  await client.close();
}

describe('authentication', () => {
  test('no token: 401 with a WWW-Authenticate challenge naming the RFC 9728 metadata', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { 'content-type': 'application/json' });
    expect(res.status).toBe(401);
    const challenge = res.headers.get('www-authenticate') ?? '';
    expect(challenge).toMatch(
      /^Bearer resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/,
    );
    const meta = await fetch(new URL(/resource_metadata="([^"]+)"/.exec(challenge)?.[1] as string));
    expect(meta.status).toBe(200);
    const doc = (await meta.json()) as { resource: string; bearer_methods_supported: string[] };
    expect(doc.resource).toBe(`${gw.url}/mcp`);
    expect(doc.bearer_methods_supported).toEqual(['header']);
    await stillServed();
  });

  test('behind a proxy that stripped a prefix: RFC 9728 metadata URL at the host root, resource with the prefix', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', {
      'content-type': 'application/json',
      'x-forwarded-prefix': '/team-a',
    });
    expect(res.status).toBe(401);
    const meta = resourceMetadataUrl(res.headers.get('www-authenticate'));
    // §3.1: the well-known segment right after the host, then the path the client calls.
    expect(meta).toBe(`${gw.url}/.well-known/oauth-protected-resource/team-a/mcp`);
    // That URL reaches the gateway unchanged (it is outside the stripped prefix): the suffix names the resource.
    expect(await resourceOf(meta)).toBe(`${gw.url}/team-a/mcp`);
  });

  test('a wrong token: 401 invalid_token, for every transport and era', async () => {
    const bad = auth('not-a-valid-token');
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { 'content-type': 'application/json', ...bad });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toContain('error="invalid_token"');
    await expect(client2025(gw.url, { headers: bad })).rejects.toThrow(/Unauthorized/);
    await expect(client2026(gw.url, { headers: bad })).rejects.toThrow();
    const sse = await fetch(`${gw.url}/sse`, { headers: bad });
    expect(sse.status).toBe(401);
    await stillServed();
  });

  test('valid tokens work on every era; the audit line names a fingerprint, never the token', async () => {
    const a = await client2025(gw.url, { headers: auth(TOKENS.main) });
    const m = await client2026(gw.url, { headers: auth(TOKENS.main) });
    const s = await clientSse(`${gw.url}/sse`, { headers: auth(TOKENS.main) });
    expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: '1' } }))).toBe('Echo: 1');
    expect(textOf(await m.client.callTool({ name: 'echo', arguments: { message: '2' } }))).toBe('Echo: 2');
    expect(textOf(await s.client.callTool({ name: 'echo', arguments: { message: '3' } }))).toBe('Echo: 3');
    const audit = await waitForAudit(gw);
    expect(String(audit.client)).toMatch(/^token:[0-9a-f]{12}$/);
    expect(JSON.stringify(gw.logs)).not.toContain(TOKENS.main);
    await Promise.all([a.client.close(), m.client.close(), s.client.close()]);
  });

  test('a session belongs to the token that opened it: another token gets 404 on every verb and era', async () => {
    const owner = await client2025(gw.url, { headers: auth(TOKENS.main) });
    const id = owner.transport.sessionId as string;
    const other = { ...auth(TOKENS.flood), 'mcp-session-id': id, 'mcp-protocol-version': '2025-11-25' };
    const ping = await post('{"jsonrpc":"2.0","id":7,"method":"ping"}', {
      'content-type': 'application/json',
      ...other,
    });
    expect(ping.status).toBe(404);
    const stream = await fetch(`${gw.url}/mcp`, { headers: { ...other, accept: 'text/event-stream' } });
    expect(stream.status).toBe(404);
    await stream.body?.cancel();
    const del = await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: other });
    expect(del.status).toBe(404);
    // The owner's session is untouched, and its audit line names the owner.
    expect(textOf(await owner.client.callTool({ name: 'echo', arguments: { message: 'mine' } }))).toBe('Echo: mine');
    await owner.client.close();

    const legacy = await clientSse(`${gw.url}/sse`, { headers: auth(TOKENS.main) });
    const endpoint = (legacy.transport as unknown as { _endpoint?: URL })._endpoint as URL;
    const foreign = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth(TOKENS.flood) },
      body: '{"jsonrpc":"2.0","id":8,"method":"ping"}',
    });
    expect(foreign.status).toBe(404);
    expect(textOf(await legacy.client.callTool({ name: 'echo', arguments: { message: 'sse' } }))).toBe('Echo: sse');
    await legacy.client.close();
  });

  test('the token file is re-read when the Secret rotates', async () => {
    const ping = (t: string) =>
      post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { 'content-type': 'application/json', ...auth(t) });
    expect((await ping(TOKENS.rotated)).status).toBe(200);
    const fresh = 'tok-new-0123456789abcdef';
    writeFileSync(tokenFile, [TOKENS.main, TOKENS.flood, TOKENS.perTool, fresh].join('\n'));
    await until(async () => (await ping(fresh)).status === 200, 10_000, 'the rotated token to be accepted');
    expect((await ping(TOKENS.rotated)).status).toBe(401);
  });
});

describe('a token file line that can never match', () => {
  test('a line with whitespace (a pasted "Bearer ..." header) is named by its line number at start, never shown', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-policy-ws-'));
    const file = join(dir, 'tokens');
    writeFileSync(file, '# tokens\ntok-good-0123456789\nBearer tok-pasted-0123456789\n');
    const g = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_AUTH_TOKEN_FILE: file } });
    const warned = await g.waitForLog((l) => l.msg?.startsWith('bearer token file: ') === true, 5_000);
    expect(warned.level).toBe(40);
    expect(warned.lines).toEqual([3]);
    expect(warned.msg).toBe(
      'bearer token file: a line holds whitespace and can never match (a token is one word: write it alone, without "Bearer ")',
    );
    expect(JSON.stringify(g.logs)).not.toContain('tok-pasted');
    const ping = (token: string) =>
      raw(g.port, {
        headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${token}` },
        body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
      });
    expect((await ping('tok-good-0123456789')).status).toBe(200);
    await g.stop();
  });
});

describe('RFC 9728 metadata under a base path (the operator behind an Ingress prefix)', () => {
  let prefixed: RunningGateway;

  beforeAll(async () => {
    prefixed = await startGateway(['stdio', '--base-path', '/github', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_AUTH_TOKEN_FILE: tokenFile },
    });
  });

  const unauthorized = (path: string, headers: Record<string, string> = {}) =>
    fetch(`${prefixed.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
      body: '{"jsonrpc":"2.0","id":1,"method":"ping"}',
    });

  test('the challenge points at the host-root metadata of <prefix>/mcp, whose resource is the URL clients call', async () => {
    const res = await unauthorized('/github/mcp');
    expect(res.status).toBe(401);
    const meta = resourceMetadataUrl(res.headers.get('www-authenticate'));
    expect(meta).toBe(`${prefixed.url}/.well-known/oauth-protected-resource/github/mcp`);
    const resource = await resourceOf(meta);
    expect(resource).toBe(`${prefixed.url}/github/mcp`);
    // The resource really is the endpoint: the same URL with a token serves MCP.
    const { client } = await client2025(resource.replace(/\/mcp$/, ''), { headers: auth(TOKENS.main) });
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'via prefix' } }))).toBe(
      'Echo: via prefix',
    );
    await client.close();
  });

  test('the external origin comes from X-Forwarded-Proto/Host, in the challenge and in the document', async () => {
    const forwarded = { 'x-forwarded-proto': 'https', 'x-forwarded-host': 'mcp.example.com' };
    const res = await unauthorized('/github/mcp', forwarded);
    const meta = resourceMetadataUrl(res.headers.get('www-authenticate'));
    expect(meta).toBe('https://mcp.example.com/.well-known/oauth-protected-resource/github/mcp');
    const local = meta.replace('https://mcp.example.com', prefixed.url);
    expect(await resourceOf(local, forwarded)).toBe('https://mcp.example.com/github/mcp');
  });

  test('the older paths keep answering; a suffix naming no endpoint is 404', async () => {
    const base = `${prefixed.url}/.well-known/oauth-protected-resource`;
    // Unprefixed (the in-cluster Service URL): the resource is /mcp.
    expect(resourceMetadataUrl((await unauthorized('/mcp')).headers.get('www-authenticate'))).toBe(`${base}/mcp`);
    expect(await resourceOf(`${base}/mcp`)).toBe(`${prefixed.url}/mcp`);
    // The form the gateway used to emit, and the bare path, under the prefix.
    const old = `${prefixed.url}/github/.well-known/oauth-protected-resource`;
    expect(await resourceOf(`${old}/github/mcp`)).toBe(`${prefixed.url}/github/mcp`);
    expect(await resourceOf(old)).toBe(`${prefixed.url}/github/mcp`);
    // With a base path the gateway knows its endpoints: another application's path on the host is not its own.
    for (const bad of ['/github/admin', '//evil.example/mcp', '/other-app/mcp']) {
      expect((await fetch(`${base}${bad}`)).status, bad).toBe(404);
    }
  });
});

describe('bad input gets a clear error and the gateway keeps serving', () => {
  const h = { 'content-type': 'application/json', ...auth(TOKENS.main) };

  test('malformed JSON: 400 with -32700', async () => {
    const res = await post('{"jsonrpc": "2.0", "id": 1, "method": ', h);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32700);
    await stillServed();
  });

  test('not JSON-RPC: 400 with -32600', async () => {
    const res = await post('{"hello":"world"}', h);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  test('wrong content type: 415', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { ...h, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    await stillServed();
  });

  test('oversize body: 413, counted in mcp_gateway_http_responses_total{code="413"}', async () => {
    const before = await metricValue(gw, 'mcp_gateway_http_responses_total', { code: '413' });
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'x'.repeat(100_000) } },
    });
    const res = await post(big, h).catch((err: Error) => err);
    if (res instanceof Error) throw res;
    expect(res.status).toBe(413);
    expect(await metricValue(gw, 'mcp_gateway_http_responses_total', { code: '413' })).toBe(before + 1);
    await stillServed();
  });

  test('unknown session: 404 with -32001', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"tools/list"}', {
      ...h,
      'mcp-session-id': 'no-such-session',
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32001);
    const legacy = await fetch(`${gw.url}/messages?sessionId=nope`, { method: 'POST', headers: h, body: '{}' });
    expect(legacy.status).toBe(404);
    await stillServed();
  });

  test('a foreign Origin: 403; the allowed origin gets CORS headers', async () => {
    const evil = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { ...h, origin: 'http://evil.example' });
    expect(evil.status).toBe(403);
    const ok = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { ...h, origin: 'https://app.example' });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('access-control-allow-origin')).toBe('https://app.example');
    const preflight = await fetch(`${gw.url}/mcp`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-headers')).toContain('mcp-session-id');
    await stillServed();
  });

  test('DNS rebinding: a page whose domain now points at the gateway is refused, preflight and call alike', async () => {
    const rebound = `rebind.attacker.example:${gw.port}`;
    const headers = { ...h, host: rebound, origin: `http://${rebound}`, accept: 'application/json, text/event-stream' };
    const preflight = await raw(gw.port, {
      method: 'OPTIONS',
      headers: { host: rebound, origin: `http://${rebound}` },
    });
    expect(preflight.status).toBe(403);
    const call = await raw(gw.port, { headers, body: '{"jsonrpc":"2.0","id":1,"method":"ping"}' });
    expect(call.status).toBe(403);
    expect(call.headers['access-control-allow-origin']).toBeUndefined();
    // The gateway's own address is still its own origin.
    const own = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { ...h, origin: gw.url });
    expect(own.status).toBe(200);
    await stillServed();
  });
});

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
    await stillServed();
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
