/**
 * `mcp-operator controller` without a usable kubeconfig: one line that names the file and the fix, exit 1, no
 * stack trace, and no silent fallback to http://localhost:8080 (client-node's default when nothing is found).
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { parseControllerFlags } from '../../src/cli/controller.ts';

const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));
const home = mkdtempSync(join(tmpdir(), 'controller-cli-'));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function controller(args: string[], env: Record<string, string>) {
  const { KUBERNETES_SERVICE_HOST: _, KUBECONFIG: __, ...inherited } = process.env;
  return spawnSync(process.execPath, [MAIN, 'controller', '--health-addr', '127.0.0.1:0', ...args], {
    env: { ...inherited, HOME: home, ...env },
    encoding: 'utf8',
    timeout: 30_000,
  });
}

describe('controller: the kubeconfig it cannot use', () => {
  it.each([
    ['no kubeconfig anywhere', [], {}, `no kubeconfig: ${join(home, '.kube', 'config')} does not exist`],
    ['--kubeconfig names a missing file', ['--kubeconfig', join(home, 'nope')], {}, 'ENOENT'],
    ['no file of a KUBECONFIG list exists', [], { KUBECONFIG: `${home}/a:${home}/b` }, 'no file in KUBECONFIG'],
  ])('%s', (_what, args, env, expected) => {
    const run = controller(args, env);
    expect(run.status).toBe(1);
    const lines = `${run.stdout}${run.stderr}`.trim().split('\n');
    const failure = lines.map((l) => JSON.parse(l) as { msg: string; err?: string }).find((l) => l.err);
    expect(failure?.msg).toBe('controller could not start');
    expect(failure?.err).toContain(expected);
    expect(run.stderr).not.toMatch(/^\s+at /m);
  });

  it('a kubeconfig with no current context says how to choose one', () => {
    const file = join(home, 'noctx.yaml');
    writeFileSync(file, 'apiVersion: v1\nkind: Config\nclusters: []\ncontexts: []\nusers: []\n');
    const run = controller(['--kubeconfig', file], {});
    expect(run.status).toBe(1);
    expect(run.stdout).toContain('kubectl config use-context');
  });
});

describe('controller: flags out of range are refused with the flag and the bound', () => {
  it.each([
    [['--namespaces', 'demo,Bad_NS'], '--namespaces takes namespace names separated by commas, got "Bad_NS"'],
    [['--workers', '1e9'], '--workers must be an integer from 1 to 256'],
    [['--resync', '99999999999'], '--resync must be an integer from 0 to 604800'],
    [['--gateway-image', ' '], '--gateway-image (or GATEWAY_IMAGE) must be an image reference'],
    [['--log-level', 'loud'], '--log-level (or LOG_LEVEL) must be one of'],
    [['--leader-election-namespace', 'Sys'], '--leader-election-namespace must be a namespace name'],
    [['--leader-election-id', 'Bad_ID'], '--leader-election-id must be a Lease name'],
    [['--health-addr', '127.0.0.1:70000'], '--health-addr port must be an integer from 0 to 65535'],
  ])('%j', (args, message) => {
    expect(() => parseControllerFlags(args, {})).toThrow(message);
  });

  it('the defaults and the chart values pass', () => {
    const flags = parseControllerFlags(['--workers=4', '--resync=600', '--namespaces', 'a, b'], {});
    expect(flags).toMatchObject({ workers: 4, resyncMs: 600_000, namespaces: ['a', 'b'], logLevel: 'info' });
    expect(flags.operator).toEqual({});
  });

  it('takes who the controller runs as from POD_NAMESPACE and POD_SERVICE_ACCOUNT (the downward API), checked', () => {
    expect(
      parseControllerFlags([], { POD_NAMESPACE: 'mcp-system', POD_SERVICE_ACCOUNT: 'mcp-operator' }).operator,
    ).toEqual({ namespace: 'mcp-system', serviceAccount: 'mcp-operator' });
    expect(() => parseControllerFlags([], { POD_SERVICE_ACCOUNT: 'Operator SA' })).toThrow(
      'POD_SERVICE_ACCOUNT must be a ServiceAccount name, got "Operator SA"',
    );
    expect(() =>
      parseControllerFlags(['--leader-election-namespace', 'lease'], { POD_NAMESPACE: 'Not A Namespace' }),
    ).toThrow('POD_NAMESPACE must be a namespace name, got "Not A Namespace"');
  });
});

describe('controller: stopped while its API server does not answer', () => {
  it('exits on SIGTERM during start, not after the 60 s answer timeout', async () => {
    // Accepts connections and never says a byte: the TLS handshake and every request wait.
    const silent = createServer(() => {});
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
    const port = (silent.address() as { port: number }).port;
    const file = join(home, 'silent.yaml');
    writeFileSync(
      file,
      `apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "https://127.0.0.1:${port}"}}]\n` +
        'users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n',
    );
    const child = spawn(process.execPath, [MAIN, 'controller', '--kubeconfig', file, '--health-addr', '127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let out = '';
      await new Promise<void>((ok) =>
        child.stdout.on('data', (c: Buffer) => {
          out += c;
          if (out.includes('health and metrics listening')) ok();
        }),
      );
      const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));
      child.kill('SIGTERM');
      const code = await Promise.race([exited, new Promise((ok) => setTimeout(() => ok('still running'), 20_000))]);
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      silent.close();
    }
  }, 40_000);
});
