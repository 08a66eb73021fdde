/**
 * What a session keeps in the gateway's memory, against the real gateway and the raw fixture server, when a
 * hostile client makes it as large as it can: its `initialize`, its event store, and the notifications it sends a
 * server that stopped reading.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_HANDSHAKE_CHARS } from '../../src/gateway/mux/handshake.ts';
import {
  childPids,
  client2025,
  metricValue,
  NODE,
  ROOT,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
} from './helpers.ts';
import { confirmedSession, JSON_POST, legacyStream, openStream, raw } from './raw-http.ts';

const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];
const CHATTY_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/chatty-server.ts')];

afterAll(stopAll);

function initializeWith(id: number | string, clientInfo: unknown, capabilities: unknown = {}): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion: '2025-11-25', capabilities, clientInfo },
  });
}

describe('an initialize carrying megabytes of clientInfo or capabilities', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...RAW_SERVER]);
  });

  test('is refused with -32602, its id and the limit, and opens no session (2025 sessions)', async () => {
    // Each was kept for the session's life: 100 sessions of one address held 400 MB, past a pod's 512 Mi.
    for (const [clientInfo, capabilities] of [
      [{ name: 'x'.repeat(3_000_000), version: '1' }, {}],
      [{ name: 'raw', version: '1' }, { experimental: { junk: 'y'.repeat(MAX_HANDSHAKE_CHARS) } }],
    ]) {
      const answer = await raw(gw.port, {
        headers: JSON_POST,
        body: initializeWith('big-init', clientInfo, capabilities),
      });
      expect(answer.status).toBe(200);
      expect(answer.headers['mcp-session-id']).toBeUndefined();
      expect(answer.json).toMatchObject({
        id: 'big-init',
        error: { code: -32602, data: { reason: 'handshake_too_large', maxChars: MAX_HANDSHAKE_CHARS } },
      });
      expect(answer.json?.error?.message).toMatch(/capabilities and clientInfo take \d+ characters/);
      expect(answer.text.length).toBeLessThan(1000);
    }
  });

  test('legacy SSE: the refusal arrives on the stream with its id', async () => {
    const { stream, sessionId } = await legacyStream(gw.port);
    const posted = await raw(gw.port, {
      path: `/messages?sessionId=${encodeURIComponent(sessionId)}`,
      headers: JSON_POST,
      body: initializeWith('big-legacy', { name: 'z'.repeat(200_000), version: '1' }),
    });
    expect(posted.status).toBe(202);
    await until(() => /"id":"big-legacy","error":\{"code":-32602/.test(stream.received()), 5_000, 'the refusal');
    stream.close();
  });

  test('a handshake with an inline icon well under the limit is served, and real clients go on', async () => {
    const icon = { src: `data:image/png;base64,${'A'.repeat(20_000)}`, mimeType: 'image/png' };
    const answer = await raw(gw.port, {
      headers: JSON_POST,
      body: initializeWith(1, { name: 'iconic', version: '1', icons: [icon] }, { sampling: {} }),
    });
    expect(answer.headers['mcp-session-id']).toBeDefined();
    expect(answer.json).toMatchObject({ id: 1, result: { protocolVersion: '2025-11-25' } });
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    await client.close();
  });
});

describe('event stores that one client fills in many sessions', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...RAW_SERVER]);
  });

  /** A tools/call of echo answered as an event stream (the client takes nothing else), so it is stored. */
  const echoAsStream = (port: number, sessionId: string, message: string, from?: string) =>
    raw(port, {
      headers: { ...JSON_POST, accept: 'text/event-stream', 'mcp-session-id': sessionId },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'echo', arguments: { message } },
      }),
      from,
    });
  /** What resuming the session's first POST stream replays. */
  const replay = async (port: number, sessionId: string, from?: string) =>
    (
      await raw(port, {
        method: 'GET',
        headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, 'last-event-id': '1-0' },
        from,
      })
    ).text;

  test('hold 64 MiB together: the hoarding sessions lose their oldest events, a small session keeps its own', async () => {
    const victim = await confirmedSession(gw.port);
    expect((await echoAsStream(gw.port, victim, 'victim')).text).toContain('Echo: victim');
    // Each session's store is bounded at 4 MiB, but 100 sessions of one address held 400 MB of them.
    const big = 'm'.repeat(3_900_000);
    const hoarder: string[] = [];
    for (let i = 0; i < 20; i++) {
      const sid = await confirmedSession(gw.port, '127.0.0.2');
      hoarder.push(sid);
      const answer = await echoAsStream(gw.port, sid, big, '127.0.0.2');
      expect(answer.headers['content-type']).toBe('text/event-stream');
      expect(answer.text.length).toBeGreaterThan(3_900_000);
    }
    expect(await replay(gw.port, hoarder[0] as string, '127.0.0.2')).not.toContain('Echo: mmm');
    expect(await replay(gw.port, hoarder[19] as string, '127.0.0.2')).toContain('Echo: mmm');
    expect(await replay(gw.port, victim)).toContain('Echo: victim');
  });
});

describe('messages waiting for GET streams that sessions never open', () => {
  /** A flood call from a client that takes only JSON: its log lines can travel only on the session's GET stream. */
  const floodJsonOnly = (port: number, sessionId: string, count: number, bytes: number, from?: string) =>
    raw(port, {
      headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': sessionId },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'tools/call',
        params: { name: 'flood', arguments: { count, bytes } },
      }),
      from,
    });
  /** The flood lines (their `i`) a GET stream opened now receives, once no more arrive for half a second. */
  const waiting = async (port: number, sessionId: string, from?: string) => {
    const stream = await openStream(port, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId },
      from,
    });
    const lines = () => [...stream.received().matchAll(/"i":(\d+),"filler"/g)].map((m) => Number(m[1]));
    let seen = -1;
    await until(
      async () => {
        const now = stream.received().length;
        if (now === seen) return true;
        seen = now;
        await new Promise((r) => setTimeout(r, 500));
        return false;
      },
      20_000,
      'the waiting messages',
    );
    stream.close();
    return lines();
  };

  test('share the 64 MiB budget: the hoarders lose their oldest notifications, counted; a small session keeps its own', async () => {
    const gw = await startGateway(['stdio', '--', ...CHATTY_SERVER]);
    const victim = await confirmedSession(gw.port);
    expect((await floodJsonOnly(gw.port, victim, 1, 100)).json).toMatchObject({ id: 1, result: {} });
    // Each session held up to 4 MiB of them (512 messages) outside the event budget: 100 sessions of one client,
    // or 1000 sessions, grew the gateway without a shared bound while the server kept talking.
    const hoarders: string[] = [];
    for (let i = 0; i < 24; i++) {
      const sid = await confirmedSession(gw.port, '127.0.0.3');
      hoarders.push(sid);
      expect((await floodJsonOnly(gw.port, sid, 4, 900_000, '127.0.0.3')).json).toMatchObject({ result: {} });
    }
    const dropped = await metricValue(gw, 'mcp_gateway_dropped_messages_total', { reason: 'get_stream_backlog' });
    expect(dropped).toBeGreaterThan(0);
    const first = await waiting(gw.port, hoarders[0] as string, '127.0.0.3');
    // The oldest went first: what is left are the newest lines, in order.
    expect(first.length).toBeLessThan(4);
    expect(first).toEqual([0, 1, 2, 3].slice(4 - first.length));
    let received = first.length;
    for (const sid of hoarders.slice(1)) received += (await waiting(gw.port, sid, '127.0.0.3')).length;
    // Nothing was lost without a count: every line is either received or counted as dropped.
    expect(received + dropped).toBe(4 * hoarders.length);
    expect(await waiting(gw.port, victim)).toEqual([0]);
    expect(gw.logs.some((l) => l.msg?.toString().startsWith('message dropped'))).toBe(true);
    expect(await gw.stop()).toBe(0);
  }, 120_000);
});

describe('notifications to a server that stopped reading its stdin', () => {
  test('are dropped (and counted) past the backlog bound instead of queueing in the gateway; requests get the error', async () => {
    // The deaf server answers nothing after its handshake, so readiness never comes: wait for the handshake.
    const deaf = await startGateway(['stdio', '--', ...RAW_SERVER, '--deaf'], { waitReady: false });
    await deaf.waitForLog((l) => l.msg === 'MCP server ready');
    const sid = await confirmedSession(deaf.port);
    const headers = { ...JSON_POST, 'mcp-session-id': sid };
    // 30 of these were 117 MB held in the gateway, with no bound: notifications are free of the request backlog.
    const note = JSON.stringify({
      jsonrpc: '2.0',
      method: 'notifications/junk',
      params: { data: 'n'.repeat(3_900_000) },
    });
    for (let i = 0; i < 30; i++) expect((await raw(deaf.port, { headers, body: note })).status).toBe(202);
    expect(await metricValue(deaf, 'mcp_gateway_dropped_messages_total', { reason: 'server_backlog' })).toBeGreaterThan(
      20,
    );
    const call = await raw(deaf.port, { headers, body: '{"jsonrpc":"2.0","id":"late","method":"tools/list"}' });
    expect(call.json).toMatchObject({
      id: 'late',
      error: { code: -32000, message: expect.stringContaining('not keeping up') },
    });
    // Killed, the gateway cannot stop its child, and a deaf child never reads the end of its stdin.
    const [child] = childPids(deaf.proc.pid as number);
    await deaf.stop('SIGKILL');
    const alive = (pid: number) => {
      try {
        return process.kill(pid, 0);
      } catch {
        return false;
      }
    };
    await until(() => !alive(child as number), 5_000, 'the orphaned server to exit');
  });
});
