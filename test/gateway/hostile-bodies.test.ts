/**
 * Hostile clients against the real gateway, continued (hostile.test.ts): bodies over the limit sent by clients
 * that keep uploading (Node's fetch, the SDK), inputs the fuzz suite found, and event streams ended while their
 * client does not read them. After each, nothing is left in flight and real clients are served.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client2026, EVERYTHING, metricValue, type RunningGateway, startGateway, stopAll, textOf } from './helpers.ts';
import { call, JSON_HEADERS, MODERN_META, post } from './hostile-helpers.ts';
import { confirmedSession } from './raw-http.ts';

afterAll(stopAll);

describe('oversize bodies', () => {
  const LIMIT = 65536;
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_MAX_BODY_BYTES: String(LIMIT) } });
  });
  const huge = 'x'.repeat(8 * 1024 * 1024);
  const PAYLOAD_TOO_LARGE = { code: -32600, message: `Payload Too Large: the limit is ${LIMIT} bytes` };

  /** A body sent as a slow link would: 64 KiB every 2 ms, so the client is still uploading when refused. */
  function slowBody(text: string): ReadableStream<Uint8Array> {
    const bytes = Buffer.from(text);
    let at = 0;
    return new ReadableStream({
      async pull(controller) {
        if (at >= bytes.length) {
          controller.close();
          return;
        }
        await new Promise((r) => setTimeout(r, 2));
        controller.enqueue(bytes.subarray(at, at + 65536));
        at += 65536;
      },
    });
  }

  /** Node's fetch (undici) with oversize bodies sent slowly: what the SDK does on a slow link. */
  const slowFetch = (input: string | URL | Request, init?: RequestInit) =>
    typeof init?.body === 'string' && init.body.length > LIMIT
      ? fetch(input, { ...init, body: slowBody(init.body), duplex: 'half' } as RequestInit)
      : fetch(input, init);

  test("Node's fetch still uploading an 8 MB body reads the 413 and its JSON-RPC error", async () => {
    const res = await slowFetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: JSON_HEADERS,
      body: call(1, 'echo', { message: huge }),
    });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: unknown }).error).toEqual(PAYLOAD_TOO_LARGE);
  });

  test('a client that declared an 8 MB Content-Length and is still sending reads the 413', async () => {
    const answer = await new Promise<{ status?: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${gw.url}/mcp`,
        { method: 'POST', headers: { ...JSON_HEADERS, 'content-length': String(huge.length) } },
        (res) => {
          let body = '';
          res.on('data', (c: Buffer) => {
            body += c.toString('utf8');
          });
          res.on('end', () => resolve({ status: res.statusCode, body }));
        },
      );
      req.on('error', reject);
      const bytes = Buffer.from(huge);
      let at = 0;
      const next = () => {
        if (at >= bytes.length) {
          req.end();
          return;
        }
        req.write(bytes.subarray(at, at + 65536));
        at += 65536;
        setTimeout(next, 2);
      };
      next();
    });
    expect(answer.status).toBe(413);
    expect((JSON.parse(answer.body) as { error: unknown }).error).toEqual(PAYLOAD_TOO_LARGE);
  });

  test('SDK clients (2025 session, 2026-07-28) calling a tool with an oversize argument get the 413, then go on', async () => {
    const client = new Client({ name: 'sdk1-slow', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${gw.url}/mcp`), { fetch: slowFetch }));
    const refused = await client.callTool({ name: 'echo', arguments: { message: huge } }).then(
      () => 'served',
      (err: Error) => err.message,
    );
    expect(refused).toContain('Payload Too Large');
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'small' } }))).toBe('Echo: small');
    await client.close();
    const modern = await client2026(gw.url, { fetch: slowFetch });
    const refused2026 = await modern.client.callTool({ name: 'echo', arguments: { message: huge } }).then(
      () => 'served',
      (err: Error) => err.message,
    );
    expect(refused2026).toContain('Payload Too Large');
    expect(textOf(await modern.client.callTool({ name: 'echo', arguments: { message: 'small' } }))).toBe('Echo: small');
    await modern.client.close();
  });

  test('after the 413 the rest of the upload is read and dropped, not reset, and the gateway then closes', async () => {
    const socket = connect(gw.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    const errors: string[] = [];
    socket.on('error', (err: NodeJS.ErrnoException) => errors.push(err.code ?? err.message));
    let answer = '';
    const answered = new Promise<void>((resolve) =>
      socket.on('data', (chunk: Buffer) => {
        answer += chunk.toString('utf8');
        if (answer.includes('Payload Too Large')) resolve();
      }),
    );
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const size = 8 * 1024 * 1024;
    socket.write(
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${size}\r\n\r\n`,
    );
    // The client reads the answer first, then sends its body: what a client still uploading lives through.
    await answered;
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    for (let sent = 0; sent < size && !socket.destroyed; sent += chunk.length) {
      if (!socket.write(chunk)) {
        await new Promise((resolve) => {
          socket.once('drain', resolve);
          socket.once('close', resolve);
        });
      }
    }
    socket.end();
    await closed;
    expect(errors).toEqual([]);
  });

  test('an upload that never ends is cut once past the bound, and the gateway goes on serving', async () => {
    const socket = connect(gw.port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    let answer = '';
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
    });
    socket.on('error', () => {});
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${2 ** 40}\r\n\r\n`,
    );
    const chunk = Buffer.alloc(256 * 1024, 0x20);
    let open = true;
    void closed.then(() => {
      open = false;
    });
    // Far past 16 MiB, the bound for this limit; the gateway must cut it rather than read forever.
    for (let sent = 0; open && sent < 256 * 1024 * 1024; sent += chunk.length) {
      if (!socket.write(chunk)) {
        await new Promise((resolve) => {
          socket.once('drain', resolve);
          socket.once('close', resolve);
        });
      }
    }
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 413/);
    expect(answer).toContain('Payload Too Large');
    const served = await post(`${gw.url}/mcp`, call(2, 'echo', { message: 'still here' }));
    expect(textOf((served.json() as { result: unknown }).result)).toBe('Echo: still here');
  });
});

describe('found by the fuzz suite (test/gateway/fuzz.test.ts)', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING]);
  });

  test('requests with positional (array) params get -32602 with their id at once, not a 10-minute hang', async () => {
    const session = await confirmedSession(gw.port);
    const bodies = [
      { jsonrpc: '2.0', id: 31, method: 'tools/call', params: [true, 'x'] },
      { jsonrpc: '2.0', id: 'c', method: 'completion/complete', params: [] },
    ];
    for (const body of bodies) {
      const answer = await post(`${gw.url}/mcp`, JSON.stringify(body), { 'mcp-session-id': session });
      expect(answer.json()).toMatchObject({
        id: body.id,
        error: {
          code: -32602,
          message: 'Invalid params: params must be an object (MCP requests take named parameters)',
        },
      });
    }
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
  });

  test('errors answering a body the gateway read carry the request id', async () => {
    const ping = (id: number | string, extra: Record<string, unknown> = {}) =>
      JSON.stringify({ jsonrpc: '2.0', id, method: 'ping', ...extra });
    const cases: Array<[string, Record<string, string>, number | string, number]> = [
      [ping(41), { 'mcp-protocol-version': '1999-01-01' }, 41, 400],
      [ping('s'), { 'mcp-session-id': 'no-such-session' }, 's', 404],
      [ping(42, { params: 'not an object' }), {}, 42, 400],
      // 2026-07-28: the SDK refuses an Mcp-Method header that does not match the body.
      [
        JSON.stringify({ jsonrpc: '2.0', id: 43, method: 'tools/list', params: { _meta: MODERN_META } }),
        { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'ping' },
        43,
        400,
      ],
    ];
    for (const [body, headers, id, status] of cases) {
      const answer = await post(`${gw.url}/mcp`, body, headers);
      expect([answer.status, (answer.json() as { id: unknown }).id], answer.text).toEqual([status, id]);
    }
    const session = await confirmedSession(gw.port);
    const init = JSON.stringify({ jsonrpc: '2.0', id: 44, method: 'initialize', params: {} });
    const again = await post(`${gw.url}/mcp`, init, { 'mcp-session-id': session });
    expect([again.status, (again.json() as { id: unknown }).id]).toEqual([400, 44]);
    // The per-client limit answers with the id too.
    const limitedGw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_RATE_LIMIT_RPM: '1' } });
    expect((await post(`${limitedGw.url}/mcp`, ping(50))).status).toBe(200);
    const limited = await post(`${limitedGw.url}/mcp`, ping(51));
    expect([limited.status, (limited.json() as { id: unknown }).id]).toEqual([429, 51]);
  });
});

describe('event streams a client does not read to the end', () => {
  let gw: RunningGateway;

  beforeAll(async () => {
    // A 1 s keep-alive interval (the stall checks' period); bodies up to 64 MB so one answer is larger than what
    // the kernel's socket buffers absorb.
    gw = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_KEEPALIVE_INTERVAL: '1s', MCP_GATEWAY_MAX_BODY_BYTES: '64000000' },
    });
  });

  test('a POST answered as an event stream, ended while unread, is dropped with its connection', async () => {
    const sid = await confirmedSession(gw.port);
    // One 8 MB answer: written at once (the stream's byte cap is checked before a write), then the stream ends
    // with most of it still in the gateway. Before the fix that memory stayed until the client hung up.
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'x'.repeat(8_000_000) } },
    });
    const socket = connect({ port: gw.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.pause(); // never reads the answer
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    socket.write(
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: text/event-stream\r\nmcp-session-id: ${sid}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    socket.write(body);
    const dropped = await gw.waitForLog(
      (l) => l.msg === 'event stream closed: the client stopped reading' && l.stream === 'post',
      20_000,
    );
    expect(dropped.bufferedBytes as number).toBeGreaterThan(0);
    expect(await metricValue(gw, 'mcp_gateway_stalled_streams_closed_total', { stream: 'post' })).toBe(1);
    socket.resume(); // the gateway closed the connection: reading now ends it here too
    await closed;
    // The session and a client that reads are unaffected.
    const answer = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, accept: 'text/event-stream', 'mcp-session-id': sid },
      body,
    });
    expect(answer.status).toBe(200);
    expect((await answer.text()).length).toBeGreaterThan(8_000_000);
    expect(await metricValue(gw, 'mcp_gateway_stalled_streams_closed_total', { stream: 'post' })).toBe(1);
  });
});
