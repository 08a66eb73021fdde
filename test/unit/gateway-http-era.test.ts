/** Era classification of a POST /mcp (src/gateway/http/era.ts): pure functions of headers and body. */
import { describe, expect, it } from 'vitest';
import { looksLike2026, type PostEra, postEra, unsupportedVersion } from '../../src/gateway/http/era.ts';

const call = { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo' } };
const withMeta = { ...call, params: { name: 'echo', _meta: { 'io.modelcontextprotocol/clientInfo': {} } } };
const otherMeta = { ...call, params: { name: 'echo', _meta: { progressToken: 1 } } };
const discover = { jsonrpc: '2.0', id: 2, method: 'server/discover' };
const init = { jsonrpc: '2.0', id: 0, method: 'initialize', params: {} };

describe('postEra', () => {
  it.each<[string, string | undefined, string | undefined, unknown, PostEra]>([
    ['a session id names its 2025 session, whatever the body', 'sid', '2026-07-28', discover, '2025-session'],
    ['a session id with a 2025 body', 'sid', undefined, call, '2025-session'],
    ['the 2026 version header', undefined, '2026-07-28', call, '2026-07-28'],
    [
      'a later version header still looks 2026 (the SDK rejects what it does not speak)',
      undefined,
      '2027-01-01',
      call,
      '2026-07-28',
    ],
    ['server/discover without a header', undefined, undefined, discover, '2026-07-28'],
    ['an io.modelcontextprotocol/ _meta key without a header', undefined, undefined, withMeta, '2026-07-28'],
    ['other _meta keys are 2025 traffic', undefined, undefined, otherMeta, '2025-sessionless'],
    ['initialize opens a 2025 session', undefined, '2025-11-25', init, '2025-sessionless'],
    ['a plain 2025 call without session is served once', undefined, undefined, call, '2025-sessionless'],
    ['a batch is never 2026 (the revision has no batches)', undefined, '2026-07-28', [call], '2025-sessionless'],
    ['an invalid message is left to the 2025 validation (400)', undefined, '2026-07-28', { id: 1 }, '2025-sessionless'],
  ])('%s', (_name, sessionId, version, body, era) => {
    expect(postEra(sessionId, version, body)).toBe(era);
  });
});

describe('looksLike2026', () => {
  it.each<[string | undefined, unknown, boolean]>([
    ['2026-07-28', [call], true],
    ['2025-11-25', call, false],
    [undefined, 'text', false],
    [undefined, { ...call, params: { _meta: 'not an object' } }, false],
    [undefined, withMeta, true],
  ])('version %s, body %j: %s', (version, body, expected) => {
    expect(looksLike2026(version, body)).toBe(expected);
  });
});

describe('unsupportedVersion', () => {
  it.each(['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26', '2024-11-05', undefined])('%s is spoken', (v) => {
    expect(unsupportedVersion(v)).toBeUndefined();
  });

  it('names the version (clipped) and the supported ones', () => {
    const message = unsupportedVersion('1999-01-01');
    expect(message).toContain('"1999-01-01"');
    expect(message).toContain('supported: 2025-11-25, 2025-06-18, 2025-03-26, 2024-11-05, 2026-07-28');
    const huge = unsupportedVersion('x'.repeat(16_000)) ?? '';
    expect(huge.length).toBeLessThan(300);
  });
});
