/** The node cluster's directory: `up --node-dir DIR` (and its teardown) must never empty a directory of someone else's. */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkNodeDir, foreignNodeDir } from '../../src/local-cluster/node-layout.ts';

describe('foreignNodeDir', () => {
  it('accepts a missing, empty or earlier node directory', () => {
    expect(foreignNodeDir('/d', [])).toBeUndefined();
    expect(foreignNodeDir('/d', ['logs', 'control-plane', 'containerd'])).toBeUndefined();
    expect(foreignNodeDir('/d', ['state.json', 'pki', 'kubelet', 'tmp'])).toBeUndefined();
    expect(checkNodeDir(join(tmpdir(), 'mcp-operator-no-such-node-dir'))).toBeUndefined();
  });

  it('refuses a home or a checkout, even one holding names the node uses, naming what is in it and the fix', () => {
    expect(foreignNodeDir('/home/me', ['thesis.tex', 'logs'])).toBe(
      "/home/me is not empty (thesis.tex) and is not a node cluster's directory; refusing to use it so that " +
        'nothing in it is deleted: pass a new or empty directory to --node-dir (MCP_E2E_DIR)',
    );
    expect(foreignNodeDir('/srv/x', ['logs', 'tmp'])).toMatch(/not a node cluster's directory/);
    expect(foreignNodeDir('/f', undefined)).toBe('/f exists and is not a directory');
  });
});

describe('checkNodeDir', () => {
  // down() itself is not called here: on a regression it would sweep this host's pod cgroups and rules
  it("refuses a real directory holding a user's files, and leaves it as it was", () => {
    const dir = mkdtempSync(join(tmpdir(), 'users-project-'));
    writeFileSync(join(dir, 'thesis.tex'), 'years of work');
    mkdirSync(join(dir, 'logs'));
    expect(checkNodeDir(dir)).toMatch(/is not empty \(thesis\.tex\)/);
    expect(readdirSync(dir).sort()).toEqual(['logs', 'thesis.tex']);
    const file = join(dir, 'thesis.tex');
    expect(checkNodeDir(file)).toBe(`${file} exists and is not a directory`);
  });
});
