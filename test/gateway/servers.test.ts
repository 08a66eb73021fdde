/**
 * More third-party servers from npm behind the gateway (server-memory, server-filesystem), driven by clients
 * of each era, and the gateway's /metrics checked by promtool (Debian's prometheus package).
 */
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, test } from 'vitest';
import {
  client2025,
  client2026,
  clientSse,
  filesystem,
  INSPECTOR,
  MEMORY,
  NODE,
  startGateway,
  stopAll,
  textOf,
} from './helpers.ts';

const execFileAsync = promisify(execFile);

afterAll(async () => {
  await stopAll();
});

function findTool(name: string): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/bin', '/usr/local/bin']) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  throw new Error(`${name} is not installed (run .ci/install-deps.sh)`);
}

describe('server-memory', () => {
  test('a knowledge graph written over one era is read over the others (one shared process)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-memory-'));
    const gw = await startGateway(['stdio', '--', ...MEMORY], {
      env: { MEMORY_FILE_PATH: join(dir, 'memory.jsonl') },
    });
    const writer = await client2025(gw.url);
    await writer.client.callTool({
      name: 'create_entities',
      arguments: { entities: [{ name: 'gateway', entityType: 'component', observations: ['serves every era'] }] },
    });
    const modern = await client2026(gw.url);
    expect(textOf(await modern.client.callTool({ name: 'read_graph', arguments: {} }))).toContain('serves every era');
    const legacy = await clientSse(`${gw.url}/sse`);
    const found = textOf(await legacy.client.callTool({ name: 'search_nodes', arguments: { query: 'gateway' } }));
    expect(found).toContain('component');
    await Promise.all([writer.client.close(), modern.client.close(), legacy.client.close()]);
    expect(await gw.stop()).toBe(0);
  });
});

describe('server-filesystem', () => {
  test('files through the gateway with the SDK clients and the Inspector CLI; /metrics passes promtool', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-fs-'));
    writeFileSync(join(dir, 'hello.txt'), 'hello from disk');
    const gw = await startGateway([
      'stdio',
      '--tools-deny',
      'write_file,edit_file,move_file',
      '--',
      ...filesystem(dir),
    ]);
    const { client } = await client2025(gw.url);
    const tools = (await client.listTools()).tools.map((t) => t.name);
    expect(tools).toContain('read_text_file');
    expect(tools).not.toContain('write_file');
    const text = textOf(await client.callTool({ name: 'read_text_file', arguments: { path: join(dir, 'hello.txt') } }));
    expect(text).toContain('hello from disk');
    await expect(
      client.callTool({ name: 'write_file', arguments: { path: join(dir, 'x'), content: 'no' } }),
    ).rejects.toThrow(/not available/);
    const modern = await client2026(gw.url);
    expect(textOf(await modern.client.callTool({ name: 'list_directory', arguments: { path: dir } }))).toContain(
      'hello.txt',
    );
    const inspector = await execFileAsync(
      NODE,
      [
        INSPECTOR,
        '--cli',
        `${gw.url}/mcp`,
        '--transport',
        'http',
        '--method',
        'tools/call',
        '--tool-name',
        'get_file_info',
        '--tool-arg',
        `path=${join(dir, 'hello.txt')}`,
      ],
      { timeout: 60_000, env: { ...process.env, HOME: tmpdir() } },
    );
    expect(inspector.stdout).toContain('size');

    const metrics = await (await fetch(`${gw.health}/metrics`)).text();
    expect(metrics).toContain('mcp_gateway_tool_calls_total{tool="read_text_file",outcome="ok"} 1');
    expect(metrics).toContain('mcp_gateway_tool_calls_total{tool="write_file",outcome="denied"} 1');
    // spawns: promtool
    const promtool = spawn(findTool('promtool'), ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    promtool.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    promtool.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    promtool.stdin.end(metrics);
    const code = await new Promise<number | null>((r) => promtool.once('exit', r));
    expect(out).toBe('');
    expect(code).toBe(0);
    await Promise.all([client.close(), modern.client.close()]);
    expect(await gw.stop()).toBe(0);
  });
});
