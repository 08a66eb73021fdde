/**
 * What the hostile-client suites (hostile*.test.ts) share: raw POSTs, deeply nested calls, a raw legacy SSE
 * session, and the raw fixture server that misbehaves on request.
 */
import { join } from 'node:path';
import { NODE, ROOT, type RunningGateway } from './helpers.ts';

export const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];

export const JSON_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };
export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': '2026-07-28',
  'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** `depth` levels of nested arrays, as JSON text. */
export const nested = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** A tools/call of echo whose arguments carry `deep` (raw JSON text). */
export function deepCall(id: number | string, deep: string, modern = false): string {
  const meta = modern ? `,"_meta":${JSON.stringify(MODERN_META)}` : '';
  return `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi","deep":${deep}}${meta}}}`;
}

export async function post(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { method: 'POST', headers: { ...JSON_HEADERS, ...headers }, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) };
}

/** A raw legacy SSE session: the /messages URL of its endpoint event, and a way to close the stream. */
export async function rawLegacy(gw: RunningGateway): Promise<{ messages: string; close: () => void }> {
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

/** A sessionless tools/call (no client ever listed the tools). */
export const call = (id: number, name: string, args: Record<string, unknown> = {}) =>
  JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });
