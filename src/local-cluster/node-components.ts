/**
 * The node's components (node-cluster.ts starts them in this order): the kubelet's certificates, containerd with the
 * CNI bridge, the cluster DNS, the kubelet, kube-proxy; each a detached process recorded in state.json with its log.
 */
import { Resolver } from 'node:dns/promises';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Api, condition } from './api.ts';
import { CLUSTER_DOMAIN, DNS_PORT } from './cluster-dns.ts';
import { freePort } from './control-plane.ts';
import { canLowerOomScore } from './node-host.ts';
import { PAUSE_IMAGE } from './node-images.ts';
import {
  BRIDGE,
  CLUSTER_CIDR,
  type ClusterState,
  CNI_NETWORK,
  type Layout,
  NODE_NAME,
  POD_SUBNET,
  type ProcessRecord,
  writeState,
} from './node-layout.ts';
import { isAlive, logTail, processStartTime, run, waitFor } from './sh.ts';

// --- certificates -----------------------------------------------------------------------------------------------

export interface Pki {
  ca: string;
  apiserverClientCert: string;
  apiserverClientKey: string;
  kubeletCert: string;
  kubeletKey: string;
}

/** A CA for the kubelet's API: its serving certificate, and the client certificate kube-apiserver presents to it. */
export async function writePki(l: Layout, nodeIP: string): Promise<Pki> {
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

export function record(l: Layout, state: ClusterState, entry: ProcessRecord): void {
  state.processes = state.processes.filter((p) => p.name !== entry.name);
  state.processes.push(entry);
  writeState(l, state);
}

/** Starts a component in its own session, logging to logs/<name>.log, and records it in state.json. */
export async function launch(l: Layout, state: ClusterState, name: string, command: string, args: string[]) {
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

export function processRecord(state: ClusterState, name: string): ProcessRecord {
  const entry = state.processes.find((p) => p.name === name);
  if (!entry) throw new Error(`${name} was not started`);
  return entry;
}

/** An error whose message ends with the tails of the given logs (the component's own words). */
export function withLogs(err: unknown, logs: string[]): Error {
  const tails = logs.map((path) => logTail(path)).filter(Boolean);
  const message = err instanceof Error ? err.message : String(err);
  return new Error([message, ...tails].join('\n\n'));
}

export function controlPlaneLogs(l: Layout): string[] {
  return ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'].map((n) =>
    join(l.controlPlane, 'logs', `${n}.log`),
  );
}

/** Fails with the component's log when it is no longer running. */
export function assertRunning(state: ClusterState, names: string[]): void {
  for (const name of names) {
    const entry = processRecord(state, name);
    if (!isAlive(entry.pid, entry.start)) throw withLogs(new Error(`${name} exited`), [entry.log]);
  }
}

export async function startContainerd(l: Layout, state: ClusterState, cniBin: string): Promise<void> {
  const c = l.containerd;
  const systemd = state.cgroupDriver === 'systemd';
  const s = JSON.stringify; // TOML basic strings: JSON's escaping
  writeFileSync(
    c.config,
    `# Generated by src/local-cluster/node-components.ts: containerd for this node only, nothing shared with a system containerd.
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

/** cluster-dns.ts on the node's address (as the API server and the kubelet are), once it resolves a Service. */
export async function startClusterDns(l: Layout, state: ClusterState): Promise<void> {
  await launch(l, state, 'cluster-dns', process.execPath, [join(import.meta.dirname, 'cluster-dns.ts'), l.state]);
  const resolver = new Resolver({ timeout: 1_000, tries: 1 });
  resolver.setServers([`${state.nodeIP}:${DNS_PORT}`]);
  await waitFor(
    async () => {
      assertRunning(state, ['cluster-dns']);
      const found = await resolver.resolve4(`kubernetes.default.svc.${CLUSTER_DOMAIN}`).catch(() => []);
      return found.length > 0 ? true : undefined;
    },
    30_000,
    () =>
      withLogs(new Error('the cluster DNS did not resolve kubernetes.default in 30 s'), [
        processRecord(state, 'cluster-dns').log,
      ]),
    200,
  );
}

export async function startKubelet(l: Layout, state: ClusterState, pki: Pki, kubeconfig: string): Promise<void> {
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
        clusterDomain: CLUSTER_DOMAIN,
        clusterDNS: [state.nodeIP], // cluster-dns.ts
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

export async function startKubeProxy(l: Layout, state: ClusterState, kubeconfig: string): Promise<void> {
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

export async function waitForNode(state: ClusterState): Promise<void> {
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

export async function waitForKubeProxy(state: ClusterState): Promise<void> {
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
