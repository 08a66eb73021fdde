/**
 * Cases an outside tester ran against the real gateway (issue 10, H and K.2) that the team's suites had not:
 * each test here failed before its fix. A request id reused while the first request is still in flight, in one
 * batch or across POSTs, took the first one's place in the session's books: closing the session then left the
 * first call running unseen (a phantom in-flight call the drain waits for). A batch of 3,000 tools/list (150 KB)
 * became a 30 MB JSON answer; a client that posted a few and never read them held half a gigabyte of the
 * gateway's memory for as long as it kept the connections open. Every upload a client dropped halfway wrote an
 * error-level "request failed" line: a client could page the operators at the rate it opens connections. A
 * `_meta` that is not an object, or a progress token that is an object, null, an array or a boolean, reached the
 * server, which dropped the request unanswered: the client hung and the call stayed in flight for 10 minutes.
 * In perSession mode one anonymous client's unanswered initialize POSTs each started a server process, up to the
 * whole limit of 100 (the per-client default equalled it): 40 of them took 3.4 GB. An unsupported
 * MCP-Protocol-Version came back verbatim in the error message, however long.
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  childPids,
  client2025,
  EVERYTHING,
  type LogLine,
  metricValue,
  type RunningGateway,
  startGateway,
  stopAll,
  until,
} from './helpers.ts';
import { confirmedSession, initializeBody, JSON_POST, legacyStream, raw } from './raw-http.ts';

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...EVERYTHING]);
});

afterAll(stopAll);

const inflight = () => metricValue(gw, 'mcp_gateway_inflight_requests');

const slowCall = (id: unknown, seconds: number) => ({
  jsonrpc: '2.0',
  id,
  method: 'tools/call',
  params: { name: 'trigger-long-running-operation', arguments: { duration: seconds, steps: 1 } },
});

describe('a request id already in flight on the session', () => {
  test('in one batch: the second is refused with -32600 and its id; closing the session leaves nothing running', async () => {
    const sid = await confirmedSession(gw.port);
    const batch = raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid },
      body: JSON.stringify([slowCall(7, 30), slowCall(7, 40)]),
    });
    await until(async () => (await inflight()) >= 1, 10_000, 'the first call in flight');
    const del = await raw(gw.port, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    const answer = await batch;
    const answers = JSON.parse(answer.text) as Array<{ id: unknown; error?: { code: number; message: string } }>;
    expect(answers).toHaveLength(2);
    expect(answers.every((a) => a.id === 7)).toBe(true);
    const refused = answers.find((a) => a.error?.code === -32600);
    expect(refused?.error?.message).toMatch(/id 7 is already used by a request in flight/);
    // Both calls are over for the gateway: none keeps running until the server's 30 s are up.
    await until(async () => (await inflight()) === 0, 5_000, 'nothing in flight after the session closed');
  });

  test('across POSTs and in legacy SSE: refused while the first runs, the same id is fine once it is over', async () => {
    const sid = await confirmedSession(gw.port);
    const post = (body: unknown) =>
      raw(gw.port, { headers: { ...JSON_POST, 'mcp-session-id': sid }, body: JSON.stringify(body) });
    const first = post(slowCall('dup', 2));
    await until(async () => (await inflight()) >= 1, 10_000, 'the first call in flight');
    const second = await post(slowCall('dup', 30));
    expect(second.json).toMatchObject({ id: 'dup', error: { code: -32600 } });
    expect((await first).json).toMatchObject({ id: 'dup', result: {} });
    const again = await post({ jsonrpc: '2.0', id: 'dup', method: 'ping' });
    expect(again.json).toMatchObject({ id: 'dup', result: {} });

    const { stream, sessionId } = await legacyStream(gw.port);
    const legacy = (body: unknown) =>
      raw(gw.port, {
        path: `/messages?sessionId=${encodeURIComponent(sessionId)}`,
        headers: JSON_POST,
        body: JSON.stringify(body),
      });
    expect((await legacy([slowCall(3, 30), slowCall(3, 40)])).status).toBe(202);
    await until(() => /"code":-32600[^\n]*already used/.test(stream.received()), 10_000, 'the refusal on the stream');
    stream.close();
    await until(async () => (await inflight()) === 0, 5_000, 'nothing in flight after the stream closed');
  });
});

describe('answers a client asks for and does not read', () => {
  let big: RunningGateway;

  beforeAll(async () => {
    // A 1 s keep-alive interval: a stalled answer is dropped after two checks without progress. Bodies up to
    // 64 MB so one echo answer is far larger than what the kernel's socket buffers absorb.
    big = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_KEEPALIVE_INTERVAL: '1s', MCP_GATEWAY_MAX_BODY_BYTES: '64000000' },
    });
  });

  const pings = (n: number) =>
    JSON.stringify(Array.from({ length: n }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' })));

  test('a batch of more than 100 messages is refused as a whole with -32600, in both session eras', async () => {
    const sid = await confirmedSession(big.port);
    const headers = { ...JSON_POST, 'mcp-session-id': sid };
    const refused = await raw(big.port, { headers, body: pings(101) });
    expect(refused.status).toBe(400);
    expect(refused.json).toMatchObject({
      id: null,
      error: { code: -32600, data: { reason: 'batch_too_large', maxMessages: 100, messages: 101 } },
    });
    expect(refused.json?.error?.message).toMatch(/101 messages, more than the gateway's limit of 100/);
    const served = await raw(big.port, { headers, body: pings(100) });
    expect(served.status).toBe(200);
    expect(JSON.parse(served.text)).toHaveLength(100);

    const { stream, sessionId } = await legacyStream(big.port);
    const legacy = await raw(big.port, {
      path: `/messages?sessionId=${encodeURIComponent(sessionId)}`,
      headers: JSON_POST,
      body: pings(3000),
    });
    expect(legacy.status).toBe(400);
    expect(legacy.json).toMatchObject({ id: null, error: { code: -32600, data: { reason: 'batch_too_large' } } });
    stream.close();
  });

  test('a JSON answer the client stops reading is dropped with its connection; a client that reads gets it whole', async () => {
    const sid = await confirmedSession(big.port);
    const message = 'x'.repeat(8_000_000);
    const body = JSON.stringify(
      [1, 2, 3].map((id) => ({
        jsonrpc: '2.0',
        id,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message } },
      })),
    );
    const socket: Socket = connect({ port: big.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.pause(); // never reads the answer
    socket.write(
      `POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\naccept: application/json\r\nmcp-session-id: ${sid}\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`,
    );
    socket.write(body);
    const isDropped = (l: LogLine) => l.msg === 'answer dropped, connection closed: the client stopped reading';
    const dropped = await big.waitForLog(isDropped, 20_000);
    expect(dropped).toMatchObject({ stream: 'json' });
    expect(dropped.bufferedBytes as number).toBeGreaterThan(0);
    expect(await metricValue(big, 'mcp_gateway_stalled_streams_closed_total', { stream: 'json' })).toBe(1);
    socket.destroy();

    // The same answer to a client that reads it: whole, and nothing is dropped.
    const answer = await raw(big.port, { headers: { ...JSON_POST, 'mcp-session-id': sid }, body });
    expect(answer.status).toBe(200);
    const answers = JSON.parse(answer.text) as Array<{ id: number; result: unknown }>;
    expect(answers.map((a) => a.id).sort()).toEqual([1, 2, 3]);
    expect(big.logs.filter(isDropped)).toHaveLength(1);
    expect(await metricValue(big, 'mcp_gateway_inflight_requests')).toBe(0);
  });
});

describe('uploads a client drops halfway', () => {
  test('are no gateway error: no error line, and the next client is served', async () => {
    const before = gw.logs.length;
    const heads = [
      'content-length: 100000\r\n\r\n{"jsonrpc":"2.0","id":1,',
      'transfer-encoding: chunked\r\n\r\n6\r\n{"json\r\n',
    ];
    for (let i = 0; i < 20; i++) {
      const socket = connect({ port: gw.port, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.write(`POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n${heads[i % 2]}`);
      await new Promise((r) => setTimeout(r, 30));
      if (i % 4 < 2) socket.destroy();
      else socket.resetAndDestroy();
    }
    const ping = await raw(gw.port, {
      headers: JSON_POST,
      body: JSON.stringify({ jsonrpc: '2.0', id: 'after', method: 'ping' }),
    });
    expect(ping.json).toMatchObject({ id: 'after', result: {} });
    await new Promise((r) => setTimeout(r, 300));
    expect(gw.logs.slice(before).filter((l) => l.level >= 50)).toEqual([]);
  });
});

describe('a request whose _meta SDK servers cannot read', () => {
  const shapes: unknown[] = [
    'text',
    null,
    [1],
    { progressToken: { a: 1 } },
    { progressToken: null },
    { progressToken: [1] },
    { progressToken: true },
    { 'io.modelcontextprotocol/related-task': 5 },
    { 'io.modelcontextprotocol/related-task': { taskId: 7 } },
  ];
  const withMeta = (id: string, method: string, meta: unknown) => ({
    jsonrpc: '2.0',
    id,
    method,
    params: method === 'tools/call' ? { name: 'echo', arguments: { message: 'x' }, _meta: meta } : { _meta: meta },
  });
  const answer = async (path: string, headers: Record<string, string>, body: unknown) => {
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { ...JSON_POST, ...headers },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
    return {
      status: res.status,
      json: (await res.json()) as { id: unknown; error?: { code: number; message: string } },
    };
  };

  test('is refused at once with -32602 naming the field and carrying the id; nothing stays in flight', async () => {
    const sid = await confirmedSession(gw.port);
    for (const [i, meta] of shapes.entries()) {
      for (const method of ['tools/call', 'tools/list']) {
        const id = `meta-${i}-${method}`;
        const inSession = await answer('/mcp', { 'mcp-session-id': sid }, withMeta(id, method, meta));
        expect(inSession.json).toMatchObject({ id, error: { code: -32602 } });
        expect(inSession.json.error?.message).toMatch(/params\._meta/);
        const sessionless = await answer('/mcp', {}, withMeta(`${id}-oneshot`, method, meta));
        // An io.modelcontextprotocol/ key makes a sessionless request a 2026-07-28 one: the SDK refuses it (-32600).
        expect(sessionless.json.id).toBe(`${id}-oneshot`);
        expect([-32600, -32602]).toContain(sessionless.json.error?.code);
      }
    }
    expect(await inflight()).toBe(0);
    // Tokens of the types MCP allows are served, and so is an empty _meta.
    for (const meta of [{ progressToken: 'p' }, { progressToken: 3 }, {}]) {
      const ok = await answer('/mcp', { 'mcp-session-id': sid }, withMeta('fine', 'tools/call', meta));
      expect(ok.json).toMatchObject({ id: 'fine', result: {} });
    }
  });

  test('legacy SSE: the refusal arrives on the stream with its id', async () => {
    const { stream, sessionId } = await legacyStream(gw.port);
    const posted = await raw(gw.port, {
      path: `/messages?sessionId=${encodeURIComponent(sessionId)}`,
      headers: JSON_POST,
      body: JSON.stringify(withMeta('legacy-meta', 'tools/call', { progressToken: { a: 1 } })),
    });
    expect(posted.status).toBe(202);
    await until(() => /"id":"legacy-meta","error":\{"code":-32602/.test(stream.received()), 5_000, 'the refusal');
    stream.close();
    expect(await inflight()).toBe(0);
  });
});

describe('perSession mode: abandoned handshakes from one client', () => {
  test('start at most 10 server processes by default; another client still gets its own', async () => {
    const per = await startGateway(['stdio', '--session-mode', 'perSession', '--', ...EVERYTHING]);
    const baseline = childPids(per.proc.pid as number).length;
    for (let i = 0; i < 14; i++) {
      const answer = await raw(per.port, { headers: JSON_POST, body: initializeBody(i), from: '127.0.9.9' });
      expect(answer.status).toBe(200);
    }
    // Each over the cap closed that client's oldest idle session and its process.
    const spawned = () => childPids(per.proc.pid as number).length - baseline;
    await until(() => spawned() <= 10, 15_000, 'at most 10 processes for one client');
    expect(await metricValue(per, 'mcp_gateway_active_sessions')).toBe(10);
    const other = await client2025(per.url);
    const result = await other.client.callTool({ name: 'echo', arguments: { message: 'mine' } });
    expect(JSON.stringify(result)).toContain('Echo: mine');
    await other.client.close();
  }, 90_000);
});

describe('an MCP-Protocol-Version header of 8,000 characters', () => {
  test('is refused with its id and a short message that names the supported versions', async () => {
    const sid = await confirmedSession(gw.port);
    const answer = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid, 'mcp-protocol-version': 'v'.repeat(8000) },
      body: JSON.stringify({ jsonrpc: '2.0', id: 'long-version', method: 'ping' }),
    });
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ id: 'long-version', error: { code: -32600 } });
    expect(answer.json?.error?.message).toMatch(
      /unsupported MCP-Protocol-Version "v+…\[\d+ more characters\]; supported: 2025-11-25/,
    );
    expect(answer.text.length).toBeLessThan(600);
  });
});

describe('a request the client cancels', () => {
  const cancel = (requestId: unknown) => ({ jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId } });

  test('its POST is answered at once (202 for JSON, the stream ends for SSE), not held until the session ends', async () => {
    const sid = await confirmedSession(gw.port);
    const post = (body: unknown, accept: string) =>
      raw(gw.port, {
        headers: { 'content-type': 'application/json', accept, 'mcp-session-id': sid },
        body: JSON.stringify(body),
      });
    const json = post(slowCall('c1', 30), 'application/json');
    await until(async () => (await inflight()) >= 1, 10_000, 'the call in flight');
    expect((await post(cancel('c1'), 'application/json')).status).toBe(202);
    const answered = await json;
    expect(answered.status).toBe(202);
    expect(answered.text).toBe('');

    // In a batch, the other request's answer still comes, alone.
    const batch = post([slowCall('c2', 30), { jsonrpc: '2.0', id: 'p', method: 'ping' }], 'application/json');
    await until(async () => (await inflight()) >= 1, 10_000, 'the batch call in flight');
    await post(cancel('c2'), 'application/json');
    expect(JSON.parse((await batch).text)).toEqual([{ jsonrpc: '2.0', id: 'p', result: {} }]);

    const sse = post(slowCall('c3', 30), 'text/event-stream');
    await until(async () => (await inflight()) >= 1, 10_000, 'the streamed call in flight');
    await post(cancel('c3'), 'application/json');
    const streamed = await sse;
    expect(streamed.status).toBe(200);
    expect(streamed.text).not.toContain('"id":"c3"');
    await until(async () => (await inflight()) === 0, 5_000, 'nothing in flight');
  });
});

describe('a sessionless call whose client disconnects', () => {
  test('is cancelled at once, not left running for nobody', async () => {
    const cancelled = () =>
      gw.logs.filter((l) => (l.audit as { outcome?: string } | undefined)?.outcome === 'cancelled');
    const before = cancelled().length;
    // No Mcp-Session-Id: served once, with no stream to resume on; the client leaves once it is running.
    const req = httpRequest({
      host: '127.0.0.1',
      port: gw.port,
      path: '/mcp',
      method: 'POST',
      headers: JSON_POST,
    });
    req.on('error', () => {});
    req.end(JSON.stringify(slowCall('gone', 30)));
    await until(async () => (await inflight()) >= 1, 10_000, 'the call in flight');
    req.destroy();
    await until(async () => (await inflight()) === 0, 5_000, 'the call ended once its client left');
    await until(() => cancelled().length > before, 5_000, 'the call audited as cancelled');
    // The gateway serves on.
    const ping = await raw(gw.port, {
      headers: JSON_POST,
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    expect(ping.json).toMatchObject({ id: 1, result: {} });
  });
});

describe('an Mcp-Session-Id header sent twice', () => {
  test('the same id twice (a proxy repeating it) names the session; two different ids are refused', async () => {
    const sid = await confirmedSession(gw.port);
    const ping = (ids: string[]) =>
      raw(gw.port, {
        headers: { ...JSON_POST, 'mcp-session-id': ids },
        body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'ping' }),
      });
    const same = await ping([sid, sid]);
    expect(same.status).toBe(200);
    expect(same.json).toMatchObject({ id: 5, result: {} });
    const other = await confirmedSession(gw.port);
    const different = await ping([sid, other]);
    expect(different.status).toBe(400);
    expect(different.json).toMatchObject({
      id: null,
      error: { code: -32600, message: 'Bad Request: Mcp-Session-Id is given more than once, with different values' },
    });
    // Neither session was touched by the refusal.
    expect((await ping([sid])).status).toBe(200);
    expect((await ping([other])).status).toBe(200);
  });
});
