/**
 * A tools/call whose `params.name` is not a string, or comes twice in different case, against the real gateway
 * with a deny list in front of the raw fixture server (which, like a server that looks tools up by property, runs
 * echo for any name it does not know): the policy must judge the name the server will act on, or refuse.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  type AuditLine,
  NODE,
  ROOT,
  type RunningGateway,
  startGateway,
  stopAll,
  until,
  waitForAudit,
} from './helpers.ts';
import { confirmedSession, JSON_POST, legacyStream, raw } from './raw-http.ts';

const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];

afterAll(stopAll);

const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

const callNamed = (id: string, name: unknown, meta?: object) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'tools/call',
    params: {
      ...(name === undefined ? {} : { name }),
      arguments: { message: 'should not run' },
      ...(meta ? { _meta: meta } : {}),
    },
  });

describe('a tools/call whose name is not a string', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--tools-deny', 'echo', '--', ...RAW_SERVER]);
  });

  test('is refused with -32602 and its id, audited invalid, in the session eras; a denied name stays denied', async () => {
    const sid = await confirmedSession(gw.port);
    const headers = { ...JSON_POST, 'mcp-session-id': sid };
    const denied = await raw(gw.port, { headers, body: callNamed('plain', 'echo') });
    expect(denied.json?.error?.message).toContain('Tool echo is not available');
    // ["echo"] is "echo" to a server that indexes an object with it: the deny list was bypassed.
    for (const [i, name] of [['echo'], { toString: 'echo' }, 7, null, true, undefined].entries()) {
      const answer = await raw(gw.port, { headers, body: callNamed(`odd-${i}`, name) });
      expect(answer.json, JSON.stringify(name)).toMatchObject({ id: `odd-${i}`, error: { code: -32602 } });
      expect(answer.json?.error?.message).toContain('needs params.name, a string naming the tool');
      expect(answer.text).not.toContain('should not run');
    }
    const audit: AuditLine = await waitForAudit(gw, (a) => a.outcome === 'invalid');
    expect(audit).toMatchObject({ argumentKeys: ['message'], outcome: 'invalid' });

    const { stream, sessionId } = await legacyStream(gw.port);
    const posted = await raw(gw.port, {
      path: `/messages?sessionId=${encodeURIComponent(sessionId)}`,
      headers: JSON_POST,
      body: callNamed('legacy-odd', ['echo']),
    });
    expect(posted.status).toBe(202);
    await until(() => /"id":"legacy-odd","error":\{"code":-32602/.test(stream.received()), 5_000, 'the refusal');
    expect(stream.received()).not.toContain('Echo:');
    stream.close();
  });

  test('a second name differing only in case is refused: Go servers (encoding/json) would call that one', async () => {
    const sid = await confirmedSession(gw.port);
    for (const key of ['NAME', 'Name', 'nAmE']) {
      const body = `{"jsonrpc":"2.0","id":"twin-${key}","method":"tools/call","params":{"name":"touch","arguments":{"message":"should not run"},"${key}":"echo"}}`;
      const answer = await raw(gw.port, { headers: { ...JSON_POST, 'mcp-session-id': sid }, body });
      expect(answer.json, key).toMatchObject({ id: `twin-${key}`, error: { code: -32602 } });
      expect(answer.json?.error?.message).toContain(`params holds "${key}" beside "name"`);
    }
    const plain = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid },
      body: '{"jsonrpc":"2.0","id":"one","method":"tools/call","params":{"name":"touch","arguments":{"names":"x"}}}',
    });
    expect(plain.json).toMatchObject({ id: 'one', result: {} });
  });

  test('2026-07-28: the same refusal, though the Mcp-Name header names the denied tool', async () => {
    const answer = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'echo' },
      body: callNamed('modern-odd', ['echo'], MODERN_META),
    });
    expect(answer.json).toMatchObject({ id: 'modern-odd', error: { code: -32602 } });
    expect(answer.text).not.toContain('Echo:');
  });
});

describe('a tools/call sent without an id (as a notification)', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    // The raw server runs what it is sent, notification or not: calling `grow` adds the tool `late:tool`.
    gw = await startGateway(['stdio', '--tools-deny', 'grow', '--', ...RAW_SERVER, '--late-tool']);
  });

  const growNote = (meta?: object) =>
    JSON.stringify({
      jsonrpc: '2.0',
      method: 'tools/call',
      params: { name: 'grow', ...(meta ? { _meta: meta } : {}) },
    });

  test('is refused with 400 in every era and never reaches the server, so no policy can be walked around', async () => {
    const sid = await confirmedSession(gw.port);
    const refusals = [
      await raw(gw.port, { headers: { ...JSON_POST, 'mcp-session-id': sid }, body: growNote() }),
      await raw(gw.port, { headers: JSON_POST, body: growNote() }),
      await raw(gw.port, { headers: JSON_POST, body: `[${growNote()}]` }),
      await raw(gw.port, {
        headers: { ...JSON_POST, 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'grow' },
        body: growNote(MODERN_META),
      }),
    ];
    const { stream, sessionId } = await legacyStream(gw.port);
    refusals.push(
      await raw(gw.port, {
        path: `/messages?sessionId=${encodeURIComponent(sessionId)}`,
        headers: JSON_POST,
        body: growNote(),
      }),
    );
    stream.close();
    for (const r of refusals) {
      expect(r.status, r.text).toBe(400);
      expect(r.json).toMatchObject({ id: null, error: { code: -32600, data: { reason: 'request_without_id' } } });
      expect(r.json?.error?.message).toContain('"tools/call" has no id');
    }
    // The server reads its stdin in order: had any of them reached it, this list would hold late:tool.
    const list = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid },
      body: '{"jsonrpc":"2.0","id":"list","method":"tools/list"}',
    });
    expect(list.json).toMatchObject({ id: 'list', result: { tools: [{ name: 'echo' }] } });
    expect(list.text).not.toContain('late:tool');
    const notified = await raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid },
      body: '{"jsonrpc":"2.0","method":"notifications/roots/list_changed"}',
    });
    expect(notified.status).toBe(202);
  });
});
