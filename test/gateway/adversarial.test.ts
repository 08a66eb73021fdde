/**
 * Cases an outside tester ran against the real gateway (issue 10, H and K.2) that the team's suites had not:
 * each test here failed before its fix. A request id reused while the first request is still in flight, in one
 * batch or across POSTs, took the first one's place in the session's books: closing the session then left the
 * first call running unseen (a phantom in-flight call the drain waits for).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVERYTHING, metricValue, type RunningGateway, startGateway, stopAll, until } from './helpers.ts';
import { confirmedSession, JSON_POST, legacyStream, raw } from './raw-http.ts';

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
