/**
 * Child lifecycle and graceful drain with real processes: kill -9 of the server mid-call, restart with
 * backoff while sessions survive, readiness during restarts, non-JSON stdout, a command that does not exist,
 * SIGTERM with calls in flight on every era, and the drain deadline.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InputRequiredResult } from '@modelcontextprotocol/client';
import { ToolListChangedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, test } from 'vitest';
import {
  childPids,
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  metricValue,
  NODE,
  postInitialize,
  ROOT,
  startGateway,
  stopAll,
  textOf,
  until,
  waitForAudit,
} from './helpers.ts';

const RAW_SERVER = [NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

afterAll(async () => {
  await stopAll();
});

/** A file the raw server appends a line to per ping, and a reader of how many it holds. */
function pingLog(): { path: string; count: () => number } {
  const path = join(mkdtempSync(join(tmpdir(), 'gw-pings-')), 'pings');
  return { path, count: () => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').length - 1 : 0) };
}

describe('child lifecycle', () => {
  test('kill -9 mid-call: a clear JSON-RPC error, not ready meanwhile, restarted, sessions keep working', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING]);
    const a = await client2025(gw.url);
    const b = await client2025(gw.url);
    let listChanged = 0;
    b.client.setNotificationHandler(ToolListChangedNotificationSchema, async () => {
      listChanged++;
    });
    const [child] = childPids(gw.proc.pid as number);
    expect(child).toBeGreaterThan(0);
    let started!: () => void;
    const startedP = new Promise<void>((r) => {
      started = r;
    });
    const call = a.client
      .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 5, steps: 10 } }, undefined, {
        onprogress: () => started(),
      })
      .then(
        () => 'completed',
        (err: Error) => err.message,
      );
    await startedP;
    process.kill(child as number, 'SIGKILL');
    let sawNotReady = false;
    await until(
      async () => {
        const res = await fetch(`${gw.health}/readyz`);
        if (res.status === 503) {
          sawNotReady = true;
          expect(((await res.json()) as { reason: string }).reason).toMatch(/restarting|starting/);
        }
        return sawNotReady;
      },
      10_000,
      'readiness to drop',
    );
    const outcome = await call;
    expect(outcome).toMatch(/-32603/);
    expect(outcome).toMatch(/stopped while handling this request \(killed by SIGKILL\)/);
    await until(async () => (await fetch(`${gw.health}/readyz`)).status === 200, 30_000, 'the restarted child');
    expect(await metricValue(gw, 'mcp_gateway_child_restarts_total')).toBe(1);
    const [newChild] = childPids(gw.proc.pid as number);
    expect(newChild).not.toBe(child);
    // Same sessions, new process: nothing to reconnect.
    expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'after' } }))).toBe('Echo: after');
    expect(textOf(await b.client.callTool({ name: 'echo', arguments: { message: 'b' } }))).toBe('Echo: b');
    // The new process announced its tools; list_changed reaches every session.
    await until(() => listChanged > 0, 10_000, 'tools/list_changed after the restart');
    const fail = await waitForAudit(gw, (a) => a.outcome === 'upstream_failed');
    expect(fail.tool).toBe('trigger-long-running-operation');
    await Promise.all([a.client.close(), b.client.close()]);
    expect(await gw.stop()).toBe(0);
  });

  test('non-JSON stdout lines are skipped with a warning that gives their size, not their text', async () => {
    const script = `echo "banner: API_KEY=sk-live-0123456789"; exec ${EVERYTHING.map((s) => `'${s}'`).join(' ')}`;
    const gw = await startGateway(['stdio', '--', 'sh', '-c', script]);
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'x' } }))).toBe('Echo: x');
    const warn = await gw.waitForLog((l) => String(l.msg).includes('non-JSON line'));
    expect(warn.level).toBe(40);
    expect(warn.bytes).toBe('banner: API_KEY=sk-live-0123456789'.length);
    // A server may print its configuration there: none of the line reaches the log.
    expect(gw.logs.filter((l) => JSON.stringify(l).includes('sk-live'))).toEqual([]);
    expect(await metricValue(gw, 'mcp_gateway_dropped_messages_total', { reason: 'non_json_stdout' })).toBe(1);
    await client.close();
    expect(await gw.stop()).toBe(0);
  });

  test('a server command that does not exist: the gateway stays up, not ready, retrying with backoff', async () => {
    // spawns: (none: a command that does not exist)
    const gw = await startGateway(['stdio', '--', '/nonexistent/mcp-server'], {
      waitReady: false,
      env: { MCP_GATEWAY_REQUEST_TIMEOUT: '2s' },
    });
    const live = await fetch(`${gw.health}/healthz`);
    expect(live.status).toBe(200);
    const ready = await fetch(`${gw.health}/readyz`);
    expect(ready.status).toBe(503);
    await until(async () => (await metricValue(gw, 'mcp_gateway_child_restarts_total')) >= 2, 10_000, 'retries');
    const err = await gw.waitForLog((l) => l.msg === 'MCP server failed to start');
    expect(String(err.err)).toContain('ENOENT');
    const res = await postInitialize(`${gw.url}/mcp`, '2025-06-18', 'application/json');
    const body = (await res.json()) as { error: { code: number; message: string } };
    expect(body.error.message).toMatch(/restarting|starting/);
    // The failed handshake names no session: there is none to use.
    expect(res.headers.get('mcp-session-id')).toBeNull();

    // Once the backoff is past the 2 s a request may wait for the server, waiting cannot help: said at once.
    let said = '';
    await until(
      async () => {
        const started = Date.now();
        const quick = await postInitialize(`${gw.url}/mcp`, '2025-06-18', 'application/json');
        said = ((await quick.json()) as { error: { message: string } }).error.message;
        return Date.now() - started < 1_000;
      },
      20_000,
      'an answer without the wait',
    );
    expect(said).toMatch(/the MCP server is restarting \(it stopped: .*; next try in \d+ s\)/);
    expect(await gw.stop()).toBe(0);
  });
});

describe('graceful drain', () => {
  test('SIGTERM: not ready at once, no new sessions, in-flight calls on every era complete, exit 0', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING]);
    const s = await client2025(gw.url);
    const l = await clientSse(`${gw.url}/sse`);
    const m = await client2026(gw.url);
    const args = { name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } };
    const progressed: [number, number, number] = [0, 0, 0];
    const calls = [
      s.client.callTool(args, undefined, { onprogress: () => progressed[0]++ }),
      l.client.callTool(args, undefined, { onprogress: () => progressed[1]++ }),
      m.client.callTool(args, { onprogress: () => progressed[2]++ }),
    ];
    await until(() => progressed.every((n) => n > 0), 10_000, 'all three calls running');
    const [child] = childPids(gw.proc.pid as number);
    gw.proc.kill('SIGTERM');
    await gw.waitForLog((x) => x.msg === 'draining');
    const ready = await fetch(`${gw.health}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toBe('draining');
    const refused = await postInitialize(`${gw.url}/mcp`);
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('5');
    const results = await Promise.all(calls);
    for (const r of results) expect(textOf(r)).toContain('Long running operation completed');
    expect(await gw.exited).toBe(0);
    expect(gw.logs.some((x) => x.msg === 'drained')).toBe(true);
    expect(childPids(gw.proc.pid as number)).toEqual([]);
    expect(() => process.kill(child as number, 0)).toThrow();
  });

  test('SIGTERM: new work in every era gets 503 + Retry-After naming the drain; open sessions and a 2026 retry are served', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING]);
    const s = await client2025(gw.url);
    const l = await clientSse(`${gw.url}/sse`);
    // The 2026 client's responses are recorded to read the refusal's status, headers and body.
    const modernResponses: Response[] = [];
    const m = await client2026(gw.url, {
      capabilities: { elicitation: { form: {} } },
      autoFulfill: false,
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        modernResponses.push(res.clone());
        return res;
      },
    });
    // A 2026 call parked on input_required, then a slow call: the drain waits for both (the parked one until
    // the retry below), which holds it open for as long as this test needs. The elicitation goes first: with
    // another session's call in flight the gateway could not tell whose it is (and would refuse it).
    const elicit = { name: 'trigger-elicitation-request', arguments: {} };
    const asked = (await m.client.callTool(elicit, { allowInputRequired: true })) as unknown as InputRequiredResult;
    expect(asked.resultType).toBe('input_required');
    let progressed = 0;
    const slow = s.client.callTool(
      { name: 'trigger-long-running-operation', arguments: { duration: 1.5, steps: 3 } },
      undefined,
      { onprogress: () => progressed++ },
    );
    await until(() => progressed > 0, 10_000, 'the slow call to run');
    gw.proc.kill('SIGTERM');
    await gw.waitForLog((x) => x.msg === 'draining');

    const expectDrainRefusal = async (res: Response) => {
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      const body = (await res.json()) as { error: { code: number; message: string; data: { reason: string } } };
      expect(body.error.code).toBe(-32000);
      expect(body.error.message).toMatch(/shutting down \(draining\)/);
      expect(body.error.data.reason).toBe('draining');
    };
    await expectDrainRefusal(await postInitialize(`${gw.url}/mcp`));
    await expectDrainRefusal(await fetch(`${gw.url}/sse`, { headers: { accept: 'text/event-stream' } }));
    const sessionless = await fetch(`${gw.url}/mcp`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }),
    });
    await expectDrainRefusal(sessionless);
    modernResponses.length = 0;
    await expect(m.client.callTool({ name: 'echo', arguments: { message: 'new' } })).rejects.toThrow();
    expect(modernResponses).toHaveLength(1);
    await expectDrainRefusal(modernResponses[0] as Response);

    // Open sessions keep being served while the drain waits.
    expect(textOf(await s.client.callTool({ name: 'echo', arguments: { message: 's' } }))).toBe('Echo: s');
    expect(textOf(await l.client.callTool({ name: 'echo', arguments: { message: 'l' } }))).toBe('Echo: l');
    expect(textOf(await slow)).toContain('Long running operation completed');
    expect(gw.proc.exitCode).toBeNull();
    // The 2026 retry continues the parked call; with nothing left in flight the drain completes.
    const [key] = Object.keys(asked.inputRequests ?? {});
    const answered = await m.client.callTool({
      ...elicit,
      inputResponses: { [key as string]: { action: 'accept', content: { name: 'Drained' } } },
      requestState: asked.requestState,
    } as typeof elicit);
    expect(textOf(answered)).toContain('Drained');
    expect(await gw.exited).toBe(0);
  });

  test('the drain deadline bounds the wait: a call still running gets an error, the exit is clean', async () => {
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_DRAIN_TIMEOUT: '500ms' } });
    const { client } = await client2025(gw.url);
    let started = false;
    const call = client
      .callTool({ name: 'trigger-long-running-operation', arguments: { duration: 20, steps: 20 } }, undefined, {
        onprogress: () => {
          started = true;
        },
      })
      .then(
        () => 'completed',
        (err: Error) => err.message,
      );
    await until(() => started, 10_000, 'the call to start');
    gw.proc.kill('SIGTERM');
    expect(await gw.exited).toBe(0);
    expect(await call).toContain('the gateway is shutting down (drain deadline reached)');
    const warn = await gw.waitForLog((x) => x.msg === 'drain deadline reached; failing the remaining requests');
    expect(warn.inflight).toBe(1);
  });
});

describe('readiness', () => {
  test('a server that initializes but never answers ping: /readyz is 503 at the 3 s deadline, not hanging', async () => {
    const pings = pingLog();
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER, '--ignore-ping', '--ping-log', pings.path], {
      waitReady: false,
    });
    await gw.waitForLog((l) => l.msg === 'MCP server ready');
    const started = performance.now();
    const res = await fetch(`${gw.health}/readyz`);
    const waited = performance.now() - started;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toBe(
      'the MCP server did not answer: ping timed out after 3000 ms',
    );
    // The probe's own deadline ended it (generous bounds: a behaviour, not a speed).
    expect(waited).toBeGreaterThan(2_500);
    expect(waited).toBeLessThan(10_000);
    expect(pings.count()).toBe(1);
    // The failed verdict is cached like a good one: the next probe answers at once without asking the server.
    const again = await fetch(`${gw.health}/readyz`);
    expect(again.status).toBe(503);
    expect(pings.count()).toBe(1);
    expect(await gw.stop()).toBe(0);
  });

  test('a verdict is reused for ~2 s: probes inside the window never reach the server, concurrent ones share one ping', async () => {
    const pings = pingLog();
    const gw = await startGateway(['stdio', '--', ...RAW_SERVER, '--ping-log', pings.path]);
    const readyz = async () => (await fetch(`${gw.health}/readyz`)).status;
    await sleep(2_200); // the verdict startGateway waited for has expired
    expect(await readyz()).toBe(200);
    const afterFresh = pings.count();
    expect(afterFresh).toBeGreaterThanOrEqual(1);
    for (let i = 0; i < 5; i++) expect(await readyz()).toBe(200);
    expect(pings.count()).toBe(afterFresh);
    await sleep(2_200);
    expect(await Promise.all([1, 2, 3, 4, 5].map(readyz))).toEqual([200, 200, 200, 200, 200]);
    expect(pings.count()).toBe(afterFresh + 1);
    expect(await gw.stop()).toBe(0);
  });
});

describe('child stderr and restarts', () => {
  test('stderr is bounded: 4 KiB per logged line, 100 lines/s, the excess counted in a warning; serving goes on', async () => {
    // Over 4 KiB, and the 4096th byte falls inside the two-byte 'é': the cut goes before it.
    const big = `${'x'.repeat(4095)}é${'y'.repeat(1000)}`;
    const flood = 1000;
    const gw = await startGateway([
      'stdio',
      '--',
      ...RAW_SERVER,
      '--stderr-flood',
      '--big-line',
      big,
      '--flood',
      String(flood),
    ]);
    const logged = () => gw.logs.filter((l) => l.stream === 'stderr');
    const dropWarnings = () => gw.logs.filter((l) => l.msg === 'server stderr lines dropped (rate limit)');
    const dropped = () => dropWarnings().reduce((n, l) => n + (l.dropped as number), 0);
    // Every line is either logged or counted as dropped (the count is reported once a second).
    await until(() => logged().length + dropped() === flood + 1, 10_000, 'every stderr line logged or counted');
    expect(logged()[0]?.msg).toBe(`${'x'.repeat(4095)}…`);
    expect(logged()[1]?.msg).toBe('flood line 1');
    // One burst spans at most two one-second windows of 100 lines.
    expect(logged().length).toBeGreaterThanOrEqual(100);
    expect(logged().length).toBeLessThanOrEqual(200);
    expect(dropWarnings()[0]?.level).toBe(40);
    const { client } = await client2025(gw.url);
    expect(textOf(await client.callTool({ name: 'echo', arguments: { message: 'after the flood' } }))).toBe(
      'Echo: after the flood',
    );
    await client.close();
    expect(await gw.stop()).toBe(0);
  });

  test('a server that exits at once is restarted with growing gaps (exponential backoff from 250 ms)', async () => {
    const gw = await startGateway(['stdio', '--', 'sh', '-c', 'exit 3'], { waitReady: false });
    const stops = () => gw.logs.filter((l) => l.msg === 'MCP server stopped; restarting');
    await until(() => stops().length >= 5, 20_000, 'five exits');
    expect(stops()[0]?.code).toBe(3);
    const times = stops().map((l) => l.time as number);
    const gaps = times.slice(1, 5).map((t, i) => t - (times[i] as number));
    // Each gap is the backoff delay (250, 500, 1000, 2000 ms) plus a spawn of sh: never shorter than the doubling
    // delay (a 20 ms allowance for clock granularity). No upper bound and no gap-to-gap comparison: a slow spawn
    // on a loaded machine lengthens a gap, and that is not the gateway's doing.
    gaps.forEach((gap, i) => {
      expect(gap, `gap ${i + 1} of ${gaps.join(', ')} ms`).toBeGreaterThanOrEqual(250 * 2 ** i - 20);
    });
    expect(await metricValue(gw, 'mcp_gateway_child_restarts_total')).toBeGreaterThanOrEqual(4);
    expect((await fetch(`${gw.health}/readyz`)).status).toBe(503);
    expect(await gw.stop()).toBe(0);
  });
});
