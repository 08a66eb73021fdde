/** Where the node cluster keeps everything, and what it records about a running cluster (state.json). */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const DEFAULT_DIR = '/var/lib/mcp-operator-e2e';
export const NODE_NAME = 'mcp-e2e';
/** CNI network and bridge; the bridge name is at most 15 characters */
export const CNI_NETWORK = 'mcp-e2e';
export const BRIDGE = 'mcpe2e0';
/** Pod addresses of the node (host-local) and the cluster (kube-proxy's clusterCIDR) */
export const POD_SUBNET = '10.244.0.0/24';
export const CLUSTER_CIDR = '10.244.0.0/16';
/** As set by src/local-cluster/control-plane.ts */
export const SERVICE_CIDR = '10.96.0.0/16';

export function clusterDir(dir?: string): string {
  return resolve(dir ?? process.env.MCP_E2E_DIR ?? DEFAULT_DIR);
}

export function layout(dir: string) {
  const containerd = join(dir, 'containerd');
  return {
    dir,
    state: join(dir, 'state.json'),
    /** the admin kubeconfig, at a stable path */
    kubeconfig: join(dir, 'kubeconfig'),
    logs: join(dir, 'logs'),
    work: join(dir, 'tmp'),
    controlPlane: join(dir, 'control-plane'),
    pki: join(dir, 'pki'),
    containerd: {
      dir: containerd,
      config: join(containerd, 'config.toml'),
      /** content and snapshots: kept by `down` as the image cache */
      root: join(containerd, 'root'),
      state: join(containerd, 'state'),
      socket: join(containerd, 'containerd.sock'),
      runc: join(containerd, 'runc'),
      opt: join(containerd, 'opt'),
      imported: join(containerd, 'imported.json'),
    },
    cni: { conf: join(dir, 'cni', 'net.d'), ipam: join(dir, 'cni', 'ipam') },
    kubelet: {
      root: join(dir, 'kubelet'),
      config: join(dir, 'kubelet-config.json'),
      podLogs: join(dir, 'pod-logs'),
    },
    kubeProxyConfig: join(dir, 'kube-proxy-config.json'),
  };
}

export type Layout = ReturnType<typeof layout>;

/** What the node cluster writes at the top of its directory; anything else in it is someone else's. */
export const NODE_ENTRIES: ReadonlySet<string> = new Set([
  'state.json',
  'kubeconfig',
  'logs',
  'tmp',
  'control-plane',
  'pki',
  'containerd',
  'cni',
  'kubelet',
  'kubelet-config.json',
  'pod-logs',
  'kube-proxy-config.json',
]);

/** Left by an earlier run: state.json while it runs, control-plane/ and containerd/ (the image store) after `down`. */
const RUN_SIGNS = new Set(['state.json', 'control-plane', 'containerd']);

/**
 * Why `dir` must not be used (nor torn down) as a node cluster's directory, or undefined when it may: missing,
 * empty, or holding only the node's own entries with a sign of an earlier run (its state.json, or the
 * control-plane/ or containerd/ a teardown keeps). `up --node-dir ~` must never empty someone's home.
 */
export function foreignNodeDir(dir: string, entries: string[] | undefined): string | undefined {
  if (entries === undefined) return `${dir} exists and is not a directory`;
  if (entries.length === 0) return undefined;
  const foreign = entries.filter((e) => !NODE_ENTRIES.has(e));
  if (foreign.length === 0 && entries.some((e) => RUN_SIGNS.has(e))) return undefined;
  const shown = (foreign.length > 0 ? foreign : entries).slice(0, 3).join(', ') + (entries.length > 3 ? ', ...' : '');
  return (
    `${dir} is not empty (${shown}) and is not a node cluster's directory; refusing to use it so that nothing ` +
    'in it is deleted: pass a new or empty directory to --node-dir (MCP_E2E_DIR)'
  );
}

export interface ProcessRecord {
  name: string;
  pid: number;
  /** /proc/<pid>/stat start time, so a reused pid is never signalled */
  start?: string;
  log: string;
}

export interface ClusterState {
  version: 1;
  /** set once `up` finished: the cluster can be reused */
  ready: boolean;
  binDir: string;
  nodeName: string;
  nodeIP: string;
  server: string;
  adminToken: string;
  kubeconfig: string;
  cgroupDriver: 'cgroupfs' | 'systemd';
  processes: ProcessRecord[];
  /** kube-proxy's healthz port on 127.0.0.1 */
  kubeProxyHealthz?: number;
  /** sysctl values before the cluster changed them (path under /proc/sys → value), restored by `down` */
  sysctls: Record<string, string>;
  /** nftables tables that existed before the cluster (`family name`); `down` deletes new ones left empty */
  nftTablesBefore: string[];
  /** which of teardown.ts HOST_PATHS existed before the cluster; `down` removes the others when empty */
  hostPathsBefore: string[];
  startedAt: string;
}

/** foreignNodeDir for the directory as it is on disk (undefined: usable). */
export function checkNodeDir(dir: string): string | undefined {
  if (!existsSync(dir)) return undefined;
  return foreignNodeDir(dir, statSync(dir).isDirectory() ? readdirSync(dir) : undefined);
}

export function readState(l: Layout): ClusterState | undefined {
  if (!existsSync(l.state)) return undefined;
  try {
    return JSON.parse(readFileSync(l.state, 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export function writeState(l: Layout, state: ClusterState): void {
  writeFileSync(l.state, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
}
