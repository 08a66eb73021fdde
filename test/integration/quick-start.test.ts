/**
 * `mcp-operator up` with no cluster and no node (`--no-node`: what it falls back to when not root or no runtime is
 * possible) starts a real control plane and shows the examples. On a real node: test/e2e/up.test.ts.
 */
import { execFile, spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { controlPlaneBinaries, freePort, missingControlPlaneBinaries } from '../../src/local-cluster/control-plane.ts';
import { formatMarker, MARKER } from '../../src/local-cluster/owned-dir.ts';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const COMPONENTS = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kubectl'];
const execFileAsync = promisify(execFile);

/** The words of a command line that up printed (its shellWord quoting: single quotes only). */
function words(line: string): string[] {
  return [...line.trim().matchAll(/'((?:[^']|'\\'')*)'|(\S+)/g)].map(
    (m) => m[2] ?? (m[1] ?? '').replaceAll("'\\''", "'"),
  );
}

/** The command printed on the line after the one matching `heading`. */
function commandAfter(out: string, heading: RegExp): string[] {
  const lines = out.split('\n');
  const at = lines.findIndex((l) => heading.test(l));
  expect(at, `no line matching ${heading} in:\n${out}`).toBeGreaterThanOrEqual(0);
  return words(lines[at + 1] ?? '');
}

async function up(args: string[], options: { cwd?: string } = {}): Promise<{ code: number | null; out: string }> {
  const child = spawn(process.execPath, [MAIN, 'up', '--local', '--no-node', '--once', ...args], {
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
    const unbuilt = await missingControlPlaneBinaries(COMPONENTS);
    const { code, out } = await up([`--dir=${dir}`]);
    expect(code, out).toBe(0);
    // the build notice only when something is built, naming what
    if (unbuilt.length > 0) expect(out).toContain(`up: building ${unbuilt.join(', ')} from their Go modules first`);
    else expect(out).not.toMatch(/building|10 minutes/);
    expect(out).toContain(
      'up: created 3 placeholder Secrets that the examples reference: github-token (token), analytics-db (dsn), ' +
        'everything-clients (token).\n    They hold "placeholder-KEY", not credentials',
    );
    expect(out).toMatch(/applied 8 McpServers/);
    for (const name of ['github', 'filesystem', 'postgres', 'everything-http', 'everything']) {
      expect(out).toMatch(
        new RegExp(`^${name}\\s+\\S+\\s+False\\s+DeploymentUnavailable\\s+http://${name}\\.demo\\.svc:8080/mcp$`, 'm'),
      );
    }
    // The local plane has no Gateway API CRDs: the HTTPRoute example says so instead of waiting on pods.
    expect(out).toMatch(
      /^github-route\s+stdio\s+False\s+GatewayAPINotInstalled\s+http:\/\/github-route\.demo\.svc:8080\/mcp$/m,
    );
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
    expect(out).toMatch(/applied 8 McpServers/);
    expect(readdirSync(dir)).toEqual(['notes.txt']);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
    expect(out, 'the binaries are cached by now').not.toMatch(/building|10 minutes/);
  });

  it('prints a gateway command and a tool call that work as printed (on a free port instead of 8080)', async () => {
    const dir = join(tmpdir(), `mcp-operator-up-gw-${process.pid}`);
    const { code, out } = await up([`--dir=${dir}`]);
    expect(code, out).toBe(0);
    const gateway = commandAfter(out, /^Call a tool now: run the gateway on this machine/);
    const call = commandAfter(out, /call its echo tool at http:\/\/127\.0\.0\.1:8080\/mcp/);
    expect(gateway.slice(2, 8)).toEqual(['gateway', 'stdio', '--host', '127.0.0.1', '--port', '8080']);
    expect(call).toContain('http://127.0.0.1:8080/mcp');
    const port = String(await freePort());
    const [command = '', ...args] = gateway.map((w) => (w === '8080' ? port : w));
    // spawns: node (the gateway command up printed)
    const child = spawn(command, args, { stdio: 'ignore', env: { ...process.env, MCP_GATEWAY_HEALTH_PORT: '0' } });
    try {
      const [client = '', ...clientArgs] = call.map((w) => w.replace(':8080/', `:${port}/`));
      let answer = '';
      for (let i = 0; i < 60 && !answer.includes('Echo: hello'); i++) {
        // spawns: node (the Inspector CLI command up printed)
        answer = await execFileAsync(client, clientArgs, { timeout: 30_000, env: { ...process.env, HOME: tmpdir() } })
          .then((r) => r.stdout)
          .catch(async () => {
            await sleep(500); // the gateway is still starting
            return '';
          });
      }
      expect(answer).toContain('Echo: hello');
    } finally {
      child.kill('SIGTERM');
    }
  });

  it('builds kubectl when it is not cached, saying so; the printed kubectl works until Ctrl-C stops up', async () => {
    const dir = join(tmpdir(), `mcp-operator-up-run-${process.pid}`);
    // a binary cache with the control plane but no kubectl (the Go module and build caches are shared: a link)
    const real = await controlPlaneBinaries();
    const cache = mkdtempSync(join(tmpdir(), 'up-cache-'));
    const version = basename(dirname(real));
    mkdirSync(join(cache, version, 'bin'), { recursive: true });
    symlinkSync(join(dirname(real), 'module'), join(cache, version, 'module'));
    for (const c of ['etcd', 'kube-apiserver', 'kube-controller-manager']) {
      symlinkSync(join(real, c), join(cache, version, 'bin', c));
    }
    const child = spawn(process.execPath, [MAIN, 'up', '--local', '--no-node', `--dir=${dir}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MCP_OPERATOR_CACHE: cache },
    });
    let out = '';
    const ready = new Promise<void>((ok, fail) => {
      child.stdout.on('data', (d) => {
        out += d;
        if (out.includes('Press Ctrl-C to stop.')) ok();
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      child.once('exit', (c) => fail(new Error(`up exited (${c}) before it was ready:\n${out}`)));
    });
    const exited = new Promise<number | null>((ok) => child.once('exit', ok));
    try {
      await ready;
      expect(out).toContain(
        'up: building kubectl from their Go modules first (about 10 minutes on 2 cores; cached after)',
      );
      const kubeconfig = /^ {2}export KUBECONFIG=(\S+)$/m.exec(out)?.[1];
      const get = words(/^ {2}(\S+\/kubectl get mcps -n demo)$/m.exec(out)?.[1] ?? '');
      expect(kubeconfig, out).toBeDefined();
      expect(get[0], out).toMatch(/\/kubectl$/);
      // spawns: kubectl (the path up printed)
      const listed = await execFileAsync(get[0] ?? '', get.slice(1), {
        env: { ...process.env, KUBECONFIG: kubeconfig },
      });
      for (const name of ['github', 'github-route', 'filesystem', 'postgres', 'everything-http', 'everything']) {
        expect(listed.stdout).toMatch(new RegExp(`^${name}\\s`, 'm'));
      }
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited, out).toBe(0);
    expect(existsSync(dir), `${dir} is left behind`).toBe(false);
    rmSync(cache, { recursive: true, force: true }); // the links, and the kubectl built into it
  }, 900_000);
});
