/**
 * Per-session mode with real servers: one process per session (isolation proven by each session's own MCP
 * roots reaching only its own process), exact routing of server requests, the session maximum, the idle
 * timeout, and 2026-07-28 stateless clients next to it.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CreateMessageRequestSchema, ListRootsRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, describe, expect, test } from 'vitest';
import {
  childPids,
  client2025,
  client2026,
  EVERYTHING,
  filesystem,
  metricValue,
  startGateway,
  stopAll,
  textOf,
  until,
} from './helpers.ts';

afterAll(async () => {
  await stopAll();
});

describe('perSession mode', () => {
  test('each session has its own process: roots of one client never reach another', async () => {
    const base = mkdtempSync(join(tmpdir(), 'gw-roots-'));
    const dirs = ['alpha', 'beta', 'served'].map((d) => {
      const p = join(base, d);
      mkdirSync(p);
      writeFileSync(join(p, `${d}.txt`), d);
      return p;
    });
    const [alpha, beta, served] = dirs as [string, string, string];
    const gw = await startGateway(['stdio', '--session-mode', 'perSession', '--', ...filesystem(served)]);
    const withRoots = async (dir: string) => {
      const c = await client2025(gw.url, { capabilities: { roots: { listChanged: true } } });
      c.client.setRequestHandler(ListRootsRequestSchema, async () => ({
        roots: [{ uri: pathToFileURL(dir).href, name: dir }],
      }));
      return c;
    };
    const a = await withRoots(alpha);
    const b = await withRoots(beta);
    const allowed = async (c: Awaited<ReturnType<typeof withRoots>>, dir: string) => {
      let text = '';
      await until(
        async () => {
          text = textOf(await c.client.callTool({ name: 'list_allowed_directories', arguments: {} }));
          return text.includes(dir);
        },
        15_000,
        `roots of ${dir}`,
      );
      return text;
    };
    const ta = await allowed(a, alpha);
    const tb = await allowed(b, beta);
    expect(ta).not.toContain(beta);
    expect(tb).not.toContain(alpha);
    expect(ta).not.toContain(served);
    const listing = textOf(await a.client.callTool({ name: 'list_directory', arguments: { path: alpha } }));
    expect(listing).toContain('alpha.txt');
    // The shared process (stateless traffic and readiness), one per session, and a warm spare.
    await until(() => childPids(gw.proc.pid as number).length === 4, 10_000, 'four server processes');
    await Promise.all([a.client.close(), b.client.close()]);
    expect(await gw.stop()).toBe(0);
  });

  test('server requests go to the exact session even when several are busy', async () => {
    const gw = await startGateway(['stdio', '--session-mode', 'perSession', '--', ...EVERYTHING]);
    const clients = await Promise.all(
      ['one', 'two'].map(async (who) => {
        const c = await client2025(gw.url, { capabilities: { sampling: {} } });
        c.client.setRequestHandler(CreateMessageRequestSchema, async () => ({
          model: who,
          role: 'assistant',
          content: { type: 'text', text: `answer from ${who}` },
        }));
        return { who, ...c };
      }),
    );
    const results = await Promise.all(
      clients.map((c) =>
        c.client.callTool({ name: 'trigger-sampling-request', arguments: { prompt: c.who, maxTokens: 5 } }),
      ),
    );
    expect(textOf(results[0])).toContain('answer from one');
    expect(textOf(results[1])).toContain('answer from two');
    await Promise.all(clients.map((c) => c.client.close()));
    expect(await gw.stop()).toBe(0);
  });

  test('the session maximum answers 503; the idle timeout ends a session and its process', async () => {
    const gw = await startGateway(['stdio', '--session-mode', 'perSession', '--', ...EVERYTHING], {
      env: { MCP_GATEWAY_MAX_SESSIONS: '2', MCP_GATEWAY_IDLE_TIMEOUT: '2s' },
    });
    const a = await client2025(gw.url);
    const b = await client2025(gw.url);
    await expect(client2025(gw.url)).rejects.toThrow(/session limit \(2\)/);
    expect(await metricValue(gw, 'mcp_gateway_active_sessions', { transport: 'streamable_http' })).toBe(2);
    // The shared process and one per session (no spare at the limit).
    expect(childPids(gw.proc.pid as number)).toHaveLength(3);
    // A 2026-07-28 client needs no session: it is served by the shared process even at the limit.
    const m = await client2026(gw.url);
    expect(textOf(await m.client.callTool({ name: 'echo', arguments: { message: 'modern' } }))).toBe('Echo: modern');
    // Both sessions go idle (an open GET stream is not activity) and expire with their processes.
    await until(
      async () => (await metricValue(gw, 'mcp_gateway_active_sessions', { transport: 'streamable_http' })) === 0,
      15_000,
      'the idle sessions to expire',
    );
    for (const sid of [a.transport.sessionId, b.transport.sessionId]) {
      const res = await fetch(`${gw.url}/mcp`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json', 'mcp-session-id': sid as string },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
      });
      expect(res.status).toBe(404);
    }
    // Their processes stopped: the shared one and a fresh spare remain.
    await until(() => childPids(gw.proc.pid as number).length === 2, 10_000, 'the session processes to stop');
    // A new session fits again.
    const c = await client2025(gw.url);
    expect(textOf(await c.client.callTool({ name: 'echo', arguments: { message: 'again' } }))).toBe('Echo: again');
    await Promise.all([a.client.close(), b.client.close(), c.client.close(), m.client.close()]);
    expect(await gw.stop()).toBe(0);
  });
});
