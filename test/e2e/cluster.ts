/**
 * A real single-node Kubernetes cluster on this machine, for end-to-end tests: the control plane of
 * src/local-cluster/control-plane.ts (etcd, kube-apiserver with Node,RBAC + NodeRestriction, kube-controller-manager,
 * kube-scheduler) plus a node: containerd (own config, root, state and socket under the cluster directory) with
 * runc and the bridge/host-local/portmap CNI plugins, a kubelet, kube-proxy (iptables mode). Kubernetes binaries
 * from scripts/k8s-binaries.sh; the pause image is compiled locally; images come from buildah's storage, no
 * registry. Needs root.
 *
 *   node test/e2e/cluster.ts up [--image NAME]...   start, or reuse a healthy running cluster; prints the kubeconfig
 *   node test/e2e/cluster.ts down                   stop everything and clean up (keeps logs and the image cache)
 *   node test/e2e/cluster.ts status
 *   node test/e2e/cluster.ts import NAME...          copy images from buildah's storage to the node
 *
 * MCP_E2E_DIR: cluster directory (default /var/lib/mcp-operator-e2e). MCP_E2E_NODE_IP: the node's address (default:
 * the IPv4 address of the default route's interface); kube-apiserver and the kubelet bind to it, everything else
 * to 127.0.0.1. MCP_E2E_KEEP=1: leave a cluster whose start failed running, for inspection.
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ControlPlane, controlPlaneBinaries, freePort } from '../../src/local-cluster/control-plane.ts';
import { formatMarker, MARKER } from '../../src/local-cluster/owned-dir.ts';
import { Api, condition } from './api.ts';
import { ensurePauseImage, importImages as importInto, PAUSE_IMAGE } from './images.ts';
import {
  BRIDGE,
  CLUSTER_CIDR,
  type ClusterState,
  CNI_NETWORK,
  clusterDir,
  type Layout,
  layout,
  NODE_NAME,
  POD_SUBNET,
  type ProcessRecord,
  readState,
  SERVICE_CIDR,
  writeState,
} from './layout.ts';
import { isAlive, logTail, processStartTime, run, waitFor } from './sh.ts';
import {
  ACTIVE,
  activeCluster,
  type DownResult,
  down,
  HOST_PATHS,
  KUBE_PROCESSES,
  nftTables,
  removeContainers,
} from './teardown.ts';

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
        `another e2e cluster runs on this host (${active}); stop it first: MCP_E2E_DIR=${active} node test/e2e/cluster.ts down`,
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

async function healthy(state: ClusterState): Promise<boolean> {
  if (!state.ready || !state.processes.every((p) => isAlive(p.pid, p.start))) return false;
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

// --- host -------------------------------------------------------------------------------------------------------

async function detectNodeIP(): Promise<string> {
  const routes = JSON.parse((await run('ip', ['-json', '-4', 'route', 'show', 'default'])).stdout || '[]') as Array<{
    dev?: string;
  }>;
  const links = JSON.parse(
    (await run('ip', ['-json', '-4', 'addr', 'show', 'scope', 'global'])).stdout || '[]',
  ) as Array<{
    ifname: string;
    addr_info?: Array<{ local?: string }>;
  }>;
  const dev = routes[0]?.dev;
  const link = links.find((k) => k.ifname === dev) ?? links.find((k) => k.ifname !== BRIDGE);
  const address = link?.addr_info?.[0]?.local;
  if (!address) throw new Error('no IPv4 address for the node found (no default route?); set MCP_E2E_NODE_IP');
  return address;
}

function ipv4(address: string): number {
  return address.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

function overlaps(a: string, b: string): boolean {
  const [aa = '', ab = '32'] = a.split('/');
  const [ba = '', bb = '32'] = b.split('/');
  const bits = Math.min(Number(ab), Number(bb));
  const size = 2 ** (32 - bits);
  return Math.floor(ipv4(aa) / size) === Math.floor(ipv4(ba) / size);
}

/** The pod and Service ranges must not collide with a network this machine already routes. */
async function assertPodNetworkFree(): Promise<void> {
  const routes = JSON.parse((await run('ip', ['-json', '-4', 'route', 'show'])).stdout || '[]') as Array<{
    dst: string;
    dev?: string;
  }>;
  for (const route of routes) {
    if (route.dst === 'default' || route.dev === BRIDGE) continue;
    for (const range of [CLUSTER_CIDR, SERVICE_CIDR]) {
      if (overlaps(route.dst.includes('/') ? route.dst : `${route.dst}/32`, range)) {
        throw new Error(`this machine routes ${route.dst} (dev ${route.dev}), which overlaps the cluster's ${range}`);
      }
    }
  }
}

/** IP forwarding and bridge netfilter (Services reached from pods on the bridge); records what it changed. */
async function kernelSettings(log: (line: string) => void): Promise<void> {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  if (!existsSync('/proc/sys/net/bridge')) await run('modprobe', ['br_netfilter'], { allowFail: true });
  if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
    writeFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
  } else {
    log('warning: no br_netfilter (/proc/sys/net/bridge): pod-to-Service traffic within the bridge will not be NATed');
  }
}

/** Whether this process has CAP_SYS_RESOURCE (bit 24), which lowering an oom_score_adj takes. */
function canLowerOomScore(): boolean {
  const caps = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${caps}`) & (1n << 24n)) !== 0n;
}

// --- certificates -----------------------------------------------------------------------------------------------

interface Pki {
  ca: string;
  apiserverClientCert: string;
  apiserverClientKey: string;
  kubeletCert: string;
  kubeletKey: string;
}

/** A CA for the kubelet's API: its serving certificate, and the client certificate kube-apiserver presents to it. */
async function writePki(l: Layout, nodeIP: string): Promise<Pki> {
  const p = (name: string) => join(l.pki, name);
  const key = (name: string) =>
    run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', p(name)]);
  await key('ca.key');
  await run('openssl', [
    ...['req', '-x509', '-new', '-key', p('ca.key'), '-days', '3650', '-out', p('ca.crt')],
    ...['-subj', '/CN=mcp-operator-e2e-kubelet-ca'],
  ]);
  const sign = async (name: string, subject: string, extensions: string) => {
    await key(`${name}.key`);
    await run('openssl', ['req', '-new', '-key', p(`${name}.key`), '-subj', subject, '-out', p(`${name}.csr`)]);
    writeFileSync(p(`${name}.ext`), extensions);
    await run('openssl', [
      ...['x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial'],
      ...['-days', '3650', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`)],
    ]);
  };
  await sign(
    'apiserver-kubelet-client',
    '/O=system:masters/CN=kube-apiserver-kubelet-client',
    'keyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n',
  );
  await sign(
    'kubelet',
    `/CN=system:node:${NODE_NAME}`,
    `keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${NODE_NAME},IP:${nodeIP}\n`,
  );
  return {
    ca: p('ca.crt'),
    apiserverClientCert: p('apiserver-kubelet-client.crt'),
    apiserverClientKey: p('apiserver-kubelet-client.key'),
    kubeletCert: p('kubelet.crt'),
    kubeletKey: p('kubelet.key'),
  };
}

// --- components -------------------------------------------------------------------------------------------------

function record(l: Layout, state: ClusterState, entry: ProcessRecord): void {
  state.processes = state.processes.filter((p) => p.name !== entry.name);
  state.processes.push(entry);
  writeState(l, state);
}

/** Starts a component in its own session, logging to logs/<name>.log, and records it in state.json. */
async function launch(l: Layout, state: ClusterState, name: string, command: string, args: string[]) {
  const { openSync, closeSync } = await import('node:fs');
  const { spawn } = await import('node:child_process');
  const logPath = join(l.logs, `${name}.log`);
  const fd = openSync(logPath, 'a');
  try {
    const path = `${process.env.PATH ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`;
    const child = spawn(command, args, {
      stdio: ['ignore', fd, fd],
      detached: true,
      env: { ...process.env, PATH: path },
    });
    child.unref();
    const pid = await new Promise<number>((ok, fail) => {
      child.once('error', (err) => fail(new Error(`${name}: ${err.message}`)));
      child.once('spawn', () => ok(child.pid as number));
    });
    record(l, state, { name, pid, start: processStartTime(pid), log: logPath });
  } finally {
    closeSync(fd);
  }
}

function processRecord(state: ClusterState, name: string): ProcessRecord {
  const entry = state.processes.find((p) => p.name === name);
  if (!entry) throw new Error(`${name} was not started`);
  return entry;
}

/** An error whose message ends with the tails of the given logs (the component's own words). */
function withLogs(err: unknown, logs: string[]): Error {
  const tails = logs.map((path) => logTail(path)).filter(Boolean);
  const message = err instanceof Error ? err.message : String(err);
  return new Error([message, ...tails].join('\n\n'));
}

function controlPlaneLogs(l: Layout): string[] {
  return ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((n) =>
    join(l.controlPlane, 'logs', `${n}.log`),
  );
}

/** Fails with the component's log when it is no longer running. */
function assertRunning(state: ClusterState, names: string[]): void {
  for (const name of names) {
    const entry = processRecord(state, name);
    if (!isAlive(entry.pid, entry.start)) throw withLogs(new Error(`${name} exited`), [entry.log]);
  }
}

async function startContainerd(l: Layout, state: ClusterState, cniBin: string): Promise<void> {
  const c = l.containerd;
  const systemd = state.cgroupDriver === 'systemd';
  const s = JSON.stringify; // TOML basic strings: JSON's escaping
  writeFileSync(
    c.config,
    `# Generated by test/e2e/cluster.ts: containerd for the e2e node only, nothing shared with a system containerd.
version = 2
root = ${s(c.root)}
state = ${s(c.state)}
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
]

[grpc]
  address = ${s(c.socket)}

[ttrpc]
  address = ${s(`${c.socket}.ttrpc`)}

[plugins."io.containerd.internal.v1.opt"]
  path = ${s(c.opt)}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${s(PAUSE_IMAGE)}
  netns_mounts_under_state_dir = true
  disable_apparmor = ${!existsSync('/sys/kernel/security/apparmor')}
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_unprivileged_ports = false
  enable_unprivileged_icmp = false
  # Without CAP_SYS_RESOURCE (some VMs and containers drop it even for root) runc cannot lower a container's
  # oom_score_adj (the CRI plugin asks -998 for the pause container): clamp to containerd's own instead.
  restrict_oom_score_adj = ${!canLowerOomScore()}

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${s(cniBin)}
    conf_dir = ${s(l.cni.conf)}

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      Root = ${s(c.runc)}
      SystemdCgroup = ${systemd}
`,
  );
  // bridge + host-local (+ portmap for hostPort); containerd itself sets up each pod's lo with the loopback plugin
  writeFileSync(
    join(l.cni.conf, `10-${CNI_NETWORK}.conflist`),
    `${JSON.stringify(
      {
        cniVersion: '1.0.0',
        name: CNI_NETWORK,
        plugins: [
          {
            type: 'bridge',
            bridge: BRIDGE,
            isGateway: true,
            ipMasq: true,
            hairpinMode: true,
            ipam: {
              type: 'host-local',
              dataDir: l.cni.ipam,
              ranges: [[{ subnet: POD_SUBNET }]],
              routes: [{ dst: '0.0.0.0/0' }],
            },
          },
          { type: 'portmap', capabilities: { portMappings: true } },
        ],
      },
      null,
      2,
    )}\n`,
  );
  await launch(l, state, 'containerd', 'containerd', ['--config', c.config, '--log-level', 'info']);
  const entry = processRecord(state, 'containerd');
  await waitFor(
    async () => {
      assertRunning(state, ['containerd']);
      if (!existsSync(c.socket)) return undefined;
      const version = await run('ctr', ['--address', c.socket, 'version'], { allowFail: true, timeoutMs: 5000 });
      return version.code === 0 ? true : undefined;
    },
    30_000,
    () => withLogs(new Error(`containerd did not answer on ${c.socket} in 30 s`), [entry.log]),
    100,
  );
}

async function startKubelet(l: Layout, state: ClusterState, pki: Pki, kubeconfig: string): Promise<void> {
  const [port, healthzPort] = [await freePort(), await freePort()];
  writeFileSync(
    l.kubelet.config,
    `${JSON.stringify(
      {
        apiVersion: 'kubelet.config.k8s.io/v1beta1',
        kind: 'KubeletConfiguration',
        address: state.nodeIP,
        port,
        readOnlyPort: 0,
        healthzBindAddress: '127.0.0.1',
        healthzPort,
        tlsCertFile: pki.kubeletCert,
        tlsPrivateKeyFile: pki.kubeletKey,
        authentication: {
          anonymous: { enabled: false },
          webhook: { enabled: true },
          x509: { clientCAFile: pki.ca },
        },
        authorization: { mode: 'Webhook' },
        containerRuntimeEndpoint: `unix://${l.containerd.socket}`,
        imageServiceEndpoint: `unix://${l.containerd.socket}`,
        cgroupDriver: state.cgroupDriver,
        failSwapOn: false,
        failCgroupV1: false,
        resolvConf: '/etc/resolv.conf',
        clusterDomain: 'cluster.local',
        podLogsDir: l.kubelet.podLogs,
        // images cannot be pulled again (no registry): never garbage-collect them; tolerate a fullish disk
        imageGCHighThresholdPercent: 100,
        imageGCLowThresholdPercent: 99,
        evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '1%', 'imagefs.available': '1%' },
        protectKernelDefaults: false,
        ...(canLowerOomScore() ? {} : { oomScoreAdj: 0 }),
        shutdownGracePeriod: '0s',
        registerNode: true,
        syncFrequency: '10s',
        fileCheckFrequency: '10s',
      },
      null,
      2,
    )}\n`,
  );
  await launch(l, state, 'kubelet', join(state.binDir, 'kubelet'), [
    `--config=${l.kubelet.config}`,
    `--kubeconfig=${kubeconfig}`,
    `--root-dir=${l.kubelet.root}`,
    `--cert-dir=${join(l.kubelet.root, 'pki')}`,
    `--hostname-override=${NODE_NAME}`,
    `--node-ip=${state.nodeIP}`,
    '--v=2',
  ]);
}

async function startKubeProxy(l: Layout, state: ClusterState, kubeconfig: string): Promise<void> {
  const [healthz, metrics] = [await freePort(), await freePort()];
  writeFileSync(
    l.kubeProxyConfig,
    `${JSON.stringify(
      {
        apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
        kind: 'KubeProxyConfiguration',
        clientConnection: { kubeconfig },
        mode: 'iptables',
        hostnameOverride: NODE_NAME,
        clusterCIDR: CLUSTER_CIDR,
        healthzBindAddress: `127.0.0.1:${healthz}`,
        metricsBindAddress: `127.0.0.1:${metrics}`,
        nodePortAddresses: [`${state.nodeIP}/32`],
        // no host sysctl changes beyond forwarding: leave conntrack sizing and route_localnet alone
        conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
        iptables: { localhostNodePorts: false, minSyncPeriod: '0s', syncPeriod: '30s' },
        ...(canLowerOomScore() ? {} : { oomScoreAdj: 0 }),
      },
      null,
      2,
    )}\n`,
  );
  await launch(l, state, 'kube-proxy', join(state.binDir, 'kube-proxy'), [`--config=${l.kubeProxyConfig}`, '--v=2']);
  state.kubeProxyHealthz = healthz;
  writeState(l, state);
}

async function waitForNode(state: ClusterState): Promise<void> {
  const api = new Api(state.server, state.adminToken);
  let last = 'not registered';
  try {
    await waitFor(
      async () => {
        assertRunning(state, ['containerd', 'kubelet']);
        const node = await api.request('GET', `/api/v1/nodes/${state.nodeName}`);
        if (node.status !== 200) return undefined;
        const ready = condition(node.body, 'Ready');
        last = ready ? `${ready.status} ${ready.reason ?? ''}: ${ready.message ?? ''}` : 'no Ready condition';
        return ready?.status === 'True' ? true : undefined;
      },
      120_000,
      () =>
        withLogs(new Error(`node ${state.nodeName} not Ready in 120 s (Ready: ${last})`), [
          processRecord(state, 'kubelet').log,
          processRecord(state, 'containerd').log,
        ]),
      250,
    );
  } finally {
    await api.close();
  }
}

async function waitForKubeProxy(state: ClusterState): Promise<void> {
  const port = state.kubeProxyHealthz;
  let last = '';
  await waitFor(
    async () => {
      assertRunning(state, ['kube-proxy']);
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`);
        last = `${res.status} ${await res.text()}`;
        return res.status === 200 ? true : undefined;
      } catch (err) {
        last = (err as Error).message;
        return undefined;
      }
    },
    60_000,
    () => withLogs(new Error(`kube-proxy not healthy in 60 s (${last})`), [processRecord(state, 'kube-proxy').log]),
    250,
  );
}

// --- CLI --------------------------------------------------------------------------------------------------------

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const images: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--image' && rest[i + 1]) images.push(rest[++i] as string);
  }
  switch (command) {
    case 'up': {
      const cluster = await startCluster({ images });
      const kubectl = join(cluster.binDir, 'kubectl');
      process.stderr.write(
        [
          `e2e-cluster: ${cluster.reused ? 'reused' : 'started'} in ${cluster.timings.total?.toFixed(1)} s: node ${cluster.nodeName} Ready at ${cluster.nodeIP}, API ${cluster.server}`,
          '',
          `  export KUBECONFIG=${cluster.kubeconfig}`,
          `  ${kubectl} get nodes,pods -A`,
          '',
          `  images: node test/e2e/cluster.ts import localhost/NAME:TAG   (from buildah's storage; pods: imagePullPolicy: Never)`,
          `  logs:   ${join(cluster.dir, 'logs')}, ${join(cluster.dir, 'control-plane', 'logs')}`,
          '  stop:   node test/e2e/cluster.ts down',
          '',
        ].join('\n'),
      );
      process.stdout.write(`${cluster.kubeconfig}\n`);
      return 0;
    }
    case 'down': {
      const result = await stopCluster();
      for (const problem of result.problems) process.stderr.write(`e2e-cluster: ${problem}\n`);
      process.stderr.write(`e2e-cluster: down in ${result.seconds.toFixed(1)} s\n`);
      return result.problems.length > 0 ? 1 : 0;
    }
    case 'status': {
      const l = layout(clusterDir());
      const state = readState(l);
      if (!state) {
        process.stdout.write('no cluster\n');
        return 1;
      }
      const ok = await healthy(state);
      process.stdout.write(`${ok ? 'running' : 'not healthy'}: ${l.dir}\n`);
      for (const p of state.processes) {
        process.stdout.write(
          `  ${p.name.padEnd(24)} pid ${p.pid} ${isAlive(p.pid, p.start) ? 'up' : 'DOWN'}  ${p.log}\n`,
        );
      }
      return ok ? 0 : 1;
    }
    case 'import':
      await importImages(rest);
      return 0;
    default:
      process.stderr.write('usage: node test/e2e/cluster.ts up [--image NAME]... | down | status | import NAME...\n');
      return 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`e2e-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
