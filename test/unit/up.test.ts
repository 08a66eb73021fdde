/** The pure parts of `mcp-operator up`: which examples run on the local node, and the lines it prints. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { nodeBlocker } from '../../src/cli/up.ts';
import { assignPorts, buildCommands, credentialRefs, imageSource, planExamples } from '../../src/cli/up-examples.ts';
import { readManifests } from '../../src/cli/up-manifests.ts';
import {
  credentialLines,
  loopbackUrl,
  readyServerLines,
  shellWord,
  skippedLines,
  stepLine,
} from '../../src/cli/up-output.ts';
import { acquireLock } from '../../src/local-cluster/up-lock.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const server = (name: string, spec: Partial<McpServer['spec']>): McpServer =>
  ({
    apiVersion: 'mcpoperator.io/v1alpha1',
    kind: 'McpServer',
    metadata: { name },
    spec: { image: 'x', transport: 'stdio', ...spec },
  }) as McpServer;

describe('up: where an example image comes from', () => {
  it('present in buildah storage, also under the localhost/ name buildah gives a short name', () => {
    expect(imageSource('localhost/python-fastmcp:1.30.0', new Set(['localhost/python-fastmcp:1.30.0']))).toEqual({
      kind: 'present',
    });
    expect(imageSource('mine:1', new Set(['localhost/mine:1']))).toEqual({ kind: 'present' });
  });

  it('built by a script of this repository', () => {
    expect(imageSource('localhost/python-uvx-time:2026.10.19', new Set())).toEqual({
      kind: 'build',
      command: ['bash', 'scripts/example-images.sh', 'uvx'],
    });
  });

  it('anything else is not local, with the command that would make it local', () => {
    expect(imageSource('ghcr.io/github/github-mcp-server:v0.20.0', new Set(['localhost/node:24']))).toEqual({
      kind: 'not-local',
      command: ['buildah', 'pull', 'ghcr.io/github/github-mcp-server:v0.20.0'],
    });
  });

  it('the examples: the two Python ones run, the others are listed, GitHub and Postgres need credentials', () => {
    const servers = readManifests(join(ROOT, 'examples')).filter((m) => m.kind === 'McpServer') as McpServer[];
    const plans = planExamples(servers, new Set());
    const byName = Object.fromEntries(plans.map((p) => [p.name, p]));
    expect(byName['python-fastmcp']?.source.kind).toBe('build');
    expect(byName['python-time']?.source.kind).toBe('build');
    expect(byName.github?.source.kind).toBe('not-local');
    expect(byName.github?.credentials).toEqual(['github-token/token']);
    expect(byName.postgres?.credentials).toEqual(['analytics-db/dsn']);
    // a bearer token is the clients' own: a placeholder works, it is no external credential
    expect(byName.everything?.credentials).toEqual([]);
    expect(buildCommands(plans)).toEqual([
      ['bash', 'scripts/example-images.sh', 'fastmcp'],
      ['bash', 'scripts/example-images.sh', 'uvx'],
    ]);
  });

  it('each example keeps its port from run to run, whatever order they become Ready in', () => {
    expect([...assignPorts(new Set(['python-time', 'python-fastmcp']), 8800)]).toEqual([
      ['python-fastmcp', 8800],
      ['python-time', 8801],
    ]);
  });

  it('envFrom secretRef counts as a credential', () => {
    expect(credentialRefs(server('a', { envFrom: [{ secretRef: { name: 'api' } }] }))).toEqual(['api/*']);
  });
});

describe('up: what it prints', () => {
  it('a loopback URL ending in /mcp, and refuses a port that is none', () => {
    expect(loopbackUrl(8800)).toBe('http://127.0.0.1:8800/mcp');
    expect(loopbackUrl(8801, 'mcp')).toBe('http://127.0.0.1:8801/mcp');
    expect(() => loopbackUrl(0)).toThrow(/not a TCP port/);
    expect(() => loopbackUrl(70000)).toThrow(/not a TCP port/);
  });

  it('the URL alone on its line, then claude mcp add and the Inspector CLI', () => {
    const url = 'http://127.0.0.1:8800/mcp';
    const lines = readyServerLines({ name: 'python-fastmcp', url, tools: ['add', 'count'] }, [
      'npx',
      '@modelcontextprotocol/inspector',
    ]);
    expect(lines).toEqual([
      'python-fastmcp  (tools: add, count)',
      url,
      `  claude mcp add --transport http python-fastmcp ${url}`,
      `  npx @modelcontextprotocol/inspector --cli ${url} --transport http --method tools/list`,
    ]);
  });

  it('skipped examples with their command, credential ones marked', () => {
    const plans = planExamples(
      [
        server('gh', {
          image: 'ghcr.io/github/github-mcp-server:v0.20.0',
          env: [{ name: 'T', valueFrom: { secretKeyRef: { name: 'github-token', key: 'token' } } }],
        }),
        server('db', {
          image: 'localhost/python-fastmcp:1.30.0',
          env: [{ name: 'D', valueFrom: { secretKeyRef: { name: 'db', key: 'dsn' } } }],
        }),
      ],
      new Set(),
    );
    expect(skippedLines(plans)).toEqual([
      '  gh: image ghcr.io/github/github-mcp-server:v0.20.0 is not local (the node never pulls); make it local, then run up again:',
      '      buildah pull ghcr.io/github/github-mcp-server:v0.20.0',
      '      and it needs a real credential: Secret github-token/token',
    ]);
    expect(credentialLines(plans)).toEqual([
      '  db: needs a real credential (Secret db/dsn); it runs with a placeholder until you replace it',
    ]);
  });

  it('progress lines say the step and how long it usually takes, first run and cached', () => {
    expect(stepLine(3, 7, 'building images', { first: '5 min', cached: '10 s' })).toBe(
      'up: [3/7] building images (usually 5 min the first run, 10 s cached)',
    );
  });

  it('shell words are quoted only when needed', () => {
    expect(shellWord('http://127.0.0.1:8800/mcp')).toBe('http://127.0.0.1:8800/mcp');
    expect(shellWord("it's")).toBe("'it'\\''s'");
  });
});

describe('up: when a node is possible', () => {
  it('says why not, and what to do', () => {
    expect(nodeBlocker('darwin', 501)).toMatch(/needs Linux/);
    expect(nodeBlocker('linux', 1000)).toMatch(/needs root.*sudo npm start/);
    expect(nodeBlocker('linux', 0)).toBeUndefined();
  });
});

describe('up: one at a time', () => {
  it('a second up sees the first (with its URLs); a stale lock is taken over', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'up-lock-')), 'up.lock');
    const first = acquireLock(path, 'node');
    if (!first.ok) throw new Error('first lock refused');
    first.lock.update({ urls: ['http://127.0.0.1:8800/mcp'] });
    const second = acquireLock(path, 'node');
    expect(second.ok).toBe(false);
    if (!second.ok) {
      expect(second.holder.pid).toBe(process.pid);
      expect(second.holder.urls).toEqual(['http://127.0.0.1:8800/mcp']);
    }
    first.lock.release();
    // a holder that is gone (pid of no process)
    writeFileSync(path, JSON.stringify({ pid: 2 ** 22 + 7, startedAt: 'then' }));
    const third = acquireLock(path, 'node');
    expect(third.ok).toBe(true);
    if (third.ok) {
      expect(JSON.parse(readFileSync(path, 'utf8')).pid).toBe(process.pid);
      third.lock.release();
    }
  });
});

describe('up: the examples it is given, read before anything starts', () => {
  const dir = (files: Record<string, string>) => {
    const d = mkdtempSync(join(tmpdir(), 'up-examples-'));
    for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
    return d;
  };
  const ok =
    'apiVersion: mcpoperator.io/v1alpha1\nkind: McpServer\nmetadata: {name: a}\nspec: {image: x, transport: stdio, command: [srv]}\n';

  it('a directory that does not exist, or a file, names itself and the fix', () => {
    expect(() => readManifests('/nonexistent-examples')).toThrow(
      '--examples /nonexistent-examples: it does not exist; pass a directory of McpServer manifests (*.yaml)',
    );
    const file = join(dir({}), 'f.yaml');
    writeFileSync(file, ok);
    expect(() => readManifests(file)).toThrow('it is not a directory');
  });

  it('no McpServer at all (only other files) is refused, and nothing in the directory is touched', () => {
    const d = dir({ 'notes.txt': 'mine', 'cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n' });
    expect(() => readManifests(d)).toThrow('no McpServer in its *.yaml files');
    expect(readFileSync(join(d, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('a file that is not YAML and an invalid McpServer name the file, the document and the field', () => {
    expect(() => readManifests(dir({ 'a.yaml': ok, 'b.yaml': 'kind: [unclosed\n' }))).toThrow(
      /b\.yaml \(document 1\) is not valid YAML/,
    );
    const typo = ok.replace('transport: stdio', 'transport: stdio, replicas: many');
    expect(() => readManifests(dir({ 'a.yaml': `${ok}---\n${typo.replace('name: a', 'name: b')}` }))).toThrow(
      /a\.yaml \(document 2\): McpServer b is invalid:\n {2}- spec\.replicas/,
    );
  });

  it('the repository examples pass', () => {
    expect(readManifests(join(ROOT, 'examples')).filter((m) => m.kind === 'McpServer').length).toBeGreaterThan(3);
  });
});
