/**
 * Raw HTTP to a gateway from a chosen loopback source address (Linux routes all of 127.0.0.0/8 to lo), so one
 * test process can be many clients as the gateway counts them: the abandoned handshakes and dropped streams a
 * hostile client leaves, and the exact status, headers and body of each answer.
 */
import { Agent, type IncomingHttpHeaders, type IncomingMessage, request } from 'node:http';

const agent = new Agent({ keepAlive: false, maxSockets: Number.POSITIVE_INFINITY });

export interface RawAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body as JSON, when it is JSON. */
  json?: { id?: unknown; result?: unknown; error?: { code: number; message: string; data?: unknown } };
}

export interface RawRequest {
  method?: string;
  path?: string;
  /** An array value is sent as that many header lines. */
  headers?: Record<string, string | string[]>;
  body?: string;
  /** Source address, e.g. 127.0.0.7. */
  from?: string;
}

function open(port: number, r: RawRequest): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request({
      agent,
      host: '127.0.0.1',
      port,
      method: r.method ?? 'POST',
      path: r.path ?? '/mcp',
      headers: r.headers,
      localAddress: r.from,
    });
    req.on('response', resolve);
    req.on('error', reject);
    req.end(r.body);
  });
}

/** One request, read to the end. */
export async function raw(port: number, r: RawRequest): Promise<RawAnswer> {
  const res = await open(port, r);
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  let json: RawAnswer['json'];
  try {
    json = JSON.parse(text) as RawAnswer['json'];
  } catch {
    json = undefined;
  }
  return { status: res.statusCode ?? 0, headers: res.headers, text, json };
}

/** An event stream left open: its status, the text received so far, and whether the server ended it. */
export interface OpenStream {
  status: number;
  headers: IncomingHttpHeaders;
  received(): string;
  ended: Promise<void>;
  isEnded(): boolean;
  close(): void;
}

export async function openStream(port: number, r: RawRequest): Promise<OpenStream> {
  const res = await open(port, { method: 'GET', ...r });
  let text = '';
  res.on('data', (c: Buffer) => {
    text += c.toString('utf8');
  });
  let done = false;
  const ended = new Promise<void>((resolve) =>
    res.once('close', () => {
      done = true;
      resolve();
    }),
  );
  return {
    isEnded: () => done,
    status: res.statusCode ?? 0,
    headers: res.headers,
    received: () => text,
    ended,
    close: () => res.destroy(),
  };
}

export const JSON_POST = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

export function initializeBody(id: number | string = 1, protocolVersion = '2025-11-25'): string {
  return JSON.stringify({
    jsonrpc: '2.0',
    id,
    method: 'initialize',
    params: { protocolVersion, capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
  });
}

/** A raw `initialize` that is never followed up: the session id, or the refusal. */
export async function abandonedHandshake(port: number, from?: string, id: number | string = 1) {
  const answer = await raw(port, { headers: JSON_POST, body: initializeBody(id), from });
  return { answer, sessionId: answer.headers['mcp-session-id'] as string | undefined };
}

/** A session past its handshake (initialize, then notifications/initialized), with nothing open. */
export async function confirmedSession(port: number, from?: string): Promise<string> {
  const { answer, sessionId } = await abandonedHandshake(port, from);
  if (!sessionId) throw new Error(`initialize refused: ${answer.status} ${answer.text}`);
  const note = await raw(port, {
    headers: { ...JSON_POST, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    from,
  });
  if (note.status !== 202) throw new Error(`notifications/initialized: ${note.status} ${note.text}`);
  return sessionId;
}

/** A ping on a session: 200 while it lives, 404 once the gateway closed it. */
export async function pingStatus(port: number, sessionId: string, from?: string): Promise<number> {
  const answer = await raw(port, {
    headers: { ...JSON_POST, 'mcp-session-id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 99, method: 'ping' }),
    from,
  });
  return answer.status;
}

/** A legacy `GET /sse` stream and the session id its endpoint event names. */
export async function legacyStream(port: number, from?: string): Promise<{ stream: OpenStream; sessionId: string }> {
  const stream = await openStream(port, { path: '/sse', headers: { accept: 'text/event-stream' }, from });
  if (stream.status !== 200) return { stream, sessionId: '' };
  const end = Date.now() + 10_000;
  for (;;) {
    const m = /event: endpoint\ndata: \S*sessionId=([^\s&]+)/.exec(stream.received());
    if (m) return { stream, sessionId: decodeURIComponent(m[1] as string) };
    if (Date.now() > end) throw new Error(`no endpoint event: ${stream.received()}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `n` jobs, `width` at a time. */
export async function inParallel<T>(n: number, width: number, job: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await job(i);
      }
    }),
  );
  return out;
}
