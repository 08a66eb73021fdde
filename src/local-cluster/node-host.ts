/** The host side of the node cluster (node-cluster.ts): the node's address, the pod network, kernel settings. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { BRIDGE, CLUSTER_CIDR, SERVICE_CIDR } from './node-layout.ts';
import { run } from './sh.ts';

// --- host -------------------------------------------------------------------------------------------------------

export async function detectNodeIP(): Promise<string> {
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

export function overlaps(a: string, b: string): boolean {
  const [aa = '', ab = '32'] = a.split('/');
  const [ba = '', bb = '32'] = b.split('/');
  const bits = Math.min(Number(ab), Number(bb));
  const size = 2 ** (32 - bits);
  return Math.floor(ipv4(aa) / size) === Math.floor(ipv4(ba) / size);
}

/** The pod and Service ranges must not collide with a network this machine already routes. */
export async function assertPodNetworkFree(): Promise<void> {
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
export async function kernelSettings(log: (line: string) => void): Promise<void> {
  writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  if (!existsSync('/proc/sys/net/bridge')) await run('modprobe', ['br_netfilter'], { allowFail: true });
  if (existsSync('/proc/sys/net/bridge/bridge-nf-call-iptables')) {
    writeFileSync('/proc/sys/net/bridge/bridge-nf-call-iptables', '1');
  } else {
    log('warning: no br_netfilter (/proc/sys/net/bridge): pod-to-Service traffic within the bridge will not be NATed');
  }
}

/** Whether this process has CAP_SYS_RESOURCE (bit 24), which lowering an oom_score_adj takes. */
export function canLowerOomScore(): boolean {
  const caps = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  return (BigInt(`0x${caps}`) & (1n << 24n)) !== 0n;
}
