/**
 * The node cluster's DNS, in the place CoreDNS has in a real cluster: pods resolve `<service>.<namespace>.svc` (the
 * kubelet's clusterDNS points here, with the usual search list), which a VirtualMcpServer's gateway needs to reach its
 * backends. A records for Services with a cluster IP, read from the API server every second; every other name is
 * relayed to the host's resolver, as before. UDP only: glibc asks over UDP and these answers are small.
 *
 *   node src/local-cluster/cluster-dns.ts STATE_FILE    (node-components.ts launches it; STATE_FILE is state.json)
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { Api } from './api.ts';

export const CLUSTER_DOMAIN = 'cluster.local';
export const DNS_PORT = 53;
const TYPE_A = 1;
const CLASS_IN = 1;
const NXDOMAIN = 3;
const SERVFAIL = 2;
const TTL_SECONDS = 5;

export interface Question {
  id: number;
  flags: number;
  /** lower case, without the trailing dot */
  name: string;
  type: number;
  /** where the question section ends in the query */
  end: number;
}

/** The first question of a query, or undefined when the message is no query this server can read. */
export function parseQuery(msg: Buffer): Question | undefined {
  if (msg.length < 12 || msg.readUInt16BE(4) < 1 || msg.readUInt16BE(2) & 0x8000) return undefined;
  const labels: string[] = [];
  let at = 12;
  for (;;) {
    const length = msg[at];
    if (length === undefined || length > 63) return undefined; // compression is never used in a question
    at++;
    if (length === 0) break;
    if (at + length > msg.length) return undefined;
    labels.push(msg.toString('latin1', at, at + length).toLowerCase());
    at += length;
  }
  if (at + 4 > msg.length) return undefined;
  return {
    id: msg.readUInt16BE(0),
    flags: msg.readUInt16BE(2),
    name: labels.join('.'),
    type: msg.readUInt16BE(at),
    end: at + 4,
  };
}

/** `<service>.<namespace>.svc.cluster.local` split, or undefined for any other name. */
export function serviceOf(name: string): { service: string; namespace: string } | undefined {
  const suffix = `.svc.${CLUSTER_DOMAIN}`;
  if (!name.endsWith(suffix)) return undefined;
  const parts = name.slice(0, -suffix.length).split('.');
  return parts.length === 2 ? { service: parts[0] as string, namespace: parts[1] as string } : undefined;
}

export const inClusterDomain = (name: string) => name === CLUSTER_DOMAIN || name.endsWith(`.${CLUSTER_DOMAIN}`);

/** The reply to a question in the cluster's domain: the Service's address for A, no record for other types. */
export function answer(query: Buffer, q: Question, lookup: (service: string, namespace: string) => string | undefined) {
  const svc = serviceOf(q.name);
  const ip = svc ? lookup(svc.service, svc.namespace) : undefined;
  const records = ip && q.type === TYPE_A ? [ip] : [];
  // QR, the query's opcode and RD, AA and RA; NXDOMAIN when no such Service (whatever the type)
  const flags = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | (ip ? 0 : NXDOMAIN);
  const header = Buffer.alloc(12);
  header.writeUInt16BE(q.id, 0);
  header.writeUInt16BE(flags, 2);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(records.length, 6);
  const rrs = records.map((address) => {
    const rr = Buffer.alloc(16);
    rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
    rr.writeUInt16BE(TYPE_A, 2);
    rr.writeUInt16BE(CLASS_IN, 4);
    rr.writeUInt32BE(TTL_SECONDS, 6);
    rr.writeUInt16BE(4, 10);
    Buffer.from(address.split('.').map(Number)).copy(rr, 12);
    return rr;
  });
  return Buffer.concat([header, query.subarray(12, q.end), ...rrs]);
}

function failure(query: Buffer, q: Question, rcode: number): Buffer {
  const reply = Buffer.from(query.subarray(0, q.end));
  reply.writeUInt16BE(0x8000 | (q.flags & 0x7900) | 0x0080 | rcode, 2);
  reply.writeUInt16BE(1, 4);
  reply.fill(0, 6, 12);
  return reply;
}

export interface ClusterDnsOptions {
  host: string;
  port: number;
  /** the Service's cluster IP, if it has one */
  lookup: (service: string, namespace: string) => string | undefined;
  /** where names outside the cluster's domain go; none: SERVFAIL */
  upstream?: string | undefined;
  upstreamPort?: number;
}

/** Serves until the socket is closed. */
export async function serveClusterDns(options: ClusterDnsOptions): Promise<Socket> {
  const socket = createSocket('udp4');
  const reply = (buf: Buffer, to: RemoteInfo) => socket.send(buf, to.port, to.address);
  socket.on('message', (msg, from) => {
    const q = parseQuery(msg);
    if (!q) return;
    if (inClusterDomain(q.name)) return reply(answer(msg, q, options.lookup), from);
    if (!options.upstream) return reply(failure(msg, q, SERVFAIL), from);
    const relay = createSocket('udp4');
    const timer = setTimeout(() => relay.close(), 5_000);
    relay.on('message', (res) => {
      clearTimeout(timer);
      reply(res, from);
      relay.close();
    });
    relay.on('error', () => relay.close());
    relay.send(msg, options.upstreamPort ?? DNS_PORT, options.upstream);
  });
  await new Promise<void>((ok, fail) => {
    socket.once('error', fail);
    socket.bind(options.port, options.host, () => ok());
  });
  return socket;
}

/** The first nameserver of a resolv.conf. */
export function firstNameserver(text: string): string | undefined {
  return /^\s*nameserver\s+(\d+\.\d+\.\d+\.\d+)\s*$/m.exec(text)?.[1];
}

async function main(stateFile: string): Promise<void> {
  const state = JSON.parse(readFileSync(stateFile, 'utf8')) as { server: string; adminToken: string; nodeIP: string };
  const api = new Api(state.server, state.adminToken);
  let services = new Map<string, string>();
  const refresh = async () => {
    try {
      const list = await api.get<{
        items: Array<{ metadata: { name: string; namespace: string }; spec?: { clusterIP?: string } }>;
      }>('/api/v1/services');
      services = new Map(
        list.items
          .filter((s) => s.spec?.clusterIP && s.spec.clusterIP !== 'None')
          .map((s) => [`${s.metadata.name}.${s.metadata.namespace}`, s.spec?.clusterIP as string]),
      );
    } catch (err) {
      process.stdout.write(`cluster-dns: listing Services: ${(err as Error).message}\n`);
    }
  };
  await refresh();
  setInterval(refresh, 1_000);
  let upstream: string | undefined;
  try {
    upstream = firstNameserver(readFileSync('/etc/resolv.conf', 'utf8'));
  } catch {}
  await serveClusterDns({
    host: state.nodeIP,
    port: DNS_PORT,
    lookup: (service, namespace) => services.get(`${service}.${namespace}`),
    upstream,
  });
  process.stdout.write(
    `cluster-dns: serving ${CLUSTER_DOMAIN} on ${state.nodeIP}:${DNS_PORT}, upstream ${upstream ?? 'none'}\n`,
  );
}

if (import.meta.main) {
  main(process.argv[2] ?? '').catch((err) => {
    process.stdout.write(`cluster-dns: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
