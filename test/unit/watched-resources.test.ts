/** Which resource URIs a 2026-07-28 `subscriptions/listen` request makes the gateway subscribe the server to. */
import { describe, expect, test } from 'vitest';
import { MAX_WATCHED_RESOURCES, watchedResources } from '../../src/gateway/http/sdk-2026.ts';

const listen = (resourceSubscriptions: unknown) => ({
  jsonrpc: '2.0',
  id: 1,
  method: 'subscriptions/listen',
  params: { notifications: { resourceSubscriptions } },
});

describe('watchedResources', () => {
  test('the URIs of a listen request, each once', () => {
    expect(watchedResources(listen(['a://1', 'a://2', 'a://1']))).toEqual(['a://1', 'a://2']);
  });

  test('nothing for other requests or a filter without resource subscriptions', () => {
    expect(watchedResources({ ...listen(['a://1']), method: 'tools/call' })).toEqual([]);
    expect(watchedResources({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: {} })).toEqual([]);
    expect(watchedResources([listen(['a://1'])])).toEqual([]);
    expect(watchedResources(listen('a://1'))).toEqual([]);
  });

  test('non-strings, empty and oversize URIs are ignored, and a stream holds a bounded number', () => {
    expect(watchedResources(listen([1, '', null, 'x'.repeat(2049), 'a://ok']))).toEqual(['a://ok']);
    const many = Array.from({ length: MAX_WATCHED_RESOURCES + 20 }, (_, i) => `a://${i}`);
    expect(watchedResources(listen(many))).toHaveLength(MAX_WATCHED_RESOURCES);
  });
});
