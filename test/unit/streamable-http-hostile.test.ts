/**
 * The aggregate's Streamable HTTP leg against a backend that misbehaves: an answer nested deeper than the gateway
 * can re-encode becomes that call's error (a JSON.stringify stack overflow took the whole aggregate down), and an
 * answer carrying another call's id is not handed to that other call (one session's result reaching another).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import type { JsonRpcResponse } from '../../src/gateway/protocol/jsonrpc.ts';
import { StreamableHttpChannel } from '../../src/gateway/upstream/streamable-http.ts';
import { createLogger } from '../../src/observability/log.ts';

const log = createLogger({ name: 'streamable-http-hostile', level: 'silent' });
let server: Server | undefined;
let channel: StreamableHttpChannel | undefined;
afterEach(async () => {
  await channel?.close();
  await new Promise((r) => (server ? server.close(r) : r(undefined)));
  server = channel = undefined;
});

type Handler = (m: { id: number; method: string }, answer: (text: string) => void) => void;

async function backend(handle: Handler): Promise<{ answers: JsonRpcResponse[] }> {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      handle(JSON.parse(Buffer.concat(chunks).toString()), (text) =>
        res.writeHead(200, { 'content-type': 'application/json' }).end(text),
      ),
    );
  });
  await new Promise<void>((r) => server?.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/mcp`;
  channel = new StreamableHttpChannel({ url, log });
  const answers: JsonRpcResponse[] = [];
  channel.onmessage = (m) => {
    JSON.stringify(m); // what the gateway does with every message it forwards
    answers.push(m as JsonRpcResponse);
  };
  return { answers };
}

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
};

describe('a hostile Streamable HTTP backend', () => {
  test('an answer nested 20000 levels deep fails its call instead of the gateway', async () => {
    const deep = `${'{"x":'.repeat(20_000)}{}${'}'.repeat(20_000)}`;
    const { answers } = await backend((m, answer) =>
      answer(`{"jsonrpc":"2.0","id":${m.id},"result":{"structuredContent":${deep}}}`),
    );
    channel?.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'deep' } });
    await until(() => answers.length > 0);
    expect(answers).toEqual([
      {
        jsonrpc: '2.0',
        id: 1,
        error: expect.objectContaining({ message: expect.stringMatching(/nests more than 1000 levels deep/) }),
      },
    ]);
  });

  test('an answer nested within the bound passes', async () => {
    const { answers } = await backend((m, answer) =>
      answer(`{"jsonrpc":"2.0","id":${m.id},"result":{"v":${'['.repeat(900)}${']'.repeat(900)}}}`),
    );
    channel?.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'ok' } });
    await until(() => answers.length > 0);
    expect(answers[0]?.result).toBeDefined();
  });

  test("an answer with another in-flight call's id never reaches that call", async () => {
    let first: ((text: string) => void) | undefined;
    const { answers } = await backend((m, answer) => {
      if (m.id === 1) {
        first = answer; // the slow call: answered later, correctly
        return;
      }
      // The buggy server answers call 2's POST with call 1's id and call 2's data.
      answer(`{"jsonrpc":"2.0","id":1,"result":{"secret":"of call 2"}}`);
    });
    channel?.send({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'slow' } });
    await until(() => first !== undefined);
    channel?.send({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'fast' } });
    await until(() => answers.length > 0);
    first?.(`{"jsonrpc":"2.0","id":1,"result":{"own":"answer"}}`);
    await until(() => answers.length > 1);
    expect(answers.find((a) => a.id === 1)?.result).toEqual({ own: 'answer' });
    expect(answers.find((a) => a.id === 2)?.error?.message).toMatch(/ended before the answer/);
    expect(answers.some((a) => JSON.stringify(a).includes('of call 2'))).toBe(false);
  });
});
