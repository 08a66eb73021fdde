/**
 * Several replicas without sticky sessions: session ids are signed and name the owning replica, so a request
 * that lands on another replica is relayed there. A client whose every request is spread round-robin over two
 * real gateways (each with its own server-everything) keeps one working session.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../src/local-cluster/control-plane.ts';
import { EVERYTHING, type RunningGateway, startGateway, stopAll, textOf } from './helpers.ts';

let a: RunningGateway;
let b: RunningGateway;

beforeAll(async () => {
  const secretFile = join(mkdtempSync(join(tmpdir(), 'gw-replicas-')), 'secret');
  writeFileSync(secretFile, 'a-shared-secret-of-at-least-16-bytes\n');
  const start = async () => {
    const port = await freePort();
    return startGateway(['stdio', '--', ...EVERYTHING], {
      env: {
        MCP_GATEWAY_PORT: String(port),
        MCP_GATEWAY_SESSION_SECRET_FILE: secretFile,
        MCP_GATEWAY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
      },
    });
  };
  [a, b] = await Promise.all([start(), start()]);
});

afterAll(async () => {
  await stopAll();
});

/** A fetch that spreads requests over both replicas, as a load balancer without affinity would. */
function roundRobin(hits: number[]) {
  let n = 0;
  return (input: string | URL | Request, init?: RequestInit) => {
    const target = n++ % 2 === 0 ? a : b;
    hits.push(target.port);
    const url = new URL(input instanceof Request ? input.url : input.toString());
    url.port = String(target.port);
    return fetch(url, init);
  };
}

describe('session forwarding between replicas', () => {
  test('a Streamable HTTP session survives requests landing on either replica', async () => {
    const hits: number[] = [];
    const client = new Client({ name: 'lb-client', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${a.url}/mcp`), { fetch: roundRobin(hits) }));
    for (let i = 0; i < 6; i++) {
      expect(textOf(await client.callTool({ name: 'echo', arguments: { message: `m${i}` } }))).toBe(`Echo: m${i}`);
    }
    const progress: number[] = [];
    await client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 0.3, steps: 3 } },
      undefined,
      {
        onprogress: (p) => progress.push(p.progress),
      },
    );
    expect(progress).toEqual([1, 2, 3]);
    expect(new Set(hits).size).toBe(2);
    await client.close();
  });

  test('a legacy SSE session: stream on one replica, messages posted to the other', async () => {
    const client = new Client({ name: 'lb-sse', version: '1' });
    // The stream opens on a; the endpoint is relative, so posts go wherever the fetch sends them: b.
    const transport = new SSEClientTransport(new URL(`${a.url}/sse`), {
      fetch: (input, init) => {
        const url = new URL(input instanceof Request ? input.url : input.toString());
        if (url.pathname === '/messages') url.port = String(b.port);
        return fetch(url, init);
      },
    });
    await client.connect(transport);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'sse' } }))).toBe('Echo: sse');
    await client.close();
  });

  test('a forged or foreign session id is not found (404), never forwarded', async () => {
    const res = await fetch(`${b.url}/mcp`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'mcp-session-id': `${Buffer.from('10.0.0.1:8080').toString('base64url')}.abc.forgedmacforgedmac`,
      },
      body: '{"jsonrpc":"2.0","id":1,"method":"tools/list"}',
    });
    expect(res.status).toBe(404);
  });
});
