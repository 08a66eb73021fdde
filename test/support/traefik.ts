/**
 * A real Traefik v3 (built from its Go module by scripts/traefik.sh) run on the host with a kubeconfig, as the
 * e2e suite's Gateway API and ingress-nginx-compatible controller. Its entrypoint binds to loopback only, and it
 * never calls home (version check and usage statistics off).
 *
 * On the host rather than in a pod: the providers read the same API objects the same way either way, and
 * Traefik connects to pod IPs (EndpointSlices) from the host as from a pod; a pod would add a 170 MB image
 * build and RBAC without changing what the test proves about the objects the operator writes.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { freePort } from '../../src/local-cluster/control-plane.ts';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/traefik.sh');

/** Builds Traefik the first time (minutes), then returns the cached binary's path. */
export function traefikBinary(): string {
  return execFileSync('bash', [SCRIPT, 'binary'], {
    encoding: 'utf8',
    timeout: 3_600_000,
    stdio: ['ignore', 'pipe', 'inherit'],
  }).trim();
}

export interface RunningTraefik {
  /** http://127.0.0.1:PORT */
  url: string;
  port: number;
  logFile: string;
  log(): string;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface TraefikOptions {
  kubeconfig: string;
  /** Provider flags, e.g. ['--providers.kubernetesgateway=true', ...]. */
  providers: string[];
  /** The one entrypoint's port (default: a free one). A Gateway listener must use the same port. */
  port?: number;
}

async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect({ host: '127.0.0.1', port }, () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`traefik did not listen on 127.0.0.1:${port} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startTraefik(options: TraefikOptions): Promise<RunningTraefik> {
  const binary = traefikBinary();
  const port = options.port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'traefik-'));
  const logFile = join(dir, 'traefik.log');
  const out = createWriteStream(logFile);
  // spawns: traefik
  const child = spawn(
    binary,
    [
      `--entrypoints.web.address=127.0.0.1:${port}`,
      '--global.checknewversion=false',
      '--global.sendanonymoususage=false',
      '--log.level=INFO',
      '--accesslog=true',
      ...options.providers,
    ],
    { env: { ...process.env, KUBECONFIG: options.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  await listening(port, 30_000);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    logFile,
    log: () => readFileSync(logFile, 'utf8'),
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}
