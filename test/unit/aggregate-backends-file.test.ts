/**
 * The backends file: each problem names its field; the watcher applies a new valid file, keeps the last good
 * list on an invalid or missing one, and follows a ConfigMap-style symlink swap.
 */
import { mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test, vi } from 'vitest';
import type { AggregateBackendsFile } from '../../src/contract/aggregate.ts';
import { BackendsWatcher, parseBackendsFile } from '../../src/gateway/aggregate/backends-file.ts';
import { createLogger } from '../../src/observability/log.ts';

const ok = { name: 'memory', url: 'http://memory.team.svc:8080/mcp', transport: 'streamable-http' };
const file = (backends: unknown[]) => JSON.stringify({ version: 1, backends });

describe('parseBackendsFile', () => {
  test.each([
    { text: file([ok]), problem: undefined },
    { text: 'nope', problem: /^not JSON/ },
    { text: JSON.stringify({ version: 2, backends: [] }), problem: /^version: expected 1, got 2/ },
    { text: JSON.stringify({ version: 1 }), problem: /^backends: expected a list/ },
    { text: file([{ ...ok, name: '' }]), problem: /^backends\[0\]\.name/ },
    { text: file([{ ...ok, url: 'ftp://x' }]), problem: /^backends\[0\]\.url: expected http\(s\)/ },
    { text: file([{ ...ok, transport: 'stdio' }]), problem: /^backends\[0\]\.transport/ },
    { text: file([ok, { ...ok, prefix: 3 }]), problem: /^backends\[1\]\.prefix/ },
    { text: file([{ ...ok, tools: { deny: 'x' } }]), problem: /^backends\[0\]\.tools\.deny/ },
    { text: file([{ ...ok, tools: { rename: { a: 1 } } }]), problem: /^backends\[0\]\.tools\.rename/ },
    { text: file([ok, ok]), problem: /^backends\[1\]\.name: memory is listed twice/ },
    { text: file([{ ...ok, tokenFile: '' }]), problem: /^backends\[0\]\.tokenFile/ },
    // A misspelt field is refused, never ignored: tools.alow ignored would expose every tool.
    { text: file([{ ...ok, tools: { alow: ['echo'] } }]), problem: /^backends\[0\]\.tools\.alow: unknown field/ },
    { text: file([ok, { ...ok, name: 'b', prefx: 'gh' }]), problem: /^backends\[1\]\.prefx: unknown field/ },
    { text: JSON.stringify({ version: 1, backends: [], extra: 1 }), problem: /^extra: unknown field/ },
  ])('$text -> $problem', ({ text, problem }) => {
    const parsed = parseBackendsFile(text);
    if (problem === undefined) expect(parsed.ok).toBe(true);
    else expect(parsed.ok ? '' : parsed.problem).toMatch(problem);
  });
});

describe('BackendsWatcher', () => {
  let dir: string | undefined;
  let watcher: BackendsWatcher | undefined;
  afterEach(async () => {
    watcher?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('applies new files, keeps the last good one, follows a symlink swap', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backends-'));
    // The kubelet's layout: backends.json -> ..data/backends.json, ..data -> ..<timestamp>.
    const version = async (name: string, text: string) => {
      await writeFile(join(dir as string, name), text);
    };
    await version('v1.json', file([ok]));
    await symlink('v1.json', join(dir, 'current.json'));
    const seen: AggregateBackendsFile[] = [];
    watcher = new BackendsWatcher({
      path: join(dir, 'current.json'),
      log: createLogger({ name: 'test', level: 'silent' }),
      onChange: (f) => seen.push(f),
      intervalMs: 50,
    });
    await watcher.start();
    expect(watcher.isLoaded).toBe(true);
    expect(seen.map((f) => f.backends.map((b) => b.name))).toEqual([['memory']]);

    await version('v2.json', '{"version": 1, "backends": [{"name": "broken"}]}');
    await symlink('v2.json', join(dir, 'next.json'));
    await rename(join(dir, 'next.json'), join(dir, 'current.json'));
    await new Promise((r) => setTimeout(r, 200));
    expect(seen).toHaveLength(1);

    await version('v3.json', file([ok, { ...ok, name: 'github', prefix: 'gh' }]));
    await symlink('v3.json', join(dir, 'next.json'));
    await rename(join(dir, 'next.json'), join(dir, 'current.json'));
    await vi.waitFor(() => expect(seen).toHaveLength(2));
    expect(seen[1]?.backends.map((b) => b.name)).toEqual(['memory', 'github']);
  });

  test('a file missing at start: not loaded, with the reason, until it appears', async () => {
    dir = await mkdtemp(join(tmpdir(), 'backends-'));
    const seen: AggregateBackendsFile[] = [];
    watcher = new BackendsWatcher({
      path: join(dir, 'backends.json'),
      log: createLogger({ name: 'test', level: 'silent' }),
      onChange: (f) => seen.push(f),
      intervalMs: 50,
    });
    await watcher.start();
    expect(watcher.isLoaded).toBe(false);
    expect(watcher.problem).toMatch(
      /cannot read the backends file .*backends\.json \(MCP_GATEWAY_BACKENDS_FILE\): ENOENT/,
    );
    await writeFile(join(dir, 'backends.json'), file([ok]));
    await vi.waitFor(() => expect(seen).toHaveLength(1));
    expect(watcher.isLoaded).toBe(true);
  });
});
