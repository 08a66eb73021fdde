/**
 * `gateway aggregate` against careless and hostile backends: real gateway processes, real SDK clients, and
 * backends that are our own gateway (with its limits) or a raw HTTP server that misbehaves on purpose
 * (fixtures/hostile-http-server.ts). One backend's bad answer fails that one call, never the aggregate nor the
 * other clients' calls.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ResourceUpdatedNotificationSchema,
  ToolListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { AggregateBackend } from '../../src/contract/aggregate.ts';
import {
  client2025,
  EVERYTHING,
  NODE,
  ROOT,
  type RunningGateway,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';

const HOSTILE = join(ROOT, 'test/gateway/fixtures/hostile-http-server.ts');
const spawned = new Set<ChildProcess>();
let dir: string;

/** A hostile backend: its MCP URL once it listens. */
async function hostile(args: string[] = []): Promise<{ url: string; proc: ChildProcess }> {
  // spawns: node
  const proc = spawn(NODE, [HOSTILE, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  spawned.add(proc);
  const port = await new Promise<number>((resolve, reject) => {
    proc.stdout?.once('data', (d: Buffer) => resolve((JSON.parse(String(d)) as { port: number }).port));
    proc.once('exit', (code) => reject(new Error(`hostile backend exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}/mcp`, proc };
}

let files = 0;
async function aggregateOver(backends: AggregateBackend[], env: Record<string, string> = {}): Promise<RunningGateway> {
  const file = join(dir, `backends-${files++}.json`);
  writeFileSync(file, JSON.stringify({ version: 1, backends }));
  return startGateway(['aggregate', '--backends-file', file], { env });
}

async function listed(gw: RunningGateway, names: string[]): Promise<void> {
  await until(
    async () => {
      const { client } = await client2025(gw.url);
      const have = new Set((await client.listTools()).tools.map((t) => t.name));
      await client.close();
      return names.every((n) => have.has(n));
    },
    30_000,
    `${names.join(', ')} listed`,
  );
}

const settled = <T>(p: Promise<T>) =>
  p.then(
    (value) => ({ ok: true as const, value }),
    (err: Error) => ({ ok: false as const, message: err.message }),
  );

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gw-aggregate-hostile-'));
});

afterAll(async () => {
  await stopAll();
  for (const p of spawned) p.kill('SIGKILL');
});

describe('one request a backend fails fails alone', () => {
  test.each([
    { transport: 'streamable-http' as const, path: '/mcp' },
    { transport: 'sse' as const, path: '/sse' },
  ])(
    "a request the backend refuses (413, $transport) fails; another client's call on that backend finishes",
    async ({ transport, path }) => {
      const everything = await startGateway(['stdio', '--', ...EVERYTHING], {
        env: { MCP_GATEWAY_MAX_BODY_BYTES: '100000' },
      });
      const aggregate = await aggregateOver([
        { name: 'everything', url: `${everything.url}${path}`, transport, prefix: 'ev' },
      ]);
      await listed(aggregate, ['ev_echo']);
      const [a, b] = [await client2025(aggregate.url), await client2025(aggregate.url)];
      let changes = 0;
      a.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
        changes++;
      });
      const long = settled(
        a.client.callTool({ name: 'ev_trigger-long-running-operation', arguments: { duration: 2, steps: 2 } }),
      );
      await new Promise((r) => setTimeout(r, 300));
      const big = await settled(b.client.callTool({ name: 'ev_echo', arguments: { message: 'x'.repeat(200_000) } }));
      const other = await long;
      expect(other.ok ? textOf(other.value) : other.message).toMatch(/Long running operation completed/);
      expect(big.ok ? 'answered' : big.message).toMatch(
        /backend everything: .*HTTP 413\b.*Payload Too Large: the limit is 100000/,
      );
      expect(textOf(await b.client.callTool({ name: 'ev_echo', arguments: { message: 'small' } }))).toBe('Echo: small');
      // The backend never left: no list_changed.
      expect(changes).toBe(0);
      await Promise.all([a.client.close(), b.client.close()]);
    },
    60_000,
  );

  test('an answer that is not JSON fails its call; the backend stays up for the others', async () => {
    const backend = await hostile();
    const aggregate = await aggregateOver([{ name: 'rough', url: backend.url, transport: 'streamable-http' }]);
    await listed(aggregate, ['garbage', 'hang']);
    const [a, b] = [await client2025(aggregate.url), await client2025(aggregate.url)];
    let hangEnded = false;
    const cancel = new AbortController();
    const hung = settled(a.client.callTool({ name: 'hang' }, undefined, { timeout: 120_000, signal: cancel.signal }));
    void hung.then(() => {
      hangEnded = true;
    });
    await new Promise((r) => setTimeout(r, 300));
    const bad = await settled(b.client.callTool({ name: 'garbage' }));
    expect(bad.ok ? '' : bad.message).toMatch(/backend rough: .*answer stream ended before the answer/);
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'fine' } }))).toBe('Echo: fine');
    expect(hangEnded).toBe(false);
    cancel.abort();
    expect(await hung).toMatchObject({ ok: false });
    await waitForAudit(aggregate, (l) => l.tool === 'hang' && l.outcome === 'cancelled');
    await Promise.all([a.client.close(), b.client.close()]);
  }, 60_000);
});

describe('an oversize answer', () => {
  test('fails its call (the limit named) instead of growing until the aggregate dies', async () => {
    const backend = await hostile();
    const aggregate = await aggregateOver([{ name: 'big', url: backend.url, transport: 'streamable-http' }]);
    await listed(aggregate, ['huge']);
    const { client } = await client2025(aggregate.url);
    const answer = await settled(
      client.callTool({ name: 'huge', arguments: { bytes: 40 * 1024 * 1024 } }, undefined, { timeout: 60_000 }),
    );
    expect(answer.ok ? 'answered' : answer.message).toMatch(/backend big: .*larger than the gateway takes \(33554432/);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'alive' } }))).toBe('Echo: alive');
    expect(aggregate.proc.exitCode).toBeNull();
    await client.close();
  }, 60_000);
});

describe("a backend's resource templates", () => {
  test('a long URI against adjacent wildcards is answered at once; the other clients are not held up', async () => {
    // `{name}{.ext}` is RFC 6570 (a file name and its extension); as a regular expression it backtracked
    // quadratically: this one read froze the aggregate for every client for many minutes.
    const backend = await hostile(['--templates', JSON.stringify(['file:///{name}{.ext}', 'repo://x{/path}'])]);
    const aggregate = await aggregateOver([{ name: 'files', url: backend.url, transport: 'streamable-http' }]);
    await listed(aggregate, ['echo']);
    const [a, b] = [await client2025(aggregate.url), await client2025(aggregate.url)];
    const long = settled(a.client.readResource({ uri: `file:///${'a'.repeat(2_000_000)}/` }, { timeout: 60_000 }));
    await new Promise((r) => setTimeout(r, 500));
    const echo = await settled(
      b.client.callTool({ name: 'echo', arguments: { message: 'meanwhile' } }, undefined, {
        timeout: 10_000,
      }),
    );
    expect(echo.ok ? textOf(echo.value) : echo.message).toBe('Echo: meanwhile');
    const read = await long;
    expect(read.ok ? 'read' : read.message).toMatch(/Resource not found/);
    // {/path} is whole path segments: the read reaches the backend.
    const path = await b.client.readResource({ uri: 'repo://x/a/b' });
    expect(path.contents[0]).toMatchObject({ text: 'read repo://x/a/b' });
    await Promise.all([a.client.close(), b.client.close()]);
  }, 90_000);
});

describe('a backend that pages its lists', () => {
  test('every page is read: 1000 tools and more in pages of 10 are all listed and callable', async () => {
    const backend = await hostile(['--tools', '1000', '--page', '10']);
    const aggregate = await aggregateOver([{ name: 'paged', url: backend.url, transport: 'streamable-http' }]);
    await listed(aggregate, ['echo']);
    const { client } = await client2025(aggregate.url);
    const names = (await client.listTools()).tools.map((t) => t.name);
    expect(names.filter((n) => /^t[0-9]+$/.test(n))).toHaveLength(1000);
    expect(names).toContain('t999');
    expect(textOf(await client.callTool({ name: 't999', arguments: { message: 'last page' } }))).toBe(
      'Echo: last page',
    );
    await client.close();
  }, 60_000);
});

describe('a hand-written backends file', () => {
  test('a prefix that makes every name invalid hides them and says so in the log', async () => {
    const backend = await hostile();
    const aggregate = await aggregateOver([
      { name: 'odd', url: backend.url, transport: 'streamable-http', prefix: 'a b' },
    ]);
    const line = await aggregate.waitForLog((l) => l.msg === 'invalid exposed name: an item is hidden', 10_000);
    expect(String(line.problem)).toMatch(/^tool echo of odd as a b_echo: .*an MCP name is 1 to 128 of/);
    const { client } = await client2025(aggregate.url);
    expect((await client.listTools()).tools).toEqual([]);
    await client.close();
  }, 60_000);
});

describe("one backend cannot reach into another backend's calls", () => {
  test("progress a backend sends for another backend's call never reaches that call's client", async () => {
    const [one, two] = [await hostile(['--name', 'one']), await hostile(['--name', 'two'])];
    const aggregate = await aggregateOver([
      { name: 'one', url: one.url, transport: 'streamable-http', prefix: 'one' },
      { name: 'two', url: two.url, transport: 'streamable-http', prefix: 'two' },
    ]);
    await listed(aggregate, ['one_hang', 'two_spoof']);
    const [a, b] = [await client2025(aggregate.url), await client2025(aggregate.url)];
    const heard: string[] = [];
    const cancel = new AbortController();
    const hung = settled(
      a.client.callTool({ name: 'one_hang' }, undefined, {
        signal: cancel.signal,
        timeout: 60_000,
        onprogress: (p) => heard.push(String(p.message)),
      }),
    );
    await new Promise((r) => setTimeout(r, 300));
    // Backend two, asked for progress, sends it for the tokens just below its own: one_hang's among them.
    const spoofed = await b.client.callTool({ name: 'two_spoof' }, undefined, { onprogress: () => {} });
    expect(textOf(spoofed)).toBe('spoofed');
    expect(textOf(await a.client.callTool({ name: 'one_echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    expect(heard).toEqual([]);
    cancel.abort();
    await hung;
    await waitForAudit(aggregate, (l) => l.tool === 'one_hang' && l.outcome === 'cancelled');
    await Promise.all([a.client.close(), b.client.close()]);
  }, 60_000);

  test("a backend's resources/updated for another backend's resource reaches no subscriber", async () => {
    const [one, two] = [
      await hostile(['--name', 'one', '--resources', JSON.stringify(['one://report'])]),
      await hostile(['--name', 'two', '--resources', JSON.stringify(['two://own'])]),
    ];
    const aggregate = await aggregateOver([
      { name: 'one', url: one.url, transport: 'streamable-http', prefix: 'one' },
      { name: 'two', url: two.url, transport: 'streamable-http', prefix: 'two' },
    ]);
    await listed(aggregate, ['one_touch', 'two_touch']);
    const { client } = await client2025(aggregate.url);
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, async (n) => {
      updated.push(n.params.uri);
    });
    await client.subscribeResource({ uri: 'one://report' });
    await client.subscribeResource({ uri: 'two://own' });
    // two speaks for one's resource (dropped), then for its own, then one for its own: the order is kept.
    await client.callTool({ name: 'two_touch', arguments: { uri: 'one://report' } });
    await client.callTool({ name: 'two_touch', arguments: { uri: 'two://own' } });
    await client.callTool({ name: 'one_touch', arguments: { uri: 'one://report' } });
    await until(async () => updated.length >= 2, 10_000, 'the owners’ updates');
    expect(updated).toEqual(['two://own', 'one://report']);
    await client.close();
  }, 60_000);
});

describe("a backend's own rate limit", () => {
  test('refuses calls one by one (429); its refused health check does not drop the calls in flight', async () => {
    // The aggregate is one client to the backend's gateway: its users share that gateway's per-client limit.
    const everything = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_RATE_LIMIT_RPM: '20' },
    });
    const aggregate = await aggregateOver([
      { name: 'limited', url: `${everything.url}/mcp`, transport: 'streamable-http', prefix: 'ev' },
    ]);
    await listed(aggregate, ['ev_echo']);
    const [a, b] = [await client2025(aggregate.url), await client2025(aggregate.url)];
    const long = settled(
      a.client.callTool({ name: 'ev_trigger-long-running-operation', arguments: { duration: 8, steps: 2 } }),
    );
    // b keeps the backend's budget empty for the whole call: every health check in it meets a 429.
    let refused = '';
    let running = true;
    const hammer = (async () => {
      while (running) {
        const r = await settled(b.client.callTool({ name: 'ev_echo', arguments: { message: 'again' } }));
        if (!r.ok) refused = r.message;
      }
    })();
    const other = await long;
    running = false;
    await hammer;
    expect(other.ok ? textOf(other.value) : other.message).toMatch(/Long running operation completed/);
    expect(refused).toMatch(/backend limited: .*HTTP 429 \(Too Many Requests/);
    await Promise.all([a.client.close(), b.client.close()]);
  }, 60_000);
});
