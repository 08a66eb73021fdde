/**
 * A real single-node Kubernetes cluster on this machine, for `mcp-operator up` and the end-to-end tests: the control
 * plane of control-plane.ts (etcd, kube-apiserver with Node,RBAC + NodeRestriction, kube-controller-manager,
 * kube-scheduler) plus a node (node-components.ts): containerd (own config, root, state and socket under the
 * cluster directory) with runc and the bridge/host-local/portmap CNI plugins, a kubelet, kube-proxy (iptables
 * mode). Kubernetes binaries from scripts/k8s-binaries.sh; the pause image is compiled locally; images come from
 * buildah's storage, no registry. Needs root. One node cluster per host (its bridge and rules are the host's).
 * By hand: `node test/e2e/cluster.ts up|down|status|import`.
 *
 * MCP_E2E_DIR: cluster directory (default /var/lib/mcp-operator-e2e). MCP_E2E_NODE_IP: the node's address (default:
 * the IPv4 address of the default route's interface); kube-apiserver and the kubelet bind to it, everything else
 * to 127.0.0.1. MCP_E2E_KEEP=1: leave a cluster whose start failed running, for inspection.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api, condition } from './api.ts';
import { ControlPlane, controlPlaneBinaries } from './control-plane.ts';
import {
  controlPlaneLogs,
  record,
  startClusterDns,
  startContainerd,
  startKubelet,
  startKubeProxy,
  waitForKubeProxy,
  waitForNode,
  withLogs,
  writePki,
} from './node-components.ts';
import { assertPodNetworkFree, detectNodeIP, kernelSettings } from './node-host.ts';
import { ensurePauseImage, importImages as importInto, PAUSE_IMAGE } from './node-images.ts';
import {
  CLUSTER_CIDR,
  type ClusterState,
  checkNodeDir,
  clusterDir,
  type Layout,
  layout,
  NODE_NAME,
  readState,
  SERVICE_CIDR,
  writeState,
} from './node-layout.ts';
import {
  ACTIVE,
  activeCluster,
  type DownResult,
  down,
  HOST_PATHS,
  KUBE_PROCESSES,
  nftTables,
  removeContainers,
} from './node-teardown.ts';
import { formatMarker, MARKER } from './owned-dir.ts';
import { isAlive, processStartTime, run } from './sh.ts';

const COMPONENTS = [...KUBE_PROCESSES, 'kubectl'];
const SYSCTLS = [
  'net/ipv4/ip_forward',
  'net/ipv6/conf/all/forwarding',
  'net/bridge/bridge-nf-call-iptables',
  'net/bridge/bridge-nf-call-ip6tables',
  'net/ipv4/conf/all/route_localnet',
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/netfilter/nf_conntrack_max',
  'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait',
].map((key) => `/proc/sys/${key}`);

export interface ClusterOptions {
  /** cluster directory; default MCP_E2E_DIR or /var/lib/mcp-operator-e2e */
  dir?: string;
  /** the node's address; default MCP_E2E_NODE_IP or the default route's interface address */
  nodeIP?: string;
  /** images (names in buildah's storage) to make available to the node */
  images?: string[];
  /** reuse a healthy running cluster (default true); false: always start afresh */
  reuse?: boolean;
  /** progress lines; default: stderr */
  log?: (line: string) => void;
}

export interface Cluster {
  dir: string;
  /** cluster-admin kubeconfig */
  kubeconfig: string;
  /** the operator's identity (control-plane.ts CONTROLLER_USER), with only the RBAC granted to it */
  controllerKubeconfig: string;
  server: string;
  adminToken: string;
  nodeName: string;
  nodeIP: string;
  podCIDR: string;
  serviceCIDR: string;
  /** directory with kubectl and the other Kubernetes binaries */
  binDir: string;
  /** true when an already running cluster was reused */
  reused: boolean;
  /** component name → log file */
  logs: Record<string, string>;
  /** seconds per phase of this start */
  timings: Record<string, number>;
  /** Copies images from buildah's storage to the node (pods: imagePullPolicy Never or IfNotPresent). */
  importImages(names: string[]): Promise<void>;
  /** `down`: stops and cleans up everything. */
  stop(): Promise<DownResult>;
}

const stderrLog = (line: string) => process.stderr.write(`e2e-cluster: ${line}\n`);

/** Starts the cluster, or reuses a healthy one started earlier (by `up` or another test run). */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const log = options.log ?? stderrLog;
  const l = layout(clusterDir(options.dir));
  // before anything else: a directory of someone else's is refused, untouched (the cleanup below empties it)
  const foreign = checkNodeDir(l.dir);
  if (foreign) throw new Error(foreign);
  await preflight();
  const timings: Record<string, number> = {};
  const started = Date.now();

  const existing = readState(l);
  if (existing && options.reuse !== false && (await healthy(existing))) {
    log(`reusing the running cluster in ${l.dir}`);
    const cluster = handle(l, existing, true, timings);
    if (options.images?.length) await cluster.importImages(options.images);
    timings.total = (Date.now() - started) / 1000;
    return cluster;
  }

  const active = activeCluster();
  if (active && active !== l.dir) {
    const other = readState(layout(active));
    if (other?.processes.some((p) => isAlive(p.pid, p.start))) {
      throw new Error(
        `another node cluster runs on this host (${active}): one node per host. Stop it first: an mcp-operator up with Ctrl-C in its terminal, else MCP_E2E_DIR=${active} node test/e2e/cluster.ts down`,
      );
    }
    log(`cleaning up the stale cluster in ${active}`);
    const stale = await down(active, log);
    if (stale.problems.length > 0) throw new Error(`could not clean up ${active}:\n${stale.problems.join('\n')}`);
    rmSync(ACTIVE, { force: true });
  }
  const cleanup = await down(l.dir, existing ? log : () => {});
  if (cleanup.problems.length > 0) {
    throw new Error(`could not clean up the previous cluster in ${l.dir}:\n${cleanup.problems.join('\n')}`);
  }
  timings.cleanup = cleanup.seconds;
  try {
    const state = await bringUp(l, options, log, timings);
    timings.total = (Date.now() - started) / 1000;
    return handle(l, state, false, timings);
  } catch (err) {
    if (process.env.MCP_E2E_KEEP !== '1') {
      log('start failed; cleaning up (MCP_E2E_KEEP=1 keeps the cluster for inspection)');
      const result = await down(l.dir, log);
      if (result.problems.length > 0) log(`cleanup problems:\n${result.problems.join('\n')}`);
    }
    throw err;
  }
}

/** `down` of the cluster in `dir` (default: MCP_E2E_DIR or /var/lib/mcp-operator-e2e). */
export async function stopCluster(dir?: string, log: (line: string) => void = stderrLog): Promise<DownResult> {
  return down(dir, log);
}

/** Copies images from buildah's storage into the running cluster's containerd. */
export async function importImages(names: string[], dir?: string): Promise<void> {
  const l = layout(clusterDir(dir));
  if (!existsSync(l.containerd.socket)) throw new Error(`no cluster running in ${l.dir} (node test/e2e/cluster.ts up)`);
  await importInto({ address: l.containerd.socket, cacheFile: l.containerd.imported, workDir: l.work }, names);
}

function handle(l: Layout, state: ClusterState, reused: boolean, timings: Record<string, number>): Cluster {
  return {
    dir: l.dir,
    kubeconfig: l.kubeconfig,
    controllerKubeconfig: join(l.controlPlane, 'controller.kubeconfig'),
    server: state.server,
    adminToken: state.adminToken,
    nodeName: state.nodeName,
    nodeIP: state.nodeIP,
    podCIDR: CLUSTER_CIDR,
    serviceCIDR: SERVICE_CIDR,
    binDir: state.binDir,
    reused,
    logs: Object.fromEntries(state.processes.map((p) => [p.name, p.log])),
    timings,
    importImages: (names) => importImages(names, l.dir),
    stop: () => down(l.dir),
  };
}

async function preflight(): Promise<void> {
  if (process.platform !== 'linux' || process.getuid?.() !== 0) {
    throw new Error('the e2e node cluster needs root on Linux (it runs containerd, a kubelet and kube-proxy)');
  }
  const missing: string[] = [];
  // the commands of scripts/system-commands.txt (the one command -> Debian package map), each named with its package
  const commands = await run('sh', [join(import.meta.dirname, '../../scripts/require-commands.sh'), 'base', 'e2e'], {
    allowFail: true,
  });
  if (commands.code !== 0) missing.push(commands.stderr.trim());
  if (!cniBinDir()) missing.push('CNI plugins (bridge, host-local, portmap, loopback)');
  if (missing.length > 0) throw new Error(`missing: ${missing.join(', ')}; run: sh test/e2e/install-deps.sh`);
}

/**
 * A teardown from before the control plane's marker file (src/local-cluster/owned-dir.ts) left its directory with
 * only logs/ in it; the directory is this harness's own, so it is marked as the control plane's rather than refused.
 */
function adoptControlPlaneDir(dir: string): void {
  if (!existsSync(dir) || existsSync(join(dir, MARKER))) return;
  const entries = readdirSync(dir);
  if (entries.length > 0 && entries.every((e) => e === 'logs')) {
    writeFileSync(join(dir, MARKER), formatMarker({ createdDir: true }));
  }
}

function cniBinDir(): string | undefined {
  return ['/usr/lib/cni', '/opt/cni/bin'].find((d) =>
    ['bridge', 'host-local', 'portmap', 'loopback'].every((p) => existsSync(join(d, p))),
  );
}

export async function healthy(state: ClusterState): Promise<boolean> {
  if (!state.ready || !state.processes.every((p) => isAlive(p.pid, p.start))) return false;
  // a cluster started before the node had its DNS is started again, not reused
  if (!state.processes.some((p) => p.name === 'cluster-dns')) return false;
  const api = new Api(state.server, state.adminToken);
  try {
    const ready = await api.request('GET', '/readyz');
    if (ready.status !== 200) return false;
    const node = await api.request('GET', `/api/v1/nodes/${state.nodeName}`);
    return node.status === 200 && condition(node.body, 'Ready')?.status === 'True';
  } catch {
    return false;
  } finally {
    await api.close();
  }
}

async function bringUp(
  l: Layout,
  options: ClusterOptions,
  log: (line: string) => void,
  timings: Record<string, number>,
): Promise<ClusterState> {
  let mark = Date.now();
  const phase = (name: string) => {
    timings[name] = (Date.now() - mark) / 1000;
    mark = Date.now();
  };
  const binDir = await controlPlaneBinaries(COMPONENTS);
  const cniBin = cniBinDir() as string;
  const nodeIP = options.nodeIP ?? process.env.MCP_E2E_NODE_IP ?? (await detectNodeIP());
  const own = JSON.parse((await run('ip', ['-json', 'addr', 'show'])).stdout || '[]') as Array<{
    addr_info?: Array<{ local?: string }>;
  }>;
  if (!own.some((link) => link.addr_info?.some((a) => a.local === nodeIP))) {
    throw new Error(`node IP ${nodeIP} is not an address of this machine (ip addr); set MCP_E2E_NODE_IP`);
  }
  await assertPodNetworkFree();
  rmSync(l.logs, { recursive: true, force: true });
  for (const d of [
    l.logs,
    l.work,
    l.pki,
    l.containerd.root,
    l.cni.conf,
    l.cni.ipam,
    l.kubelet.root,
    l.kubelet.podLogs,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  const state: ClusterState = {
    version: 1,
    ready: false,
    binDir,
    nodeName: NODE_NAME,
    nodeIP,
    server: '',
    adminToken: '',
    kubeconfig: l.kubeconfig,
    cgroupDriver: readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' ? 'systemd' : 'cgroupfs',
    processes: [],
    sysctls: Object.fromEntries(SYSCTLS.filter((p) => existsSync(p)).map((p) => [p, readFileSync(p, 'utf8').trim()])),
    nftTablesBefore: await nftTables(),
    hostPathsBefore: HOST_PATHS.filter((p) => existsSync(p)),
    startedAt: new Date().toISOString(),
  };
  writeState(l, state);
  writeFileSync(ACTIVE, `${l.dir}\n`);
  await kernelSettings(log);
  phase('prepare');

  log(`node ${NODE_NAME} at ${nodeIP}; certificates`);
  const pki = await writePki(l, nodeIP);
  phase('pki');

  // The control plane and the container runtime (with its images) start side by side.
  const controlPlane = async () => {
    adoptControlPlaneDir(l.controlPlane);
    const plane = new ControlPlane({
      dir: l.controlPlane,
      binDir,
      bindAddress: nodeIP,
      nodeAuthorization: true,
      scheduler: true,
      detached: true,
      users: [
        { name: 'kubelet', user: `system:node:${NODE_NAME}`, groups: ['system:nodes'] },
        { name: 'kube-proxy', user: 'system:kube-proxy' },
      ],
      apiServerArgs: [
        `--kubelet-client-certificate=${pki.apiserverClientCert}`,
        `--kubelet-client-key=${pki.apiserverClientKey}`,
        `--kubelet-certificate-authority=${pki.ca}`,
        '--kubelet-preferred-address-types=InternalIP,Hostname',
      ],
    });
    log('control plane: etcd, kube-apiserver, kube-controller-manager, kube-scheduler');
    try {
      await plane.start();
    } catch (err) {
      // ControlPlane names the log of the component that failed ("see <path>"); else show them all
      const named = /see (\S+\.log)/.exec(err instanceof Error ? err.message : '')?.[1];
      throw withLogs(err, named ? [named] : controlPlaneLogs(l));
    } finally {
      for (const [name, pid] of Object.entries(plane.pids())) {
        record(l, state, { name, pid, start: processStartTime(pid), log: join(l.controlPlane, 'logs', `${name}.log`) });
      }
    }
    state.server = plane.server;
    state.adminToken = plane.adminBearerToken;
    writeState(l, state);
    copyFileSync(plane.kubeconfigs.admin, l.kubeconfig);
    return plane;
  };
  const runtime = async () => {
    log('pause image');
    await ensurePauseImage(l.work);
    log('containerd');
    await startContainerd(l, state, cniBin);
    await removeContainers(l); // a previous run's pods, if it died without `down`
    const images = [PAUSE_IMAGE, ...(options.images ?? [])];
    log(`importing ${images.join(', ')}`);
    await importInto({ address: l.containerd.socket, cacheFile: l.containerd.imported, workDir: l.work }, images);
  };
  const [plane] = await Promise.all([controlPlane(), runtime()]);
  phase('controlPlaneAndRuntime');

  log('cluster DNS');
  await startClusterDns(l, state);
  log('kubelet');
  const extra = plane.kubeconfigs.extra ?? {};
  await startKubelet(l, state, pki, extra.kubelet as string);
  log('kube-proxy');
  await startKubeProxy(l, state, extra['kube-proxy'] as string);
  await waitForNode(state);
  phase('node');
  await waitForKubeProxy(state);
  phase('kubeProxy');

  state.ready = true;
  writeState(l, state);
  return state;
}
