/**
 * JSON-RPC errors about a known request carry its id (issue 10, H.7), on every path where the gateway answers for
 * a request it has read: a gateway fault (HTTP 500), an unknown session, an unsupported protocol version, an
 * invalid message whose id is legible, initialize on an open session, 2026-07-28 header mismatches, the
 * per-client rate limit, and new work during a drain. (The session limits: session-limits.test.ts.)
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client2025, EVERYTHING, type RunningGateway, startGateway, stopAll } from './helpers.ts';
import { confirmedSession, initializeBody, JSON_POST, legacyStream, raw } from './raw-http.ts';

let gw: RunningGateway;

beforeAll(async () => {
  // A short drain: before the depth limit (H.2), the deep request left a call in flight that a drain waits for.
  gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_DRAIN_TIMEOUT: '2s' } });
});

afterAll(stopAll);

const post = (body: string, headers: Record<string, string> = {}, path = '/mcp') =>
  raw(gw.port, { path, headers: { ...JSON_POST, ...headers }, body });

describe('errors answer the request by its id', () => {
  test('a gateway fault on a request (arguments nested 5,000 levels) still names the request', async () => {
    const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
    const body = `{"jsonrpc":"2.0","id":"deep-1","method":"tools/call","params":{"name":"echo","arguments":${deep}}}`;
    const answer = await post(body, { 'mcp-protocol-version': '2025-06-18' });
    expect(answer.status).toBeGreaterThanOrEqual(400);
    expect(answer.json).toMatchObject({ jsonrpc: '2.0', id: 'deep-1', error: {} });
  });

  test('unknown session, unsupported protocol version, illegible message, initialize on a session', async () => {
    const unknown = await post(JSON.stringify({ jsonrpc: '2.0', id: 21, method: 'tools/list' }), {
      'mcp-session-id': 'no-such-session',
    });
    expect(unknown.status).toBe(404);
    expect(unknown.json?.id).toBe(21);

    const version = await post(JSON.stringify({ jsonrpc: '2.0', id: 22, method: 'ping' }), {
      'mcp-protocol-version': '1999-01-01',
    });
    expect(version.status).toBe(400);
    expect(version.json?.id).toBe(22);

    const invalid = await post(JSON.stringify({ jsonrpc: '1.0', id: 23, method: 'ping' }));
    expect(invalid.status).toBe(400);
    expect(invalid.json?.id).toBe(23);

    const sid = await confirmedSession(gw.port);
    const again = await post(initializeBody(24), { 'mcp-session-id': sid });
    expect(again.status).toBe(400);
    expect(again.json?.id).toBe(24);
  });

  test('legacy SSE: an illegible message posted to /messages', async () => {
    const { stream, sessionId } = await legacyStream(gw.port);
    const answer = await post(
      JSON.stringify({ jsonrpc: '1.0', id: 'legacy-25', method: 'ping' }),
      {},
      `/messages?sessionId=${encodeURIComponent(sessionId)}`,
    );
    expect(answer.status).toBe(400);
    expect(answer.json?.id).toBe('legacy-25');
    stream.close();
  });

  test('2026-07-28: an Mcp-Method header that disagrees with the body', async () => {
    const answer = await post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 'modern-26',
        method: 'tools/list',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
      { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call' },
    );
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ id: 'modern-26', error: { code: -32020 } });
  });

  test('the per-client rate limit and a drain refuse by id', async () => {
    const limited = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_RATE_LIMIT_RPM: '1', MCP_GATEWAY_DRAIN_TIMEOUT: '20s' },
    });
    const ping = (id: number) =>
      raw(limited.port, {
        headers: { ...JSON_POST, 'mcp-protocol-version': '2025-06-18' },
        body: JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }),
      });
    expect((await ping(31)).status).toBe(200);
    const refused = await ping(32);
    expect(refused.status).toBe(429);
    expect(refused.json?.id).toBe(32);

    // A call in flight holds the drain open; a new session meanwhile is refused by id.
    const drainer = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_DRAIN_TIMEOUT: '20s' } });
    const { client } = await client2025(drainer.url);
    let started!: () => void;
    const running = new Promise<void>((r) => {
      started = r;
    });
    const call = client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 3, steps: 3 } },
      undefined,
      {
        onprogress: () => started(),
      },
    );
    await running;
    drainer.proc.kill('SIGTERM');
    await drainer.waitForLog((l) => l.msg === 'draining');
    const initialize = await raw(drainer.port, { headers: JSON_POST, body: initializeBody('during-drain') });
    expect(initialize.status).toBe(503);
    expect(initialize.json).toMatchObject({ id: 'during-drain', error: { data: { reason: 'draining' } } });
    // The drain lets the call in flight finish: its answer still arrives.
    expect((await call).isError).toBeFalsy();
    await drainer.stop();
  });
});
