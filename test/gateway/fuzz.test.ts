/**
 * Property-based fuzzing of the gateway's HTTP entry points (fast-check), against the real gateway and
 * server-everything: generated JSON-RPC messages (valid and not), batches, headers (Accept, Content-Type,
 * MCP-Protocol-Version, Mcp-Session-Id, Origin, Mcp-Method, Mcp-Name), sizes around the body limit and nesting
 * around the depth limit, on every path and HTTP method. Invariants: no 5xx; every JSON-RPC error answering a
 * body the gateway could read carries the request's id; nothing stays in flight; real clients of each era are
 * served afterwards. Bounded: a fixed seed (FUZZ_SEED overrides it; fast-check prints the seed and the
 * shrunk counterexample on failure) and a fixed number of runs (FUZZ_RUNS).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_JSON_DEPTH } from '../../src/gateway/protocol/jsonrpc.ts';
import {
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  metricValue,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
} from './helpers.ts';

const SEED = Number(process.env.FUZZ_SEED ?? 20261201);
const RUNS = Number(process.env.FUZZ_RUNS ?? 300);
const LIMIT = 65536;

let gw: RunningGateway;
/** A live 2025 session and a live legacy SSE session the generated requests may address. */
let sessionId = '';
let legacyPath = '';
let closeLegacy = () => {};
/** The Authorization header a well-behaved client sends, when the gateway requires one. */
let auth: Record<string, string> = {};

afterAll(async () => {
  closeLegacy();
  await stopAll();
});

/** A gateway for one fuzz run, with its live sessions. */
async function setup(env: Record<string, string>, headers: Record<string, string> = {}): Promise<void> {
  closeLegacy();
  auth = headers;
  gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    env: {
      MCP_GATEWAY_MAX_BODY_BYTES: String(LIMIT),
      MCP_GATEWAY_MAX_SESSIONS: '10000',
      MCP_GATEWAY_ALLOWED_ORIGINS: 'https://app.example',
      // Longer than an exchange may take, so a request left hanging shows as one.
      MCP_GATEWAY_REQUEST_TIMEOUT: '60s',
      ...env,
    },
  });
  sessionId = await newSession();
  const controller = new AbortController();
  const sse = await fetch(`${gw.url}/sse`, { headers: auth, signal: controller.signal });
  const reader = (sse.body as ReadableStream<Uint8Array>).getReader();
  let text = '';
  while (!/data: (\S+)\n/.test(text)) {
    const { value } = await reader.read();
    text += new TextDecoder().decode(value);
  }
  legacyPath = (/data: (\S+)\n/.exec(text) as RegExpExecArray)[1] as string;
  closeLegacy = () => controller.abort();
}

/** A new 2025 session (initialize only), for the generated requests to use or end. */
async function newSession(): Promise<string> {
  const init = await fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...auth },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'fuzz', version: '1' } },
    }),
  });
  await init.text();
  return init.headers.get('mcp-session-id') ?? '';
}

// ---- generators

const TOOLS = ['echo', 'get-sum', 'get-annotated-message', 'get-env', 'get-tiny-image', 'get-structured-content'];
const METHODS = [
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'prompts/list',
  'prompts/get',
  'resources/list',
  'resources/read',
  'resources/templates/list',
  'completion/complete',
  'server/discover',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
];
const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'fuzz', version: '1' },
};
const VERSIONS = ['2024-11-05', '2025-03-26', '2025-06-18', '2025-11-25', '2026-07-28'];

const id = fc.oneof(
  { weight: 5, arbitrary: fc.integer({ min: -1000, max: 1_000_000 }) },
  { weight: 3, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, 1.5, { x: 1 }) },
);
const toolName = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...TOOLS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 20 }) },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 3000 }).map((n) => 'n'.repeat(n)) },
);
const modernMeta = fc.record(
  {
    'io.modelcontextprotocol/protocolVersion': fc.constantFrom(...VERSIONS, 'junk'),
    'io.modelcontextprotocol/clientInfo': fc.constant({ name: 'fuzz', version: '1' }),
    'io.modelcontextprotocol/clientCapabilities': fc.constantFrom({}, { sampling: {} }, 'x'),
    progressToken: fc.oneof(fc.integer(), fc.string({ maxLength: 6 })),
  },
  { requiredKeys: [] },
);
const params = fc.record(
  {
    name: toolName,
    arguments: fc.oneof(
      fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
      fc.jsonValue({ maxDepth: 2 }),
    ),
    uri: fc.constantFrom('demo://resource/static/document/architecture.md', 'file:///etc/passwd', ''),
    protocolVersion: fc.constantFrom(...VERSIONS, 'junk'),
    capabilities: fc.constant({}),
    clientInfo: fc.constant({ name: 'fuzz', version: '1' }),
    requestId: id,
    _meta: modernMeta,
  },
  { requiredKeys: [] },
);
const message = fc.record(
  {
    jsonrpc: fc.oneof({ weight: 9, arbitrary: fc.constant('2.0') }, { weight: 1, arbitrary: fc.constant('1.0') }),
    id,
    method: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...METHODS) }, fc.string({ maxLength: 16 })),
    params: fc.oneof({ weight: 6, arbitrary: params }, fc.jsonValue({ maxDepth: 1 })),
    result: fc.jsonValue({ maxDepth: 2 }),
  },
  { requiredKeys: ['jsonrpc'] },
);

/** Arguments nested `depth` levels, around the depth limit, as raw text. */
const deepMessage = fc
  .record({ id: fc.integer({ min: 1, max: 1000 }), depth: fc.integer({ min: MAX_JSON_DEPTH - 10, max: 6000 }) })
  .map(
    ({ id: n, depth }) =>
      `{"jsonrpc":"2.0","id":${n},"method":"tools/call","params":{"name":"echo","arguments":{"message":"d","x":${'['.repeat(depth)}${']'.repeat(depth)}}}}`,
  );
/** A tools/call around the body limit. */
const bigMessage = fc.integer({ min: LIMIT - 200, max: LIMIT * 3 }).map((size) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: 'big',
    method: 'tools/call',
    params: { name: 'echo', arguments: { message: 'b'.repeat(size) } },
  }),
);

const body = fc.oneof(
  { weight: 8, arbitrary: message.map((m) => JSON.stringify(m)) },
  { weight: 2, arbitrary: fc.array(message, { maxLength: 5 }).map((b) => JSON.stringify(b)) },
  { weight: 1, arbitrary: deepMessage },
  { weight: 1, arbitrary: bigMessage },
  {
    weight: 1,
    arbitrary: fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.constantFrom('', 'null', '[]', '{}', '[1]', '{"jsonrpc":"2.0"'),
    ),
  },
);

/** Mostly `usual` (a well-behaved client's header, or none), sometimes one of the others. */
const mostly = (usual: string | undefined, ...others: Array<string | undefined>) =>
  fc.oneof({ weight: 6, arbitrary: fc.constant(usual) }, { weight: 2, arbitrary: fc.constantFrom(...others) });
const headers = fc.record({
  accept: mostly(
    'application/json, text/event-stream',
    undefined,
    'application/json',
    'text/event-stream',
    '*/*',
    'text/html',
    '',
  ),
  'content-type': mostly(
    'application/json',
    undefined,
    'application/json; charset=utf-8',
    'text/plain',
    'application/jsonx',
    '',
  ),
  'mcp-protocol-version': mostly(undefined, ...VERSIONS, 'junk', ''),
  'mcp-session-id': fc.oneof(
    { weight: 4, arbitrary: fc.constantFrom(undefined, 'live') },
    { weight: 1, arbitrary: fc.constantFrom('junk', '', 'x'.repeat(8000), 'a.b.c', '../../etc') },
  ),
  'last-event-id': mostly(undefined, 'junk', '0', '1-1', '0-99999999999999999999', '-1', 'x'.repeat(4000)),
  origin: mostly(undefined, 'same', 'https://app.example', 'https://evil.example', 'null'),
  'mcp-method': mostly(undefined, 'tools/call', 'tools/list', 'ping', 'junk'),
  'mcp-name': fc.option(toolName, { nil: undefined }),
  // undefined: the gateway's own token, when it needs one.
  authorization: mostly(undefined, 'Bearer wrong-token-0123456789', 'Basic eDp5', '', 'Bearer '),
});

const generic = fc.record({
  method: fc.oneof({ weight: 8, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'DELETE', 'PUT', 'OPTIONS')),
  path: fc.oneof(
    { weight: 12, arbitrary: fc.constant('/mcp') },
    { weight: 3, arbitrary: fc.constant('legacy') },
    { weight: 2, arbitrary: fc.constantFrom('/messages', '/messages?sessionId=junk', '/sse', '/nope', '/mcp/') },
  ),
  headers,
  body,
});

/** A 2026-07-28 request a real client would send (envelope and headers agree), with fuzzed method and params. */
const modern = fc
  .record({
    id,
    method: fc.constantFrom('tools/call', 'tools/list', 'server/discover', 'resources/read', 'prompts/list', 'ping'),
    name: toolName,
    args: fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 4 }),
    capabilities: fc.constantFrom({}, { sampling: {} }, { elicitation: {} }),
    extra: fc.option(
      fc.record({ requestState: fc.string({ maxLength: 40 }), inputResponses: fc.jsonValue({ maxDepth: 2 }) }),
      {
        nil: undefined,
      },
    ),
  })
  .map(({ id: rid, method, name, args, capabilities, extra }) => {
    const p: Record<string, unknown> = {
      _meta: { ...MODERN_META, 'io.modelcontextprotocol/clientCapabilities': capabilities },
      ...(extra ?? {}),
    };
    const headers: Record<string, string | undefined> = {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2026-07-28',
      'mcp-method': method,
    };
    if (method === 'tools/call') {
      p.name = name;
      p.arguments = args;
      headers['mcp-name'] = name;
    } else if (method === 'resources/read') {
      p.uri = 'demo://resource/static/document/architecture.md';
      headers['mcp-name'] = p.uri as string;
    }
    return {
      method: 'POST',
      path: '/mcp',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: rid, method, params: p }),
    };
  });

const request = fc.oneof({ weight: 4, arbitrary: generic }, { weight: 1, arbitrary: modern });

// ---- one exchange and its invariants

interface Generated {
  method: string;
  path: string;
  headers: Record<string, string | undefined>;
  body: string;
}

/** The id of a body that is one JSON-RPC 2.0 request with a valid id. */
function soleId(text: string): string | number | undefined {
  try {
    const parsed = JSON.parse(text) as { jsonrpc?: unknown; id?: unknown; method?: unknown };
    if (Array.isArray(parsed) || typeof parsed !== 'object' || parsed === null) return undefined;
    if (parsed.jsonrpc !== '2.0' || typeof parsed.method !== 'string') return undefined;
    const v = parsed.id;
    return typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Whether the gateway answered before reading the body (so it cannot know the id): authentication, Origin,
 * method, body size, content type, and a legacy POST naming no live session.
 */
function answeredBeforeBody(path: string, status: number): boolean {
  if ([401, 403, 405, 413, 415].includes(status)) return true;
  return path.startsWith('/messages') && (status === 400 || status === 404);
}

/** How long an exchange may take: the tools fuzzed answer at once, so more means a request left hanging. */
const ANSWER_MS = 5000;

/**
 * JSON-RPC messages in a response: a JSON body, or the events of a POST's event stream (which ends once every
 * request is answered). A GET or legacy stream answers no request: its status is all there is to check.
 */
async function answers(res: Response, controller: AbortController, post: boolean): Promise<unknown[]> {
  const type = res.headers.get('content-type') ?? '';
  if (type.includes('text/event-stream')) {
    if (!post) {
      controller.abort();
      return [];
    }
    const text = await res.text();
    return [...text.matchAll(/^data: (\{.*\})$/gm)].map((m) => JSON.parse(m[1] as string) as unknown);
  }
  const text = await res.text();
  if (!type.includes('application/json') || text === '') return [];
  const parsed = JSON.parse(text) as unknown;
  return Array.isArray(parsed) ? parsed : [parsed];
}

/** Status counts of the run, printed with FUZZ_VERBOSE=1 (to see what the generators reach). */
const statuses = new Map<number, number>();

async function exchange(g: Generated): Promise<void> {
  const h: Record<string, string> = g.headers.authorization === undefined ? { ...auth } : {};
  for (const [k, v] of Object.entries(g.headers)) {
    if (v === undefined) continue;
    // A DELETE ends the session it names: it gets one of its own, so the live one stays for the rest.
    if (k === 'mcp-session-id') h[k] = v !== 'live' ? v : g.method === 'DELETE' ? await newSession() : sessionId;
    else if (k === 'origin') h[k] = v === 'same' ? gw.url : v;
    else h[k] = v;
  }
  const path = g.path === 'legacy' ? legacyPath : g.path;
  const controller = new AbortController();
  const hasBody = g.method === 'POST' || g.method === 'PUT' || g.method === 'DELETE';
  let late = false;
  const timer = setTimeout(() => {
    late = true;
    controller.abort();
  }, ANSWER_MS);
  let status = 0;
  let messages: unknown[] = [];
  try {
    const res = await fetch(`${gw.url}${path}`, {
      method: g.method,
      headers: h,
      body: hasBody ? g.body : undefined,
      signal: controller.signal,
    });
    status = res.status;
    messages = await answers(res, controller, g.method === 'POST');
  } catch (err) {
    if (!late && !controller.signal.aborted) throw err;
  } finally {
    clearTimeout(timer);
  }
  const what = `${g.method} ${path} -> ${status}`;
  expect(late, `${what}: no answer within ${ANSWER_MS} ms (a request left in flight)`).toBe(false);
  const res = { status };
  statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
  expect(res.status, what).toBeLessThan(500);
  // Only POST bodies are read (a DELETE's or PUT's is not).
  const wanted = g.method === 'POST' && !answeredBeforeBody(path, res.status) ? soleId(g.body) : undefined;
  if (wanted === undefined) return;
  for (const m of messages as Array<{ jsonrpc?: unknown; id?: unknown; error?: unknown }>) {
    // JSON-RPC errors only (a 404 for an unknown path is plain JSON, answered before the body is read).
    if (m?.jsonrpc === '2.0' && m.error !== undefined) {
      expect(m.id, `${what}: ${JSON.stringify(m).slice(0, 300)}`).toBe(wanted);
    }
  }
}

async function fuzz(runs: number): Promise<void> {
  statuses.clear();
  await fc.assert(
    fc.asyncProperty(request, async (g) => {
      const t = performance.now();
      await exchange(g);
      const ms = performance.now() - t;
      if (process.env.FUZZ_VERBOSE && ms > 500) {
        process.stderr.write(`slow ${Math.round(ms)} ms ${JSON.stringify(g).slice(0, 400)}\n`);
      }
    }),
    { seed: SEED, numRuns: runs, endOnFailure: true },
  );
  if (process.env.FUZZ_VERBOSE) process.stderr.write(`statuses ${JSON.stringify(Object.fromEntries(statuses))}\n`);
  await until(async () => (await metricValue(gw, 'mcp_gateway_inflight_requests')) === 0, 15_000, 'nothing in flight');
  expect(await metricValue(gw, 'mcp_gateway_http_responses_total', { code: '500' })).toBe(0);
}

async function realClientsServed(): Promise<void> {
  const headers = auth;
  const a = await client2025(gw.url, { headers });
  expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: '2025' } }))).toBe('Echo: 2025');
  await a.client.close();
  const b = await client2026(gw.url, { headers });
  expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: '2026' } }))).toBe('Echo: 2026');
  await b.client.close();
  const c = await clientSse(`${gw.url}/sse`, { headers });
  expect(textOf(await c.client.callTool({ name: 'echo', arguments: { message: 'sse' } }))).toBe('Echo: sse');
  await c.client.close();
}

describe('gateway fuzz', () => {
  beforeAll(() => setup({}));

  test(`${RUNS} generated requests: no 5xx, ids echoed in errors, nothing left in flight`, () => fuzz(RUNS), 120_000);

  test('real clients of each era are served afterwards', realClientsServed);
});

describe('gateway fuzz with bearer tokens, a tool filter and rate limits', () => {
  const TOKEN = 'fuzz-token-0123456789abcdef';
  const CLIENT_TOKEN = 'fuzz-client-0123456789abcdef';
  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-fuzz-'));
    writeFileSync(join(dir, 'tokens'), `${TOKEN}\n${CLIENT_TOKEN}\n`);
    return setup(
      {
        MCP_GATEWAY_AUTH_TOKEN_FILE: join(dir, 'tokens'),
        MCP_GATEWAY_TOOLS_DENY: 'get-env',
        MCP_GATEWAY_RATE_LIMIT_PER_TOOL: 'get-sum=2',
        // Fewer than the run sends: the rest get 429.
        MCP_GATEWAY_RATE_LIMIT_RPM: '20',
      },
      { authorization: `Bearer ${TOKEN}` },
    );
  });

  test(
    `${Math.round(RUNS / 2)} generated requests, some with bad or missing tokens, some past the limits`,
    () => fuzz(Math.round(RUNS / 2)),
    120_000,
  );

  test('real clients of each era are served afterwards (another token: the first spent its budget)', async () => {
    auth = { authorization: `Bearer ${CLIENT_TOKEN}` };
    await realClientsServed();
  });
});
