/**
 * Sessions nobody uses cannot lock real clients out (issue 10, H.1): floods of abandoned handshakes (raw
 * `initialize` POSTs, legacy `GET /sse` streams opened and dropped or left hanging) at ten times the session
 * limit, from many loopback addresses; real SDK 1.x clients (Streamable HTTP and legacy SSE) still connect and
 * call tools, and sessions in use are never the ones closed. One address holds at most its per-client limit;
 * abandoned handshakes expire after the handshake timeout; a refusal happens only when every session in the
 * way is busy, and it answers the initialize by its id (H.7).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { client2025, clientSse, EVERYTHING, metricValue, startGateway, stopAll, textOf, until } from './helpers.ts';
import {
  abandonedHandshake,
  confirmedSession,
  initializeBody,
  inParallel,
  JSON_POST,
  legacyStream,
  type OpenStream,
  openStream,
  pingStatus,
  raw,
} from './raw-http.ts';

afterAll(stopAll);

async function abandonedHandshakeAs(port: number, headers: Record<string, string>, from: string) {
  const answer = await raw(port, { headers: { ...JSON_POST, ...headers }, body: initializeBody(1), from });
  return { answer, sessionId: answer.headers['mcp-session-id'] as string };
}

const address = (n: number) => `127.0.${Math.floor(n / 250) + 1}.${(n % 250) + 2}`;

async function activeSessions(gw: { health: string }): Promise<number> {
  return (
    (await metricValue(gw as never, 'mcp_gateway_active_sessions', { transport: 'streamable_http' })) +
    (await metricValue(gw as never, 'mcp_gateway_active_sessions', { transport: 'sse' }))
  );
}

async function echo(client: Awaited<ReturnType<typeof client2025>>['client'], message: string): Promise<string> {
  return textOf(await client.callTool({ name: 'echo', arguments: { message } }));
}

describe('session lockout', () => {
  test('a flood of abandoned sessions at 10x the limit: real clients still connect, sessions in use survive', async () => {
    const LIMIT = 20;
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_MAX_SESSIONS: String(LIMIT), MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT: '8' },
    });
    const port = gw.port;
    // In use before the flood: an SDK 1.x Streamable HTTP client (GET stream open) and a legacy SSE client.
    const streamable = await client2025(gw.url);
    const sse = await clientSse(`${gw.url}/sse`);
    expect(await echo(streamable.client, 'before')).toBe('Echo: before');
    expect(await echo(sse.client, 'before')).toBe('Echo: before');
    const streamableId = streamable.transport.sessionId;

    // 10x the limit of abandoned handshakes, from 25 addresses (each within its per-client limit of 8).
    const held: OpenStream[] = [];
    await inParallel(LIMIT * 10, 16, async (i) => {
      const from = address(i % 25);
      if (i % 2 === 0) {
        const { answer } = await abandonedHandshake(port, from, i);
        expect(answer.status, answer.text).toBe(200);
      } else {
        const { stream } = await legacyStream(port, from);
        expect(stream.status, stream.received()).toBe(200);
        // Every other stream is dropped at once, the rest left open and never used.
        if (i % 4 === 1) stream.close();
        else held.push(stream);
      }
    });
    expect(await activeSessions(gw)).toBeLessThanOrEqual(LIMIT);
    expect(
      await metricValue(gw, 'mcp_gateway_sessions_closed_by_gateway_total', { reason: 'evicted' }),
    ).toBeGreaterThan(0);

    // The sessions in use were not the ones closed.
    expect(streamable.transport.sessionId).toBe(streamableId);
    expect(await echo(streamable.client, 'after')).toBe('Echo: after');
    expect(await echo(sse.client, 'after')).toBe('Echo: after');

    // A flood that does finish its handshakes (initialize, then notifications/initialized) still cannot close
    // sessions that are in use: it displaces idle ones, never a handshake in progress (each one here completes).
    await inParallel(LIMIT * 10, 8, (i) => confirmedSession(port, address(i % 25)));
    expect(await echo(streamable.client, 'after confirmed flood')).toBe('Echo: after confirmed flood');
    expect(await echo(sse.client, 'after confirmed flood')).toBe('Echo: after confirmed flood');

    // New real clients of both eras connect and call a tool while the abandoned streams still hang open.
    const fresh = await client2025(gw.url);
    expect(await echo(fresh.client, 'fresh')).toBe('Echo: fresh');
    const freshSse = await clientSse(`${gw.url}/sse`);
    expect(await echo(freshSse.client, 'fresh sse')).toBe('Echo: fresh sse');
    // The hanging streams that made room were ended by the gateway.
    await until(() => held.some((s) => s.isEnded()), 5_000, 'an evicted legacy stream to end');

    for (const s of held) s.close();
    await Promise.all([streamable.client.close(), sse.client.close(), fresh.client.close(), freshSse.client.close()]);
  });

  test('one address holds at most its per-client limit; over it, its own oldest idle session makes room', async () => {
    const CAP = 5;
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_MAX_SESSIONS: '100', MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT: String(CAP) },
    });
    const port = gw.port;
    const from = '127.0.0.9';
    const ids: string[] = [];
    for (let i = 0; i < CAP * 10; i++) {
      const { answer, sessionId } = await abandonedHandshake(port, from, i);
      expect(answer.status, answer.text).toBe(200);
      ids.push(sessionId as string);
    }
    expect(await activeSessions(gw)).toBe(CAP);
    // The newest CAP live on; every older one was closed to make room.
    const statuses = [];
    for (const id of ids) statuses.push(await pingStatus(port, id, from));
    expect(statuses).toEqual([...new Array(CAP * 9).fill(404), ...new Array(CAP).fill(200)]);
    expect(
      await metricValue(gw, 'mcp_gateway_sessions_closed_by_gateway_total', { reason: 'evicted_per_client' }),
    ).toBe(CAP * 9);
    // Another client is not held to that address's sessions.
    const other = await client2025(gw.url);
    expect(await echo(other.client, 'other')).toBe('Echo: other');

    // When every session of the address is in use (GET stream open), a new one is refused with its request id.
    const busyFrom = '127.0.0.10';
    const streams: OpenStream[] = [];
    for (let i = 0; i < CAP; i++) {
      const sid = await confirmedSession(port, busyFrom);
      const s = await openStream(port, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': sid },
        from: busyFrom,
      });
      expect(s.status).toBe(200);
      streams.push(s);
    }
    const { answer } = await abandonedHandshake(port, busyFrom, 'init-over-cap');
    expect(answer.status).toBe(429);
    expect(answer.headers['retry-after']).toBe('5');
    expect(answer.json?.id).toBe('init-over-cap');
    expect(answer.json?.error?.message).toMatch(/per-client limit is 5/);
    expect(answer.json?.error?.data).toEqual({ reason: 'client_session_limit' });
    for (const s of streams) s.close();

    // Handshakes that hold a GET stream but never send notifications/initialized are not in use: they make room
    // (before, the stream counted as the handshake done, and such sessions locked the address out for 30 min).
    const floodFrom = '127.0.0.11';
    const held: OpenStream[] = [];
    for (let i = 0; i < CAP; i++) {
      const { sessionId } = await abandonedHandshake(port, floodFrom);
      const headers = { accept: 'text/event-stream', 'mcp-session-id': sessionId as string };
      held.push(await openStream(port, { headers, from: floodFrom }));
    }
    const fresh = await confirmedSession(port, floodFrom);
    expect(await pingStatus(port, fresh, floodFrom)).toBe(200);
    for (const s of held) s.close();
    await other.client.close();
  });

  test('with auth, the per-client limit counts each token, whatever the address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-limits-'));
    const tokenFile = join(dir, 'tokens');
    writeFileSync(tokenFile, 'token-of-alice-0123456789\ntoken-of-bob-0123456789\n');
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_AUTH_TOKEN_FILE: tokenFile, MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT: '2' },
    });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const busy = async (token: string, from: string) => {
      const { sessionId } = await abandonedHandshakeAs(gw.port, as(token), from);
      await raw(gw.port, {
        headers: { ...JSON_POST, ...as(token), 'mcp-session-id': sessionId },
        body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
        from,
      });
      const s = await openStream(gw.port, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': sessionId, ...as(token) },
        from,
      });
      expect(s.status).toBe(200);
      return s;
    };
    // Alice's two sessions in use, from two addresses: her third is refused from a third address.
    const streams = [
      await busy('token-of-alice-0123456789', '127.0.0.21'),
      await busy('token-of-alice-0123456789', '127.0.0.22'),
    ];
    const third = await abandonedHandshakeAs(gw.port, as('token-of-alice-0123456789'), '127.0.0.23');
    expect(third.answer.status).toBe(429);
    // Bob, from Alice's address, has his own limit.
    const bob = await abandonedHandshakeAs(gw.port, as('token-of-bob-0123456789'), '127.0.0.21');
    expect(bob.answer.status).toBe(200);
    for (const s of streams) s.close();
  });

  test('refused only when every session is busy, with the request id; legacy SSE the same', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_MAX_SESSIONS: '3' } });
    const port = gw.port;
    const streams: OpenStream[] = [];
    for (let i = 0; i < 3; i++) {
      const sid = await confirmedSession(port, address(i));
      const s = await openStream(port, {
        headers: { accept: 'text/event-stream', 'mcp-session-id': sid },
        from: address(i),
      });
      expect(s.status).toBe(200);
      streams.push(s);
    }
    const { answer } = await abandonedHandshake(port, address(7), 42);
    expect(answer.status).toBe(503);
    expect(answer.json).toMatchObject({ id: 42, error: { data: { reason: 'session_limit' } } });
    expect(answer.json?.error?.message).toMatch(/session limit \(3\) and every session is in use/);
    const refusedSse = await openStream(port, { path: '/sse', headers: { accept: 'text/event-stream' } });
    expect(refusedSse.status).toBe(503);
    // One stream closes: its session is idle now and makes room.
    streams[0]?.close();
    await until(async () => (await abandonedHandshake(port, address(7), 43)).answer.status === 200, 5_000, 'room');
    for (const s of streams) s.close();
  });

  test('at the limit, streams held open and unused make room once quiet; the quietest first', async () => {
    // Idle timeout 8 s: a stream holder may be closed at the limit after 2 s without a request (a quarter).
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_MAX_SESSIONS: '3', MCP_GATEWAY_IDLE_TIMEOUT: '8s' },
    });
    const port = gw.port;
    const held: Array<{ sid: string; stream: OpenStream; from: string }> = [];
    for (let i = 0; i < 3; i++) {
      const from = address(20 + i);
      const sid = await confirmedSession(port, from);
      const stream = await openStream(port, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid }, from });
      expect(stream.status).toBe(200);
      held.push({ sid, stream, from });
    }
    // Just opened, so in use: a new session is refused.
    expect((await abandonedHandshake(port, address(30), 1)).answer.status).toBe(503);
    await new Promise((r) => setTimeout(r, 2_500));
    // The first holder makes a request: now the second is the quietest.
    const [first, second, third] = held as [(typeof held)[0], (typeof held)[0], (typeof held)[0]];
    expect(await pingStatus(port, first.sid, first.from)).toBe(200);
    const fresh = await client2025(gw.url);
    expect(await echo(fresh.client, 'in')).toBe('Echo: in');
    await second.stream.ended;
    expect(await pingStatus(port, second.sid, second.from)).toBe(404);
    expect(await pingStatus(port, first.sid, first.from)).toBe(200);
    expect(third.stream.isEnded()).toBe(false);
    expect(await metricValue(gw, 'mcp_gateway_sessions_closed_by_gateway_total', { reason: 'evicted' })).toBe(1);
    for (const h of held) h.stream.close();
    await fresh.client.close();
  });

  test('a session that never goes past initialize expires after the handshake timeout', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_HANDSHAKE_TIMEOUT: '1s' } });
    const port = gw.port;
    const abandoned = await abandonedHandshake(port);
    const confirmed = await confirmedSession(port);
    const { stream: hanging } = await legacyStream(port);
    // An SSE session that went past its handshake is in use: its stream stays.
    const { stream: usedStream, sessionId: usedSse } = await legacyStream(port);
    const post = (body: unknown) =>
      raw(port, {
        path: `/messages?sessionId=${encodeURIComponent(usedSse)}`,
        headers: JSON_POST,
        body: JSON.stringify(body),
      });
    expect(
      (
        await post({
          jsonrpc: '2.0',
          id: 1,
          method: 'initialize',
          params: { protocolVersion: '2024-11-05', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
        })
      ).status,
    ).toBe(202);
    expect((await post({ jsonrpc: '2.0', method: 'notifications/initialized' })).status).toBe(202);

    await hanging.ended; // the gateway ends the abandoned legacy stream
    await until(
      async () =>
        (await metricValue(gw, 'mcp_gateway_sessions_closed_by_gateway_total', { reason: 'handshake_timeout' })) === 2,
      10_000,
      'both abandoned handshakes to expire',
    );
    expect(await pingStatus(port, abandoned.sessionId as string)).toBe(404);
    // Well past the timeout, the sessions that went on are still there.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await pingStatus(port, confirmed)).toBe(200);
    expect((await post({ jsonrpc: '2.0', id: 2, method: 'ping' })).status).toBe(202);
    await until(() => usedStream.received().includes('"id":2'), 5_000, 'the ping answer on the stream');
    usedStream.close();
  });
});
