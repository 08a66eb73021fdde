/** `mcp-operator up` refuses what it cannot run before it starts anything: no cluster, no lock, no directory. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'up-cli-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('up: bad flags end before anything starts', () => {
  it.each([
    [['--examples', join(scratch, 'none')], 'it does not exist; pass a directory of McpServer manifests'],
    [['--namespace', 'Bad_NS'], 'a namespace name is lowercase letters, digits and -'],
  ])('%j', (flags, message) => {
    const dir = join(scratch, 'cp');
    const run = spawnSync(process.execPath, [MAIN, 'up', '--local', '--no-node', '--once', '--dir', dir, ...flags], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(run.status).toBe(2);
    expect(run.stderr).toContain(message);
    expect(run.stderr).not.toMatch(/^\s+at /m);
    expect(run.stdout).not.toContain('starting a local control plane');
    expect(existsSync(dir)).toBe(false);
  });
});
