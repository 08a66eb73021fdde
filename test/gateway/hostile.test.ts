/**
 * Hostile clients against the real gateway and server-everything: messages nested thousands of levels deep,
 * absurd tool names, junk tool names aimed at the metric labels, and bodies over the limit sent by clients that
 * keep uploading (Node's fetch, the SDK), and event streams ended while their client does not read them. After
 * each, nothing is left in flight and real clients are served.
 */
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_AUDITED_KEYS } from '../../src/gateway/audit.ts';
import { MAX_JSON_DEPTH } from '../../src/gateway/protocol/jsonrpc.ts';
import {
  type AuditLine,
  client2025,
  client2026,
  EVERYTHING,
  metricValue,
  NODE,
  ROOT,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';
import { confirmedSession } from './raw-http.ts';

const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];

afterAll(stopAll);

const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** `depth` levels of nested arrays, as JSON text. */
const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A tools/call of echo whose arguments carry `deep` (raw JSON text). */
function deepCall(id: number | string, deep: string, modern = false): string {
  const meta = modern ? `,"_meta":${JSON.stringify(MODERN_META)}` : '';
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi","deep":${deep}}${meta}}}`;
}

async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** A raw legacy SSE session: the /messages URL of its endpoint event, and a way to close the stream. */
async function rawLegacy(gw: RunningGateway): Promise<{ messages: string; close: () => void }> {
  const controller = new AbortController();
  const res = await fetch(`${gw.url}/sse`, { headers: { accept: 'text/event-stream' }, signal: controller.signal });
  if (!res.body) throw new Error('no SSE body');
  // Read without an iterator: leaving a for-await loop would cancel the stream, and with it the session.
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error('no endpoint event');
    text += decoder.decode(value, { stream: true });
    const m = /event: endpoint\ndata: (\S+)\n/.exec(text);
    if (m) return { messages: `${gw.url}${m[1]}`, close: () => controller.abort() };
  }
}

describe('deep nesting', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_DRAIN_TIMEOUT: '20s' } });
  });

  test('arguments nested 5,000 levels get -32600 with the request id in every era, and nothing stays in flight', async () => {
    const deep = nested(5000);
    const expectRefused = (answer: { status: number; json: () => unknown }, id: number | string) => {
      expect(answer.status).toBe(400);
      const body = answer.json() as { id: unknown; error: { code: number; message: string; data: unknown } };
      expect(body.id).toBe(id);
      expect(body.error.code).toBe(-32600);
      expect(body.error.message).toContain(`more than ${MAX_JSON_DEPTH} levels deep`);
      expect(body.error.data).toEqual({ reason: 'too_deep', maxDepth: MAX_JSON_DEPTH });
    };
    // Sessionless 2025-style, 2026-07-28, an open 2025 session, legacy SSE.
    expectRefused(await post(`${gw.url}/mcp`, deepCall(7, deep)), 7);
    expectRefused(
      await post(`${gw.url}/mcp`, deepCall('m-1', deep, true), {
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'tools/call',
        'mcp-name': 'echo',
      }),
      'm-1',
    );
    const session = await confirmedSession(gw.port);
    expectRefused(await post(`${gw.url}/mcp`, deepCall(8, deep), { 'mcp-session-id': session }), 8);
    const legacy = await rawLegacy(gw);
    expectRefused(await post(legacy.messages, deepCall(9, deep)), 9);
    legacy.close();
    // A batch: each request answered by its own id.
    const batch = await post(`${gw.url}/mcp`, `[${deepCall(10, '1')},${deepCall(11, deep)}]`, {
      'mcp-session-id': session,
    });
    expect(batch.status).toBe(400);
    expect((batch.json() as Array<{ id: number; error: { code: number } }>).map((r) => [r.id, r.error.code])).toEqual([
      [10, -32600],
      [11, -32600],
    ]);
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
    expect(await metricValue(gw, 'mcp_gateway_http_responses_total', { code: '500' })).toBe(0);
  });

  test('arguments nested up to the limit are served', async () => {
    // The envelope takes three levels: message, params, arguments.
    const answer = await post(`${gw.url}/mcp`, deepCall(12, nested(MAX_JSON_DEPTH - 3)));
    expect(answer.status).toBe(200);
    expect(textOf((answer.json() as { result: unknown }).result)).toBe('Echo: hi');
  });

  test('afterwards a real client is served and a SIGTERM drain has nothing to wait for', async () => {
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    await client.close();
    expect(await gw.stop('SIGTERM')).toBe(0);
    const draining = gw.logs.find((l) => l.msg === 'draining');
    expect(draining?.inflight).toBe(0);
    expect(gw.logs.some((l) => l.msg === 'drain deadline reached; failing the remaining requests')).toBe(false);
  });
});

/** A sessionless tools/call (no client ever listed the tools). */
const call = (id: number, name: string, args: Record<string, unknown> = {}) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

describe('deep nesting from the server', () => {
  test('an answer nested 10,000 levels becomes an error for its caller; the gateway survives', async () => {
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER]);
    const deep = (await post(`${gw.url}/mcp`, call(61, 'nest', { depth: 10_000 }))).json() as {
      id: number;
      error?: { code: number; message: string };
    };
    expect(deep.id).toBe(61);
    expect(deep.error?.code).toBe(-32603);
    expect(deep.error?.message).toContain('nests more than 1000 levels deep');
    // Below the server-side bound the answer is forwarded whole.
    const fine = (await post(`${gw.url}/mcp`, call(62, 'nest', { depth: 900 }))).json() as {
      result: { structuredContent: { x: unknown } };
    };
    expect(JSON.stringify(fine.result.structuredContent.x)).toBe(`${'['.repeat(900)}${']'.repeat(900)}`);
    expect(gw.proc.exitCode).toBeNull();
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
  });
});

describe('an oversize answer from a stdio server', () => {
  test('fails its call at once with the limit named, whichever end holds the id; the next call is served', async () => {
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER], { env: { MCP_GATEWAY_REQUEST_TIMEOUT: '60s' } });
    for (const [id, idFirst] of [
      [71, false],
      [72, true],
    ] as const) {
      const started = Date.now();
      const answer = (await post(`${gw.url}/mcp`, call(id, 'big', { bytes: 33 * 1024 * 1024, idFirst }))).json() as {
        id: number;
        error?: { code: number; message: string };
      };
      expect(answer.id).toBe(id);
      expect(answer.error?.code).toBe(-32603);
      expect(answer.error?.message).toMatch(
        /answer is 346\d{5} bytes, larger than the gateway takes \(33554432 bytes\)/,
      );
      // Not the request timeout: the dropped answer is what ends the call.
      expect(Date.now() - started).toBeLessThan(30_000);
    }
    const audits = () => gw.logs.filter((l) => (l.audit as { tool?: string } | undefined)?.tool === 'big');
    await until(() => audits().length === 2, 5_000, 'both audit lines');
    expect(audits().map((l) => (l.audit as { outcome: string }).outcome)).toEqual(['error', 'error']);
    const fine = (await post(`${gw.url}/mcp`, call(73, 'big', { bytes: 1000 }))).json() as { result: unknown };
    expect(textOf(fine.result)).toBe('x'.repeat(1000));
    expect(await metricValue(gw, 'mcp_gateway_inflight_requests')).toBe(0);
    expect(await gw.stop()).toBe(0);
  }, 60_000);
});

describe('absurd tool names and unbounded log lines', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_MAX_BODY_BYTES: '8388608' } });
  });

  test('a 3 MB tool name is refused with -32602 and the id; its audit line stays small', async () => {
    const name = 'x'.repeat(3 * 1024 * 1024);
    const answer = await post(`${gw.url}/mcp`, call(21, name));
    expect(answer.status).toBe(200);
    const body = answer.json() as { id: number; error: { code: number; message: string } };
    expect(body.id).toBe(21);
    expect(body.error.code).toBe(-32602);
    expect(body.error.message).toContain(`a name of ${name.length} characters`);
    expect(body.error.message).toContain('1 to 128 characters of A-Z a-z 0-9 _ - .');
    expect(answer.text.length).toBeLessThan(1024);
    const audit = await waitForAudit(gw, (a) => a.outcome === 'invalid');
    expect(audit.tool?.startsWith('xxxx')).toBe(true);
    expect(audit.tool?.length).toBeLessThan(200);
    // Malformed names the server did not declare: spaces, an empty name, 129 characters.
    for (const bad of ['get sum', '', 'a'.repeat(129), 'rm -rf /']) {
      const refused = (await post(`${gw.url}/mcp`, call(22, bad))).json() as { id: number; error: { code: number } };
      expect(refused).toMatchObject({ id: 22, error: { code: -32602 } });
    }
    // Well-formed names reach the server, whatever it answers; 128 characters is still well-formed.
    const unknown = (await post(`${gw.url}/mcp`, call(23, 'a'.repeat(128)))).json() as { id: number };
    expect(unknown.id).toBe(23);
    expect(JSON.stringify(unknown)).not.toContain('is not a tool of this server');
  });

  test('argument keys, however many and long, are bounded in the audit line', async () => {
    const args: Record<string, string> = { message: 'keys' };
    for (let i = 0; i < 10_000; i++) args[`${'k'.repeat(300)}${i}`] = 'v';
    const answer = await post(`${gw.url}/mcp`, call(24, 'echo', args));
    expect(textOf((answer.json() as { result: unknown }).result)).toBe('Echo: keys');
    const line = await gw.waitForLog((l) => (l.audit as AuditLine | undefined)?.argumentKeys?.[0] === 'message');
    const audit = line.audit as AuditLine & { argumentKeysOmitted?: number };
    expect(audit.argumentKeys).toHaveLength(MAX_AUDITED_KEYS);
    expect(audit.argumentKeysOmitted).toBe(10_001 - MAX_AUDITED_KEYS);
    expect(JSON.stringify(line).length).toBeLessThan(8 * 1024);
  });

  test('no gateway log line is longer than a few kilobytes, and a real client is still served', async () => {
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'ok' } }))).toBe('Echo: ok');
    await client.close();
    const longest = Math.max(...gw.logs.map((l) => JSON.stringify(l).length));
    expect(longest).toBeLessThan(8 * 1024);
  });
});

describe('client identity behind a proxy', () => {
  test('an X-Forwarded-For entry that is not an address is not taken as the client (it is a log field and a limit key)', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_TRUST_PROXY: 'true' } });
    await post(`${gw.url}/mcp`, call(71, 'echo', { message: 'who' }), {
      'x-forwarded-for': '198.51.100.7, 203.0.113.9',
    });
    expect((await waitForAudit(gw, (a) => a.client === 'ip:203.0.113.9')).outcome).toBe('ok');
    const junk = `10.0.0.1, ${'x'.repeat(8000)}`;
    await post(`${gw.url}/mcp`, call(72, 'echo', { message: 'junk' }), { 'x-forwarded-for': junk });
    const line = await waitForAudit(gw, (a) => a.client !== 'ip:203.0.113.9');
    expect(line.client).toBe('ip:127.0.0.1');
  });
});

describe('metric labels', () => {
  test('only tools the server declared get a label: 300 junk names cannot push echo into a shared bucket', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING]);
    for (let i = 0; i < 300; i++) await post(`${gw.url}/mcp`, call(100 + i, `junk-${i}`));
    // No client has listed the tools: the gateway read the server's list itself.
    const answer = await post(`${gw.url}/mcp`, call(1, 'echo', { message: 'labelled' }));
    expect(textOf((answer.json() as { result: unknown }).result)).toBe('Echo: labelled');
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'echo' })).toBe(1);
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: '_unknown' })).toBe(300);
    const text = await (await fetch(`${gw.health}/metrics`)).text();
    expect(text).not.toContain('junk-');
    expect(text).not.toContain('_other');
    // Junk methods share one method label too.
    for (let i = 0; i < 70; i++) {
      await post(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: i, method: `junk/${i}` }));
    }
    await post(`${gw.url}/mcp`, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }));
    expect(await metricValue(gw, 'mcp_gateway_rpc_requests_total', { method: 'tools/list' })).toBeGreaterThan(0);
    expect(await metricValue(gw, 'mcp_gateway_rpc_requests_total', { method: '_unknown' })).toBe(70);
  });

  test('a tool added later (list_changed) is labelled, and a declared name outside the MCP format is served', async () => {
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER, '--late-tool']);
    const before = (await post(`${gw.url}/mcp`, call(1, 'late:tool'))).json() as { error?: { code: number } };
    expect(before.error?.code).toBe(-32602);
    await post(`${gw.url}/mcp`, call(2, 'grow'));
    // The gateway reads the list again after list_changed; until then the name is still refused.
    await until(
      async () => {
        const after = (await post(`${gw.url}/mcp`, call(3, 'late:tool', { message: 'late' }))).json();
        return textOf((after as { result?: unknown }).result ?? {}) === 'Echo: late';
      },
      10_000,
      'late:tool served',
    );
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'late:tool', outcome: 'ok' })).toBe(1);
    expect(await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'grow' })).toBe(1);
  });
});

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
