/**
 * Backpressure on both sides of the gateway: the proxy-mode upstream backlog is measured in bytes (what the
 * router's threshold is in), against a real HTTP server that holds its answers.
 */
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, test } from 'vitest';
import type { JsonRpcMessage } from '../../src/gateway/jsonrpc.ts';
import { HttpChannel, messageBytes } from '../../src/gateway/upstream/http.ts';
import { createLogger } from '../../src/observability/log.ts';
import { stopAll, until } from './helpers.ts';

afterAll(async () => {
  await stopAll();
});

describe('proxy-mode upstream backlog', () => {
  test('counts the bytes of messages whose POST is still open, not the number of messages', async () => {
    const held: ServerResponse[] = [];
    const server = createServer((req, res) => {
      req.resume();
      req.on('end', () => held.push(res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
    const channel = new HttpChannel({
      url,
      transport: 'streamable-http',
      log: createLogger({ name: 'test', level: 'silent' }),
    });
    await channel.start();
    const small: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/small' };
    const large: JsonRpcMessage = {
      jsonrpc: '2.0',
      method: 'notifications/large',
      params: { text: 'é'.repeat(50_000) },
    };
    expect(channel.backlog()).toBe(0);
    expect(channel.send(small)).toBe(true);
    expect(channel.send(large)).toBe(true);
    // Multi-byte characters count as the bytes they take on the wire.
    expect(messageBytes(large)).toBeGreaterThan(100_000);
    expect(channel.backlog()).toBe(messageBytes(small) + messageBytes(large));
    await until(() => held.length === 2, 10_000, 'both POSTs to reach the upstream');
    for (const res of held.splice(0)) res.writeHead(202).end();
    await until(() => channel.backlog() === 0, 10_000, 'the backlog to drain');
    await channel.close();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
});
