/** The gateway's reading of Accept headers (src/gateway/http/accept.ts), a pure function. */
import { describe, expect, it } from 'vitest';
import { acceptedFormats } from '../../src/gateway/http/accept.ts';

describe('acceptedFormats', () => {
  it('no Accept header, or a blank one, states no preference', () => {
    expect(acceptedFormats(undefined)).toBeNull();
    expect(acceptedFormats('  ')).toBeNull();
  });

  it.each([
    ['application/json, text/event-stream', { json: true, sse: true }],
    ['application/json', { json: true, sse: false }],
    ['text/event-stream', { json: false, sse: true }],
    ['*/*', { json: true, sse: true }],
    ['application/*', { json: true, sse: false }],
    ['text/*', { json: false, sse: true }],
    ['Application/JSON; charset=utf-8', { json: true, sse: false }],
    ['text/html, image/png', { json: false, sse: false }],
    ['application/json;q=0, text/html', { json: false, sse: false }],
    ['*/*, application/json;q=0', { json: false, sse: true }],
    ['application/json;q=0.5, text/event-stream;q=0', { json: true, sse: false }],
    ['not a media type', { json: false, sse: false }],
  ])('%s', (header, formats) => {
    expect(acceptedFormats(header)).toEqual(formats);
  });

  it('answers a value the same way again, also after many other values (the table of seen values)', () => {
    const first = acceptedFormats('application/json;q=0, text/event-stream');
    for (let i = 0; i < 40; i++) acceptedFormats(`text/x-${i}`);
    expect(acceptedFormats('application/json;q=0, text/event-stream')).toEqual(first);
    expect(first).toEqual({ json: false, sse: true });
    // Shared between requests, so no caller can change it for the next one.
    expect(Object.isFrozen(first)).toBe(true);
  });
});
