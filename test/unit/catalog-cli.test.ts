/** The catalog and connect verbs' flags: defaults, and refusals that name the flag and the fix. */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseCatalogFlags } from '../../src/cli/catalog.ts';
import { parseConnectFlags } from '../../src/cli/connect.ts';
import { loadKubeConfig } from '../../src/kube/kubeconfig.ts';

describe('mcp-operator catalog flags', () => {
  it('defaults: every namespace, :8080, local.cluster, no auth', () => {
    expect(parseCatalogFlags([], {})).toMatchObject({
      namespaces: [],
      listen: { host: '0.0.0.0', port: 8080 },
      namePrefix: 'local.cluster',
      basePath: '',
      tokenFile: undefined,
      oidc: undefined,
    });
    expect(parseCatalogFlags([], { WATCH_NAMESPACES: 'a, b' }).namespaces).toEqual(['a', 'b']);
  });

  it('refuses what cannot work, naming the flag', () => {
    expect(() => parseCatalogFlags(['--listen', 'nowhere'], {})).toThrow('--listen must be HOST:PORT');
    expect(() => parseCatalogFlags([], { LOG_LEVEL: 'loud' })).toThrow(
      '--log-level (or LOG_LEVEL) must be one of trace, debug, info, warn, error, fatal, silent, got "loud"',
    );
    expect(() => parseCatalogFlags(['--name-prefix', 'a/b'], {})).toThrow('--name-prefix must be reverse-DNS');
    expect(parseCatalogFlags(['--name-prefix', `com.${'x'.repeat(60)}`], {}).namePrefix).toHaveLength(64);
    expect(() => parseCatalogFlags(['--name-prefix', `com.${'x'.repeat(61)}`], {})).toThrow(
      "--name-prefix must be at most 64 characters, so every registry name fits server.json's 200, got 65",
    );
    expect(() =>
      parseCatalogFlags(['--auth-token-file', 'f', '--oidc-issuer', 'https://i', '--oidc-audience', 'a'], {}),
    ).toThrow('one of --auth-token-file or --oidc-issuer');
    expect(() => parseCatalogFlags(['--oidc-issuer', 'notaurl', '--oidc-audience', 'a'], {})).toThrow(
      '--oidc-issuer must be an https URL',
    );
    expect(() => parseCatalogFlags(['--oidc-issuer', 'https://i'], {})).toThrow(
      '--oidc-issuer and --oidc-audience go together',
    );
    expect(() => parseCatalogFlags(['--base-path', 'catalog'], {})).toThrow('--base-path must be a URL path');
    expect(() => parseCatalogFlags(['--colour'], {})).toThrow();
    for (const n of ['1e3', '0x10', ' 5', '1.0', '0', '99999999'])
      expect(() => parseCatalogFlags(['--max-event-streams', n], {}), n).toThrow(
        '--max-event-streams must be an integer',
      );
    expect(parseCatalogFlags(['--max-event-streams', '250'], {}).maxStreams).toBe(250);
    expect(() => parseCatalogFlags(['--namespaces', 'team-a,Team_B'], {})).toThrow(
      '--namespaces takes namespace names',
    );
    expect(() => parseCatalogFlags([], { WATCH_NAMESPACES: 'a b' })).toThrow('"a b"');
    for (const path of ['/catalog/.', '/catalog/./', '/a/../b', '//catalog', '/a//b', '/..'])
      expect(() => parseCatalogFlags(['--base-path', path], {}), path).toThrow(
        '--base-path must not hold //, . or .. segments',
      );
    for (const path of ['/catalog', '/catalog/', '/.well/x', '/a.b/c..d', '/'])
      expect(() => parseCatalogFlags(['--base-path', path], {}), path).not.toThrow();
  });

  it('takes a base path without its trailing slash', () => {
    expect(parseCatalogFlags(['--base-path', '/tools/catalog/'], {}).basePath).toBe('/tools/catalog');
  });

  it('takes OIDC settings together', () => {
    expect(
      parseCatalogFlags(['--oidc-issuer', 'https://id.example.com', '--oidc-audience', 'catalog'], {}).oidc,
    ).toEqual({ issuer: 'https://id.example.com', audience: 'catalog', jwksUrl: undefined });
  });
});

describe('mcp-operator connect flags', () => {
  it('takes NAME, -n and --client', () => {
    expect(parseConnectFlags(['github', '-n', 'team-a', '--client', 'vscode'])).toMatchObject({
      name: 'github',
      namespace: 'team-a',
      client: 'vscode',
    });
  });

  it('refuses a missing name, a missing or unknown client', () => {
    expect(() => parseConnectFlags(['--client', 'cursor'])).toThrow('exactly one server NAME');
    expect(() => parseConnectFlags(['github'])).toThrow('--client is required');
    expect(() => parseConnectFlags(['github', '--client', 'emacs'])).toThrow('--client must be one of');
  });
});

// Each case starts the real CLI (Node type-stripping the sources): give a loaded machine time.
describe('connect and catalog with a careless setup: a clear message and exit code, never a stack trace', {
  timeout: 30_000,
}, () => {
  const main = resolve(import.meta.dirname, '../../src/cli/main.ts');
  const home = mkdtempSync(join(tmpdir(), 'connect-home-'));
  const garbled = join(home, 'garbled.kubeconfig');
  writeFileSync(garbled, 'clusters: [\n  - oops\n');
  const noContext = join(home, 'empty.kubeconfig');
  writeFileSync(noContext, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
  const run = (args: string[], env: NodeJS.ProcessEnv = {}) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((ok) => {
      const clean = { PATH: process.env.PATH, HOME: home, ...env };
      execFile(process.execPath, [main, ...args], { env: clean, timeout: 20_000 }, (err, stdout, stderr) =>
        ok({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });
  const noTrace = (stderr: string) => expect(stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n/);

  it.each([
    [
      'a kubeconfig that does not exist',
      ['--kubeconfig', '/nonexistent/kubeconfig'],
      {},
      'cannot load the kubeconfig /nonexistent/kubeconfig: ENOENT',
    ],
    [
      '$KUBECONFIG naming a missing file',
      [],
      { KUBECONFIG: '/nonexistent/kc' },
      'cannot load the kubeconfig /nonexistent/kc',
    ],
    ['a kubeconfig that is not YAML', ['--kubeconfig', garbled], {}, `cannot load the kubeconfig ${garbled}`],
    ['a kubeconfig without a context', ['--kubeconfig', noContext], {}, 'has no current context with a cluster'],
    ['no kubeconfig at all', [], {}, 'no kubeconfig: '],
  ])('connect: %s', async (_what, args, env, message) => {
    const r = await run(['connect', 'github', '--client', 'vscode', ...args], env);
    expect(r).toMatchObject({ code: 1, stdout: '' });
    expect(r.stderr).toMatch(/^connect: /);
    expect(r.stderr).toContain(message);
    noTrace(r.stderr);
  });

  it.each([
    ['a path in NAME', ['../../secrets/x'], 'NAME must be a Kubernetes object name'],
    ['an upper-case NAME', ['GitHub'], 'NAME must be a Kubernetes object name'],
    ['a namespace that cannot exist', ['github', '-n', 'Team_A'], '-n/--namespace must be a namespace name'],
  ])('connect: refuses %s before any request', async (_what, args, message) => {
    const r = await run(['connect', ...args, '--client', 'cursor', '--kubeconfig', '/nonexistent']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(message);
    noTrace(r.stderr);
  });

  it('catalog: a kubeconfig that does not exist is a logged error, exit 1', async () => {
    const r = await run(['catalog', '--kubeconfig', '/nonexistent/kc', '--listen', '127.0.0.1:0']);
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toContain('cannot load the kubeconfig /nonexistent/kc');
    noTrace(r.stdout + r.stderr);
  });
});

describe('loadKubeConfig: a KUBECONFIG list, as kubectl reads it', () => {
  const kubeconfig = (server: string, context: string) =>
    [
      'apiVersion: v1',
      'kind: Config',
      `current-context: ${context}`,
      `clusters: [{name: c, cluster: {server: '${server}'}}]`,
      'users: [{name: u, user: {token: t}}]',
      `contexts: [{name: ${context}, context: {cluster: c, user: u}}]`,
    ].join('\n');

  it('skips files that do not exist; where two name one cluster, the first wins', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { delimiter, join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'kubeconfigs-'));
    writeFileSync(join(dir, 'a'), kubeconfig('https://a.example:6443', 'first'));
    writeFileSync(join(dir, 'b'), kubeconfig('https://b.example:6443', 'second'));
    const KUBECONFIG = [join(dir, 'missing'), join(dir, 'a'), join(dir, 'b')].join(delimiter);
    const kc = loadKubeConfig(undefined, { KUBECONFIG });
    expect(kc.getCurrentContext()).toBe('first');
    expect(kc.getCurrentCluster()?.server).toBe('https://a.example:6443');
    expect(kc.contexts.map((c) => c.name)).toEqual(['first', 'second']);
    expect(() => loadKubeConfig(undefined, { KUBECONFIG: join(dir, 'missing') })).toThrow(
      `cannot load the kubeconfig ${join(dir, 'missing')}: no file in KUBECONFIG exists`,
    );
  });
});
