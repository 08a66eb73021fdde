/** The control plane's directory: never delete what it did not create (`up --dir .` once would have erased a checkout). */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  claimDir,
  type DirState,
  decideClaim,
  decideRelease,
  ForeignDirError,
  formatMarker,
  MARKER,
  releaseDir,
} from '../../src/local-cluster/owned-dir.ts';

const ours = (createdDir: boolean, entries: string[]): DirState => ({
  exists: true,
  isDirectory: true,
  entries: [MARKER, ...entries],
  marker: formatMarker({ createdDir }),
});

describe('decideClaim', () => {
  it('creates a missing directory and adopts an empty one', () => {
    expect(decideClaim('/d', { exists: false, isDirectory: false, entries: [] })).toEqual({ action: 'create' });
    expect(decideClaim('/d', { exists: true, isDirectory: true, entries: [] })).toEqual({ action: 'adopt-empty' });
  });

  it("refuses a directory with a user's file, naming the directory, what is in it and the fix", () => {
    const d = decideClaim('/home/me/notes', { exists: true, isDirectory: true, entries: ['thesis.tex'] });
    expect(d.action).toBe('refuse');
    expect(d.action === 'refuse' && d.reason).toBe(
      `/home/me/notes is not empty (thesis.tex) and was not made by mcp-operator (no ${MARKER} file in it); ` +
        'refusing to use it so that nothing in it is deleted: use a new or empty directory',
    );
  });

  it('refuses a checkout (`--dir .`), even one holding names the control plane uses', () => {
    const checkout = ['.git', 'package.json', 'src', 'logs', 'certs', 'README.md'];
    const d = decideClaim('/work/repo', { exists: true, isDirectory: true, entries: checkout });
    expect(d).toMatchObject({ action: 'refuse' });
    expect(d.action === 'refuse' && d.reason).toMatch(
      /^\/work\/repo is not empty \(\.git, package\.json, src, \.\.\.\)/,
    );
  });

  it('refuses a marker that is not ours, and a path that is a file', () => {
    const fake = { exists: true, isDirectory: true, entries: [MARKER, 'etcd'], marker: 'something else' };
    expect(decideClaim('/d', fake)).toMatchObject({ action: 'refuse' });
    expect(decideClaim('/f', { exists: true, isDirectory: false, entries: [] })).toEqual({
      action: 'refuse',
      reason: '/f exists and is not a directory',
    });
  });

  it('reuses its own directory: replaces its entries of the last run, keeps anything else', () => {
    const d = decideClaim('/d', ours(true, ['etcd', 'certs', 'admin.kubeconfig', 'logs', 'my-notes.txt']));
    expect(d).toEqual({
      action: 'reuse',
      marker: { createdDir: true },
      remove: ['etcd', 'certs', 'admin.kubeconfig', 'logs'],
    });
  });
});

describe('decideRelease', () => {
  it('deletes nothing where the marker is missing or not ours', () => {
    const none = { remove: [], removeMarker: false, removeDir: false };
    expect(decideRelease({ exists: true, isDirectory: true, entries: ['etcd', 'src'] })).toEqual(none);
    expect(decideRelease({ exists: true, isDirectory: true, entries: [MARKER, 'etcd'], marker: 'x' })).toEqual(none);
    expect(decideRelease({ exists: false, isDirectory: false, entries: [] })).toEqual(none);
  });

  it('removes its entries and the directory it created; keeps a directory it did not create', () => {
    expect(decideRelease(ours(true, ['etcd', 'logs']))).toEqual({
      remove: ['etcd', 'logs'],
      removeMarker: true,
      removeDir: true,
    });
    expect(decideRelease(ours(false, ['etcd']))).toEqual({ remove: ['etcd'], removeMarker: true, removeDir: false });
  });

  it("keeps a user's file put into its directory, and so the directory", () => {
    expect(decideRelease(ours(true, ['etcd', 'keep-me.txt']))).toEqual({
      remove: ['etcd'],
      removeMarker: true,
      removeDir: false,
    });
  });
});

describe('claimDir and releaseDir on a real directory', () => {
  const base = mkdtempSync(join(tmpdir(), 'owned-dir-'));

  it("refuses a directory with a user's file and leaves the file as it was", () => {
    const dir = join(base, 'user');
    mkdirSync(dir);
    writeFileSync(join(dir, 'important.txt'), 'do not delete');
    expect(() => claimDir(dir)).toThrow(ForeignDirError);
    releaseDir(dir);
    expect(readFileSync(join(dir, 'important.txt'), 'utf8')).toBe('do not delete');
    expect(existsSync(join(dir, MARKER))).toBe(false);
  });

  it('a directory it creates is gone after release; an empty one it adopted stays, empty', () => {
    const created = join(base, 'created');
    claimDir(created);
    mkdirSync(join(created, 'etcd'));
    writeFileSync(join(created, 'admin.kubeconfig'), '{}');
    claimDir(created); // a second run reuses it
    expect(existsSync(join(created, 'etcd'))).toBe(false);
    releaseDir(created);
    expect(existsSync(created)).toBe(false);

    const adopted = join(base, 'adopted');
    mkdirSync(adopted);
    claimDir(adopted);
    writeFileSync(join(adopted, 'tokens.csv'), 'x');
    releaseDir(adopted);
    expect(existsSync(adopted)).toBe(true);
    expect(existsSync(join(adopted, 'tokens.csv'))).toBe(false);
    expect(existsSync(join(adopted, MARKER))).toBe(false);
  });

  it("keeps a user's own kubeconfig and files in a directory it made before, at reuse and at release", () => {
    const dir = join(base, 'reused');
    claimDir(dir);
    for (const own of ['admin.kubeconfig', 'controller.kubeconfig', 'kube-scheduler.kubeconfig']) {
      writeFileSync(join(dir, own), '{}');
    }
    mkdirSync(join(dir, 'users'));
    writeFileSync(join(dir, 'users', 'kubelet.kubeconfig'), '{}');
    writeFileSync(join(dir, 'prod.kubeconfig'), 'the user copied this here');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    claimDir(dir); // a second run
    expect(readdirSync(dir).sort()).toEqual([MARKER, 'notes.txt', 'prod.kubeconfig']);
    releaseDir(dir);
    expect(readdirSync(dir).sort()).toEqual(['notes.txt', 'prod.kubeconfig']);
    expect(readFileSync(join(dir, 'prod.kubeconfig'), 'utf8')).toBe('the user copied this here');
  });

  it('refuses, with the reason and not a crash, a path it cannot create: a dangling symlink, a file on the way', () => {
    const dangling = join(base, 'dangling');
    symlinkSync(join(base, 'nowhere'), dangling);
    expect(() => claimDir(dangling)).toThrow(ForeignDirError);
    expect(() => claimDir(dangling)).toThrow(/cannot create .*dangling: .*use another directory/);
    const file = join(base, 'a-file');
    writeFileSync(file, 'x');
    expect(() => claimDir(join(file, 'sub'))).toThrow(/cannot create .*a-file\/sub: ENOTDIR.*use another directory/);
    expect(readFileSync(file, 'utf8')).toBe('x');
  });
});
