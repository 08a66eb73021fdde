/**
 * package-lock.json agrees with package.json, so `npm ci` installs from it and `npm install` leaves it alone.
 * A lock that once recorded only the `@biomejs/cli-*` platform packages one registry served made `npm ci` refuse
 * it ("Missing: @biomejs/cli-android-arm64@2.6.8 from lock file") and `npm install` rewrite it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

interface Manifest {
  name?: string;
  version?: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

interface Lock {
  name: string;
  version: string;
  lockfileVersion: number;
  packages: Record<string, Manifest & { link?: boolean; resolved?: string }>;
}

/** The lock entry Node would load for `name` required from the package at `from` (walking up node_modules). */
function resolveInLock(lock: Lock, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (!dir) return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/** What `npm ci` would refuse: one line per dependency the lock cannot satisfy. */
function lockProblems(pkg: Manifest, lock: Lock): string[] {
  const problems: string[] = [];
  if (lock.name !== pkg.name || lock.version !== pkg.version)
    problems.push('name or version differs from package.json');
  const root = lock.packages[''] ?? {};
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies'] as const) {
    const want = pkg[field] ?? {};
    const have = root[field] ?? {};
    for (const [name, spec] of Object.entries(want)) {
      if (have[name] !== spec) problems.push(`${field}.${name}: package.json says ${spec}, the lock ${have[name]}`);
    }
    for (const name of Object.keys(have)) {
      if (!(name in want)) problems.push(`${field}.${name}: in the lock, not in package.json`);
    }
  }
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (entry.link) continue;
    const deps = {
      ...entry.dependencies,
      ...entry.optionalDependencies, // every platform's package: npm ci wants them all, installed or not
      ...Object.fromEntries(
        Object.entries(entry.peerDependencies ?? {}).filter(([n]) => !entry.peerDependenciesMeta?.[n]?.optional),
      ),
      ...(path === '' ? entry.devDependencies : {}),
    };
    for (const [name, spec] of Object.entries(deps)) {
      const found = resolveInLock(lock, path, name);
      if (!found) {
        problems.push(`Missing: ${name}@${spec} (needed by ${path || 'the root'}) from lock file`);
        continue;
      }
      const version = lock.packages[found]?.version;
      if (/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(spec) && version !== spec) {
        problems.push(`Invalid: ${found} is ${version}, ${path || 'the root'} wants ${spec}`);
      }
    }
  }
  return problems;
}

describe('package-lock.json', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as Lock;

  it('agrees with package.json: every dependency, every platform package, the same specs', () => {
    expect(lockProblems(pkg, lock)).toEqual([]);
  });

  it('names no registry host (resolved URLs are left out: .npmrc omit-lockfile-registry-resolved)', () => {
    expect(Object.entries(lock.packages).filter(([, e]) => e.resolved?.includes('://'))).toEqual([]);
  });

  it('reports a platform package missing from the lock, and a spec that differs', () => {
    const broken = structuredClone(lock);
    const platform = Object.keys(broken.packages).find((p) => p.startsWith('node_modules/@biomejs/cli-'));
    expect(platform).toBeDefined();
    delete broken.packages[platform as string];
    const changed = { ...pkg, devDependencies: { ...pkg.devDependencies, vitest: '0.0.1' } };
    const problems = lockProblems(changed, broken);
    expect(problems).toContainEqual(
      expect.stringMatching(new RegExp(`^Missing: ${platform?.slice('node_modules/'.length)}@`)),
    );
    expect(problems).toContainEqual(expect.stringMatching(/^devDependencies\.vitest: package\.json says 0\.0\.1/));
  });
});
