/**
 * Streaming hygiene and 2025 session mechanics at the wire level (raw HTTP against the real gateway and
 * server-everything): lazy JSON vs event-stream answers, proxy-safe headers, keep-alive comments,
 * Last-Event-ID resumption after a dropped connection, several GET streams, DELETE, base path and
 * X-Forwarded-Prefix for the legacy endpoint URL.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVERYTHING, type RunningGateway, sseEvents, startGateway, stopAll } from './helpers.ts';

let gw: RunningGateway;
const ACCEPT = 'application/json, text/event-stream';

beforeAll(async () => {
  gw = await startGateway(['stdio', '--base-path', '/github', '--', ...EVERYTHING], {
    env: { MCP_GATEWAY_KEEPALIVE_INTERVAL: '300ms' },
  });
});

afterAll(async () => {
  await stopAll();
});

async function rpc(body: unknown, headers: Record<string, string> = {}, path = '/mcp') {
  return fetch(`${gw.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: ACCEPT, ...headers },
    body: JSON.stringify(body),
  });
}

async function openSession(path = '/mcp'): Promise<string> {
  const res = await rpc(
    {
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
    },
    {},
    path,
  );
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toContain('application/json');
  const body = (await res.json()) as { result: { protocolVersion: string; serverInfo: { name: string } } };
  expect(body.result.protocolVersion).toBe('2025-06-18');
  expect(body.result.serverInfo.name).toBe('mcp-servers/everything');
  const id = res.headers.get('mcp-session-id');
  expect(id).toMatch(/^[A-Za-z0-9_-]{24,}/);
  const initialized = await rpc(
    { jsonrpc: '2.0', method: 'notifications/initialized' },
    { 'mcp-session-id': id as string },
    path,
  );
  expect(initialized.status).toBe(202);
  return id as string;
}

describe('Streamable HTTP wire behaviour', () => {
  test('a quick request is answered with plain JSON', async () => {
    const sid = await openSession();
    const res = await rpc(
      { jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'echo', arguments: { message: 'json' } } },
      { 'mcp-session-id': sid },
    );
    expect(res.headers.get('content-type')).toBe('application/json');
    const body = (await res.json()) as { id: number; result: { content: Array<{ text: string }> } };
    expect(body.id).toBe(2);
    expect(body.result.content[0]?.text).toBe('Echo: json');
  });

  test('progress upgrades the answer to a proxy-safe event stream; a dropped stream resumes with Last-Event-ID', async () => {
    const sid = await openSession();
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: ACCEPT,
        'accept-encoding': 'gzip, br',
        'mcp-session-id': sid,
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 'long-1',
        method: 'tools/call',
        params: {
          name: 'trigger-long-running-operation',
          arguments: { duration: 1.2, steps: 4 },
          _meta: { progressToken: 'tok' },
        },
      }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    expect(res.headers.get('cache-control')).toBe('no-cache, no-transform');
    expect(res.headers.get('content-encoding')).toBeNull();
    const seen: Array<{ id?: string; data: string }> = [];
    for await (const ev of sseEvents(res.body as ReadableStream<Uint8Array>)) {
      if (ev.comment !== undefined) continue;
      seen.push(ev);
      if (ev.data.includes('"progress":1')) break;
    }
    controller.abort();
    // The priming event (an id and no data) makes the stream resumable.
    expect(seen[0]?.data).toBe('');
    expect(seen[0]?.id).toMatch(/^\d+-0$/);
    const last = seen[seen.length - 1];
    expect(JSON.parse(last?.data ?? '{}').params.progressToken).toBe('tok');

    const resumed = await fetch(`${gw.url}/mcp`, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': sid, 'last-event-id': last?.id as string },
    });
    expect(resumed.status).toBe(200);
    const rest: Array<{ method?: string; id?: string; params?: { progress: number } }> = [];
    for await (const ev of sseEvents(resumed.body as ReadableStream<Uint8Array>)) {
      if (!ev.data) continue;
      rest.push(JSON.parse(ev.data));
    }
    const progress = rest.filter((m) => m.method === 'notifications/progress').map((m) => m.params?.progress);
    expect(progress).toEqual([2, 3, 4]);
    expect(rest[rest.length - 1]?.id).toBe('long-1');
  });

  test('the GET stream resumes with Last-Event-ID: what was sent while it was down is replayed, in order', async () => {
    const sid = await openSession();
    const announceResource = async (name: string) => {
      // server-everything registers a session resource and announces resources/list_changed to every session.
      const res = await rpc(
        {
          jsonrpc: '2.0',
          id: name,
          method: 'tools/call',
          params: { name: 'gzip-file-as-resource', arguments: { name, data: 'data:text/plain;base64,aGk=' } },
        },
        { 'mcp-session-id': sid },
      );
      expect(res.status).toBe(200);
      await res.body?.cancel();
    };
    const openGet = (signal: AbortSignal, lastEventId?: string) =>
      fetch(`${gw.url}/mcp`, {
        headers: {
          accept: 'text/event-stream',
          'mcp-session-id': sid,
          ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
        },
        signal,
      });
    /** The next `n` list_changed events of a stream, with their ids. */
    async function listChanged(res: Response, n: number) {
      const events: Array<{ id?: string; method: string }> = [];
      for await (const ev of sseEvents(res.body as ReadableStream<Uint8Array>)) {
        if (!ev.data) continue;
        const message = JSON.parse(ev.data) as { method?: string };
        if (message.method === 'notifications/resources/list_changed')
          events.push({ id: ev.id, method: message.method });
        if (events.length === n) break;
      }
      return events;
    }

    const first = new AbortController();
    const stream = await openGet(first.signal);
    expect(stream.status).toBe(200);
    const seen = listChanged(stream, 1);
    const tag = Date.now();
    await announceResource(`replay-${tag}-0.gz`);
    const [live] = await seen;
    expect(live?.id).toMatch(/^0-\d+$/);
    first.abort();

    // Down: two more announcements travel nowhere live.
    await announceResource(`replay-${tag}-1.gz`);
    await announceResource(`replay-${tag}-2.gz`);

    const second = new AbortController();
    const resumed = await openGet(second.signal, live?.id);
    expect(resumed.status).toBe(200);
    const replayed = await listChanged(resumed, 2);
    second.abort();
    const seq = Number(live?.id?.split('-')[1]);
    expect(replayed.map((e) => e.id)).toEqual([`0-${seq + 1}`, `0-${seq + 2}`]);
  });

  test('several GET streams may be open; the older one keeps receiving keep-alives (no 409)', async () => {
    const sid = await openSession();
    const first = await fetch(`${gw.url}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
    const second = await fetch(`${gw.url}/mcp`, { headers: { accept: 'text/event-stream', 'mcp-session-id': sid } });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(first.headers.get('x-accel-buffering')).toBe('no');
    let comments = 0;
    for await (const ev of sseEvents(first.body as ReadableStream<Uint8Array>)) {
      if (ev.comment === 'keep-alive') comments++;
      if (comments >= 2) break;
    }
    expect(comments).toBe(2);
    await second.body?.cancel();
  });

  test('DELETE ends the session; its id is then unknown (404)', async () => {
    const sid = await openSession();
    const del = await fetch(`${gw.url}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid } });
    expect(del.status).toBe(200);
    const after = await rpc({ jsonrpc: '2.0', id: 3, method: 'tools/list' }, { 'mcp-session-id': sid });
    expect(after.status).toBe(404);
    expect(((await after.json()) as { error: { code: number } }).error.code).toBe(-32001);
  });

  test('a sessionless 2025 request is served once, like a stateless server', async () => {
    const res = await rpc({
      jsonrpc: '2.0',
      id: 9,
      method: 'tools/call',
      params: { name: 'echo', arguments: { message: 'once' } },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('mcp-session-id')).toBeNull();
    const body = (await res.json()) as { result: { content: Array<{ text: string }> } };
    expect(body.result.content[0]?.text).toBe('Echo: once');
  });
});

describe('base path and the legacy endpoint URL', () => {
  async function endpointEvent(path: string, headers: Record<string, string> = {}) {
    const controller = new AbortController();
    const res = await fetch(`${gw.url}${path}`, {
      headers: { accept: 'text/event-stream', ...headers },
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    let endpoint = '';
    for await (const ev of sseEvents(res.body as ReadableStream<Uint8Array>)) {
      if (ev.event === 'endpoint') {
        endpoint = ev.data;
        break;
      }
    }
    controller.abort();
    return endpoint;
  }

  test('under the base path the endpoint keeps the prefix; unprefixed routes still work', async () => {
    expect(await endpointEvent('/github/sse')).toMatch(/^\/github\/messages\?sessionId=/);
    expect(await endpointEvent('/sse')).toMatch(/^\/messages\?sessionId=/);
    const sid = await openSession('/github/mcp');
    expect(sid).toMatch(/^[A-Za-z0-9_-]{24,}/); // issued through the prefix, by openSession's full handshake
  });

  test('X-Forwarded-Prefix (a proxy stripped the prefix) is honoured', async () => {
    expect(await endpointEvent('/sse', { 'x-forwarded-prefix': '/team-a' })).toMatch(/^\/team-a\/messages\?sessionId=/);
    // A hostile value is not reflected.
    expect(await endpointEvent('/sse', { 'x-forwarded-prefix': '"><script>' })).toMatch(/^\/messages\?sessionId=/);
  });
});
