/**
 * Every external command that the scripts, the harness and the tests run has an install step: a row of
 * scripts/system-commands.txt whose provider really provides it (a Debian package that an install script
 * installs, a component scripts/k8s-binaries.sh builds, a bin of a package.json dependency, or a base-system or
 * prerequisite command with its reason). A CI run on a fresh machine once failed with `spawn nft ENOENT` because
 * nothing installed nftables; this test fails first.
 */
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Found, scanGatewayChildren, scanTypeScript } from '../support/spawned-commands.ts';
import { scanShell } from '../support/spawned-shell.ts';

const ROOT = join(import.meta.dirname, '../..');
const TABLE = 'scripts/system-commands.txt';

interface Row {
  command: string;
  /** ci, e2e, base, prereq, k8s, npm, built */
  scopes: string[];
  /** the Debian package, for ci/e2e/base */
  pkg?: string;
  reason: string;
}

function readTable(text: string): Row[] {
  return text
    .split('\n')
    .filter((l) => l.trim() && !l.startsWith('#'))
    .map((l) => {
      const [command = '', provider = '', ...reason] = l.trim().split(/\s+/);
      const [scopes = '', pkg] = provider.split(':');
      return { command, scopes: scopes.split('+'), pkg, reason: reason.join(' ') };
    });
}

function files(dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === 'node_modules' || name.startsWith('.scratch')) continue;
    if (statSync(path).isDirectory()) out.push(...files(path, keep));
    else if (keep(path)) out.push(path);
  }
  return out;
}

/** Everything the project runs: TypeScript, shell scripts (by extension or shebang), package.json scripts. */
function spawnedByProject(): { commands: Found[]; unresolved: Found[] } {
  const dirs = ['src', 'test', 'scripts', 'bench', '.ci'].map((d) => join(ROOT, d));
  const ts = dirs.flatMap((d) => files(d, (p) => p.endsWith('.ts')));
  const shell = dirs.flatMap((d) =>
    files(d, (p) => p.endsWith('.sh') || (!p.includes('.', p.lastIndexOf('/')) && isShellScript(p))),
  );
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  const scans = [
    scanTypeScript(ts),
    scanGatewayChildren(ts),
    ...shell.map((f) => scanShell(readFileSync(f, 'utf8'), f)),
    ...Object.entries(pkg.scripts).map(([name, script]) => scanShell(script, `package.json scripts.${name}`)),
  ];
  const rel = (f: Found) => ({ ...f, where: f.where.startsWith('/') ? relative(ROOT, f.where) : f.where });
  return {
    commands: scans.flatMap((s) => s.commands.map(rel)),
    unresolved: scans.flatMap((s) => s.unresolved.map(rel)),
  };
}

function isShellScript(path: string): boolean {
  return /^#!.*\b(ba)?sh\b/.test(readFileSync(path, 'utf8').slice(0, 100));
}

/** Commands with no row in the table: one message each, naming where it is run and what to do. */
function uncovered(commands: Found[], rows: Row[]): string[] {
  const known = new Set(rows.map((r) => r.command));
  const missing = new Map<string, string[]>();
  for (const c of commands) {
    if (c.command === '*' || known.has(c.command)) continue;
    missing.set(c.command, [...(missing.get(c.command) ?? []), c.where]);
  }
  return [...missing].map(
    ([command, where]) =>
      `${command} (run at ${where.join(', ')}) has no install step: add a row to ${TABLE} (the Debian package ` +
      'that provides it, installed by .ci/install-deps.sh or test/e2e/install-deps.sh, or another provider)',
  );
}

/** The scopes an install script installs (`require-commands.sh --install base e2e`). */
function installedScopes(script: string): string[] {
  const m = /require-commands\.sh --install ([\w ]+)/.exec(readFileSync(join(ROOT, script), 'utf8'));
  return (m?.[1] ?? '').trim().split(/\s+/);
}

/** Why a row's provider does not provide its command, or undefined when it does. */
function providerProblem(row: Row): string | undefined {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { bin?: Record<string, string> }>;
  };
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, Record<string, string>>;
  const direct = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
  const bins = new Set(direct.flatMap((name) => Object.keys(lock.packages[`node_modules/${name}`]?.bin ?? {})));
  const k8s = [...readFileSync(join(ROOT, 'scripts/k8s-binaries.sh'), 'utf8').matchAll(/^\s*([\w|-]+)\)\s*build_/gm)]
    .flatMap((m) => (m[1] ?? '').split('|'))
    .filter(Boolean);
  const quickStart = /## Quick start\n([\s\S]*?)\n## /.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))?.[1] ?? '';
  if (!row.reason) return 'no reason given';
  for (const scope of row.scopes) {
    switch (scope) {
      case 'ci':
      case 'e2e': {
        const script = scope === 'ci' ? '.ci/install-deps.sh' : 'test/e2e/install-deps.sh';
        if (!row.pkg) return `${scope}: needs a Debian package (${scope}:PACKAGE)`;
        if (!installedScopes(script).includes(scope)) return `${script} does not install the ${scope} rows`;
        break;
      }
      case 'base':
        if (!row.pkg) return 'base: needs the Debian package (base:PACKAGE)';
        for (const script of ['.ci/install-deps.sh', 'test/e2e/install-deps.sh']) {
          if (!installedScopes(script).includes('base')) return `${script} does not check the base rows`;
        }
        break;
      case 'prereq':
        if (!new RegExp(`\\b${row.command}\\b`, 'i').test(quickStart))
          return `a prerequisite that the README's quick start does not name`;
        break;
      case 'k8s':
        if (!k8s.includes(row.command)) return 'not a component that scripts/k8s-binaries.sh builds';
        break;
      case 'npm':
        if (!bins.has(row.command)) return 'no dependency in package.json has this bin (package-lock.json)';
        break;
      case 'built':
        break;
      default:
        return `unknown provider ${scope}`;
    }
  }
  return undefined;
}

describe(`external commands and ${TABLE}`, () => {
  const rows = readTable(readFileSync(join(ROOT, TABLE), 'utf8'));
  const found = spawnedByProject();

  it('every command the project runs has a row', () => {
    expect(uncovered(found.commands, rows)).toEqual([]);
  });

  it('every spawned command can be told: a literal, or a `spawns:` comment', () => {
    expect(
      found.unresolved.map(
        (u) => `${u.where}: cannot tell which command \`${u.command}\` is: add a "spawns: NAME" comment above it`,
      ),
    ).toEqual([]);
  });

  it("every row's provider provides the command", () => {
    const problems = rows.flatMap((r) => {
      const problem = providerProblem(r);
      return problem ? [`${r.command}: ${problem}`] : [];
    });
    expect(problems).toEqual([]);
  });

  it('no row is stale, and none is listed twice', () => {
    const run = new Set(found.commands.map((c) => c.command));
    const stale = rows.filter((r) => !run.has(r.command) && !r.reason.startsWith('run by')).map((r) => r.command);
    expect(stale, 'rows for commands nothing runs (remove them, or say "run by X")').toEqual([]);
    const names = rows.map((r) => r.command);
    expect(names.filter((n, i) => names.indexOf(n) !== i)).toEqual([]);
  });

  it('the nft of the e2e teardown is installed by test/e2e/install-deps.sh (the fresh-machine failure)', () => {
    expect(
      found.commands.some((c) => c.command === 'nft' && c.where.startsWith('src/local-cluster/node-teardown.ts')),
    ).toBe(true);
    const nft = rows.find((r) => r.command === 'nft');
    expect(nft?.scopes).toContain('e2e');
    expect(nft?.pkg).toBe('nftables');
  });
});

describe('the scanners find a new command in every form', () => {
  const dir = mkdtempSync(join(tmpdir(), 'spawned-commands-'));
  const rows = readTable(readFileSync(join(ROOT, TABLE), 'utf8'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it("spawn('newtool'), execFileSync, a promisified execFile, a wrapper's caller: each one is reported", () => {
    const sh = write(
      'sh.ts',
      "import { spawn } from 'node:child_process';\nexport function run(command: string, args: string[]) {\n" +
        '  return spawn(command, args);\n}\n',
    );
    const user = write(
      'user.ts',
      "import { execFile, execFileSync, spawn } from 'node:child_process';\nimport { promisify } from 'node:util';\n" +
        "import { run } from './sh.ts';\nconst exec = promisify(execFile);\nconst TOOL = 'tool-three';\n" +
        "spawn('newtool', ['--flag']);\nexecFileSync('/usr/bin/tool-two', []);\nawait exec(TOOL, []);\n" +
        "await run('tool-four', []);\nspawn(somethingElse, []);\n// spawns: tool-five\nspawn(computed(), []);\n",
    );
    const scan = scanTypeScript([sh, user]);
    expect(scan.commands.map((c) => c.command).sort()).toEqual([
      'newtool',
      'tool-five',
      'tool-four',
      'tool-three',
      'tool-two',
    ]);
    expect(scan.unresolved.map((u) => u.command)).toEqual(['somethingElse']);
    const problems = uncovered(scan.commands, rows);
    expect(problems).toHaveLength(5);
    expect(problems[0]).toMatch(/^newtool \(run at .*user\.ts:6\) has no install step: add a row to scripts\//);
  });

  it('a gateway told to run a new server command in a test', () => {
    const file = write(
      'gw.test.ts',
      "const SERVER = ['newserver', 'x'];\nawait startGateway(['stdio', '--', 'sh', '-c', 'x']);\n" +
        "await startGateway(['stdio', '--port', '1', '--', ...SERVER]);\n",
    );
    expect(scanGatewayChildren([file]).commands.map((c) => c.command)).toEqual(['sh', 'newserver']);
  });

  it('shell: commands, pipelines, substitutions, xargs; not heredocs, comments, case patterns, functions', () => {
    const script = [
      '#!/bin/sh',
      'set -eu # a comment naming notacommand',
      'helper() { newtool-a --x; }',
      'helper',
      'out="$(newtool-b | newtool-c)"',
      'case "$out" in',
      '  pattern-one|pattern-two) newtool-d ;;',
      '  *) : ;;',
      'esac',
      "cat >file <<'EOF'",
      'heredoc-line not a command',
      'EOF',
      'find . -type f | xargs -0 newtool-e',
      'FOO=1 newtool-f >/dev/null 2>&1 && [ -x "$bin" ] || exec newtool-g',
      '"$dynamic" --version',
      '# spawns: newtool-h',
      '"$annotated" --version',
    ].join('\n');
    const scan = scanShell(script, 'x.sh');
    expect(scan.commands.map((c) => c.command)).toEqual([
      'newtool-a',
      'newtool-b',
      'newtool-c',
      'newtool-d',
      'cat',
      'find',
      'xargs',
      'newtool-e',
      'newtool-f',
      'newtool-g',
      'newtool-h',
    ]);
    expect(scan.unresolved.map((u) => u.command)).toEqual(['"$dynamic"'.replace(/"/g, '')]);
  });
});
