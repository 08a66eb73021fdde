/**
 * Proxy mode: the gateway in front of servers that already speak HTTP. The upstreams are built with the
 * official SDK (its Streamable HTTP and legacy SSE server transports, bound to 127.0.0.1), and every client era
 * reaches them through the gateway with the same policy, metrics and health as in stdio mode.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { afterAll, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { client2025, client2026, clientSse, startGateway, stopAll, textOf, until } from './helpers.ts';

function mcpServer(name: string): McpServer {
  const server = new McpServer({ name, version: '3.1.4' });
  server.registerTool('echo', { inputSchema: { message: z.string() } }, async ({ message }) => ({
    content: [{ type: 'text', text: `${name} echo: ${message}` }],
  }));
  server.registerTool('secret', { inputSchema: {} }, async () => ({ content: [{ type: 'text', text: 'hidden' }] }));
  server.registerTool('slow', { inputSchema: { steps: z.number() } }, async ({ steps }, extra) => {
    for (let i = 1; i <= steps; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const token = extra._meta?.progressToken;
      if (token !== undefined) {
        await extra.sendNotification({
          method: 'notifications/progress',
          params: { progressToken: token, progress: i, total: steps },
        });
      }
    }
    return { content: [{ type: 'text', text: 'slow done' }] };
  });
  return server;
}

async function listen(handler: (req: IncomingMessage, res: ServerResponse) => void, port = 0): Promise<Server> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

/** A Streamable HTTP upstream (2025 sessions), as an SDK user would write it. */
async function streamableUpstream(port = 0) {
  const transports = new Map<string, StreamableHTTPServerTransport>();
  let initializations = 0;
  const server = await listen(async (req, res) => {
    const sid = req.headers['mcp-session-id'] as string | undefined;
    let transport = sid ? transports.get(sid) : undefined;
    if (!transport) {
      if (sid) {
        res
          .writeHead(404)
          .end(JSON.stringify({ jsonrpc: '2.0', id: null, error: { code: -32001, message: 'Session not found' } }));
        return;
      }
      initializations++;
      const t = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          transports.set(id, t);
        },
      });
      transport = t;
      await mcpServer('upstream-http').connect(t);
    }
    await transport.handleRequest(req, res);
  }, port);
  return { server, port: (server.address() as AddressInfo).port, initializations: () => initializations };
}

/** A legacy HTTP+SSE upstream. */
async function sseUpstream() {
  const transports = new Map<string, SSEServerTransport>();
  const server = await listen(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.pathname === '/sse') {
      const t = new SSEServerTransport('/message', res);
      transports.set(t.sessionId, t);
      await mcpServer('upstream-sse').connect(t);
      return;
    }
    const t = transports.get(url.searchParams.get('sessionId') ?? '');
    if (!t) {
      res.writeHead(404).end();
      return;
    }
    await t.handlePostMessage(req, res);
  });
  return { server, port: (server.address() as AddressInfo).port };
}

const servers: Server[] = [];

afterAll(async () => {
  await stopAll();
  for (const s of servers) {
    s.closeAllConnections();
    s.close();
  }
});

describe('proxy mode', () => {
  test('fronts a Streamable HTTP server for every client era, with policy, progress and health', async () => {
    const up = await streamableUpstream();
    servers.push(up.server);
    const gw = await startGateway(['proxy', '--upstream', `http://127.0.0.1:${up.port}/mcp`, '--tools-deny', 'secret']);
    const a = await client2025(gw.url);
    const s = await clientSse(`${gw.url}/sse`);
    const m = await client2026(gw.url);
    expect(a.client.getServerVersion()?.name).toBe('upstream-http');
    expect(m.client.getServerVersion()?.version).toBe('3.1.4');
    expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'a' } }))).toBe(
      'upstream-http echo: a',
    );
    expect(textOf(await s.client.callTool({ name: 'echo', arguments: { message: 's' } }))).toBe(
      'upstream-http echo: s',
    );
    expect(textOf(await m.client.callTool({ name: 'echo', arguments: { message: 'm' } }))).toBe(
      'upstream-http echo: m',
    );
    expect((await a.client.listTools()).tools.map((t) => t.name).sort()).toEqual(['echo', 'slow']);
    const progress: number[] = [];
    await a.client.callTool({ name: 'slow', arguments: { steps: 3 } }, undefined, {
      onprogress: (p) => progress.push(p.progress),
    });
    expect(progress).toEqual([1, 2, 3]);
    // One upstream session carries every client (shared mode).
    expect(up.initializations()).toBe(1);
    expect((await fetch(`${gw.health}/readyz`)).status).toBe(200);
    await Promise.all([a.client.close(), s.client.close(), m.client.close()]);
    expect(await gw.stop()).toBe(0);
  });

  test('when the upstream restarts and forgets the session, the gateway reconnects and clients carry on', async () => {
    let up = await streamableUpstream();
    const port = up.port;
    const gw = await startGateway(['proxy', '--upstream', `http://127.0.0.1:${port}/mcp`]);
    const a = await client2025(gw.url);
    expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: '1' } }))).toBe(
      'upstream-http echo: 1',
    );
    up.server.closeAllConnections();
    await new Promise((r) => up.server.close(r));
    up = await streamableUpstream(port);
    servers.push(up.server);
    // The first call after the restart may fail with a clear error while the gateway re-initializes.
    await until(
      async () => {
        const r = await a.client.callTool({ name: 'echo', arguments: { message: '2' } });
        return textOf(r) === 'upstream-http echo: 2';
      },
      20_000,
      'the gateway to reconnect to the restarted upstream',
    );
    expect(up.initializations()).toBe(1);
    await a.client.close();
    expect(await gw.stop()).toBe(0);
  });

  test('fronts a legacy HTTP+SSE server', async () => {
    const up = await sseUpstream();
    servers.push(up.server);
    const gw = await startGateway([
      'proxy',
      '--upstream',
      `http://127.0.0.1:${up.port}/sse`,
      '--upstream-transport',
      'sse',
    ]);
    const a = await client2025(gw.url);
    const m = await client2026(gw.url);
    expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'x' } }))).toBe('upstream-sse echo: x');
    expect(textOf(await m.client.callTool({ name: 'echo', arguments: { message: 'y' } }))).toBe('upstream-sse echo: y');
    await Promise.all([a.client.close(), m.client.close()]);
    expect(await gw.stop()).toBe(0);
  });
});
