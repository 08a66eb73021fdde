/** The aggregate's event-stream parser (upstream/streamable-http.ts): the same events however the bytes are cut. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SseParser } from '../../src/gateway/upstream/streamable-http.ts';

const parse = (chunks: string[]) => {
  const events: unknown[] = [];
  const parser = new SseParser((e) => events.push(e));
  for (const c of chunks) parser.push(c);
  return events;
};

const STREAM =
  ': a comment\r\n' +
  'id: 1\r\nevent: message\r\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\r\n\r\n' +
  'data: line one\ndata: line two\n\n' +
  'event: ping\ndata:\n\n' +
  'id: 2\ndata:no space\n\n' +
  'data: never dispatched without its blank line\n';

describe('SseParser', () => {
  test('fields, comments, CRLF, multi-line data, ids kept from event to event', () => {
    expect(parse([STREAM])).toEqual([
      { event: 'message', data: '{"jsonrpc":"2.0","id":1,"result":{}}', id: '1' },
      { event: 'message', data: 'line one\nline two', id: '1' },
      { event: 'ping', data: '', id: '1' },
      { event: 'message', data: 'no space', id: '2' },
    ]);
  });

  test('any cut of the stream into chunks gives the same events (property)', () => {
    const whole = parse([STREAM]);
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat({ max: STREAM.length }), { maxLength: 20 }), (cuts) => {
        const points = [0, ...cuts.sort((a, b) => a - b), STREAM.length];
        const chunks = points.slice(1).map((end, i) => STREAM.slice(points[i], end));
        expect(parse(chunks)).toEqual(whole);
      }),
    );
  });

  test('an event longer than the limit stops the parser once, in one line or in many', () => {
    for (const chunks of [
      ['data: small\n\n', `data: ${'x'.repeat(100)}`, 'x'.repeat(100)],
      ['data: small\n\n', ...Array.from({ length: 30 }, () => 'data: 0123456789\n')],
    ]) {
      const events: unknown[] = [];
      let oversize = 0;
      const parser = new SseParser((e) => events.push(e), { maxEventChars: 64, onOversize: () => oversize++ });
      for (const c of chunks) parser.push(c);
      parser.push('\n\ndata: after\n\n');
      expect(oversize).toBe(1);
      expect(events).toEqual([{ event: 'message', data: 'small' }]);
    }
  });
});
