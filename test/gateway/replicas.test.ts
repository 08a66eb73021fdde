/**
 * Several replicas without sticky sessions: session ids are signed and name the owning replica, so a request
 * that lands on another replica is relayed there. A client whose every request is spread round-robin over two
 * real gateways (each with its own server-everything) keeps one working session. The 2026-07-28 multi-round-trip
 * retries are relayed the same way: the requestState names the replica holding the call.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { freePort } from '../../src/local-cluster/control-plane.ts';
import { client2026, EVERYTHING, type RunningGateway, startGateway, stopAll, textOf, waitForAudit } from './helpers.ts';

let a: RunningGateway;
let b: RunningGateway;

beforeAll(async () => {
  const secretFile = join(mkdtempSync(join(tmpdir(), 'gw-replicas-')), 'secret');
  writeFileSync(secretFile, 'a-shared-secret-of-at-least-16-bytes\n');
  // The advertise address needs the port before the gateway binds it, so a port is picked and released first;
  // another test file may take it in between, and then the gateway exits with EADDRINUSE: pick again.
  const start = async (): Promise<RunningGateway> => {
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      try {
        return await startGateway(['stdio', '--', ...EVERYTHING], {
          env: {
            MCP_GATEWAY_PORT: String(port),
            MCP_GATEWAY_SESSION_SECRET_FILE: secretFile,
            MCP_GATEWAY_ADVERTISE_ADDRESS: `127.0.0.1:${port}`,
          },
        });
      } catch (err) {
        if (attempt >= 3 || !String(err).includes('EADDRINUSE')) throw err;
      }
    }
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

/**
 * A fetch whose connections leave from a given loopback address, so the client's address (its identity without
 * auth) differs from the address a relaying replica connects from.
 */
function fetchFrom(localAddress: string) {
  return (input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input.toString());
      const req = httpRequest(
        {
          host: url.hostname,
          port: url.port,
          path: `${url.pathname}${url.search}`,
          method: init.method ?? 'GET',
          headers: Object.fromEntries(new Headers(init.headers)),
          localAddress,
        },
        (res) => {
          const headers = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
          }
          const empty = res.statusCode === 204 || res.statusCode === 304;
          if (empty) res.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status: res.statusCode ?? 502,
              headers,
            }),
          );
        },
      );
      req.on('error', reject);
      init.signal?.addEventListener('abort', () => req.destroy(new Error('aborted')));
      req.end(typeof init.body === 'string' ? init.body : undefined);
    });
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

  test('a 2026-07-28 input_required retry landing on the other replica is relayed to the one holding the call', async () => {
    const via = fetchFrom('127.0.0.5');
    const landed: string[] = [];
    // The call goes to a; every retry (it carries the requestState) lands on b, which relays it to a.
    const balancer = (input: string | URL | Request, init?: RequestInit) => {
      const retry = typeof init?.body === 'string' && init.body.includes('"requestState"');
      const target = retry ? b : a;
      landed.push(retry ? 'b' : 'a');
      const url = new URL(input instanceof Request ? input.url : input.toString());
      url.port = String(target.port);
      return via(url, init);
    };
    const { client } = await client2026(a.url, { capabilities: { sampling: {} }, fetch: balancer });
    const prompts: string[] = [];
    client.setRequestHandler('sampling/createMessage', async (request) => {
      prompts.push(JSON.stringify(request.params.messages));
      return { model: 'm', role: 'assistant', content: { type: 'text', text: 'relayed answer' } };
    });
    const result = await client.callTool({
      name: 'trigger-sampling-request',
      arguments: { prompt: 'across replicas', maxTokens: 5 },
    });
    expect(textOf(result)).toContain('relayed answer');
    expect(prompts).toHaveLength(1);
    expect(prompts[0]).toContain('across replicas');
    expect(landed).toContain('b');
    // The call ran on a, for the client's own address: b vouched for it when relaying.
    const audit = await waitForAudit(a, (l) => l.tool === 'trigger-sampling-request');
    expect(audit).toMatchObject({ outcome: 'ok', client: 'ip:127.0.0.5' });
    expect(b.logs.some((l) => (l.audit as { tool?: string } | undefined)?.tool === 'trigger-sampling-request')).toBe(
      false,
    );
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
