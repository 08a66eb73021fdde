/**
 * Tears the node cluster down to nothing, also after a crash (no state.json, dead components): stops every process
 * it started and whatever runs in the pods, unmounts everything under its directory (pod volumes, container
 * rootfs, shm, network namespaces), removes the CNI bridge, the iptables/nftables rules of kube-proxy, the kubelet
 * and the CNI plugins, the pod cgroups, and restores the sysctls it changed. Keeps the logs and containerd's
 * image store (the import cache).
 */
import { existsSync, readdirSync, readFileSync, readlinkSync, rmdirSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  BRIDGE,
  type ClusterState,
  CNI_NETWORK,
  checkNodeDir,
  clusterDir,
  type Layout,
  layout,
  NODE_ENTRIES,
  readState,
} from './node-layout.ts';
import { MARKER } from './owned-dir.ts';
import { isAlive, run, terminate } from './sh.ts';

/**
 * Paths outside the cluster directory that the kubelet, containerd or libcni create at fixed places (children
 * first); `down` removes those that did not exist before the cluster when they are empty, and /var/lib/kubelet
 * (the device-plugin socket and checkpoint) with its content.
 */
export const HOST_PATHS = [
  '/var/log/containers',
  '/var/log/pods',
  '/run/containerd/s',
  '/run/containerd',
  '/var/lib/cni/results',
  '/var/lib/cni',
  '/var/lib/kubelet',
];
const REMOVED_WITH_CONTENT_IF_NEW = new Set(['/var/lib/kubelet']);
/** libcni's result cache (containerd 1.6 does not move it): one file per pod interface */
const CNI_RESULTS = '/var/lib/cni/results';
/** Executables that may run on behalf of the cluster (matched by /proc/<pid>/exe). */
/** The Kubernetes processes of the cluster (built from the pinned Go modules). */
export const KUBE_PROCESSES = [
  'etcd',
  'kube-apiserver',
  'kube-controller-manager',
  'kube-scheduler',
  'kubelet',
  'kube-proxy',
];
const OWN_EXECUTABLES = new Set([
  ...KUBE_PROCESSES,
  'containerd',
  'containerd-shim',
  'containerd-shim-runc-v1',
  'containerd-shim-runc-v2',
  'runc',
  'node', // cluster-dns.ts (its command line names the cluster's state.json)
]);

export interface DownResult {
  seconds: number;
  /** steps that failed; empty when everything is gone */
  problems: string[];
}

export async function down(dir?: string, log: (line: string) => void = () => {}): Promise<DownResult> {
  const started = Date.now();
  const l = layout(clusterDir(dir));
  // A directory that is not a node cluster's (a mistyped --node-dir or MCP_E2E_DIR) is left exactly as it is
  const foreign = checkNodeDir(l.dir);
  if (foreign) return { seconds: (Date.now() - started) / 1000, problems: [foreign] };
  const state = readState(l);
  // The pod cgroups, the bridge, the KUBE-* chains are per host: leave them to the cluster that is active, if any
  const active = activeCluster();
  const owner = active === undefined || active === l.dir;
  const problems: string[] = [];
  const step = async (what: string, action: () => Promise<unknown> | unknown) => {
    try {
      await action();
    } catch (err) {
      problems.push(`${what}: ${(err as Error).message}`);
    }
  };
  const stop = async (names: string[]) => {
    await Promise.all(
      (state?.processes ?? [])
        .filter((p) => names.includes(p.name))
        .map((p) => step(`stop ${p.name}`, () => terminate(p.pid, p.start))),
    );
  };

  log('stopping kube-proxy, kubelet, cluster-dns, kube-scheduler, kube-controller-manager');
  await stop(['kube-proxy', 'kubelet', 'cluster-dns', 'kube-scheduler', 'kube-controller-manager']);
  log('removing containers');
  await step('containers', () => removeContainers(l));
  if (owner) await step('pod processes', () => killPodProcesses());
  log('stopping containerd, kube-apiserver, etcd');
  await stop(['containerd']);
  await stop(['kube-apiserver']);
  await stop(['etcd']);
  await step('leftover processes', () => killLeftovers(l.dir));
  log('unmounting');
  await step('mounts', () => unmountUnder(l.dir));
  if (owner) {
    log('removing network, rules, cgroups');
    await step('network', () => removeNetwork());
    if (state?.binDir && existsSync(join(state.binDir, 'kube-proxy'))) {
      await step('kube-proxy --cleanup', () =>
        run(join(state.binDir, 'kube-proxy'), ['--cleanup', '--v=0'], { timeoutMs: 60_000 }),
      );
    }
    await step('iptables', () => sweepIptables());
    await step('nftables', () => removeEmptyNftTables(state));
    await step('cgroups', () => removePodCgroups());
    if (state) await step('sysctls', () => restoreSysctls(state));
    await step('host paths', () => removeNewHostPaths(state));
  } else {
    log(`the node's network, rules and cgroups belong to the cluster in ${active}: left alone`);
  }
  await step('container log links', () => removeLogLinks(l));
  await step('CNI result cache', () => removeCniResults(l));
  await step('files', () => removeFiles(l));
  if (active === l.dir && problems.length === 0) rmSync(ACTIVE, { force: true });
  return { seconds: (Date.now() - started) / 1000, problems };
}

/** Names the directory of the cluster that owns this host's node resources (one node cluster per host). */
export const ACTIVE = '/run/mcp-operator-e2e.active';

/** The directory of the cluster that is up (or was, and was not torn down) on this host, if any. */
export function activeCluster(): string | undefined {
  try {
    return readFileSync(ACTIVE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

// --- processes -------------------------------------------------------------------------------------------------

/** Kills and deletes every task and container in every namespace of the cluster's containerd, if it answers. */
export async function removeContainers(l: Layout): Promise<void> {
  if (!existsSync(l.containerd.socket)) return;
  const ctr = (args: string[], timeoutMs = 20_000) =>
    run('ctr', ['--address', l.containerd.socket, '--timeout', '10s', ...args], { allowFail: true, timeoutMs });
  const version = await ctr(['version'], 5_000);
  if (version.code !== 0) return; // containerd is not running: the cgroup and process sweeps take over
  const namespaces = (await ctr(['namespaces', 'ls', '--quiet'])).stdout.split('\n').filter(Boolean);
  for (const ns of namespaces) {
    const tasks = (await ctr(['--namespace', ns, 'tasks', 'ls', '--quiet'])).stdout.split('\n').filter(Boolean);
    await Promise.all(tasks.map((id) => ctr(['--namespace', ns, 'tasks', 'kill', '--signal', 'SIGKILL', id])));
    await Promise.all(tasks.map((id) => ctr(['--namespace', ns, 'tasks', 'delete', '--force', id])));
    const containers = (await ctr(['--namespace', ns, 'containers', 'ls', '--quiet'])).stdout
      .split('\n')
      .filter(Boolean);
    for (let i = 0; i < containers.length; i += 20) {
      await ctr(['--namespace', ns, 'containers', 'delete', ...containers.slice(i, i + 20)]);
    }
  }
}

/** Every process in a pod cgroup (kubepods, or kubepods.slice with the systemd driver), killed until none is left. */
async function killPodProcesses(): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = podCgroups().flatMap((cg) => readPids(join(cg, 'cgroup.procs')));
    if (pids.length === 0) return;
    for (const pid of new Set(pids)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
    }
    await sleep(100);
  }
  throw new Error('processes remain in the kubepods cgroups after 5 s of SIGKILL');
}

/** Cluster executables still running with the cluster directory on their command line (shims, unrecorded pids). */
async function killLeftovers(dir: string): Promise<void> {
  const protect = ancestors();
  for (let round = 0; round < 50; round++) {
    const left = ownProcesses(dir).filter((pid) => !protect.has(pid));
    if (left.length === 0) return;
    for (const pid of left) {
      try {
        process.kill(pid, round === 0 ? 'SIGTERM' : 'SIGKILL');
      } catch {}
    }
    await sleep(round === 0 ? 1000 : 100);
  }
  throw new Error(`processes still running: ${ownProcesses(dir).join(' ')}`);
}

/** Pids of cluster executables whose command line names `dir`, or that run in it. */
export function ownProcesses(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const exe = basename(readlinkSync(`/proc/${entry}/exe`)).replace(/ \(deleted\)$/, '');
      if (!OWN_EXECUTABLES.has(exe)) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' ');
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if ((cmdline.includes(`${dir}/`) || cwd === dir || cwd.startsWith(`${dir}/`)) && isAlive(Number(entry))) {
        pids.push(Number(entry));
      }
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

function ancestors(): Set<number> {
  const pids = new Set<number>([process.pid]);
  let pid = process.ppid;
  while (pid > 1 && !pids.has(pid)) {
    pids.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  return pids;
}

function readPids(file: string): number[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

// --- mounts ------------------------------------------------------------------------------------------------------

interface Mount {
  point: string;
  fstype: string;
}

export function mounts(): Mount[] {
  const decode = (s: string) =>
    s.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.split(' ');
      const separator = fields.indexOf('-');
      return { point: decode(fields[4] ?? ''), fstype: fields[separator + 1] ?? '' };
    });
}

export function mountsUnder(dir: string): string[] {
  return [...new Set(mounts().map((m) => m.point))].filter((p) => p === dir || p.startsWith(`${dir}/`));
}

async function unmountUnder(dir: string): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const points = mountsUnder(dir).sort((a, b) => b.length - a.length);
    if (points.length === 0) return;
    for (const point of points) {
      const res = await run('umount', [point], { allowFail: true });
      if (res.code !== 0) await run('umount', ['--lazy', point], { allowFail: true });
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) throw new Error(`still mounted: ${left.join(' ')}`);
}

// --- network ----------------------------------------------------------------------------------------------------

async function removeNetwork(): Promise<void> {
  const exists = (await run('ip', ['link', 'show', BRIDGE], { allowFail: true })).code === 0;
  if (!exists) return;
  // veth ends of pods whose namespace is still held by something; normally gone with the namespaces
  const ports = JSON.parse((await run('ip', ['-json', 'link', 'show', 'master', BRIDGE])).stdout || '[]') as Array<{
    ifname: string;
  }>;
  for (const port of ports)
    await run('ip', ['link', 'delete', port.ifname.split('@')[0] ?? port.ifname], { allowFail: true });
  await run('ip', ['link', 'delete', BRIDGE]);
}

/**
 * Removes from iptables and ip6tables (filter, nat, mangle, raw) every KUBE-* chain (kube-proxy, kubelet) and the
 * CNI plugins' rules and chains of our network (bridge ipMasq, portmap), with the rules that jump to them.
 */
export async function sweepIptables(): Promise<void> {
  for (const family of ['iptables', 'ip6tables']) {
    for (const table of ['filter', 'nat', 'mangle', 'raw']) {
      // spawns: iptables, ip6tables
      const listed = await run(family, ['-w', '5', '-t', table, '-S'], { allowFail: true });
      if (listed.code !== 0) continue;
      const script = iptablesSweepScript(listed.stdout);
      if (!script) continue;
      // spawns: iptables-restore, ip6tables-restore
      await run(`${family}-restore`, ['-w', '5', '--noflush'], { input: `*${table}\n${script}COMMIT\n` });
    }
  }
}

/** The iptables-restore lines (without *table/COMMIT) that remove our chains and rules from `iptables -S` output. */
export function iptablesSweepScript(listing: string): string {
  const lines = listing.split('\n').filter(Boolean);
  const chains = lines.filter((l) => l.startsWith('-N ')).map((l) => l.slice(3).trim());
  const rules = lines
    .filter((l) => l.startsWith('-A '))
    .map((l) => {
      const [, chain = '', rest = ''] = /^-A (\S+) ?(.*)$/.exec(l) ?? [];
      const target = /(?:^| )-[jg] (\S+)/.exec(rest)?.[1];
      return { chain, rest, target, ours: l.includes(`name: \\"${CNI_NETWORK}\\"`) };
    });
  const doomed = new Set(chains.filter((c) => c.startsWith('KUBE-')));
  for (const r of rules)
    if (r.ours && r.target?.startsWith('CNI-') && !r.target.startsWith('CNI-HOSTPORT-')) doomed.add(r.target);
  const remaining = (chain: string) => rules.filter((r) => r.chain === chain && !r.ours && !doomed.has(r.target ?? ''));
  // portmap's shared chains go when no other network has host ports left in them
  if (chains.includes('CNI-HOSTPORT-DNAT') && remaining('CNI-HOSTPORT-DNAT').length === 0) {
    doomed.add('CNI-HOSTPORT-DNAT');
    if (!chains.some((c) => c.startsWith('CNI-DN-') && !doomed.has(c))) {
      for (const c of ['CNI-HOSTPORT-SETMARK', 'CNI-HOSTPORT-MASQ', 'CNI-HOSTPORT-SNAT']) {
        if (chains.includes(c)) doomed.add(c);
      }
    }
  }
  const deletes = rules
    .filter((r) => !doomed.has(r.chain) && (r.ours || doomed.has(r.target ?? '')))
    .map((r) => `-D ${r.chain} ${r.rest}\n`);
  if (deletes.length === 0 && doomed.size === 0) return '';
  const ordered = chains.filter((c) => doomed.has(c));
  return [...deletes, ...ordered.map((c) => `-F ${c}\n`), ...ordered.map((c) => `-X ${c}\n`)].join('');
}

/** nftables tables that did not exist before the cluster and hold no rule any more (iptables-nft's, kube-proxy's). */
async function removeEmptyNftTables(state: ClusterState | undefined): Promise<void> {
  if (!state) return;
  const before = new Set(state.nftTablesBefore);
  const listed = await run('nft', ['--json', 'list', 'ruleset'], { allowFail: true });
  if (listed.code !== 0) return;
  const items = (
    JSON.parse(listed.stdout) as { nftables: Array<Record<string, { family: string; table?: string; name?: string }>> }
  ).nftables;
  const tables = items.flatMap((i) => (i.table ? [`${i.table.family} ${i.table.name}`] : []));
  const withRules = new Set(items.flatMap((i) => (i.rule ? [`${i.rule.family} ${i.rule.table}`] : [])));
  for (const t of tables) {
    if (before.has(t) || withRules.has(t)) continue;
    const [family = '', name = ''] = t.split(' ');
    await run('nft', ['delete', 'table', family, name], { allowFail: true });
  }
}

/** "family name" of every nftables table. */
export async function nftTables(): Promise<string[]> {
  const listed = await run('nft', ['--json', 'list', 'tables'], { allowFail: true });
  if (listed.code !== 0) return [];
  const items = (JSON.parse(listed.stdout) as { nftables: Array<{ table?: { family: string; name: string } }> })
    .nftables;
  return items.flatMap((i) => (i.table ? [`${i.table.family} ${i.table.name}`] : []));
}

// --- cgroups, sysctls, files -------------------------------------------------------------------------------------

/** Every pod cgroup directory (all hierarchies), deepest first. */
function podCgroups(): string[] {
  const found: string[] = [];
  const walk = (dir: string) => {
    let entries: string[];
    try {
      entries = readdirSync(dir, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name);
    } catch {
      return;
    }
    for (const e of entries) walk(join(dir, e));
    found.push(dir);
  };
  for (const m of mounts()) {
    if (m.fstype !== 'cgroup' && m.fstype !== 'cgroup2') continue;
    for (const top of ['kubepods', 'kubepods.slice']) if (existsSync(join(m.point, top))) walk(join(m.point, top));
  }
  return found;
}

async function removePodCgroups(): Promise<void> {
  const failed: string[] = [];
  for (let round = 0; round < 20; round++) {
    failed.length = 0;
    for (const cg of podCgroups()) {
      try {
        rmdirSync(cg);
      } catch {
        failed.push(cg);
      }
    }
    if (failed.length === 0) return;
    await sleep(100);
  }
  throw new Error(`cgroups not removable (busy): ${failed.slice(0, 5).join(' ')}`);
}

async function restoreSysctls(state: ClusterState): Promise<void> {
  const { writeFileSync } = await import('node:fs');
  for (const [path, value] of Object.entries(state.sysctls)) {
    try {
      if (readFileSync(path, 'utf8').trim() !== value) writeFileSync(path, value);
    } catch {
      // the key does not exist on this kernel any more (e.g. the bridge module unloaded)
    }
  }
}

function removeLogLinks(l: Layout): void {
  const links = '/var/log/containers';
  if (!existsSync(links)) return;
  for (const name of readdirSync(links)) {
    try {
      if (readlinkSync(join(links, name)).startsWith(`${l.kubelet.podLogs}/`)) unlinkSync(join(links, name));
    } catch {}
  }
}

/** Cached CNI results of our pods: they name a network namespace under the cluster directory. */
function removeCniResults(l: Layout): void {
  if (!existsSync(CNI_RESULTS)) return;
  for (const name of readdirSync(CNI_RESULTS)) {
    const path = join(CNI_RESULTS, name);
    try {
      if (readFileSync(path, 'utf8').includes(`${l.dir}/`)) unlinkSync(path);
    } catch {}
  }
}

function removeNewHostPaths(state: ClusterState | undefined): void {
  const existed = new Set(state?.hostPathsBefore ?? HOST_PATHS);
  for (const path of HOST_PATHS) {
    if (existed.has(path) || !existsSync(path)) continue;
    try {
      if (REMOVED_WITH_CONTENT_IF_NEW.has(path) && mountsUnder(path).length === 0) {
        rmSync(path, { recursive: true, force: true });
      } else if (statSync(path).isDirectory() && readdirSync(path).length === 0) {
        rmdirSync(path);
      }
    } catch {}
  }
}

/** Everything but the logs and containerd's image store; refuses while anything is still mounted below. */
function removeFiles(l: Layout): void {
  const left = mountsUnder(l.dir);
  if (left.length > 0) throw new Error(`not deleting ${l.dir}: still mounted: ${left.join(' ')}`);
  if (!existsSync(l.dir)) return;
  const keep = new Set([l.logs, l.controlPlane, l.containerd.dir]);
  for (const name of readdirSync(l.dir)) {
    const path = join(l.dir, name);
    // only the node's own entries: whatever else someone put there stays
    if (NODE_ENTRIES.has(name) && !keep.has(path)) rmSync(path, { recursive: true, force: true });
  }
  if (existsSync(l.controlPlane)) {
    for (const name of readdirSync(l.controlPlane)) {
      // the marker stays with the logs: the next start reuses the directory as its own (src/local-cluster/owned-dir.ts)
      if (name !== 'logs' && name !== MARKER) rmSync(join(l.controlPlane, name), { recursive: true, force: true });
    }
  }
  if (existsSync(l.containerd.dir)) {
    for (const name of readdirSync(l.containerd.dir)) {
      const path = join(l.containerd.dir, name);
      if (path !== l.containerd.root && path !== l.containerd.imported) rmSync(path, { recursive: true, force: true });
    }
  }
  // the CRI plugin's per-pod files; the images (content, snapshots, metadata) stay
  for (const name of ['sandboxes', 'containers']) {
    rmSync(join(l.containerd.root, 'io.containerd.grpc.v1.cri', name), { recursive: true, force: true });
  }
}
