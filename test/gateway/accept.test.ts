/**
 * `Accept` across the eras (issue 10, H.8): a request that takes neither JSON nor an event stream gets 406 with a
 * JSON-RPC error carrying its id, on 2026-07-28 requests, 2025 session POSTs and GET streams, and the legacy
 * `GET /sse`. Lenient where real clients need it: no Accept, the wildcards (any type, application/any, text/any),
 * and JSON alone on POST (answered in JSON); an event stream alone is answered as one.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVERYTHING, type RunningGateway, startGateway, stopAll } from './helpers.ts';
import { confirmedSession, initializeBody, openStream, raw } from './raw-http.ts';

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...EVERYTHING]);
});

afterAll(stopAll);

const REFUSED = ['text/html', 'image/png, text/plain', 'application/json;q=0, text/event-stream;q=0, text/html'];
const LENIENT_POST = [undefined, '*/*', 'application/*', 'application/json', 'application/json, text/event-stream'];

const withAccept = (accept: string | undefined, headers: Record<string, string> = {}) =>
  accept === undefined ? headers : { ...headers, accept };

const ENVELOPE = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

function modernList(accept: string | undefined) {
  return raw(gw.port, {
    headers: withAccept(accept, {
      'content-type': 'application/json',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': 'tools/list',
    }),
    body: JSON.stringify({ jsonrpc: '2.0', id: 'modern-1', method: 'tools/list', params: { _meta: ENVELOPE } }),
  });
}

function initialize(accept: string | undefined, id: number | string) {
  return raw(gw.port, {
    headers: withAccept(accept, { 'content-type': 'application/json' }),
    body: initializeBody(id),
  });
}

describe('Accept on POST /mcp', () => {
  test('2026-07-28: 406 with the request id when neither JSON nor an event stream is acceptable', async () => {
    for (const accept of REFUSED) {
      const answer = await modernList(accept);
      expect(answer.status, accept).toBe(406);
      expect(answer.json, accept).toMatchObject({ id: 'modern-1', error: { code: -32600 } });
      expect(answer.json?.error?.message).toMatch(/Not Acceptable/);
    }
    for (const accept of LENIENT_POST) {
      const answer = await modernList(accept);
      expect(answer.status, String(accept)).toBe(200);
      expect(answer.text).toContain('"echo"');
    }
  });

  test('2025 initialize: 406 with its id and no session; JSON-only and missing Accept answered in JSON', async () => {
    for (const accept of REFUSED) {
      const answer = await initialize(accept, `init-${accept}`);
      expect(answer.status, accept).toBe(406);
      expect(answer.json?.id).toBe(`init-${accept}`);
      expect(answer.headers['mcp-session-id']).toBeUndefined();
    }
    for (const accept of LENIENT_POST) {
      const answer = await initialize(accept, 3);
      expect(answer.status, String(accept)).toBe(200);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(answer.json).toMatchObject({ id: 3, result: { protocolVersion: '2025-11-25' } });
    }
    // A client that takes only event streams gets its answer as one.
    const streamed = await initialize('text/event-stream', 4);
    expect(streamed.status).toBe(200);
    expect(streamed.headers['content-type']).toBe('text/event-stream');
    expect(streamed.text).toMatch(/data: \{"jsonrpc":"2.0","id":4,"result":/);
  });

  test('2025 session and sessionless POSTs: 406 with the request id', async () => {
    const sid = await confirmedSession(gw.port);
    const onSession = await raw(gw.port, {
      headers: { 'content-type': 'application/json', accept: 'text/plain', 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id: 11, method: 'tools/list' }),
    });
    expect(onSession.status).toBe(406);
    expect(onSession.json?.id).toBe(11);
    const sessionless = await raw(gw.port, {
      headers: { 'content-type': 'application/json', accept: 'image/png', 'mcp-protocol-version': '2025-06-18' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 12, method: 'ping' }),
    });
    expect(sessionless.status).toBe(406);
    expect(sessionless.json?.id).toBe(12);
  });
});

describe('Accept on event streams', () => {
  test('2025 GET stream: 406 unless an event stream is acceptable; no Accept, */* and text/* are', async () => {
    const sid = await confirmedSession(gw.port);
    for (const accept of ['application/json', 'text/html', 'text/event-stream;q=0']) {
      const s = await openStream(gw.port, { headers: { accept, 'mcp-session-id': sid } });
      expect(s.status, accept).toBe(406);
      await s.ended;
      expect(JSON.parse(s.received()).error.message).toMatch(/must accept text\/event-stream/);
    }
    for (const accept of [undefined, '*/*', 'text/*', 'text/event-stream']) {
      const s = await openStream(gw.port, { headers: withAccept(accept, { 'mcp-session-id': sid }) });
      expect(s.status, String(accept)).toBe(200);
      expect(s.headers['content-type']).toBe('text/event-stream');
      s.close();
    }
  });

  test('legacy GET /sse: 406 unless an event stream is acceptable', async () => {
    for (const accept of ['application/json', 'text/html']) {
      const s = await openStream(gw.port, { path: '/sse', headers: { accept } });
      expect(s.status, accept).toBe(406);
      await s.ended;
    }
    for (const accept of [undefined, '*/*', 'text/event-stream']) {
      const s = await openStream(gw.port, { path: '/sse', headers: withAccept(accept) });
      expect(s.status, String(accept)).toBe(200);
      s.close();
    }
  });
});
