/**
 * Per-client rate limits behind a proxy (`--trust-proxy`, set by the operator when an McpServer has an Ingress):
 * the client is the last X-Forwarded-For entry, the address the proxy saw, so a client that forges earlier
 * entries still lands in its own bucket.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVERYTHING, type RunningGateway, startGateway, stopAll } from './helpers.ts';

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    env: { MCP_GATEWAY_TRUST_PROXY: 'true', MCP_GATEWAY_RATE_LIMIT_RPM: '5' },
  });
});

afterAll(stopAll);

const ping = (xff: string, id: number) =>
  fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: {
      accept: 'application/json, text/event-stream',
      'content-type': 'application/json',
      'mcp-protocol-version': '2025-06-18',
      'x-forwarded-for': xff,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id, method: 'ping' }),
  }).then(async (res) => {
    await res.body?.cancel();
    return res.status;
  });

describe('client address behind a proxy', () => {
  test('forged leading X-Forwarded-For entries do not escape the per-client limit', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push(await ping(`198.51.100.${i}, 10.1.2.3`, i));
    expect(statuses).toEqual([200, 200, 200, 200, 200, 429, 429, 429]);
    // Another client, as the proxy saw it, has its own budget.
    expect(await ping('10.1.2.4', 100)).toBe(200);
  });
});
