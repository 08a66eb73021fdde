/** `mcp-operator controller`: flags (or environment variables) to a running Manager; SIGTERM stops it cleanly. */
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { Manager } from '../controller/manager.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { startIdleMemoryReclaim } from '../observability/idle-memory.ts';
import { createLogger, LOG_LEVELS } from '../observability/log.ts';
import { DEFAULT_GATEWAY_IMAGE, DEFAULT_OPERATOR_NAMESPACE, isNamespace } from './defaults.ts';

export const CONTROLLER_USAGE = `Usage: mcp-operator controller [flags]

  --kubeconfig PATH            kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespaces NS[,NS...]      namespaces to watch (default: all; env WATCH_NAMESPACES)
  --gateway-image IMAGE        image of the gateway put in every McpServer pod (env GATEWAY_IMAGE)
  --gateway-api=false          never use the Gateway API, even when its CRDs are installed (default: true;
                               McpServers with spec.httpRoute then get the GatewayAPIDisabled condition)
  --leader-elect=false         run without leader election (default: on)
  --leader-election-namespace  namespace of the Lease (default: $POD_NAMESPACE or mcp-operator-system)
  --leader-election-id NAME    name of the Lease (default: mcp-operator)
  --health-addr HOST:PORT      /healthz, /readyz, /metrics (default: 0.0.0.0:8081)
  --workers N                  McpServers reconciled in parallel (default: 4)
  --resync DURATION_SECONDS    safety-net resync period in seconds, 0 to disable (default: 600)
  --log-level LEVEL            trace|debug|info|warn|error (default: info; env LOG_LEVEL)

  POD_NAMESPACE, POD_SERVICE_ACCOUNT (the chart sets both): who the controller runs as. An McpServer's
  NetworkPolicy with ingressFrom admits the namespace (tool discovery keeps working), and no McpServer or
  VirtualMcpServer in that namespace may run as the ServiceAccount.`;

function parseInteger(flag: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new Error(`--${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

/** A Lease name: a DNS-1123 subdomain. */
const LEASE_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** More workers than this only queue at the API server's per-client limits; a week bounds the resync below the
 * 24.8 days a timer can hold (past that Node fires it at once, every millisecond). */
const MAX_WORKERS = 256;
const MAX_RESYNC_SECONDS = 7 * 24 * 3600;

export function parseControllerFlags(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      namespaces: { type: 'string', default: env.WATCH_NAMESPACES ?? '' },
      'gateway-image': { type: 'string', default: env.GATEWAY_IMAGE ?? DEFAULT_GATEWAY_IMAGE },
      'leader-elect': { type: 'string', default: 'true' },
      'gateway-api': { type: 'string', default: 'true' },
      'leader-election-namespace': { type: 'string', default: env.POD_NAMESPACE ?? DEFAULT_OPERATOR_NAMESPACE },
      'leader-election-id': { type: 'string', default: 'mcp-operator' },
      'health-addr': { type: 'string', default: '0.0.0.0:8081' },
      workers: { type: 'string', default: '4' },
      resync: { type: 'string', default: '600' },
      'log-level': { type: 'string', default: env.LOG_LEVEL ?? 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const leaderElect = values['leader-elect'];
  if (leaderElect !== 'true' && leaderElect !== 'false') throw new Error('--leader-elect must be true or false');
  const gatewayApi = values['gateway-api'];
  if (gatewayApi !== 'true' && gatewayApi !== 'false') throw new Error('--gateway-api must be true or false');
  const [host = '', port = ''] = (values['health-addr'] as string).split(/:(?=[^:]*$)/);
  const namespaces = (values.namespaces as string)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const badNamespace = namespaces.find((n) => !isNamespace(n));
  if (badNamespace !== undefined)
    throw new Error(`--namespaces takes namespace names separated by commas, got ${JSON.stringify(badNamespace)}`);
  const leaseNamespace = values['leader-election-namespace'] as string;
  if (!isNamespace(leaseNamespace))
    throw new Error(`--leader-election-namespace must be a namespace name, got ${JSON.stringify(leaseNamespace)}`);
  const leaseName = values['leader-election-id'] as string;
  if (leaseName.length > 253 || !LEASE_NAME.test(leaseName))
    throw new Error(
      `--leader-election-id must be a Lease name (lowercase, digits, - and .), got ${JSON.stringify(leaseName)}`,
    );
  const gatewayImage = (values['gateway-image'] as string).trim();
  if (!gatewayImage || /\s/.test(gatewayImage))
    throw new Error(
      `--gateway-image (or GATEWAY_IMAGE) must be an image reference, got ${JSON.stringify(gatewayImage)}`,
    );
  // In a pod, who it runs as (the chart's downward API): NetworkPolicies admit the namespace, and no server may
  // run as the ServiceAccount (controller/gates.ts).
  const podNamespace = env.POD_NAMESPACE?.trim();
  if (podNamespace && !isNamespace(podNamespace))
    throw new Error(`POD_NAMESPACE must be a namespace name, got ${JSON.stringify(podNamespace)}`);
  const podAccount = env.POD_SERVICE_ACCOUNT?.trim();
  if (podAccount && (podAccount.length > 253 || !LEASE_NAME.test(podAccount)))
    throw new Error(`POD_SERVICE_ACCOUNT must be a ServiceAccount name, got ${JSON.stringify(podAccount)}`);
  const operator = {
    ...(podNamespace ? { namespace: podNamespace } : {}),
    ...(podAccount ? { serviceAccount: podAccount } : {}),
  };
  const logLevel = values['log-level'] as string;
  if (!LOG_LEVELS.includes(logLevel))
    throw new Error(
      `--log-level (or LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  return {
    help: values.help ?? false,
    kubeconfig: values.kubeconfig,
    namespaces,
    gatewayImage,
    operator,
    leaderElect: leaderElect === 'true',
    gatewayApi: gatewayApi === 'true',
    leaderElectionNamespace: leaseNamespace,
    leaderElectionId: leaseName,
    health: { host: host || '0.0.0.0', port: parseInteger('health-addr port', port, 0, 65535) },
    workers: parseInteger('workers', values.workers as string, 1, MAX_WORKERS),
    resyncMs: parseInteger('resync', values.resync as string, 0, MAX_RESYNC_SECONDS) * 1000,
    logLevel,
  };
}

export async function runController(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parseControllerFlags>;
  try {
    flags = parseControllerFlags(argv, process.env);
  } catch (err) {
    process.stderr.write(`controller: ${(err as Error).message}\n\n${CONTROLLER_USAGE}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${CONTROLLER_USAGE}\n`);
    return 0;
  }
  const log = createLogger({ name: 'controller', level: flags.logLevel });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(flags.kubeconfig);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'controller could not start');
    return 1;
  }

  const identity = `${hostname()}_${process.pid}`;
  let exit: (code: number) => void = () => {};
  const exited = new Promise<number>((resolve) => {
    exit = resolve;
  });
  const manager = new Manager({
    kubeConfig,
    namespaces: flags.namespaces,
    gatewayImage: flags.gatewayImage,
    operator: flags.operator,
    workers: flags.workers,
    leaderElection: flags.leaderElect
      ? { namespace: flags.leaderElectionNamespace, name: flags.leaderElectionId, identity }
      : undefined,
    health: flags.health,
    resyncMs: flags.resyncMs,
    gatewayApi: flags.gatewayApi,
    log,
    onFatal: (reason) => {
      log.error({ reason }, 'stopping');
      exit(1);
    },
  });
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    manager.stop().then(
      () => exit(0),
      (err) => {
        log.error({ err: String(err) }, 'unclean shutdown');
        exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  try {
    // A signal (or a fatal error) during start ends it too: an API server that accepts connections and never
    // answers would otherwise hold a stopping controller for the whole answer timeout.
    const early = await Promise.race([manager.start().then(() => undefined), exited]);
    if (early !== undefined) {
      log.flush();
      return early;
    }
  } catch (err) {
    log.error({ err: String(err) }, 'controller could not start');
    return 1;
  }
  const idleMemory = startIdleMemoryReclaim({ log });
  const code = await exited;
  idleMemory.stop();
  log.flush();
  return code;
}
