/** JSON-RPC classification (src/gateway/protocol/jsonrpc.ts): what is a message, and why not when it is not. */
import { describe, expect, it } from 'vitest';
import { invalidMessageReason, kindOf, serverAnswer } from '../../src/gateway/protocol/jsonrpc.ts';

describe('kindOf and invalidMessageReason', () => {
  it.each<[string, string, string, RegExp | undefined]>([
    ['a request', '{"jsonrpc":"2.0","id":1,"method":"ping"}', 'request', undefined],
    ['a string id', '{"jsonrpc":"2.0","id":"a","method":"ping"}', 'request', undefined],
    ['the largest exact integer id', '{"jsonrpc":"2.0","id":9007199254740991,"method":"ping"}', 'request', undefined],
    ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', 'request', undefined],
    ['a notification', '{"jsonrpc":"2.0","method":"notifications/initialized"}', 'notification', undefined],
    [
      'a response with a null id',
      '{"jsonrpc":"2.0","id":null,"error":{"code":1,"message":"x"}}',
      'response',
      undefined,
    ],
    // JSON.parse has already rounded it: the answer would carry ...992, an id the client never sent.
    ['an id past 2^53-1', '{"jsonrpc":"2.0","id":9007199254740993,"method":"ping"}', 'invalid', /send it as a string/],
    ['an id of 1e400 (Infinity)', '{"jsonrpc":"2.0","id":1e400,"method":"ping"}', 'invalid', /the id must be/],
    ['an object id', '{"jsonrpc":"2.0","id":{},"method":"ping"}', 'invalid', /the id must be a string or a number/],
    ['another version', '{"jsonrpc":"1.0","id":1,"method":"ping"}', 'invalid', /jsonrpc must be "2.0"/],
    ['params that are a string', '{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}', 'invalid', /params/],
    ['no method, result or error', '{"jsonrpc":"2.0","id":1}', 'invalid', /needs a method/],
    ['a number', '7', 'invalid', /a JSON object/],
  ])('%s', (_name, text, kind, reason) => {
    const value = JSON.parse(text);
    expect(kindOf(value)).toBe(kind);
    if (reason) expect(invalidMessageReason(value)).toMatch(reason);
    else expect(invalidMessageReason(value)).toBeUndefined();
  });
});

describe('serverAnswer', () => {
  it.each<[string, string, RegExp | undefined]>([
    ['a result', '{"jsonrpc":"2.0","id":3,"result":{}}', undefined],
    ['an error', '{"jsonrpc":"2.0","id":3,"error":{"code":-32000,"message":"no"}}', undefined],
    ['no jsonrpc', '{"id":3,"result":{}}', /jsonrpc must be "2.0"/],
    ['an error that is a string', '{"jsonrpc":"2.0","id":3,"error":"boom"}', /error must be an object/],
    ['an error code that is a string', '{"jsonrpc":"2.0","id":3,"error":{"code":"x","message":"m"}}', /integer code/],
    [
      'an error message that is an object',
      '{"jsonrpc":"2.0","id":3,"error":{"code":1,"message":{}}}',
      /string message/,
    ],
    ['neither result nor error', '{"jsonrpc":"2.0","id":3}', /needs a method/],
  ])('%s', (_name, text, problem) => {
    const value = JSON.parse(text);
    const answer = serverAnswer(value);
    if (problem === undefined) expect(answer).toBe(value);
    else {
      expect(answer).toMatchObject({ jsonrpc: '2.0', id: 3, error: { code: -32603 } });
      expect(answer?.error?.message).toMatch(problem);
    }
  });

  it.each([
    ['a request', '{"jsonrpc":"2.0","id":3,"method":"ping"}'],
    ['a notification', '{"jsonrpc":"2.0","method":"notifications/progress"}'],
    ['no usable id', '{"jsonrpc":"2.0","id":{},"result":{}}'],
    ['not an object', '[1]'],
  ])('is not an answer: %s', (_name, text) => {
    expect(serverAnswer(JSON.parse(text))).toBeUndefined();
  });
});
