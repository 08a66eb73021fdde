/**
 * A real, local Kubernetes control plane: etcd + kube-apiserver + kube-controller-manager, on loopback ports,
 * from the binaries `scripts/k8s-binaries.sh` builds (or KUBEBUILDER_ASSETS). Used by the integration tests
 * and by `mcp-operator up` when no cluster is configured. No kubelet: pods are created and admitted, not run.
 * The options for a real node (scheduler, Node authorization, node identities, a routable bind address, detached
 * processes) serve node-cluster.ts, which adds containerd, a kubelet and kube-proxy.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, createWriteStream, existsSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { claimDir, releaseDir, USERS_DIR } from './owned-dir.ts';

export const CONTROLLER_USER = 'system:serviceaccount:mcp-operator-system:mcp-operator';
const REPO_ROOT = resolve(import.meta.dirname, '../..');

export interface ControlPlaneOptions {
  /**
   * Working directory for data, certificates, logs and kubeconfigs: created if missing, else it must be empty or
   * one this class made before (its marker file, see owned-dir.ts); a directory of someone else's is refused
   * (ForeignDirError) and nothing in it is touched.
   */
  dir: string;
  /** Directory holding etcd, kube-apiserver, kube-controller-manager; default: built and cached on demand. */
  binDir?: string;
  /** Record every request of CONTROLLER_USER in `<dir>/audit.log` (JSON lines). */
  audit?: boolean;
  /**
   * Address kube-apiserver binds to and advertises (default 127.0.0.1). A node's own address when pods must reach
   * the API through the `kubernetes` Service (test/e2e runs a real kubelet).
   */
  bindAddress?: string;
  /** Authorize with Node,RBAC and admit with NodeRestriction, for clusters with real kubelets. */
  nodeAuthorization?: boolean;
  /** Also run kube-scheduler, as system:kube-scheduler (its bootstrap RBAC), for clusters with real nodes. */
  scheduler?: boolean;
  /** More static-token identities; each gets `<dir>/users/<name>.kubeconfig`, listed in `kubeconfigs.extra`. */
  users?: ControlPlaneUser[];
  /** Extra kube-apiserver flags, after the default ones (a repeated flag: the later one wins). */
  apiServerArgs?: string[];
  /** Extra kube-controller-manager flags, after the default ones. */
  controllerManagerArgs?: string[];
  /**
   * The components outlive this process: each runs in its own process group and writes its log file itself
   * (no pipe through this process). For a cluster that a CLI starts and another invocation stops, by pid.
   */
  detached?: boolean;
}

export interface ControlPlaneUser {
  /** kubeconfig file name (without extension) and token user name */
  name: string;
  /** authenticated user name, e.g. system:node:<node> */
  user: string;
  groups?: string[];
}

export interface Kubeconfigs {
  /** cluster-admin (system:masters) */
  admin: string;
  /** the operator's identity, with only the RBAC granted to CONTROLLER_USER */
  controller: string;
  /** ControlPlaneOptions.users by name */
  extra?: Record<string, string>;
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? ok(address.port) : fail(new Error('no port'))));
    });
  });
}

/** Runs scripts/k8s-binaries.sh; its last stdout line is its answer (progress goes to stderr). */
async function k8sBinariesScript(args: string[]): Promise<string> {
  const child = spawn('bash', [join(REPO_ROOT, 'scripts/k8s-binaries.sh'), ...args], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let stdout = '';
  child.stdout?.on('data', (d) => {
    stdout += d;
  });
  const code = await new Promise<number | null>((ok) => child.once('exit', ok));
  if (code !== 0) throw new Error(`scripts/k8s-binaries.sh failed (exit ${code}); see the output above`);
  return stdout.trimEnd().split('\n').pop() ?? '';
}

/** Path of the directory with the control-plane binaries, building them the first time (minutes; progress on stderr). */
export async function controlPlaneBinaries(components: string[] = []): Promise<string> {
  return k8sBinariesScript(components);
}

/** The components that are not built (cached) yet: what controlPlaneBinaries would spend minutes on. */
export async function missingControlPlaneBinaries(components: string[] = []): Promise<string[]> {
  return (await k8sBinariesScript(['--missing', ...components])).split(' ').filter(Boolean);
}

function kubeconfig(server: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'local', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'local', context: { cluster: 'local', user } }],
    'current-context': 'local',
  });
}

export class ControlPlane {
  readonly dir: string;
  readonly audit: boolean;
  readonly options: ControlPlaneOptions;
  server = '';
  kubeconfigs: Kubeconfigs = { admin: '', controller: '' };
  private binDir: string | undefined;
  private processes: Array<{ name: string; child: ChildProcess; command: string; args: string[] }> = [];
  private adminToken = '';

  constructor(options: ControlPlaneOptions) {
    this.dir = resolve(options.dir);
    this.binDir = options.binDir;
    this.audit = options.audit ?? false;
    this.options = options;
  }

  /** Bearer token of the cluster-admin identity (also in kubeconfigs.admin). */
  get adminBearerToken(): string {
    return this.adminToken;
  }

  /** Process ids of the running components, by name (etcd, kube-apiserver, ...). */
  pids(): Record<string, number> {
    const pids: Record<string, number> = {};
    for (const { name, child } of this.processes) if (child.pid !== undefined) pids[name] = child.pid;
    return pids;
  }

  get auditLog(): string {
    return join(this.dir, 'audit.log');
  }

  async start(): Promise<void> {
    const scheduler = this.options.scheduler ?? false;
    claimDir(this.dir); // first: refuse someone else's directory before minutes of building
    const bin =
      this.binDir ??
      (await controlPlaneBinaries(
        scheduler ? ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] : [],
      ));
    const address = this.options.bindAddress ?? '127.0.0.1';
    mkdirSync(join(this.dir, 'logs'), { recursive: true });
    const [etcdClient, etcdPeer, apiPort] = [await freePort(), await freePort(), await freePort()];

    this.launch('etcd', join(bin, 'etcd'), [
      `--data-dir=${join(this.dir, 'etcd')}`,
      `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
      `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
      `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
      `--initial-cluster=default=http://127.0.0.1:${etcdPeer}`,
      '--unsafe-no-fsync', // throwaway data: fsync only costs time
      '--quota-backend-bytes=4294967296',
      '--log-level=warn',
    ]);

    const tokens = {
      admin: randomBytes(24).toString('hex'),
      kcm: randomBytes(24).toString('hex'),
      controller: randomBytes(24).toString('hex'),
      scheduler: randomBytes(24).toString('hex'),
    };
    const users = (this.options.users ?? []).map((u) => ({ ...u, token: randomBytes(24).toString('hex') }));
    writeFileSync(
      join(this.dir, 'tokens.csv'),
      [
        `${tokens.admin},admin,admin,"system:masters"`,
        `${tokens.kcm},system:kube-controller-manager,kcm,"system:masters"`,
        `${tokens.controller},${CONTROLLER_USER},mcp-operator,"system:serviceaccounts,system:serviceaccounts:mcp-operator-system"`,
        ...(scheduler ? [`${tokens.scheduler},system:kube-scheduler,kube-scheduler,""`] : []),
        ...users.map((u) => `${u.token},${u.user},${u.name},"${(u.groups ?? []).join(',')}"`),
      ].join('\n'),
      { mode: 0o600 },
    );
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    writeFileSync(join(this.dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(join(this.dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    writeFileSync(
      join(this.dir, 'audit-policy.yaml'),
      JSON.stringify({
        apiVersion: 'audit.k8s.io/v1',
        kind: 'Policy',
        omitStages: ['RequestReceived', 'ResponseStarted'],
        rules: [{ level: 'Metadata', users: [CONTROLLER_USER] }, { level: 'None' }],
      }),
    );
    await this.waitForPort(etcdClient, 'etcd');

    this.launch('kube-apiserver', join(bin, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      `--bind-address=${address}`,
      `--advertise-address=${address}`,
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(this.dir, 'certs')}`,
      `--token-auth-file=${join(this.dir, 'tokens.csv')}`,
      this.options.nodeAuthorization ? '--authorization-mode=Node,RBAC' : '--authorization-mode=RBAC',
      ...(this.options.nodeAuthorization ? ['--enable-admission-plugins=NodeRestriction'] : []),
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${join(this.dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(this.dir, 'sa.key')}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--allow-privileged=false',
      '--enable-priority-and-fairness=false',
      '--profiling=false',
      ...(this.audit
        ? [
            `--audit-policy-file=${join(this.dir, 'audit-policy.yaml')}`,
            `--audit-log-path=${this.auditLog}`,
            '--audit-log-mode=blocking',
          ]
        : []),
      ...(this.options.apiServerArgs ?? []),
    ]);
    this.server = `https://${address}:${apiPort}`;
    this.kubeconfigs = {
      admin: this.writeKubeconfig('admin', tokens.admin),
      controller: this.writeKubeconfig('controller', tokens.controller),
    };
    if (users.length > 0) {
      mkdirSync(join(this.dir, USERS_DIR), { recursive: true });
      this.kubeconfigs.extra = Object.fromEntries(
        users.map((u) => [u.name, this.writeKubeconfig(u.name, u.token, USERS_DIR)]),
      );
    }
    const kcmConfig = this.writeKubeconfig('kube-controller-manager', tokens.kcm);
    this.adminToken = tokens.admin;
    await this.waitForReady(tokens.admin);

    this.launch('kube-controller-manager', join(bin, 'kube-controller-manager'), [
      `--kubeconfig=${kcmConfig}`,
      '--leader-elect=false',
      '--bind-address=127.0.0.1',
      `--secure-port=${await freePort()}`,
      `--service-account-private-key-file=${join(this.dir, 'sa.key')}`,
      `--root-ca-file=${join(this.dir, 'certs', 'apiserver.crt')}`,
      '--use-service-account-credentials=false',
      '--kube-api-qps=200',
      '--kube-api-burst=400',
      '--concurrent-deployment-syncs=10',
      '--concurrent-replicaset-syncs=10',
      ...(this.options.controllerManagerArgs ?? []),
    ]);

    if (scheduler) {
      this.launch('kube-scheduler', join(bin, 'kube-scheduler'), [
        `--kubeconfig=${this.writeKubeconfig('kube-scheduler', tokens.scheduler)}`,
        '--leader-elect=false',
        '--bind-address=127.0.0.1',
        `--secure-port=${await freePort()}`,
      ]);
    }
  }

  private writeKubeconfig(name: string, token: string, subdir = ''): string {
    const path = join(this.dir, subdir, `${name}.kubeconfig`);
    writeFileSync(path, kubeconfig(this.server, name, token), { mode: 0o600 });
    return path;
  }

  private launch(name: string, command: string, args: string[]): void {
    if (!existsSync(command)) throw new Error(`control plane: ${command} is missing; run scripts/k8s-binaries.sh`);
    const logPath = join(this.dir, 'logs', `${name}.log`);
    if (this.options.detached) {
      const fd = openSync(logPath, 'a');
      try {
        const child = spawn(command, args, { stdio: ['ignore', fd, fd], detached: true });
        child.unref();
        this.processes.push({ name, child, command, args });
      } finally {
        closeSync(fd);
      }
      return;
    }
    const log = createWriteStream(logPath, { flags: 'a' });
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    this.processes.push({ name, child, command, args });
  }

  /** Kill one component hard and start it again with the same flags (for failure tests). */
  async restart(name: 'kube-apiserver' | 'kube-controller-manager', downtimeMs = 0): Promise<void> {
    const index = this.processes.findIndex((p) => p.name === name);
    const entry = this.processes[index];
    if (!entry) throw new Error(`control plane: no ${name} running`);
    const exited = new Promise((ok) => entry.child.once('exit', ok));
    entry.child.kill('SIGKILL');
    await exited;
    this.processes.splice(index, 1);
    await sleep(downtimeMs);
    // spawns: kube-apiserver, kube-controller-manager (a restart relaunches the same binary)
    this.launch(name, entry.command, entry.args);
    if (name === 'kube-apiserver') await this.waitForReady(this.adminToken);
  }

  private assertRunning(): void {
    for (const { name, child } of this.processes) {
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(
          `control plane: ${name} exited (${child.exitCode ?? child.signalCode}); see ${join(this.dir, 'logs', `${name}.log`)}`,
        );
      }
    }
  }

  private async waitForPort(port: number, what: string): Promise<void> {
    const { connect } = await import('node:net');
    for (let i = 0; i < 600; i++) {
      this.assertRunning();
      const open = await new Promise<boolean>((ok) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.end();
          ok(true);
        });
        socket.on('error', () => ok(false));
      });
      if (open) return;
      await sleep(100);
    }
    throw new Error(`control plane: ${what} did not open port ${port} in 60 s`);
  }

  private async waitForReady(adminToken: string): Promise<void> {
    const { Agent, fetch } = await import('undici');
    const dispatcher = new Agent({ connect: { rejectUnauthorized: false } });
    try {
      for (let i = 0; i < 1200; i++) {
        this.assertRunning();
        try {
          const res = await fetch(`${this.server}/readyz`, {
            headers: { authorization: `Bearer ${adminToken}` },
            dispatcher,
          });
          await res.text();
          if (res.status === 200) return;
        } catch {
          // not listening yet
        }
        await sleep(100);
      }
      throw new Error(
        `control plane: kube-apiserver not ready in 120 s; see ${join(this.dir, 'logs', 'kube-apiserver.log')}`,
      );
    } finally {
      await dispatcher.close();
    }
  }

  async stop(options: { keepDir?: boolean } = {}): Promise<void> {
    // Reverse order: controllers first, etcd last, so nothing logs a storm of connection errors.
    for (const { child } of [...this.processes].reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      const exited = new Promise((ok) => child.once('exit', ok));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    this.processes = [];
    // only what this class made, and the directory itself only if it made that too
    if (!options.keepDir) releaseDir(this.dir);
  }
}
