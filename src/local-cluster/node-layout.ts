/** Where the node cluster keeps everything, and what it records about a running cluster (state.json). */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
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
