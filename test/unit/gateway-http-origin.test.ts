/** The Origin gate's decision (src/gateway/http/origin.ts): CORS headers, none, or 403 (null). */
import { describe, expect, it } from 'vitest';
import { corsFor, NO_CORS } from '../../src/gateway/http/origin.ts';

describe('corsFor', () => {
  it('no Origin (every non-browser client): passes with no CORS headers, the shared empty set', () => {
    expect(corsFor(undefined, 'gw.example', [])).toBe(NO_CORS);
    expect(corsFor('', 'gw.example', [])).toBe(NO_CORS);
  });

  it.each<[string, string, string | undefined, string[], boolean]>([
    ['an allowed origin', 'https://app.example', 'gw.example', ['https://app.example'], true],
    ['any origin with *', 'https://evil.example', 'gw.example', ['*'], true],
    ['the host itself, an address', 'http://10.0.0.7', '10.0.0.7', [], true],
    ['the host with its port', 'http://127.0.0.1:8080', '127.0.0.1:8080', [], true],
    ['the host itself, IPv6', 'http://[::1]:8080', '[::1]:8080', [], true],
    ['the host itself, localhost', 'http://localhost:8800', 'localhost:8800', [], true],
    ['a named host, listed', 'https://gw.example', 'gw.example', ['https://gw.example'], true],
    // A page of a domain re-pointed at the gateway sends that domain as Origin and Host alike.
    [
      'a named host not listed (DNS rebinding)',
      'http://rebind.attacker.example:8800',
      'rebind.attacker.example:8800',
      [],
      false,
    ],
    ['the host itself, named, not listed', 'https://gw.example', 'gw.example', [], false],
    ['another origin (DNS rebinding, CSRF)', 'https://evil.example', 'gw.example', ['https://app.example'], false],
    ['the same host on another port', 'http://127.0.0.1:9999', '127.0.0.1:8080', [], false],
    ['an origin that is not a URL', 'null', 'gw.example', [], false],
    ['no Host to compare with', 'https://gw.example', undefined, [], false],
    [
      'an allowed origin is matched exactly, not as a prefix',
      'https://app.example.evil',
      'gw.example',
      ['https://app.example'],
      false,
    ],
  ])('%s', (_name, origin, host, allowed, ok) => {
    const cors = corsFor(origin, host, allowed);
    if (!ok) {
      expect(cors).toBeNull();
      return;
    }
    expect(cors).toEqual({
      'access-control-allow-origin': origin,
      'access-control-expose-headers': 'mcp-session-id, mcp-protocol-version, www-authenticate',
      vary: 'Origin',
    });
  });
});
