/**
 * Runs a locally built image with runc, the OCI runtime containerd uses under Kubernetes, with no containerd and
 * no registry: buildah mounts the image, runc runs a process on that rootfs under the settings a pod gets from
 * the Pod Security "restricted" profile (numeric non-root user, no capabilities, no new privileges, read-only
 * root filesystem), with bind mounts standing in for emptyDir volumes. The host network namespace is kept so
 * the test reaches the container's ports on loopback.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface MountedImage {
  rootfs: string;
  release(): Promise<void>;
}

/** Mounts an image from buildah's local storage (never pulls) and returns its root filesystem. */
export async function mountImage(image: string): Promise<MountedImage> {
  const { stdout: id } = await run('buildah', ['from', '--pull=never', image]);
  const container = id.trim();
  const { stdout: rootfs } = await run('buildah', ['mount', container]);
  return {
    rootfs: rootfs.trim(),
    release: async () => {
      await run('buildah', ['rm', container]).catch(() => undefined);
    },
  };
}

export interface BindMount {
  source: string;
  destination: string;
  readOnly?: boolean;
}

export interface ContainerOptions {
  rootfs: string;
  args: string[];
  env?: Record<string, string>;
  uid?: number;
  gid?: number;
  mounts?: BindMount[];
  cwd?: string;
}

export interface RunningContainer {
  id: string;
  /** Host pid of the container's first process. */
  pid(): Promise<number>;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  exited: Promise<number>;
  stop(): Promise<void>;
}

let stateRoot: string | undefined;
let counter = 0;

async function bundle(options: ContainerOptions): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'runc-bundle-'));
  await run('runc', ['spec', '--bundle', dir]);
  const spec = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  const uid = options.uid ?? 65532;
  const gid = options.gid ?? uid;
  spec.root = { path: options.rootfs, readonly: true };
  spec.process.terminal = false;
  spec.process.args = options.args;
  spec.process.cwd = options.cwd ?? '/';
  spec.process.user = { uid, gid, additionalGids: [gid] };
  spec.process.env = [
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'HOME=/tmp',
    ...Object.entries(options.env ?? {}).map(([k, v]) => `${k}=${v}`),
  ];
  spec.process.noNewPrivileges = true;
  spec.process.capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  spec.hostname = 'pod';
  spec.mounts = [
    ...spec.mounts,
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=64m'] },
    ...(options.mounts ?? []).map((m) => ({
      destination: m.destination,
      type: 'bind',
      source: m.source,
      options: ['rbind', m.readOnly ? 'ro' : 'rw'],
    })),
  ];
  // Host network: the test talks to the container on loopback, as kubelet probes talk to a pod's own IP.
  spec.linux.namespaces = spec.linux.namespaces.filter((ns: { type: string }) => ns.type !== 'network');
  await writeFile(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  return dir;
}

/** Starts a container in the foreground of a child `runc run` (stdio piped). */
export async function runContainer(options: ContainerOptions): Promise<RunningContainer> {
  stateRoot ??= await mkdtemp(join(tmpdir(), 'runc-state-'));
  const root = stateRoot;
  const dir = await bundle(options);
  const id = `mcp-test-${process.pid}-${++counter}`;
  let output = '';
  const child: ChildProcess = spawn('runc', ['--root', root, 'run', '--bundle', dir, id], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    output += d.toString();
  });
  const exited = new Promise<number>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1))),
  );
  const stop = async () => {
    await run('runc', ['--root', root, 'kill', id, 'KILL']).catch(() => undefined);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
    await run('runc', ['--root', root, 'delete', '--force', id]).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const pid = async () => {
    const { stdout } = await run('runc', ['--root', root, 'state', id]);
    return (JSON.parse(stdout) as { pid: number }).pid;
  };
  return { id, pid, output: () => output, exited, stop };
}
