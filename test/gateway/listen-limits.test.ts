/**
 * Open 2026-07-28 listen streams are held to the session limits: per client (429, the limit named) and per
 * gateway (the oldest stream of the client holding the most makes room). Before, the SDK's one cap of 1024
 * streams was all there was, and one client's 1024 listens left every other client's refused.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client2026, EVERYTHING, type RunningGateway, startGateway, stopAll } from './helpers.ts';

const PER_CLIENT = 4;
const TOTAL = 6;
const TOKENS = {
  a: 'listen-limit-token-a-0123456789',
  b: 'listen-limit-token-b-0123456789',
  c: 'listen-limit-token-c-01234567',
};
let gw: RunningGateway;

const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gw-listen-limits-'));
  writeFileSync(join(dir, 'tokens'), `${Object.values(TOKENS).join('\n')}\n`);
  gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    env: {
      MCP_GATEWAY_AUTH_TOKEN_FILE: join(dir, 'tokens'),
      MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT: String(PER_CLIENT),
      MCP_GATEWAY_MAX_SESSIONS: String(TOTAL),
    },
  });
});

afterAll(async () => {
  await stopAll();
});

/** A client of `token` with `n` open listen streams, and how each one ended (undefined: still open). */
async function listener(token: string, n: number) {
  const { client } = await client2026(gw.url, as(token));
  const ended: Array<string | undefined> = [];
  const streams: Array<Awaited<ReturnType<typeof client.listen>>> = [];
  for (let i = 0; i < n; i++) {
    const stream = await client.listen({ toolsListChanged: true });
    ended.push(undefined);
    void stream.closed.then((cause) => {
      ended[i] = cause;
    });
    streams.push(stream);
  }
  return {
    client,
    ended,
    close: async () => {
      for (const s of streams) await s.close();
      await client.close();
    },
  };
}

describe('2026-07-28 listen streams and the session limits', () => {
  test('a client at its limit is refused with 429 naming it; another client still listens', async () => {
    const a = await listener(TOKENS.a, PER_CLIENT);
    await expect(a.client.listen({ toolsListChanged: true })).rejects.toThrow(/per-client limit/);
    const b = await listener(TOKENS.b, 1);
    expect(b.ended).toEqual([undefined]);
    expect(a.ended).toEqual(Array(PER_CLIENT).fill(undefined));
    await a.close();
    await b.close();
  });

  test('at the gateway limit, the oldest stream of the client holding the most makes room', async () => {
    const a = await listener(TOKENS.a, PER_CLIENT);
    const b = await listener(TOKENS.b, TOTAL - PER_CLIENT);
    const c = await listener(TOKENS.c, 1);
    expect(c.ended).toEqual([undefined]);
    await expect.poll(() => a.ended[0], { timeout: 5_000 }).toBe('remote');
    expect(a.ended.slice(1)).toEqual(Array(PER_CLIENT - 1).fill(undefined));
    expect(b.ended).toEqual(Array(TOTAL - PER_CLIENT).fill(undefined));
    // Still at the limit: A listens again, and the room comes from A's own streams, not from B's or C's.
    const again = await a.client.listen({ toolsListChanged: true });
    expect(again.honoredFilter.toolsListChanged).toBe(true);
    await expect.poll(() => a.ended[1], { timeout: 5_000 }).toBe('remote');
    expect(b.ended).toEqual(Array(TOTAL - PER_CLIENT).fill(undefined));
    expect(c.ended).toEqual([undefined]);
    await again.close();
    await Promise.all([a.close(), b.close(), c.close()]);
  });
});
