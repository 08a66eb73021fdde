/**
 * What careless and hostile HTTP clients put around a JSON-RPC body, against the real gateway and the raw fixture
 * server: compressed bodies, and the answer each gets (status, JSON-RPC error, the id when the body was read).
 */
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NODE, ROOT, type RunningGateway, startGateway, stopAll } from './helpers.ts';
import { confirmedSession, JSON_POST, legacyStream, raw } from './raw-http.ts';

const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];

afterAll(stopAll);

let gw: RunningGateway;
beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...RAW_SERVER]);
});

const echo = (id: number | string, message = 'hi') =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'echo', arguments: { message } } });

describe('a compressed request body', () => {
  test('gets 415 naming its Content-Encoding (never inflated), in every era; identity is served', async () => {
    const sid = await confirmedSession(gw.port);
    const { stream, sessionId: legacy } = await legacyStream(gw.port);
    // A gzip bomb: 64 MB of zeros in about 64 KB. Inflating it is not the gateway's business.
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024)).toString('latin1');
    const places: Array<{ path: string; headers: Record<string, string> }> = [
      { path: '/mcp', headers: { 'mcp-session-id': sid } },
      { path: '/mcp', headers: {} },
      { path: '/mcp', headers: { 'mcp-protocol-version': '2026-07-28' } },
      { path: `/messages?sessionId=${encodeURIComponent(legacy)}`, headers: {} },
    ];
    for (const place of places) {
      for (const [coding, body] of [
        ['gzip', gzipSync(echo(1)).toString('latin1')],
        ['deflate', bomb],
        ['br, gzip', bomb],
      ] as const) {
        const answer = await raw(gw.port, {
          path: place.path,
          headers: { ...JSON_POST, ...place.headers, 'content-encoding': coding },
          body,
        });
        expect(answer.status, `${place.path} ${coding}`).toBe(415);
        expect(answer.headers['accept-encoding']).toBe('identity');
        expect(answer.json?.error).toMatchObject({ code: -32600 });
        expect(answer.json?.error?.message).toContain(`Content-Encoding "${coding}" is not accepted`);
      }
    }
    const plain = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid, 'content-encoding': 'identity' },
      body: echo(2),
    });
    expect(plain.json).toMatchObject({ id: 2, result: { content: [{ text: 'Echo: hi' }] } });
    stream.close();
  });
});

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

describe('MCP headers a proxy sends twice', () => {
  test('the same value twice is that value: MCP-Protocol-Version, Mcp-Method, Mcp-Name, in both eras', async () => {
    const sid = await confirmedSession(gw.port);
    const session = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid, 'mcp-protocol-version': ['2025-11-25', '2025-11-25'] },
      body: echo('twice-25'),
    });
    expect(session.json).toMatchObject({ id: 'twice-25', result: { content: [{ text: 'Echo: hi' }] } });
    const modern = await raw(gw.port, {
      headers: {
        ...JSON_POST,
        'mcp-protocol-version': ['2026-07-28', '2026-07-28'],
        'mcp-method': ['tools/call', 'tools/call'],
        'mcp-name': ['echo', 'echo'],
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'twice-26',
        method: 'tools/call',
        params: { name: 'echo', arguments: { message: 'modern' }, _meta: MODERN_META },
      }),
    });
    expect(modern.json).toMatchObject({ id: 'twice-26', result: { content: [{ text: 'Echo: modern' }] } });
  });

  test('two different versions are refused with the request id and say so; one header with a comma is one value', async () => {
    const sid = await confirmedSession(gw.port);
    const differ = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid, 'mcp-protocol-version': ['2025-06-18', '2025-11-25'] },
      body: echo('differ'),
    });
    expect(differ.status).toBe(400);
    expect(differ.json).toMatchObject({ id: 'differ', error: { code: -32600 } });
    expect(differ.json?.error?.message).toContain(
      'MCP-Protocol-Version is given more than once, with different values',
    );
    const name = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'a,b' },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'comma',
        method: 'tools/call',
        params: { name: 'a,b', arguments: {}, _meta: MODERN_META },
      }),
    });
    // Reaches the server (which knows no such tool) rather than being taken for two copies.
    expect(name.status).toBe(200);
    expect(name.json).toMatchObject({ id: 'comma' });
  });
});

describe('a JSON-RPC batch sent as 2026-07-28 traffic', () => {
  const modernCall = (id: string) => ({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: { name: 'echo', arguments: { message: id }, _meta: MODERN_META },
  });

  test('is refused with -32600 saying the revision has no batches, whether the header or the envelope says so', async () => {
    for (const [headers, body] of [
      [{ 'mcp-protocol-version': '2026-07-28' }, [modernCall('a'), modernCall('b')]],
      [{ 'mcp-protocol-version': '2026-07-28' }, [JSON.parse(echo('plain'))]],
      [{}, [JSON.parse(echo('plain')), modernCall('c')]],
    ] as const) {
      const answer = await raw(gw.port, { headers: { ...JSON_POST, ...headers }, body: JSON.stringify(body) });
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.json).toMatchObject({ id: null, error: { code: -32600 } });
      expect(answer.json?.error?.message).toMatch(/no JSON-RPC batches; send each request in its own POST/);
    }
  });

  test('a 2025 sessionless batch is still served, each answer by its id', async () => {
    const answer = await raw(gw.port, { headers: JSON_POST, body: `[${echo(1, 'one')},${echo(2, 'two')}]` });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.text)).toMatchObject([
      { id: 1, result: { content: [{ text: 'Echo: one' }] } },
      { id: 2, result: { content: [{ text: 'Echo: two' }] } },
    ]);
  });
});

describe('a body that starts with a UTF-8 byte order mark', () => {
  test('is read as the JSON after it (RFC 8259 8.1), in the session eras and 2026-07-28', async () => {
    const sid = await confirmedSession(gw.port);
    const bom = '\ufeff'; // EF BB BF once the body is encoded as UTF-8
    const body = `${bom}${echo('bom', 'marked')}`;
    const session = await raw(gw.port, { headers: { ...JSON_POST, 'mcp-session-id': sid }, body });
    expect(session.json).toMatchObject({ id: 'bom', result: { content: [{ text: 'Echo: marked' }] } });
    const modern = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      body: `${bom}${JSON.stringify({ jsonrpc: '2.0', id: 'bom-26', method: 'tools/call', params: { name: 'echo', arguments: { message: 'm' }, _meta: MODERN_META } })}`,
    });
    expect(modern.json).toMatchObject({ id: 'bom-26', result: { content: [{ text: 'Echo: m' }] } });
    // Only a leading mark: anywhere else it is still a parse error.
    const inside = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid },
      body: ` ${bom}${echo('x')}`,
    });
    expect(inside.status).toBe(400);
    expect(inside.json?.error?.code).toBe(-32700);
  });
});
