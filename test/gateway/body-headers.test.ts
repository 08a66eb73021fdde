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
