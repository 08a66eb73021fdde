/**
 * Hostile clients against the real gateway and server-everything: messages nested thousands of levels deep,
 * absurd tool names, junk tool names aimed at the metric labels, and bodies over the limit sent by clients that
 * keep uploading (Node's fetch, the SDK). After each, nothing is left in flight and real clients are served.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/gateway/jsonrpc.ts';
import {
  client2025,
  EVERYTHING,
  metricValue,
  type RunningGateway,
  sseEvents,
  startGateway,
  stopAll,
  textOf,
} from './helpers.ts';

afterAll(stopAll);

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** `depth` levels of nested arrays, as JSON text. */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A tools/call of echo whose arguments carry `deep` (raw JSON text). */
function deepCall(id: number | string, deep: string, modern = false): string {
  const meta = modern ? `,"_meta":${JSON.stringify(MODERN_META)}` : '';
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi","deep":${deep}}${meta}}}`;
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** A raw 2025 session: initialize + initialized; returns the session id. */
async function rawSession(gw: RunningGateway): Promise<string> {
  const init = await post(
    `${gw.url}/mcp`,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    }),
  );
  const id = init.headers.get('mcp-session-id');
  if (!id) throw new Error(`no session: ${init.status} ${init.text}`);
  await post(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), {
    'mcp-session-id': id,
  });
  return id;
}

/** A raw legacy SSE session: the /messages URL of its endpoint event, and a way to close the stream. */
async function rawLegacy(gw: RunningGateway): Promise<{ messages: string; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${gw.url}/sse`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  if (!res.body) throw new Error('no SSE body');
  for await (const ev of sseEvents(res.body)) {
    if (ev.event === 'endpoint') return { messages: `${gw.url}${ev.data}`, close: () => controller.abort() };
  }
  throw new Error('no endpoint event');
}

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
    const session = await rawSession(gw);
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
