/** The body gates' decisions (src/gateway/http/body-gate.ts, client-limit.ts): pure functions of the body. */
import { describe, expect, it } from 'vitest';
import { bodyRefusal, isJsonContentType, jsonRpcMessages } from '../../src/gateway/http/body-gate.ts';
import { clientLimitRefusal, countRequests } from '../../src/gateway/http/client-limit.ts';
import {
  INVALID_REQUEST,
  type JsonRpcMessage,
  MAX_BATCH_MESSAGES,
  MAX_JSON_DEPTH,
} from '../../src/gateway/protocol/jsonrpc.ts';

const request = (id: number) => ({ jsonrpc: '2.0', id, method: 'tools/list' });
const note = { jsonrpc: '2.0', method: 'notifications/initialized' };
const bytes = (value: unknown) => Buffer.from(JSON.stringify(value));
const nested = (depth: number): unknown => (depth === 0 ? 1 : [nested(depth - 1)]);

describe('isJsonContentType', () => {
  it.each<[string | undefined, boolean]>([
    ['application/json', true],
    ['Application/JSON', true],
    ['application/json; charset=utf-8', true],
    ['application/json ;charset=utf-8', true],
    ['application/jsonp', false],
    ['application/json-seq', false],
    ['text/plain', false],
    ['', false],
    [undefined, false],
  ])('%s: %s', (type, ok) => {
    expect(isJsonContentType(type)).toBe(ok);
  });
});

describe('bodyRefusal', () => {
  it('passes a body within the limits', () => {
    const batch = Array.from({ length: MAX_BATCH_MESSAGES }, (_, i) => request(i));
    expect(bodyRefusal(batch, bytes(batch))).toBeUndefined();
    const deep = { ...request(1), params: { a: nested(MAX_JSON_DEPTH - 3) } };
    expect(bodyRefusal(deep, bytes(deep))).toBeUndefined();
  });

  it('refuses a batch past the limit with one answer (null id), before looking at depth', () => {
    const batch = Array.from({ length: MAX_BATCH_MESSAGES + 1 }, (_, i) => request(i));
    expect(bodyRefusal(batch, bytes(batch))).toMatchObject({
      id: null,
      error: { code: INVALID_REQUEST, data: { reason: 'batch_too_large', messages: MAX_BATCH_MESSAGES + 1 } },
    });
  });

  it.each<[string, unknown, unknown]>([
    ['one request: answered by its id', { ...request(7), params: { a: nested(200) } }, { id: 7 }],
    ['a notification: null id', { ...note, params: { a: nested(200) } }, { id: null }],
    [
      'a batch: each request by its id',
      [request(1), { ...request(2), params: { a: nested(200) } }],
      [{ id: 1 }, { id: 2 }],
    ],
  ])('refuses a message nested too deep, %s', (_name, body, shape) => {
    const answer = bodyRefusal(body, bytes(body));
    expect(answer).toMatchObject(shape as object);
    const first = Array.isArray(answer) ? answer[0] : answer;
    expect(first?.error).toMatchObject({
      code: INVALID_REQUEST,
      data: { reason: 'too_deep', maxDepth: MAX_JSON_DEPTH },
    });
  });
});

describe('bodyRefusal: a request without an id', () => {
  it.each<[string, unknown]>([
    ['tools/call', { jsonrpc: '2.0', method: 'tools/call', params: { name: 'rm' } }],
    ['in a batch', [request(1), { jsonrpc: '2.0', method: 'resources/read', params: { uri: 'x' } }]],
    ['a made-up method', { jsonrpc: '2.0', method: 'x'.repeat(10_000) }],
  ])('%s: refused as a whole, naming the method and the fix', (_name, body) => {
    const answer = bodyRefusal(body, bytes(body));
    expect(answer).toMatchObject({
      id: null,
      error: { code: INVALID_REQUEST, data: { reason: 'request_without_id' } },
    });
    const message = (answer as { error: { message: string } }).error.message;
    expect(message).toMatch(/has no id.*send the request with an id/);
    expect(message.length).toBeLessThan(300);
  });

  it('passes the notifications MCP names, alone and in a batch', () => {
    const body = [note, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }, request(2)];
    expect(bodyRefusal(body, bytes(body))).toBeUndefined();
  });
});

describe('jsonRpcMessages', () => {
  it.each<[string, unknown, number | undefined]>([
    ['one request', request(1), 1],
    ['a batch of a request and a notification', [request(1), note], 2],
    ['a response', { jsonrpc: '2.0', id: 1, result: {} }, 1],
    ['an empty batch', [], undefined],
    ['a batch with one invalid entry', [request(1), { id: 2 }], undefined],
    ['no jsonrpc member', { id: 1, method: 'ping' }, undefined],
    ['a string', 'ping', undefined],
  ])('%s', (_name, body, count) => {
    expect(jsonRpcMessages(body)?.length).toBe(count);
  });
});

describe('per-client limit', () => {
  it('counts requests only (notifications and responses ask nothing)', () => {
    const body = [request(1), note, { jsonrpc: '2.0', id: 9, result: {} }, request(2)] as JsonRpcMessage[];
    expect(countRequests(body)).toBe(2);
  });

  it.each<[number, number, number, { message: RegExp; retryAfterSeconds?: number }]>([
    [1, 1, 60, { message: /60 requests per minute; retry after 1 s/, retryAfterSeconds: 1 }],
    [1500, 1, 60, { message: /retry after 2 s/, retryAfterSeconds: 2 }],
    [Number.POSITIVE_INFINITY, 80, 60, { message: /the batch holds 80 requests, more than the limit of 60/ }],
  ])('wait %s ms, %s requests, %s per minute', (wait, requests, rpm, expected) => {
    const refusal = clientLimitRefusal(wait, requests, rpm);
    expect(refusal.message).toMatch(expected.message);
    expect(refusal.retryAfterSeconds).toBe(expected.retryAfterSeconds);
  });
});
