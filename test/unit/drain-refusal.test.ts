/** What a draining gateway refuses: new work in any era; never a call already in progress. */
import { describe, expect, test } from 'vitest';
import { startsNewWork } from '../../src/gateway/http/era.ts';

const call = (params: Record<string, unknown>) => ({ jsonrpc: '2.0', id: 1, method: 'tools/call', params });

describe('startsNewWork', () => {
  test('anything on an open session continues work', () => {
    expect(startsNewWork('session-id', call({ name: 'echo' }), false)).toBe(false);
  });

  test('a sessionless request is new work, in either era', () => {
    expect(startsNewWork(undefined, call({ name: 'echo' }), false)).toBe(true);
    expect(startsNewWork(undefined, call({ name: 'echo' }), true)).toBe(true);
  });

  test('only a 2026-07-28 retry with a requestState continues a call; the field means nothing to a 2025 request', () => {
    expect(startsNewWork(undefined, call({ name: 'echo', requestState: 'signed' }), true)).toBe(false);
    expect(startsNewWork(undefined, call({ name: 'echo', requestState: 'signed' }), false)).toBe(true);
    expect(startsNewWork(undefined, call({ name: 'echo', requestState: 42 }), true)).toBe(true);
  });
});
