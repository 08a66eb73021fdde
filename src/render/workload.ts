/**
 * The Deployment: a pod under Pod Security "restricted" that runs the MCP server behind the gateway.
 * stdio: an init container copies the gateway runtime into an emptyDir and the server container runs
 * `<runtime>/mcp-gateway stdio -- <command> <args>`, so the gateway spawns the server as its child.
 * HTTP transports: the gateway is a sidecar proxying the server's port (or absent when disabled).
 */
import type {
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1PodSecurityContext,
  V1Probe,
  V1ResourceRequirements,
  V1SecurityContext,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { AUTH_DIR, GATEWAY_POD_IP_ENV, HOME_DIR, RUNTIME_DIR, SESSION_DIR } from '../api/pod-layout.ts';
import type { McpServer, McpServerSpec } from '../api/types.generated.ts';
import {
  GATEWAY_HEALTH_PORT,
  GATEWAY_MCP_PORT,
  GATEWAY_SETTINGS,
  GATEWAY_VERBS,
  type GatewaySetting,
  HEALTH_PATHS,
  RUNTIME_DIR_FLAG,
} from '../contract/gateway.ts';
import { ANNOTATION_CONFIG_HASH, childMetadata, commonLabels, nameOf, type Owner, selectorLabels } from './metadata.ts';
import { basePath, type ExposedOwner, upstreamPath } from './urls.ts';

export const DEFAULT_UID = 65532;
export { AUTH_DIR, HOME_DIR, RUNTIME_DIR, SESSION_DIR };
export const AUTH_TOKEN_FILE = `${AUTH_DIR}/tokens`;
export const SESSION_KEY = 'session-key';
export const sessionSecretName = (mcp: Owner) => `${nameOf(mcp)}-gateway-session`;
export const SERVER_CONTAINER = 'server';
export const GATEWAY_CONTAINER = 'gateway';

export interface WorkloadOptions {
  /** Our image: it carries the gateway (sidecar, and the runtime the init container copies). */
  gatewayImage: string;
  /** Hash of the referenced Secrets and ConfigMaps' contents; changes roll the pods. */
  configHash?: string;
}

/** Pod Security "restricted", every container. */
export const restrictedContainerSecurity: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
};

const DEFAULT_SERVER_RESOURCES = { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '512Mi' } };
const GATEWAY_SIDECAR_RESOURCES = { requests: { cpu: '10m', memory: '48Mi' }, limits: { memory: '256Mi' } };
const INIT_RESOURCES = { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '128Mi' } };

/** What the gateway's settings come from: the same fields on an McpServer and a VirtualMcpServer. */
export type GatewayOwner = ExposedOwner & {
  spec: Pick<McpServerSpec, 'sessions' | 'tools' | 'rateLimit' | 'auth' | 'ingress' | 'httpRoute' | 'pod'>;
};

export function podSecurityContext(mcp: GatewayOwner): V1PodSecurityContext {
  const overrides = mcp.spec.pod?.securityContext ?? {};
  const uid = overrides.runAsUser ?? DEFAULT_UID;
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: overrides.runAsGroup ?? uid,
    fsGroup: overrides.fsGroup ?? overrides.runAsGroup ?? uid,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** Gateway settings travel as environment variables (see src/gateway/cli.ts for their meaning). */
export function gatewayEnv(mcp: GatewayOwner): V1EnvVar[] {
  const { sessions, tools, rateLimit, auth, ingress, httpRoute } = mcp.spec;
  const env: Array<[GatewaySetting, string | undefined]> = [
    ['port', String(GATEWAY_MCP_PORT)],
    ['healthPort', String(GATEWAY_HEALTH_PORT)],
    ['basePath', basePath(mcp) || undefined],
    ['sessionMode', sessions.mode],
    ['maxSessions', sessions.max === undefined ? undefined : String(sessions.max)],
    ['idleTimeout', sessions.idleTimeout],
    ['maxSessionsPerClient', sessions.maxPerClient === undefined ? undefined : String(sessions.maxPerClient)],
    ['toolsAllow', tools?.allow?.length ? tools.allow.join(',') : undefined],
    ['toolsDeny', tools?.deny?.length ? tools.deny.join(',') : undefined],
    ['rateLimitRpm', rateLimit?.requestsPerMinute ? String(rateLimit.requestsPerMinute) : undefined],
    [
      'rateLimitPerTool',
      rateLimit?.perTool && Object.keys(rateLimit.perTool).length
        ? Object.entries(rateLimit.perTool)
            .map(([tool, n]) => `${tool}=${n}`)
            .join(',')
        : undefined,
    ],
    ['authTokenFile', auth?.bearer ? AUTH_TOKEN_FILE : undefined],
    ['oidcIssuer', auth?.oidc?.issuer],
    ['oidcAudience', auth?.oidc?.audience],
    ['oidcJwksUrl', auth?.oidc?.jwksURL],
    ['sessionSecretFile', `${SESSION_DIR}/${SESSION_KEY}`],
    // Behind the Ingress or a Gateway every request comes from its controller: per-client limits need the address
    // it saw (the last X-Forwarded-For entry, which a client cannot forge through the controller).
    ['trustProxy', ingress || httpRoute ? 'true' : undefined],
  ];
  return [
    ...env
      .filter((e): e is [GatewaySetting, string] => e[1] !== undefined)
      .map(([setting, value]) => ({ name: GATEWAY_SETTINGS[setting].env, value })),
    // Declared before use: $(VAR) expands only to variables defined earlier in the list. Under the MCP_GATEWAY_
    // prefix, so it never collides with a POD_IP of the user's in the same container (stdio).
    { name: GATEWAY_POD_IP_ENV, valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    { name: GATEWAY_SETTINGS.advertiseAddress.env, value: `$(${GATEWAY_POD_IP_ENV}):${GATEWAY_MCP_PORT}` },
  ];
}

/** The user's env, passed through with valueFrom references intact, plus HOME on its writable emptyDir. */
function serverEnv(mcp: McpServer): V1EnvVar[] {
  const env = (mcp.spec.env ?? []) as V1EnvVar[];
  return env.some((e) => e.name === 'HOME') ? [...env] : [...env, { name: 'HOME', value: HOME_DIR }];
}

const httpProbe = (path: string, periodSeconds: number, failureThreshold: number): V1Probe => ({
  httpGet: { path, port: 'health' },
  periodSeconds,
  timeoutSeconds: 3,
  failureThreshold,
});
const tcpProbe = (periodSeconds: number, failureThreshold: number): V1Probe => ({
  tcpSocket: { port: 'mcp' },
  periodSeconds,
  timeoutSeconds: 3,
  failureThreshold,
});

type ProbeCheck = Pick<V1Probe, 'httpGet' | 'tcpSocket' | 'exec'>;

/**
 * The default check of the server's liveness. Behind the gateway: the gateway's /livez/upstream, a TCP connect to
 * the server on loopback, because the kubelet probes the pod IP and many servers (FastMCP's default) listen on
 * 127.0.0.1 only; they work behind the gateway, and a TCP probe would restart them in a loop. The port by number: a
 * probe resolves a port name in its own container only, and `health` is the gateway container's. Without the
 * gateway clients reach the server on the pod IP anyway: TCP on its port.
 */
function defaultServerCheck(mcp: McpServer, port: string): ProbeCheck {
  return mcp.spec.gateway.enabled
    ? { httpGet: { path: HEALTH_PATHS.upstreamLiveness, port: GATEWAY_HEALTH_PORT } }
    : { tcpSocket: { port } };
}

/**
 * The server's own liveness in HTTP transports: the gateway's probes cover only the gateway, so without this a hung
 * server is never restarted. The default check unless spec.livenessProbe names one; the startup probe runs the same
 * check with the 5 minutes a first boot may need, and liveness counts only after it.
 */
function serverLivenessProbes(mcp: McpServer, port: string): { startupProbe: V1Probe; livenessProbe: V1Probe } {
  const spec = mcp.spec.livenessProbe ?? {};
  const check: ProbeCheck = spec.httpGet
    ? { httpGet: { path: spec.httpGet.path, port: spec.httpGet.port ?? port } }
    : spec.exec
      ? { exec: { command: spec.exec.command } }
      : spec.tcpSocket
        ? { tcpSocket: { port: spec.tcpSocket.port ?? port } }
        : defaultServerCheck(mcp, port);
  return {
    startupProbe: { ...check, periodSeconds: 5, timeoutSeconds: spec.timeoutSeconds ?? 3, failureThreshold: 60 },
    livenessProbe: {
      ...check,
      periodSeconds: spec.periodSeconds ?? 10,
      timeoutSeconds: spec.timeoutSeconds ?? 3,
      failureThreshold: spec.failureThreshold ?? 3,
    },
  };
}

/** Gateway probes on the health port, never on /mcp (a GET there is 405 and would crash-loop the pod). */
export const gatewayProbes = {
  // npx/uvx servers download on first boot: allow 5 minutes before liveness starts counting.
  startupProbe: httpProbe(HEALTH_PATHS.readiness, 5, 60),
  livenessProbe: httpProbe(HEALTH_PATHS.liveness, 10, 3),
  readinessProbe: httpProbe(HEALTH_PATHS.readiness, 5, 2),
};
export const gatewayPorts = [
  { name: 'mcp', containerPort: GATEWAY_MCP_PORT, protocol: 'TCP' },
  { name: 'health', containerPort: GATEWAY_HEALTH_PORT, protocol: 'TCP' },
];

function volumes(mcp: McpServer): V1Volume[] {
  const list: V1Volume[] = [
    { name: 'tmp', emptyDir: {} },
    { name: 'home', emptyDir: {} },
  ];
  if (mcp.spec.transport === 'stdio') list.push({ name: 'mcp-gateway', emptyDir: { sizeLimit: '256Mi' } });
  if (mcp.spec.gateway.enabled) {
    list.push({
      name: 'mcp-session',
      secret: {
        secretName: sessionSecretName(mcp),
        items: [{ key: SESSION_KEY, path: SESSION_KEY }],
        defaultMode: 0o440,
      },
    });
  }
  const bearer = mcp.spec.auth?.bearer?.secretRef;
  if (bearer) {
    list.push({
      name: 'mcp-auth',
      secret: { secretName: bearer.name, items: [{ key: bearer.key, path: 'tokens' }], defaultMode: 0o440 },
    });
  }
  return [...list, ...((mcp.spec.pod?.volumes ?? []) as V1Volume[])];
}

export const writableMounts: V1VolumeMount[] = [
  { name: 'tmp', mountPath: '/tmp' },
  { name: 'home', mountPath: HOME_DIR },
];
/** What only the gateway reads: the session key, and the bearer tokens when auth is on. */
export const authMount = (mcp: GatewayOwner): V1VolumeMount[] => [
  { name: 'mcp-session', mountPath: SESSION_DIR, readOnly: true },
  ...(mcp.spec.auth?.bearer ? [{ name: 'mcp-auth', mountPath: AUTH_DIR, readOnly: true }] : []),
];

/** Quantities as strings: the API server serves them that way, so what we apply compares equal to what we read. */
export const quantities = (map: Record<string, string | number> | undefined) =>
  map ? Object.fromEntries(Object.entries(map).map(([k, v]) => [k, String(v)])) : undefined;

function serverResources(mcp: McpServer): V1ResourceRequirements {
  const { requests, limits } = mcp.spec.resources ?? {};
  if (!requests && !limits) return DEFAULT_SERVER_RESOURCES;
  return { ...(requests ? { requests: quantities(requests) } : {}), ...(limits ? { limits: quantities(limits) } : {}) };
}

function serverContainer(mcp: McpServer): V1Container {
  const { spec } = mcp;
  const base: V1Container = {
    name: SERVER_CONTAINER,
    image: spec.image,
    ...(spec.imagePullPolicy ? { imagePullPolicy: spec.imagePullPolicy } : {}),
    env: serverEnv(mcp),
    ...(spec.envFrom?.length ? { envFrom: spec.envFrom } : {}),
    resources: serverResources(mcp),
    securityContext: restrictedContainerSecurity,
    volumeMounts: [...writableMounts, ...((spec.pod?.volumeMounts ?? []) as V1VolumeMount[])],
  };
  if (spec.transport === 'stdio') {
    // The gateway is PID 1 of this container and spawns the server; MCP_GATEWAY_* are not passed to the child.
    return {
      ...base,
      command: [`${RUNTIME_DIR}/mcp-gateway`],
      args: [GATEWAY_VERBS.stdio, '--', ...(spec.command ?? []), ...(spec.args ?? [])],
      env: [...(base.env ?? []), ...gatewayEnv(mcp)],
      ports: gatewayPorts,
      ...gatewayProbes,
      volumeMounts: [
        ...(base.volumeMounts ?? []),
        { name: 'mcp-gateway', mountPath: RUNTIME_DIR, readOnly: true },
        ...authMount(mcp),
      ],
    };
  }
  const withCommand = {
    ...base,
    ...(spec.command?.length ? { command: spec.command } : {}),
    ...(spec.args?.length ? { args: spec.args } : {}),
  };
  if (spec.gateway.enabled) {
    // Readiness is the gateway's (it checks the server through its port); liveness is the server's own.
    return {
      ...withCommand,
      ports: [{ name: 'server', containerPort: spec.port as number, protocol: 'TCP' }],
      ...serverLivenessProbes(mcp, 'server'),
    };
  }
  // No gateway: the server's own port is the MCP port; TCP readiness, since GET on an MCP path may be 405.
  return {
    ...withCommand,
    ports: [{ name: 'mcp', containerPort: spec.port as number, protocol: 'TCP' }],
    ...serverLivenessProbes(mcp, 'mcp'),
    readinessProbe: tcpProbe(5, 2),
  };
}

function gatewaySidecar(mcp: McpServer, options: WorkloadOptions): V1Container {
  const upstream = `http://127.0.0.1:${mcp.spec.port}${upstreamPath(mcp)}`;
  return {
    name: GATEWAY_CONTAINER,
    image: options.gatewayImage,
    args: [
      'gateway',
      GATEWAY_VERBS.proxy,
      GATEWAY_SETTINGS.upstream.flag,
      upstream,
      GATEWAY_SETTINGS.upstreamTransport.flag,
      mcp.spec.transport,
    ],
    env: [...gatewayEnv(mcp), { name: 'HOME', value: HOME_DIR }],
    ports: gatewayPorts,
    ...gatewayProbes,
    resources: GATEWAY_SIDECAR_RESOURCES,
    securityContext: restrictedContainerSecurity,
    volumeMounts: [...writableMounts, ...authMount(mcp)],
  };
}

function runtimeInstaller(options: WorkloadOptions): V1Container {
  return {
    name: 'install-gateway',
    image: options.gatewayImage,
    args: ['gateway', GATEWAY_VERBS.installRuntime, RUNTIME_DIR_FLAG['install-runtime'], RUNTIME_DIR],
    resources: INIT_RESOURCES,
    securityContext: restrictedContainerSecurity,
    volumeMounts: [{ name: 'mcp-gateway', mountPath: RUNTIME_DIR }],
  };
}

export function renderDeployment(mcp: McpServer, options: WorkloadOptions): V1Deployment {
  const { spec } = mcp;
  const pod = spec.pod ?? {};
  const containers = [serverContainer(mcp)];
  if (spec.transport !== 'stdio' && spec.gateway.enabled) containers.push(gatewaySidecar(mcp, options));
  const podAnnotations: Record<string, string> = {
    ...(pod.annotations ?? {}),
    'kubectl.kubernetes.io/default-container': SERVER_CONTAINER,
    ...(spec.gateway.enabled
      ? {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(GATEWAY_HEALTH_PORT),
          'prometheus.io/path': HEALTH_PATHS.metrics,
        }
      : {}),
    ...(options.configHash ? { [ANNOTATION_CONFIG_HASH]: options.configHash } : {}),
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: childMetadata(mcp),
    spec: {
      replicas: spec.replicas,
      revisionHistoryLimit: 3,
      selector: { matchLabels: selectorLabels(mcp) },
      // Keep serving during rollouts: a new pod must be ready before an old one goes.
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels: { ...(pod.labels ?? {}), ...commonLabels(mcp) }, annotations: podAnnotations },
        spec: {
          serviceAccountName: pod.serviceAccountName ?? nameOf(mcp),
          automountServiceAccountToken: false,
          enableServiceLinks: false,
          securityContext: podSecurityContext(mcp),
          ...(spec.transport === 'stdio' ? { initContainers: [runtimeInstaller(options)] } : {}),
          containers,
          volumes: volumes(mcp),
          terminationGracePeriodSeconds: pod.terminationGracePeriodSeconds ?? 30,
          ...(pod.nodeSelector ? { nodeSelector: pod.nodeSelector } : {}),
          ...(pod.tolerations?.length ? { tolerations: pod.tolerations } : {}),
          ...(pod.affinity ? { affinity: pod.affinity } : {}),
          ...(pod.priorityClassName ? { priorityClassName: pod.priorityClassName } : {}),
          ...(pod.imagePullSecrets?.length ? { imagePullSecrets: pod.imagePullSecrets } : {}),
        },
      },
    },
  };
}
