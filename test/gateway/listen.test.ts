/**
 * 2026-07-28 resource subscriptions: that revision drops resources/subscribe, and a client watches resources by
 * naming them on a `subscriptions/listen` stream. The gateway subscribes the shared server to each URI while any
 * stream or 2025 session holds it (once), so updates flow, and unsubscribes when the last holder goes.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LISTEN_START_HOLD_MS } from '../../src/gateway/http/sdk-2026.ts';
import { client2025, client2026, NODE, ROOT, type RunningGateway, startGateway, stopAll, until } from './helpers.ts';

const requestLog = join(mkdtempSync(join(tmpdir(), 'gw-listen-')), 'requests.log');
const RAW_SERVER = [
  NODE,
  join(ROOT, 'test/gateway/fixtures/raw-server.ts'),
  '--resources',
  '--request-log',
  requestLog,
];
let gw: RunningGateway;

/** The resources/subscribe and unsubscribe requests the server received, in order. */
const serverSaw = () => readFileSync(requestLog, { encoding: 'utf8', flag: 'a+' }).split('\n').filter(Boolean);

/** A call the server answers: everything the gateway sent the server before it has been handled by then. */
async function echoThroughServer(client: Awaited<ReturnType<typeof client2025>>['client']): Promise<void> {
  await client.callTool({ name: 'echo', arguments: { message: 'barrier' } });
}

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...RAW_SERVER]);
});

afterAll(async () => {
  await stopAll();
});

describe('2026-07-28 subscriptions/listen with resourceSubscriptions', () => {
  test('updates reach the listening client; the server is subscribed once and released by the last holder', async () => {
    const uri = 'test://doc/a';
    const first = await client2026(gw.url);
    const updates: string[] = [];
    first.client.setNotificationHandler('notifications/resources/updated', async (n) => {
      updates.push(String(n.params?.uri));
    });
    const stream = await first.client.listen({ resourceSubscriptions: [uri] });
    expect(stream.honoredFilter.resourceSubscriptions).toEqual([uri]);
    await until(() => serverSaw().includes(`subscribe ${uri}`), 10_000, 'the server subscribed');

    // A change announced by the server reaches the stream.
    await first.client.callTool({ name: 'touch', arguments: { uri } });
    await until(() => updates.includes(uri), 10_000, 'resources/updated on the listen stream');

    // A second stream and a 2025 session on the same URI: the server is not subscribed again.
    const second = await client2026(gw.url);
    const secondStream = await second.client.listen({ resourceSubscriptions: [uri] });
    const session = await client2025(gw.url);
    await session.client.subscribeResource({ uri });
    await echoThroughServer(session.client);
    expect(serverSaw()).toEqual([`subscribe ${uri}`]);

    // Holders leave one by one; only the last one's leaving unsubscribes the server. An early unsubscribe would
    // show as a second one when the last holder goes, so the exact log below catches it.
    await session.client.unsubscribeResource({ uri });
    await stream.close();
    await secondStream.close();
    await until(() => serverSaw().includes(`unsubscribe ${uri}`), 10_000, 'the server unsubscribed');
    await echoThroughServer(session.client);
    expect(serverSaw()).toEqual([`subscribe ${uri}`, `unsubscribe ${uri}`]);
    await Promise.all([first.client.close(), second.client.close(), session.client.close()]);
  });

  test('a listen the SDK rejects subscribes nothing', async () => {
    const uri = 'test://doc/rejected';
    const envelope = {
      'io.modelcontextprotocol/protocolVersion': '2026-07-28',
      'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    // An invalid filter field: the SDK's listen handler refuses the request before any stream starts.
    const refused = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscriptions/listen',
        params: { notifications: { resourceSubscriptions: [uri], toolsListChanged: 'yes' }, _meta: envelope },
      }),
    });
    const answer = await refused.text();
    expect(answer).toContain('-32602');
    const session = await client2025(gw.url);
    await echoThroughServer(session.client);
    expect(serverSaw().filter((line) => line.endsWith(uri))).toEqual([]);
    await session.client.close();
  });

  test('a stream alone: closing it unsubscribes the server', async () => {
    const uri = 'test://doc/b';
    const modern = await client2026(gw.url);
    const stream = await modern.client.listen({ resourceSubscriptions: [uri] });
    await until(() => serverSaw().includes(`subscribe ${uri}`), 10_000, 'the server subscribed');
    await stream.close();
    await until(() => serverSaw().includes(`unsubscribe ${uri}`), 10_000, 'the server unsubscribed');
    await modern.client.close();
  });

  // A proxy on Go's ReverseProxy (Traefik) cuts a POST answer that reaches it before its last read of the request
  // body; the SDK acknowledges a listen at once, so the gateway holds the start back (sdk-2026.ts says why).
  test('a listen starts only after the hold, then streams as before', async () => {
    const uri = 'test://doc/held';
    const modern = await client2026(gw.url);
    const updates: string[] = [];
    modern.client.setNotificationHandler('notifications/resources/updated', async (n) => {
      updates.push(String(n.params?.uri));
    });
    const asked = performance.now();
    const stream = await modern.client.listen({ resourceSubscriptions: [uri] });
    // Timers never fire early; the 1 ms is the two clocks' rounding.
    expect(performance.now() - asked).toBeGreaterThanOrEqual(LISTEN_START_HOLD_MS - 1);
    await until(() => serverSaw().includes(`subscribe ${uri}`), 10_000, 'the server subscribed');
    await modern.client.callTool({ name: 'touch', arguments: { uri } });
    await until(() => updates.includes(uri), 10_000, 'resources/updated on the held listen stream');
    await stream.close();
    await until(() => serverSaw().includes(`unsubscribe ${uri}`), 10_000, 'the server unsubscribed');
    await modern.client.close();
  });

  test('a client gone during the hold: nothing is written to it and nothing is subscribed', async () => {
    const uri = 'test://doc/gone';
    const body = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'subscriptions/listen',
      params: {
        notifications: { resourceSubscriptions: [uri] },
        _meta: {
          'io.modelcontextprotocol/protocolVersion': '2026-07-28',
          'io.modelcontextprotocol/clientInfo': { name: 'raw', version: '1' },
          'io.modelcontextprotocol/clientCapabilities': {},
        },
      },
    });
    const url = new URL(`${gw.url}/mcp`);
    let answered = false;
    const req = request({
      host: url.hostname,
      port: url.port,
      path: url.pathname,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        'mcp-protocol-version': '2026-07-28',
        'mcp-method': 'subscriptions/listen',
        'content-length': Buffer.byteLength(body),
      },
    });
    req.on('response', () => {
      answered = true;
    });
    req.on('error', () => {});
    req.end(body);
    await new Promise((r) => setTimeout(r, LISTEN_START_HOLD_MS / 5));
    req.destroy();
    // Past the hold, a call through the server: a subscription made at the end of the hold would be logged by now.
    await new Promise((r) => setTimeout(r, LISTEN_START_HOLD_MS * 2));
    const session = await client2025(gw.url);
    await echoThroughServer(session.client);
    expect(answered).toBe(false);
    expect(serverSaw().filter((line) => line.endsWith(uri))).toEqual([]);
    expect(gw.proc.exitCode).toBeNull();
    await session.client.close();
  });
});
