/**
 * The self-contained runtime the operator's init container copies into stdio server pods: built with
 * `gateway build-runtime` (the bundled gateway embedded in a Node single executable), copied with
 * `gateway install-runtime --to DIR`, then run as `DIR/mcp-gateway stdio -- CMD` in front of server-everything.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import { client2025, client2026, EVERYTHING, GATEWAY_MAIN, NODE, startGateway, stopAll, textOf } from './helpers.ts';

const run = promisify(execFile);

const dirs: string[] = [];
const tempDir = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};

afterAll(async () => {
  await stopAll();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('gateway runtime', () => {
  test('build-runtime, install-runtime, then the installed binary serves every era', { timeout: 120_000 }, async () => {
    const image = tempDir('gw-image-');
    const pod = tempDir('gw-pod-');
    const built = await run(NODE, [GATEWAY_MAIN, 'build-runtime', '--out', image], { maxBuffer: 16 * 1024 * 1024 });
    expect(built.stdout.trim()).toBe(join(image, 'mcp-gateway'));
    const installed = await run(NODE, [GATEWAY_MAIN, 'install-runtime', '--to', pod], {
      env: { ...process.env, MCP_GATEWAY_RUNTIME_SOURCE: join(image, 'mcp-gateway') },
    });
    const exe = installed.stdout.trim();
    expect(exe).toBe(join(pod, 'mcp-gateway'));
    expect(statSync(exe).mode & 0o111).toBe(0o111);

    const gw = await startGateway(['stdio', '--', ...EVERYTHING], { executable: exe });
    const a = await client2025(gw.url);
    expect(textOf(await a.client.callTool({ name: 'echo', arguments: { message: 'sea' } }))).toBe('Echo: sea');
    const m = await client2026(gw.url);
    expect(textOf(await m.client.callTool({ name: 'echo', arguments: { message: 'modern' } }))).toBe('Echo: modern');
    await Promise.all([a.client.close(), m.client.close()]);
    expect(await gw.stop()).toBe(0);
  });

  test('install-runtime without a prebuilt runtime fails clearly; a missing --to exits 2', async () => {
    const missing = await run(NODE, [GATEWAY_MAIN, 'install-runtime', '--to', tempDir('gw-x-')], {
      env: { ...process.env, MCP_GATEWAY_RUNTIME_SOURCE: '/nonexistent/mcp-gateway' },
    }).catch((e: { code: number; stderr: string }) => e);
    expect(missing).toMatchObject({ code: 1 });
    expect((missing as { stderr: string }).stderr).toContain('no prebuilt gateway runtime at /nonexistent/mcp-gateway');
    const usage = await run(NODE, [GATEWAY_MAIN, 'install-runtime']).catch((e: { code: number; stderr: string }) => e);
    expect(usage).toMatchObject({ code: 2 });
    expect((usage as { stderr: string }).stderr).toContain('--to');
  });
});
