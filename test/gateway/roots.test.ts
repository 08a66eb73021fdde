/**
 * Roots in shared mode. The shared handshake does not declare `roots` (one client's roots must not become every
 * client's view of a shared server), but a server that asks for them while serving a call anyway gets the answer
 * of the session whose call it is serving, and no other session sees the request.
 */
import { join } from 'node:path';
import { CreateMessageRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client2025, clientSse, NODE, ROOT, type RunningGateway, startGateway, stopAll, textOf } from './helpers.ts';

const ASK_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/ask-server.ts')];
let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...ASK_SERVER]);
});

afterAll(async () => {
  await stopAll();
});

const sampled = (who: string) => async () => ({
  model: 'test-model',
  role: 'assistant' as const,
  content: { type: 'text' as const, text: who },
});

describe('roots in shared mode', () => {
  test("a server's roots/list during a call reaches only the calling session, of either era", async () => {
    const asked: string[] = [];
    const capabilities = { roots: { listChanged: true }, sampling: {} };
    const session = await client2025(gw.url, { capabilities });
    session.client.setRequestHandler(ListRootsRequestSchema, async () => {
      asked.push('session');
      return { roots: [{ uri: 'file:///work/session', name: 'session' }] };
    });
    session.client.setRequestHandler(CreateMessageRequestSchema, sampled('from-session'));
    const legacy = await clientSse(`${gw.url}/sse`, { capabilities });
    legacy.client.setRequestHandler(ListRootsRequestSchema, async () => {
      asked.push('legacy');
      return { roots: [{ uri: 'file:///work/legacy', name: 'legacy' }] };
    });
    legacy.client.setRequestHandler(CreateMessageRequestSchema, sampled('from-legacy'));

    const viaSession = await session.client.callTool({ name: 'ask-together', arguments: {} });
    expect(textOf(viaSession)).toBe('roots=file:///work/session sample=from-session');
    expect(asked).toEqual(['session']);

    const viaLegacy = await legacy.client.callTool({ name: 'ask-together', arguments: {} });
    expect(textOf(viaLegacy)).toBe('roots=file:///work/legacy sample=from-legacy');
    expect(asked).toEqual(['session', 'legacy']);

    await Promise.all([session.client.close(), legacy.client.close()]);
  });

  test('a client answering roots/list with a result that is not an object fails the call at once, of either era', async () => {
    const capabilities = { roots: { listChanged: true }, sampling: {} };
    const session = await client2025(gw.url, { capabilities });
    const legacy = await clientSse(`${gw.url}/sse`, { capabilities });
    for (const { client } of [session, legacy]) {
      // The SDK sends what a handler returns; the server's SDK would drop `42` as unreadable and wait 60 s.
      client.setRequestHandler(ListRootsRequestSchema, async () => 42 as never);
      client.setRequestHandler(CreateMessageRequestSchema, sampled('x'));
      const started = Date.now();
      const result = await client.callTool({ name: 'ask-together', arguments: {} }, undefined, { timeout: 20_000 });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toContain('the client answered with a result that is not an object');
      expect(Date.now() - started).toBeLessThan(10_000);
    }
    await Promise.all([session.client.close(), legacy.client.close()]);
  });

  test('the shared server is not told the gateway has roots, and a roots change stays with its session', async () => {
    const session = await client2025(gw.url, { capabilities: { roots: { listChanged: true } } });
    await session.client.sendRootsListChanged();
    // A round trip after the notification: had it been forwarded, the server would have counted it by now.
    const view = JSON.parse(textOf(await session.client.callTool({ name: 'client-view', arguments: {} }))) as {
      capabilities: Record<string, unknown>;
      rootsChanges: number;
    };
    expect(Object.keys(view.capabilities).sort()).toEqual(['elicitation', 'sampling']);
    expect(view.rootsChanges).toBe(0);
    await session.client.close();
  });
});
