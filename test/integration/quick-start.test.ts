/** The README's main job: `mcp-operator up` with no cluster starts a real control plane and shows the examples. */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatMarker, MARKER } from '../../src/local-cluster/owned-dir.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');

async function up(args: string[], options: { cwd?: string } = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [MAIN, 'up', '--local', '--once', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd: options.cwd,
  });
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  const code = await new Promise<number | null>((ok) => child.once('exit', ok));
  return { code, out };
}

describe('mcp-operator up (npm start) without a cluster', () => {
  it('starts a local control plane, reconciles examples/ and stops cleanly, removing the directory it made', async () => {
    const dir = join(tmpdir(), `mcp-operator-up-${process.pid}`);
    const { code, out } = await up([`--dir=${dir}`]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/applied 5 McpServers/);
    for (const name of ['github', 'filesystem', 'postgres', 'everything-http', 'everything']) {
      expect(out).toMatch(
        new RegExp(`^${name}\\s+\\S+\\s+False\\s+DeploymentUnavailable\\s+http://${name}\\.demo\\.svc:8080/mcp$`, 'm'),
      );
    }
    expect(out).toMatch(/networkpolicies\s+postgres/);
    expect(out).toMatch(/poddisruptionbudgets\s+everything-http/);
    expect(existsSync(dir), `${dir} is left behind`).toBe(false);
  });

  it("refuses a --dir holding a user's file, names the directory and the fix, and keeps the file", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'up-user-dir-'));
    writeFileSync(join(dir, 'thesis.tex'), 'three years of work');
    const { code, out } = await up([`--dir=${dir}`]);
    expect(code, out).toBe(2);
    expect(out).toContain(
      `up: --dir ${dir}: ${dir} is not empty (thesis.tex) and was not made by mcp-operator (no ${MARKER} file in it); ` +
        'refusing to use it so that nothing in it is deleted: use a new or empty directory',
    );
    expect(readdirSync(dir)).toEqual(['thesis.tex']);
    expect(readFileSync(join(dir, 'thesis.tex'), 'utf8')).toBe('three years of work');
  });

  it('refuses `--dir .` in a checkout, which stays as it was', async () => {
    const checkout = mkdtempSync(join(tmpdir(), 'up-checkout-'));
    mkdirSync(join(checkout, 'src'));
    writeFileSync(join(checkout, 'package.json'), '{}');
    writeFileSync(join(checkout, 'src', 'index.ts'), 'export {};');
    const { code, out } = await up(['--dir', '.'], { cwd: checkout });
    expect(code, out).toBe(2);
    expect(out).toMatch(new RegExp(`^up: --dir ${checkout}: ${checkout} is not empty`, 'm'));
    expect(readdirSync(checkout).sort()).toEqual(['package.json', 'src']);
    expect(readFileSync(join(checkout, 'src', 'index.ts'), 'utf8')).toBe('export {};');
  });

  it('reuses its own directory from a run that did not stop, and at stop deletes only its own entries', async () => {
    // what a killed `up` leaves: the marker, stale control-plane data, and a file the user put there since
    const dir = mkdtempSync(join(tmpdir(), 'up-leftover-'));
    writeFileSync(join(dir, MARKER), formatMarker({ createdDir: true }));
    mkdirSync(join(dir, 'etcd', 'member'), { recursive: true });
    writeFileSync(join(dir, 'etcd', 'member', 'stale'), 'x');
    writeFileSync(join(dir, 'admin.kubeconfig'), 'stale');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const { code, out } = await up([`--dir=${dir}`]);
    expect(code, out).toBe(0);
    expect(out).toMatch(/applied 5 McpServers/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });
});
