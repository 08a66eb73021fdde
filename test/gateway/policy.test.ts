/**
 * Policy and bad input, against the real gateway and server-everything: bearer tokens from a file (and its
 * rotation), RFC 9728 metadata, body limit, content type, malformed JSON, unknown session, Origin. After every
 * refusal a well-behaved client is still served. The tool deny list and rate limits: policy-limits.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
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
import { auth, postTo, startPolicyGateway, stillServed, TOKENS } from './policy-helpers.ts';
import { raw } from './raw-http.ts';

let gw: RunningGateway;
let tokenFile: string;

beforeAll(async () => {
  ({ gw, tokenFile } = await startPolicyGateway());
});

afterAll(async () => {
  await stopAll();
});

const post = (body: string, headers: Record<string, string>) => postTo(gw, body, headers);

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
    await stillServed(gw);
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
    await stillServed(gw);
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
    await stillServed(gw);
  });

  test('not JSON-RPC: 400 with -32600', async () => {
    const res = await post('{"hello":"world"}', h);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: number } }).error.code).toBe(-32600);
  });

  test('wrong content type: 415', async () => {
    const res = await post('{"jsonrpc":"2.0","id":1,"method":"ping"}', { ...h, 'content-type': 'text/plain' });
    expect(res.status).toBe(415);
    await stillServed(gw);
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
    await stillServed(gw);
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
    await stillServed(gw);
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
    await stillServed(gw);
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
    await stillServed(gw);
  });
});
