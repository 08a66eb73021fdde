/**
 * Backpressure on both sides of the gateway: a client that stops reading its event stream gets the stream
 * closed instead of the gateway buffering everything for it (real gateway, a chatty stdio server, a raw TCP
 * client that never reads); the proxy-mode upstream backlog is measured in bytes (what the router's threshold
 * is in), against a real HTTP server that holds its answers.
 */

import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import type { JsonRpcMessage } from '../../src/gateway/protocol/jsonrpc.ts';
import { HttpChannel, messageBytes } from '../../src/gateway/upstream/http.ts';
import { createLogger } from '../../src/observability/log.ts';
import {
  client2025,
  client2026,
  type LogLine,
  metricValue,
  NODE,
  postInitialize,
  ROOT,
  sseEvents,
  startGateway,
  stopAll,
  textOf,
  until,
} from './helpers.ts';

const CHATTY = [NODE, join(ROOT, 'test/gateway/fixtures/chatty-server.ts')];
const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];
const STREAM_CAP = 64 * 1024;
const FILLER_BYTES = 16 * 1024;

afterAll(async () => {
  await stopAll();
});

describe('proxy-mode upstream backlog', () => {
  test('counts the bytes of messages whose POST is still open, not the number of messages', async () => {
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => held.push(res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    const channel = new HttpChannel({
      url,
      transport: 'streamable-http',
      log: createLogger({ name: 'test', level: 'silent' }),
    });
    await channel.start();
    const small: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/small' };
    const large: JsonRpcMessage = {
      jsonrpc: '2.0',
      method: 'notifications/large',
      params: { text: 'é'.repeat(50_000) },
    };
    expect(channel.backlog()).toBe(0);
    expect(channel.send(small)).toBe(true);
    expect(channel.send(large)).toBe(true);
    // Multi-byte characters count as the bytes they take on the wire.
    expect(messageBytes(large)).toBeGreaterThan(100_000);
    expect(channel.backlog()).toBe(messageBytes(small) + messageBytes(large));
    await until(() => held.length === 2, 10_000, 'both POSTs to reach the upstream');
    for (const res of held.splice(0)) res.writeHead(202).end();
    await until(() => channel.backlog() === 0, 10_000, 'the backlog to drain');
    await channel.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
});

describe('proxy-mode upstream backlog, continued', () => {
  test('a call the upstream has taken (response headers sent) leaves the backlog while it runs', async () => {
    const running: ServerResponse[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        // Taken: a JSON answer has started, its body comes when the (long) call is done.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.flushHeaders();
        running.push(res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    const channel = new HttpChannel({
      url,
      transport: 'streamable-http',
      log: createLogger({ name: 't', level: 'silent' }),
    });
    await channel.start();
    const call: JsonRpcMessage = {
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'slow', arguments: {} },
    };
    expect(channel.send(call)).toBe(true);
    expect(channel.backlog()).toBe(messageBytes(call));
    await until(() => running.length === 1, 10_000, 'the call to reach the upstream');
    await until(() => channel.backlog() === 0, 10_000, 'the backlog to drop once the upstream took the call');
    expect(running[0]?.writableEnded).toBe(false); // the call is still running
    for (const res of running) res.end(JSON.stringify({ jsonrpc: '2.0', id: 1, result: { content: [] } }));
    await channel.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
});

/** Opens a GET stream on a raw socket, waits for its response headers, then stops reading for good. */
async function stalledGetStream(port: number, sessionId: string): Promise<{ socket: Socket; head: string }> {
  const socket = connect(port, '127.0.0.1');
  socket.write(
    `GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: text/event-stream\r\nMcp-Session-Id: ${sessionId}\r\n\r\n`,
  );
  const head = await new Promise<string>((resolve, reject) => {
    socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
    socket.once('error', reject);
  });
  socket.pause();
  return { socket, head };
}

describe('a client that stops reading its event stream', () => {
  test('gets the stream closed (logged and counted), keeps its session and event store; others keep working', async () => {
    const gw = await startGateway(['stdio', '--', ...CHATTY], {
      env: { MCP_GATEWAY_MAX_STREAM_BUFFER_BYTES: String(STREAM_CAP) },
    });
    const bystander = await client2025(gw.url);
    const init = await postInitialize(`${gw.url}/mcp`);
    const sessionId = init.headers.get('mcp-session-id') as string;
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{24,}/);
    await init.body?.cancel();
    const { socket, head } = await stalledGetStream(gw.port, sessionId);
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).toContain('content-type: text/event-stream');
    let socketClosed = false;
    socket.once('close', () => {
      socketClosed = true;
    });

    // A JSON-only POST: everything the server says during the call travels on the session's GET stream. The
    // kernel's socket buffers take a few megabytes first, so the call is repeated until the gateway gives up.
    const isStalledLog = (l: LogLine) => l.msg === 'event stream closed: the client stopped reading';
    const flood = async (id: number) => {
      const res = await fetch(`${gw.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': sessionId },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id,
          method: 'tools/call',
          params: { name: 'flood', arguments: { count: 128, bytes: FILLER_BYTES } },
        }),
      });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { result: unknown };
      expect(textOf(body.result)).toBe(`sent 128 notifications of ${FILLER_BYTES} bytes`);
    };
    for (let id = 1; id <= 40 && !gw.logs.some(isStalledLog); id++) await flood(id);
    const warn = await gw.waitForLog(isStalledLog, 10_000);
    expect(warn.level).toBe(40);
    expect(warn).toMatchObject({ stream: 'get', limitBytes: STREAM_CAP });
    expect(warn.bufferedBytes as number).toBeGreaterThan(STREAM_CAP);
    // The session fingerprint, never the id, and nothing of the payload.
    expect(warn.session).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(warn)).not.toContain(sessionId);
    expect(JSON.stringify(warn)).not.toContain('xxxxxxxx');
    expect(await metricValue(gw, 'mcp_gateway_stalled_streams_closed_total', { stream: 'get' })).toBe(1);

    // The connection is gone: once the client reads again it gets what the kernel held, then the end.
    socket.resume();
    await until(() => socketClosed, 20_000, 'the stalled connection to close');

    // The session survived: a new GET with Last-Event-ID replays from the bounded event store.
    const controller = new AbortController();
    const resumed = await fetch(`${gw.url}/mcp`, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'last-event-id': '0-1' },
      signal: controller.signal,
    });
    expect(resumed.status).toBe(200);
    const events = sseEvents(resumed.body as ReadableStream<Uint8Array>);
    const first = (await events.next()).value as { id?: string; data: string };
    expect(first.id).toMatch(/^0-\d+$/);
    expect(Number(first.id?.slice(2))).toBeGreaterThan(1);
    expect((JSON.parse(first.data) as { method: string }).method).toBe('notifications/message');
    controller.abort();

    // Other sessions, old and new, are served as before.
    const before = await bystander.client.callTool({ name: 'echo', arguments: { message: 'still here' } });
    expect(textOf(before)).toBe('Echo: still here');
    const newcomer = await client2025(gw.url);
    expect(textOf(await newcomer.client.callTool({ name: 'echo', arguments: { message: 'new' } }))).toBe('Echo: new');
    await Promise.all([bystander.client.close(), newcomer.client.close()]);
    expect(await gw.stop()).toBe(0);
  });
});

describe('a 2026-07-28 client that stops reading its listen stream', () => {
  test('gets the stream closed after two keep-alive intervals without progress (logged and counted); the server subscription is released; others keep working', async () => {
    const requestLog = join(mkdtempSync(join(tmpdir(), 'gw-stall-')), 'requests.log');
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER, '--resources', '--request-log', requestLog], {
      env: { MCP_GATEWAY_KEEPALIVE_INTERVAL: '300ms' },
    });
    const serverSaw = () => readFileSync(requestLog, { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean);
    // A long URI makes each update about 2 KiB, so a few thousand fill every buffer between the SDK and the client.
    const uri = `test://big/${'x'.repeat(2000)}`;
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        notifications: { resourceSubscriptions: [uri] },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    });
    const socket = connect(gw.port, '127.0.0.1');
    socket.write(
      `POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:${gw.port}\r\nContent-Type: application/json\r\n` +
        'Accept: application/json, text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\n' +
        `Mcp-Method: subscriptions/listen\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const head = await new Promise<string>((resolve, reject) => {
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
      socket.once('error', reject);
    });
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).toContain('content-type: text/event-stream');
    socket.pause(); // and never read again
    await until(() => serverSaw().includes(`subscribe ${uri}`), 10_000, 'the server subscribed for the stream');

    const other = await client2025(gw.url);
    await other.client.callTool({ name: 'touch', arguments: { uri, times: 5000 } });
    const warn = await gw.waitForLog(
      (l) => l.msg === 'event stream closed: the client stopped reading' && l.stream === 'modern',
      15_000,
    );
    expect(Number(warn.bufferedBytes)).toBeGreaterThan(0);
    expect(await metricValue(gw, 'mcp_gateway_stalled_streams_closed_total', { stream: 'modern' })).toBe(1);
    // The closed stream released the server subscription it held.
    await until(() => serverSaw().includes(`unsubscribe ${uri}`), 10_000, 'the server unsubscribed');
    // Others are served: the session that flooded, and a new 2026 client.
    expect(textOf(await other.client.callTool({ name: 'echo', arguments: { message: 'still' } }))).toBe('Echo: still');
    const modern = await client2026(gw.url);
    expect(textOf(await modern.client.callTool({ name: 'echo', arguments: { message: 'new' } }))).toBe('Echo: new');
    socket.destroy();
    await Promise.all([other.client.close(), modern.client.close()]);
  });
});
