/**
 * The renderer: a defaulted McpServer in, the children the controller applies out. Every manifest goes through
 * parseMcpServer first, as it would through the API server (schema defaults applied).
 */
import type {
  KubernetesObject,
  V1Container,
  V1Deployment,
  V1EnvVar,
  V1Ingress,
  V1NetworkPolicy,
  V1NetworkPolicyIngressRule,
  V1NetworkPolicyPort,
  V1PodDisruptionBudget,
  V1Probe,
  V1Service,
  V1ServiceAccount,
  V1Volume,
} from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseMcpServer } from '../../src/api/validate.ts';
import {
  externalURL,
  type RenderOptions,
  referencedObjects,
  renderChildren,
  serviceURL,
} from '../../src/render/index.ts';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';

const GATEWAY_IMAGE = 'registry.test/mcp-operator:9.9.9';
const EXPECTED_LABELS = (instance: string) => ({
  'app.kubernetes.io/name': 'mcp-server',
  'app.kubernetes.io/instance': instance,
  'app.kubernetes.io/component': 'mcp-server',
  'app.kubernetes.io/managed-by': 'mcp-operator',
  'app.kubernetes.io/part-of': 'mcp-operator',
});

function must<T>(value: T | undefined | null, what: string): T {
  if (value === undefined || value === null) throw new Error(`expected ${what}`);
  return value;
}

function withMeta(manifest: Manifest, meta: Record<string, unknown>): Manifest {
  return { ...manifest, metadata: { ...manifest.metadata, ...meta } };
}

function render(manifest: Manifest, options: Partial<RenderOptions> = {}): KubernetesObject[] {
  return renderChildren(parseMcpServer(manifest), { gatewayImage: GATEWAY_IMAGE, ...options });
}

function find<T extends KubernetesObject>(children: KubernetesObject[], kind: string): T | undefined {
  const found = children.filter((c) => c.kind === kind);
  expect(found.length, `at most one ${kind}`).toBeLessThanOrEqual(1);
  return found[0] as T | undefined;
}

const deploymentOf = (manifest: Manifest, options: Partial<RenderOptions> = {}): V1Deployment =>
  must(find<V1Deployment>(render(manifest, options), 'Deployment'), 'a Deployment');
const podSpecOf = (d: V1Deployment) => must(d.spec?.template.spec, 'a pod spec');
const containersOf = (d: V1Deployment): V1Container[] => podSpecOf(d).containers;
const initContainersOf = (d: V1Deployment): V1Container[] => podSpecOf(d).initContainers ?? [];
const allContainersOf = (d: V1Deployment): V1Container[] => [...initContainersOf(d), ...containersOf(d)];
const container = (d: V1Deployment, name: string): V1Container =>
  must(
    containersOf(d).find((c) => c.name === name),
    `container ${name}`,
  );
const envValue = (c: V1Container, name: string): string | undefined => c.env?.find((e) => e.name === name)?.value;
const gatewayEnvNames = (c: V1Container): string[] =>
  (c.env ?? []).map((e) => e.name).filter((n) => n.startsWith('MCP_GATEWAY_'));
const volume = (d: V1Deployment, name: string): V1Volume =>
  must(
    podSpecOf(d).volumes?.find((v) => v.name === name),
    `volume ${name}`,
  );
const mountPathOf = (c: V1Container, volumeName: string) =>
  c.volumeMounts?.filter((m) => m.name === volumeName).map((m) => m.mountPath);

function probesOf(c: V1Container): V1Probe[] {
  return [c.startupProbe, c.livenessProbe, c.readinessProbe].filter((p): p is V1Probe => p !== undefined);
}

describe('stdio server: the pod under Pod Security "restricted"', () => {
  const d = deploymentOf(stdioServer());

  it('runs the pod as a non-root user 65532 with the RuntimeDefault seccomp profile', () => {
    const sc = must(podSpecOf(d).securityContext, 'a pod securityContext');
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.runAsUser).toBe(65532);
    expect(sc.seccompProfile).toEqual({ type: 'RuntimeDefault' });
  });

  it('hardens every container, the init container included', () => {
    const all = allContainersOf(d);
    expect(all.map((c) => c.name).sort()).toEqual(['install-gateway', 'server']);
    for (const c of all) {
      const sc = must(c.securityContext, `${c.name} securityContext`);
      expect(sc.allowPrivilegeEscalation, c.name).toBe(false);
      expect(sc.capabilities?.drop, c.name).toContain('ALL');
      expect(sc.capabilities?.add ?? [], c.name).toEqual([]);
      expect(sc.readOnlyRootFilesystem, c.name).toBe(true);
      expect(sc.privileged ?? false, c.name).toBe(false);
      // A container-level override must not undo the pod's non-root settings.
      expect(sc.runAsNonRoot ?? true, c.name).toBe(true);
      expect(sc.runAsUser ?? 65532, c.name).not.toBe(0);
      expect(sc.seccompProfile?.type ?? 'RuntimeDefault', c.name).toBe('RuntimeDefault');
    }
  });

  it('takes a user id override and keeps it non-root', () => {
    const custom = deploymentOf(stdioServer('custom', { pod: { securityContext: { runAsUser: 1000 } } }));
    const sc = must(podSpecOf(custom).securityContext, 'a pod securityContext');
    expect(sc.runAsUser).toBe(1000);
    expect(sc.runAsNonRoot).toBe(true);
    expect(sc.seccompProfile).toEqual({ type: 'RuntimeDefault' });
    for (const c of allContainersOf(custom)) expect(c.securityContext?.runAsUser ?? 1000, c.name).toBe(1000);
  });

  it('uses only volume types Pod Security "restricted" allows', () => {
    const allowed = [
      'configMap',
      'secret',
      'emptyDir',
      'persistentVolumeClaim',
      'projected',
      'downwardAPI',
      'csi',
      'ephemeral',
    ];
    const withAuth = deploymentOf(stdioServer('auth', { auth: { bearer: { secretRef: { name: 'tokens' } } } }));
    for (const v of podSpecOf(withAuth).volumes ?? []) {
      const sources = Object.keys(v).filter((k) => k !== 'name');
      expect(sources.length, v.name).toBe(1);
      expect(allowed, v.name).toContain(sources[0]);
    }
  });

  it('gives the read-only root filesystem writable emptyDirs at /tmp and HOME, and sets HOME', () => {
    const server = container(d, 'server');
    expect(volume(d, 'tmp').emptyDir).toBeDefined();
    expect(volume(d, 'home').emptyDir).toBeDefined();
    expect(mountPathOf(server, 'tmp')).toEqual(['/tmp']);
    expect(mountPathOf(server, 'home')).toEqual(['/home/mcp']);
    expect(server.volumeMounts?.find((m) => m.mountPath === '/tmp')?.readOnly ?? false).toBe(false);
    expect(server.volumeMounts?.find((m) => m.mountPath === '/home/mcp')?.readOnly ?? false).toBe(false);
    expect(server.env?.filter((e) => e.name === 'HOME')).toEqual([{ name: 'HOME', value: '/home/mcp' }]);
  });

  it("keeps the user's own HOME instead of overriding it", () => {
    const server = container(
      deploymentOf(stdioServer('home', { env: [{ name: 'HOME', value: '/data/home' }] })),
      'server',
    );
    expect(server.env?.filter((e) => e.name === 'HOME')).toEqual([{ name: 'HOME', value: '/data/home' }]);
  });

  it('does not mount a service account token into the pod', () => {
    expect(podSpecOf(d).automountServiceAccountToken).toBe(false);
    const sa = must(find<V1ServiceAccount>(render(stdioServer()), 'ServiceAccount'), 'a ServiceAccount');
    expect(sa.automountServiceAccountToken).toBe(false);
  });

  it('copies the gateway runtime into an emptyDir with an init container running our image', () => {
    const inits = initContainersOf(d);
    expect(inits.map((c) => c.name)).toEqual(['install-gateway']);
    const init = must(inits[0], 'the init container');
    expect(init.image).toBe(GATEWAY_IMAGE);
    const runtimeMount = must(
      init.volumeMounts?.find((m) => m.mountPath === '/opt/mcp-gateway'),
      'the runtime mount in the init container',
    );
    expect(runtimeMount.readOnly ?? false).toBe(false);
    expect([...(init.command ?? []), ...(init.args ?? [])]).toContain('/opt/mcp-gateway');
    // The same emptyDir is what the server container runs the gateway from.
    expect(volume(d, runtimeMount.name).emptyDir).toBeDefined();
    expect(mountPathOf(container(d, 'server'), runtimeMount.name)).toEqual(['/opt/mcp-gateway']);
  });

  it('runs `<runtime>/mcp-gateway stdio -- <command> <args>` in the server image', () => {
    const server = container(
      deploymentOf(
        stdioServer('gh', {
          image: 'ghcr.io/github/github-mcp-server:v0.20.0',
          command: ['/server/gh'],
          args: ['stdio', '--read-only'],
        }),
      ),
      'server',
    );
    expect(server.image).toBe('ghcr.io/github/github-mcp-server:v0.20.0');
    expect(server.command).toEqual(['/opt/mcp-gateway/mcp-gateway']);
    expect(server.args).toEqual(['stdio', '--', '/server/gh', 'stdio', '--read-only']);
  });

  it('passes a multi-word command through without args', () => {
    const server = container(d, 'server');
    expect(server.args).toEqual(['stdio', '--', 'npx', '-y', '@modelcontextprotocol/server-everything']);
  });

  it('exposes mcp on 8080 and health on 9090 from the gateway, with one container', () => {
    expect(containersOf(d).map((c) => c.name)).toEqual(['server']);
    expect(container(d, 'server').ports).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'mcp', containerPort: 8080 }),
        expect.objectContaining({ name: 'health', containerPort: 9090 }),
      ]),
    );
  });

  it('probes the health port: /healthz for liveness, /readyz for readiness and startup, never /mcp', () => {
    const server = container(d, 'server');
    expect(server.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
    expect(server.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
    expect(server.startupProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
    for (const p of probesOf(server)) {
      expect(p.httpGet?.path).not.toMatch(/^\/(mcp|sse)/);
      expect(p.httpGet?.port).not.toBe('mcp');
      expect(p.httpGet?.port).not.toBe(8080);
    }
  });

  it('gives slow npx/uvx boots a startup budget of at least two minutes before liveness counts', () => {
    const startup = must(container(d, 'server').startupProbe, 'a startup probe');
    const budget = (startup.initialDelaySeconds ?? 0) + (startup.periodSeconds ?? 10) * (startup.failureThreshold ?? 3);
    expect(budget).toBeGreaterThanOrEqual(120);
  });

  it('gives the server container default resources', () => {
    const r = must(container(d, 'server').resources, 'resources');
    expect(r.requests?.cpu).toBeDefined();
    expect(r.requests?.memory).toBeDefined();
    expect(r.limits?.memory).toBeDefined();
  });

  it('uses exactly the resources the user sets', () => {
    const server = container(
      deploymentOf(
        stdioServer('big', { resources: { requests: { cpu: '250m', memory: 1073741824 }, limits: { memory: '2Gi' } } }),
      ),
      'server',
    );
    const r = must(server.resources, 'resources');
    expect(r.requests?.cpu).toBe('250m');
    expect(String(r.requests?.memory)).toBe('1073741824');
    expect(r.limits).toEqual({ memory: '2Gi' });
    expect(Object.keys(r.requests ?? {}).sort()).toEqual(['cpu', 'memory']);
  });
});

describe('gateway settings (MCP_GATEWAY_* environment)', () => {
  it('carries the defaults: ports, shared sessions, 30m idle; no session maximum (the gateway sizes it by mode), no base path, no auth, no limits', () => {
    const server = container(deploymentOf(stdioServer()), 'server');
    expect(envValue(server, 'MCP_GATEWAY_PORT')).toBe('8080');
    expect(envValue(server, 'MCP_GATEWAY_HEALTH_PORT')).toBe('9090');
    expect(envValue(server, 'MCP_GATEWAY_SESSION_MODE')).toBe('shared');
    expect(envValue(server, 'MCP_GATEWAY_IDLE_TIMEOUT')).toBe('30m');
    expect(gatewayEnvNames(server).sort()).toEqual([
      'MCP_GATEWAY_ADVERTISE_ADDRESS',
      'MCP_GATEWAY_HEALTH_PORT',
      'MCP_GATEWAY_IDLE_TIMEOUT',
      'MCP_GATEWAY_POD_IP',
      'MCP_GATEWAY_PORT',
      'MCP_GATEWAY_SESSION_MODE',
      'MCP_GATEWAY_SESSION_SECRET_FILE',
    ]);
  });

  it('lets any replica serve any session: a shared signing key and the pod IP as the advertised address', () => {
    const d = deploymentOf(stdioServer('multi', { replicas: 3 }));
    const server = container(d, 'server');
    const names = (server.env ?? []).map((e) => e.name);
    expect(envValue(server, 'MCP_GATEWAY_SESSION_SECRET_FILE')).toBe('/var/run/mcp-gateway/session/session-key');
    expect(envValue(server, 'MCP_GATEWAY_ADVERTISE_ADDRESS')).toBe('$(MCP_GATEWAY_POD_IP):8080');
    // $(MCP_GATEWAY_POD_IP) only expands when MCP_GATEWAY_POD_IP is declared earlier in the list.
    expect(names.indexOf('MCP_GATEWAY_POD_IP')).toBeGreaterThanOrEqual(0);
    expect(names.indexOf('MCP_GATEWAY_POD_IP')).toBeLessThan(names.indexOf('MCP_GATEWAY_ADVERTISE_ADDRESS'));
    expect(server.env?.find((e) => e.name === 'MCP_GATEWAY_POD_IP')?.valueFrom?.fieldRef?.fieldPath).toBe(
      'status.podIP',
    );
    const volume = d.spec?.template.spec?.volumes?.find((v) => v.name === 'mcp-session');
    expect(volume?.secret).toMatchObject({
      secretName: 'multi-gateway-session',
      items: [{ key: 'session-key', path: 'session-key' }],
    });
    expect(server.volumeMounts).toContainEqual({
      name: 'mcp-session',
      mountPath: '/var/run/mcp-gateway/session',
      readOnly: true,
    });
    // Without the gateway there is nothing to sign with.
    const bare = deploymentOf(httpServer('bare', { gateway: { enabled: false } }));
    expect(bare.spec?.template.spec?.volumes?.map((v) => v.name)).not.toContain('mcp-session');
  });

  it('carries sessions, tool filters and rate limits from the spec', () => {
    const server = container(
      deploymentOf(
        stdioServer('tuned', {
          sessions: { mode: 'perSession', max: 7, idleTimeout: '1h30m', maxPerClient: 3 },
          tools: { allow: ['echo', 'add'], deny: ['rm'] },
          rateLimit: { requestsPerMinute: 120, perTool: { echo: 10, add: 5 } },
        }),
      ),
      'server',
    );
    expect(envValue(server, 'MCP_GATEWAY_SESSION_MODE')).toBe('perSession');
    expect(envValue(server, 'MCP_GATEWAY_MAX_SESSIONS')).toBe('7');
    expect(envValue(server, 'MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT')).toBe('3');
    expect(envValue(server, 'MCP_GATEWAY_IDLE_TIMEOUT')).toBe('1h30m');
    expect(envValue(server, 'MCP_GATEWAY_TOOLS_ALLOW')?.split(',').sort()).toEqual(['add', 'echo']);
    expect(envValue(server, 'MCP_GATEWAY_TOOLS_DENY')).toBe('rm');
    expect(envValue(server, 'MCP_GATEWAY_RATE_LIMIT_RPM')).toBe('120');
    expect(envValue(server, 'MCP_GATEWAY_RATE_LIMIT_PER_TOOL')?.split(',').sort()).toEqual(['add=5', 'echo=10']);
  });

  it('points the gateway at the OIDC issuer and audience', () => {
    const server = container(
      deploymentOf(stdioServer('oidc', { auth: { oidc: { issuer: 'https://id.example.com', audience: 'mcp' } } })),
      'server',
    );
    expect(envValue(server, 'MCP_GATEWAY_OIDC_ISSUER')).toBe('https://id.example.com');
    expect(envValue(server, 'MCP_GATEWAY_OIDC_AUDIENCE')).toBe('mcp');
    expect(envValue(server, 'MCP_GATEWAY_AUTH_TOKEN_FILE')).toBeUndefined();
  });

  it.each([
    ['/github', '/github'],
    ['/github/', '/github'],
    ['/teams/a', '/teams/a'],
  ])('sets MCP_GATEWAY_BASE_PATH for ingress path %s', (path, expected) => {
    const server = container(deploymentOf(stdioServer('p', { ingress: { host: 'mcp.example.com', path } })), 'server');
    expect(envValue(server, 'MCP_GATEWAY_BASE_PATH')).toBe(expected);
  });

  it('trusts the ingress controller for client addresses only when there is an Ingress', () => {
    const behind = container(deploymentOf(stdioServer('p', { ingress: { host: 'mcp.example.com' } })), 'server');
    expect(envValue(behind, 'MCP_GATEWAY_TRUST_PROXY')).toBe('true');
    expect(gatewayEnvNames(container(deploymentOf(stdioServer()), 'server'))).not.toContain('MCP_GATEWAY_TRUST_PROXY');
  });

  it('sets no base path for the root ingress path, explicit or defaulted', () => {
    for (const ingress of [{ host: 'mcp.example.com' }, { host: 'mcp.example.com', path: '/' }]) {
      const server = container(deploymentOf(stdioServer('root', { ingress })), 'server');
      expect(gatewayEnvNames(server)).not.toContain('MCP_GATEWAY_BASE_PATH');
    }
  });

  it('gives every env var a string value (the API server refuses anything else)', () => {
    const d = deploymentOf(
      stdioServer('strings', {
        sessions: { max: 3 },
        rateLimit: { requestsPerMinute: 60, perTool: { echo: 1 } },
        ingress: { host: 'a.example.com', path: '/x' },
      }),
    );
    for (const c of allContainersOf(d))
      for (const e of c.env ?? []) if (e.valueFrom === undefined) expect(typeof e.value, e.name).toBe('string');
  });
});

describe('environment, config hash and bearer auth', () => {
  const env = [
    { name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'github', key: 'token' } } },
    { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode', optional: true } } },
    { name: 'LOG_LEVEL', value: 'debug' },
  ];
  const envFrom = [{ secretRef: { name: 'db' } }, { configMapRef: { name: 'common', optional: true }, prefix: 'APP_' }];

  it('passes env and envFrom through with secretKeyRef and configMapKeyRef intact', () => {
    const server = container(deploymentOf(stdioServer('env', { env, envFrom })), 'server');
    for (const e of env) expect(server.env).toContainEqual(e);
    expect(server.envFrom).toEqual(envFrom);
    // Secrets stay references: no literal value appears for a secret-backed variable.
    expect(server.env?.find((e) => e.name === 'GITHUB_TOKEN')?.value).toBeUndefined();
  });

  it('keeps the user env in its order, so $(VAR) references keep working', () => {
    const server = container(deploymentOf(stdioServer('env', { env })), 'server');
    const names = (server.env ?? []).map((e: V1EnvVar) => e.name);
    expect(names.filter((n) => env.some((e) => e.name === n))).toEqual(['GITHUB_TOKEN', 'MODE', 'LOG_LEVEL']);
  });

  it('passes env through to the server container of an HTTP server, not to the gateway sidecar', () => {
    const d = deploymentOf(httpServer('env', { env }));
    for (const e of env) expect(container(d, 'server').env).toContainEqual(e);
    expect(container(d, 'gateway').env?.map((e) => e.name)).not.toContain('GITHUB_TOKEN');
  });

  it('puts the config hash on the pod template, so rotating a Secret rolls the pods', () => {
    const d = deploymentOf(stdioServer('env', { env }), { configHash: 'abc123' });
    expect(d.spec?.template.metadata?.annotations?.['mcpoperator.io/config-hash']).toBe('abc123');
    const other = deploymentOf(stdioServer('env', { env }), { configHash: 'def456' });
    expect(other.spec?.template.metadata?.annotations?.['mcpoperator.io/config-hash']).toBe('def456');
  });

  it('has no config-hash annotation without a config hash', () => {
    const d = deploymentOf(stdioServer('env', { env }));
    expect(Object.keys(d.spec?.template.metadata?.annotations ?? {})).not.toContain('mcpoperator.io/config-hash');
  });

  it('mounts the bearer token Secret key read-only as /var/run/mcp-gateway/auth/tokens (stdio)', () => {
    const d = deploymentOf(
      stdioServer('auth', { auth: { bearer: { secretRef: { name: 'mcp-tokens', key: 'list' } } } }),
    );
    const server = container(d, 'server');
    const mount = must(
      server.volumeMounts?.find((m) => m.mountPath === '/var/run/mcp-gateway/auth'),
      'the auth mount',
    );
    expect(mount.readOnly).toBe(true);
    const secret = must(volume(d, mount.name).secret, 'a secret volume');
    expect(secret.secretName).toBe('mcp-tokens');
    expect(secret.items).toEqual([{ key: 'list', path: 'tokens' }]);
    expect(envValue(server, 'MCP_GATEWAY_AUTH_TOKEN_FILE')).toBe('/var/run/mcp-gateway/auth/tokens');
  });

  it("reads the Secret key 'token' when the bearer secretRef names no key", () => {
    const d = deploymentOf(stdioServer('auth', { auth: { bearer: { secretRef: { name: 'mcp-tokens' } } } }));
    const mount = must(
      container(d, 'server').volumeMounts?.find((m) => m.mountPath === '/var/run/mcp-gateway/auth'),
      'the auth mount',
    );
    expect(volume(d, mount.name).secret?.items).toEqual([{ key: 'token', path: 'tokens' }]);
  });

  it('gives the tokens to the gateway sidecar only, never to an HTTP server container', () => {
    const d = deploymentOf(httpServer('auth', { auth: { bearer: { secretRef: { name: 'mcp-tokens' } } } }));
    const gw = container(d, 'gateway');
    expect(gw.volumeMounts?.some((m) => m.mountPath === '/var/run/mcp-gateway/auth')).toBe(true);
    expect(envValue(gw, 'MCP_GATEWAY_AUTH_TOKEN_FILE')).toBe('/var/run/mcp-gateway/auth/tokens');
    const server = container(d, 'server');
    expect(server.volumeMounts?.some((m) => m.mountPath === '/var/run/mcp-gateway/auth') ?? false).toBe(false);
    expect(gatewayEnvNames(server)).toEqual([]);
  });
});

describe('HTTP servers: the gateway sidecar, or none', () => {
  it('puts a gateway sidecar in front of a streamable-http server on /mcp', () => {
    const d = deploymentOf(httpServer());
    expect(
      containersOf(d)
        .map((c) => c.name)
        .sort(),
    ).toEqual(['gateway', 'server']);
    const gw = container(d, 'gateway');
    expect(gw.image).toBe(GATEWAY_IMAGE);
    expect(gw.args).toEqual([
      'gateway',
      'proxy',
      '--upstream',
      'http://127.0.0.1:3000/mcp',
      '--upstream-transport',
      'streamable-http',
    ]);
    expect(initContainersOf(d)).toEqual([]);
  });

  it("proxies the server's own path when it sets one", () => {
    const gw = container(deploymentOf(httpServer('custom', { path: '/api/v1/mcp', port: 4000 })), 'gateway');
    expect(gw.args).toContain('http://127.0.0.1:4000/api/v1/mcp');
  });

  it('proxies an sse server on /sse by default', () => {
    const gw = container(deploymentOf(httpServer('legacy', { transport: 'sse' })), 'gateway');
    expect(gw.args).toEqual([
      'gateway',
      'proxy',
      '--upstream',
      'http://127.0.0.1:3000/sse',
      '--upstream-transport',
      'sse',
    ]);
  });

  it('runs the server image untouched and lets the gateway own the mcp and health ports and probes', () => {
    const d = deploymentOf(httpServer('remote', { command: ['/bin/server'], args: ['--port', '3000'] }));
    const server = container(d, 'server');
    expect(server.image).toBe('example.test/http-mcp:1.0');
    expect(server.command).toEqual(['/bin/server']);
    expect(server.args).toEqual(['--port', '3000']);
    expect(server.ports?.map((p) => p.containerPort)).toEqual([3000]);
    // Exactly one port named mcp in the pod, the gateway's 8080: that is where the Service sends traffic.
    const mcpPorts = containersOf(d).flatMap((c) => (c.ports ?? []).filter((p) => p.name === 'mcp'));
    expect(mcpPorts).toEqual([expect.objectContaining({ containerPort: 8080 })]);
    const gw = container(d, 'gateway');
    expect(gw.ports).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: 'mcp', containerPort: 8080 }),
        expect.objectContaining({ name: 'health', containerPort: 9090 }),
      ]),
    );
    expect(gw.livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: 'health' });
    expect(gw.readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
    expect(gw.startupProbe?.httpGet).toMatchObject({ path: '/readyz', port: 'health' });
  });

  it('hardens both containers and gives both writable /tmp and HOME', () => {
    const d = deploymentOf(httpServer());
    for (const c of containersOf(d)) {
      expect(c.securityContext).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      });
      expect(mountPathOf(c, 'tmp'), c.name).toEqual(['/tmp']);
      expect(mountPathOf(c, 'home'), c.name).toEqual(['/home/mcp']);
      expect(envValue(c, 'HOME'), c.name).toBe('/home/mcp');
    }
  });

  it('with the gateway disabled: one container, its own port named mcp, TCP probes', () => {
    const d = deploymentOf(httpServer('bare', { gateway: { enabled: false } }));
    expect(containersOf(d).map((c) => c.name)).toEqual(['server']);
    expect(initContainersOf(d)).toEqual([]);
    const server = container(d, 'server');
    expect(server.ports).toEqual([expect.objectContaining({ name: 'mcp', containerPort: 3000 })]);
    const probes = probesOf(server);
    expect(probes.length).toBe(3);
    for (const p of probes) {
      expect(p.tcpSocket?.port).toBe('mcp');
      expect(p.httpGet).toBeUndefined();
    }
    expect(gatewayEnvNames(server)).toEqual([]);
    expect(server.command).toBeUndefined();
  });
});

describe('Service', () => {
  for (const [label, manifest] of [
    ['stdio', stdioServer()],
    ['streamable-http', httpServer()],
    ['gateway disabled', httpServer('bare', { gateway: { enabled: false } })],
  ] as const) {
    it(`is a ClusterIP exposing only mcp 8080 -> the pod's mcp port (${label})`, () => {
      const children = render(manifest);
      const svc = must(find<V1Service>(children, 'Service'), 'a Service');
      expect(svc.spec?.type ?? 'ClusterIP').toBe('ClusterIP');
      expect(svc.spec?.ports).toEqual([expect.objectContaining({ name: 'mcp', port: 8080, targetPort: 'mcp' })]);
      const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
      const podLabels = d.spec?.template.metadata?.labels ?? {};
      expect(Object.keys(svc.spec?.selector ?? {}).length).toBeGreaterThan(0);
      expect(podLabels).toMatchObject(svc.spec?.selector ?? {});
      // The named target resolves to a port in the pod.
      expect(containersOf(d).some((c) => c.ports?.some((p) => p.name === 'mcp'))).toBe(true);
    });
  }

  it('never routes to the health port 9090', () => {
    const svc = must(find<V1Service>(render(stdioServer()), 'Service'), 'a Service');
    for (const p of svc.spec?.ports ?? []) {
      expect(p.port).not.toBe(9090);
      expect(p.targetPort).not.toBe(9090);
      expect(p.targetPort).not.toBe('health');
    }
  });
});

describe('Ingress', () => {
  const ingressOf = (manifest: Manifest) => find<V1Ingress>(render(manifest), 'Ingress');

  it('exists only when spec.ingress is set', () => {
    expect(ingressOf(stdioServer())).toBeUndefined();
    expect(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } }))).toBeDefined();
  });

  it('sets class, host, a Prefix path to the mcp Service port, and TLS', () => {
    const ing = must(
      ingressOf(
        stdioServer('github', {
          ingress: { className: 'nginx', host: 'mcp.example.com', path: '/github', tls: { secretName: 'mcp-cert' } },
        }),
      ),
      'an Ingress',
    );
    expect(ing.spec?.ingressClassName).toBe('nginx');
    expect(ing.spec?.rules).toHaveLength(1);
    const rule = must(ing.spec?.rules?.[0], 'a rule');
    expect(rule.host).toBe('mcp.example.com');
    expect(rule.http?.paths).toEqual([
      {
        path: '/github',
        pathType: 'Prefix',
        backend: { service: { name: 'github', port: { name: 'mcp' } } },
      },
    ]);
    expect(ing.spec?.tls).toEqual([{ hosts: ['mcp.example.com'], secretName: 'mcp-cert' }]);
  });

  it('with auth under a prefix, also routes the RFC 9728 metadata at the host root to the gateway', () => {
    const bearer = { bearer: { secretRef: { name: 'tokens' } } };
    const pathsOf = (manifest: Manifest) =>
      must(ingressOf(manifest), 'an Ingress').spec?.rules?.[0]?.http?.paths.map((p) => [p.path, p.pathType]);
    // RFC 9728 §3.1: https://host/github/mcp is described at https://host/.well-known/oauth-protected-resource/github/mcp,
    // which the /github prefix does not match.
    expect(pathsOf(stdioServer('github', { auth: bearer, ingress: { host: 'h.example', path: '/github/' } }))).toEqual([
      ['/github/', 'Prefix'],
      ['/.well-known/oauth-protected-resource/github', 'Prefix'],
    ]);
    const ing = must(ingressOf(stdioServer('github', { auth: bearer, ingress: { path: '/github' } })), 'an Ingress');
    for (const p of ing.spec?.rules?.[0]?.http?.paths ?? []) {
      expect(p.backend).toEqual({ service: { name: 'github', port: { name: 'mcp' } } });
    }
    // At the root the prefix path already covers /.well-known; without auth there is no metadata to route.
    expect(pathsOf(stdioServer('root', { auth: bearer, ingress: { host: 'h.example' } }))).toEqual([['/', 'Prefix']]);
    expect(pathsOf(stdioServer('open', { ingress: { host: 'h.example', path: '/open' } }))).toEqual([
      ['/open', 'Prefix'],
    ]);
  });

  it('routes / by default and has no TLS or class unless asked', () => {
    const ing = must(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } })), 'an Ingress');
    expect(ing.spec?.rules?.[0]?.http?.paths?.[0]?.path).toBe('/');
    expect(ing.spec?.tls ?? []).toEqual([]);
    expect(ing.spec?.ingressClassName).toBeUndefined();
  });

  it('carries the streaming annotations for ingress-nginx and F5 NGINX, as strings', () => {
    const ing = must(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } })), 'an Ingress');
    const a = ing.metadata?.annotations ?? {};
    expect(a).toMatchObject({
      'nginx.ingress.kubernetes.io/proxy-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-request-buffering': 'off',
      'nginx.ingress.kubernetes.io/proxy-read-timeout': '3600',
      'nginx.ingress.kubernetes.io/proxy-send-timeout': '3600',
      'nginx.org/proxy-buffering': 'False',
      'nginx.org/proxy-read-timeout': '3600s',
    });
    for (const [k, v] of Object.entries(a)) expect(typeof v, k).toBe('string');
  });

  it('never uses snippet annotations', () => {
    const ing = must(ingressOf(stdioServer('x', { ingress: { host: 'mcp.example.com' } })), 'an Ingress');
    for (const k of Object.keys(ing.metadata?.annotations ?? {})) expect(k).not.toMatch(/snippet/i);
  });

  it("lets the user's annotations override ours and adds theirs", () => {
    const ing = must(
      ingressOf(
        stdioServer('x', {
          ingress: {
            host: 'mcp.example.com',
            annotations: {
              'nginx.ingress.kubernetes.io/proxy-read-timeout': '86400',
              'cert-manager.io/cluster-issuer': 'letsencrypt',
            },
          },
        }),
      ),
      'an Ingress',
    );
    const a = ing.metadata?.annotations ?? {};
    expect(a['nginx.ingress.kubernetes.io/proxy-read-timeout']).toBe('86400');
    expect(a['cert-manager.io/cluster-issuer']).toBe('letsencrypt');
    expect(a['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
  });
});

describe('NetworkPolicy', () => {
  const policyOf = (manifest: Manifest) => find<V1NetworkPolicy>(render(manifest), 'NetworkPolicy');
  const clients = [{ namespaceSelector: { matchLabels: { team: 'agents' } } }];
  const prometheus = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }];
  /** The wire field is `from` (client-node's type calls it `_from`). */
  const peersOf = (rule: V1NetworkPolicyIngressRule) => (rule as { from?: unknown }).from;
  /** A policy port reaching the gateway's mcp (8080) or health (9090) port, by number or by name, over TCP. */
  const reaches = (p: V1NetworkPolicyPort | undefined, name: 'mcp' | 'health') =>
    (p?.protocol ?? 'TCP') === 'TCP' && (p?.port === name || p?.port === (name === 'mcp' ? 8080 : 9090));

  it('exists only when asked for', () => {
    expect(policyOf(stdioServer())).toBeUndefined();
    expect(policyOf(stdioServer('np', { networkPolicy: {} }))).toBeDefined();
  });

  it('selects the pods and opens 8080 to ingressFrom; 9090 stays closed without metricsFrom', () => {
    const children = render(stdioServer('np', { networkPolicy: { ingressFrom: clients } }));
    const np = must(find<V1NetworkPolicy>(children, 'NetworkPolicy'), 'a NetworkPolicy');
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(d.spec?.template.metadata?.labels).toMatchObject(
      np.spec?.podSelector?.matchLabels ?? { missing: 'selector' },
    );
    expect(np.spec?.policyTypes).toEqual(['Ingress']);
    expect(np.spec?.egress).toBeUndefined();
    expect(np.spec?.ingress).toHaveLength(2);
    const rule = must(np.spec?.ingress?.[0], 'an ingress rule');
    expect(peersOf(rule)).toEqual(clients);
    expect(rule.ports).toHaveLength(1);
    expect(reaches(rule.ports?.[0], 'mcp')).toBe(true);
    // Sibling replicas relay sessions to each other on the mcp port.
    const siblings = must(np.spec?.ingress?.[1], 'the sibling rule');
    expect(peersOf(siblings)).toEqual([{ podSelector: { matchLabels: np.spec?.podSelector?.matchLabels } }]);
    expect(siblings.ports?.every((p) => reaches(p, 'mcp'))).toBe(true);
  });

  it('opens 9090 to metricsFrom only', () => {
    const np = must(
      policyOf(stdioServer('np', { networkPolicy: { ingressFrom: clients, metricsFrom: prometheus } })),
      'a NetworkPolicy',
    );
    const rules = np.spec?.ingress ?? [];
    const health = rules.filter((r) => r.ports?.some((p) => reaches(p, 'health')));
    expect(health.map(peersOf)).toEqual([prometheus]);
    expect(health[0]?.ports?.every((p) => reaches(p, 'health'))).toBe(true);
    const mcp = rules.filter((r) => r.ports?.some((p) => reaches(p, 'mcp')));
    expect(mcp.map(peersOf)).toEqual([clients, [{ podSelector: { matchLabels: np.spec?.podSelector?.matchLabels } }]]);
    expect(mcp[0]?.ports?.every((p) => reaches(p, 'mcp'))).toBe(true);
  });

  it('adds the Egress policy type with the user rules plus DNS on 53 UDP and TCP', () => {
    const egress = [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }], ports: [{ port: 5432, protocol: 'TCP' }] }];
    const np = must(policyOf(stdioServer('np', { networkPolicy: { egress } })), 'a NetworkPolicy');
    expect(np.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    const rules = np.spec?.egress ?? [];
    expect(rules.slice(0, 1)).toEqual(egress);
    expect(rules).toHaveLength(3);
    const dns = must(rules[1], 'the DNS rule');
    // The last rule lets the gateway relay sessions to sibling replicas.
    expect(rules[2]).toEqual({
      to: [{ podSelector: { matchLabels: np.spec?.podSelector?.matchLabels } }],
      ports: [{ port: 'mcp', protocol: 'TCP' }],
    });
    expect(dns.ports).toEqual(
      expect.arrayContaining([
        { port: 53, protocol: 'UDP' },
        { port: 53, protocol: 'TCP' },
      ]),
    );
    expect(dns.ports).toHaveLength(2);
  });

  it("admits the controller's namespace to the MCP port when ingressFrom narrows it (tool discovery)", () => {
    const operator = [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'mcp-operator-system' } } }];
    const mcpRules = (np: V1NetworkPolicy | undefined) =>
      (np?.spec?.ingress ?? []).filter((r) => r.ports?.some((p) => reaches(p, 'mcp')));
    const withOperator = (manifest: Manifest) =>
      find<V1NetworkPolicy>(render(manifest, { operatorNamespace: 'mcp-operator-system' }), 'NetworkPolicy');
    const narrowed = mcpRules(withOperator(stdioServer('np', { networkPolicy: { ingressFrom: clients } })));
    expect(narrowed.map(peersOf)).toContainEqual(operator);
    expect(narrowed.find((r) => JSON.stringify(peersOf(r)) === JSON.stringify(operator))?.ports).toEqual([
      { port: 'mcp', protocol: 'TCP' },
    ]);
    // The server's own port when there is no gateway: discovery calls it there.
    const bare = mcpRules(
      withOperator(httpServer('bare', { gateway: { enabled: false }, networkPolicy: { ingressFrom: clients } })),
    );
    expect(bare.map(peersOf)).toContainEqual(operator);
    // An empty ingressFrom admits everyone already: no rule to add. Without the namespace: nothing invented.
    const open = mcpRules(withOperator(stdioServer('np', { networkPolicy: {} })));
    expect(open.map(peersOf)).toEqual([undefined]);
    expect(
      mcpRules(policyOf(stdioServer('np', { networkPolicy: { ingressFrom: clients } }))).map(peersOf),
    ).not.toContainEqual(operator);
    // Metrics stay closed to the controller: it only calls the MCP port.
    const health = (
      withOperator(stdioServer('np', { networkPolicy: { ingressFrom: clients } }))?.spec?.ingress ?? []
    ).filter((r) => r.ports?.some((p) => reaches(p, 'health')));
    expect(health).toEqual([]);
  });

  it('with the gateway disabled, opens the port the server actually listens on', () => {
    // NetworkPolicy ports are pod ports: without the gateway nothing listens on 8080, the server's own
    // port (named mcp, the Service's target) is what clients must reach.
    const children = render(
      httpServer('bare', { gateway: { enabled: false }, networkPolicy: { ingressFrom: clients } }),
    );
    const np = must(find<V1NetworkPolicy>(children, 'NetworkPolicy'), 'a NetworkPolicy');
    const allowed = (np.spec?.ingress ?? []).flatMap((r) => r.ports ?? []).map((p) => p.port);
    expect(
      allowed.some((p) => p === 3000 || p === 'mcp'),
      `allowed pod ports: ${JSON.stringify(allowed)}`,
    ).toBe(true);
  });
});

describe('PodDisruptionBudget and ServiceAccount', () => {
  it('has a PDB only with more than one replica', () => {
    expect(find(render(stdioServer()), 'PodDisruptionBudget')).toBeUndefined();
    expect(find(render(stdioServer('zero', { replicas: 0 })), 'PodDisruptionBudget')).toBeUndefined();
    const children = render(stdioServer('ha', { replicas: 3 }));
    const pdb = must(find<V1PodDisruptionBudget>(children, 'PodDisruptionBudget'), 'a PDB');
    // One pod at a time may go: never all of them.
    if (pdb.spec?.maxUnavailable !== undefined) expect(pdb.spec.maxUnavailable).toBe(1);
    else expect(pdb.spec?.minAvailable).toBe(2);
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(d.spec?.replicas).toBe(3);
    expect(d.spec?.template.metadata?.labels).toMatchObject(pdb.spec?.selector?.matchLabels ?? { missing: 'selector' });
  });

  it('creates a ServiceAccount the pod runs as', () => {
    const children = render(stdioServer('sa'));
    const sa = must(find<V1ServiceAccount>(children, 'ServiceAccount'), 'a ServiceAccount');
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(podSpecOf(d).serviceAccountName).toBe(sa.metadata?.name);
  });

  it("creates no ServiceAccount when the user brings one, and runs the pod as the user's", () => {
    const children = render(stdioServer('own', { pod: { serviceAccountName: 'github-reader' } }));
    expect(find(children, 'ServiceAccount')).toBeUndefined();
    const d = must(find<V1Deployment>(children, 'Deployment'), 'a Deployment');
    expect(podSpecOf(d).serviceAccountName).toBe('github-reader');
    expect(podSpecOf(d).automountServiceAccountToken).toBe(false);
  });
});

describe('metadata of every child', () => {
  const everything = (name: string) =>
    stdioServer(name, {
      replicas: 2,
      ingress: { host: 'mcp.example.com', tls: { secretName: 'cert' } },
      networkPolicy: { ingressFrom: [] },
    });

  it('renders all six kinds for a spec that asks for them, ServiceAccount before the Deployment', () => {
    const kinds = render(everything('all')).map((c) => c.kind);
    expect([...kinds].sort()).toEqual(
      ['Deployment', 'Ingress', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'ServiceAccount'].sort(),
    );
    expect(kinds.indexOf('ServiceAccount')).toBeLessThan(kinds.indexOf('Deployment'));
  });

  it('renders ServiceAccount, Service and Deployment only, for a minimal spec', () => {
    expect(
      render(stdioServer())
        .map((c) => c.kind)
        .sort(),
    ).toEqual(['Deployment', 'Service', 'ServiceAccount']);
  });

  it('names each child after the McpServer, in its namespace, with the five app.kubernetes.io labels', () => {
    for (const child of render(withMeta(everything('github'), { namespace: 'team-a' }))) {
      expect(child.metadata?.name, child.kind).toBe('github');
      expect(child.metadata?.namespace, child.kind).toBe('team-a');
      const labels = child.metadata?.labels ?? {};
      expect(labels, child.kind).toEqual(EXPECTED_LABELS('github'));
    }
  });

  it('labels the pods too, and the Deployment selector matches them', () => {
    const d = deploymentOf(withMeta(everything('github'), { namespace: 'team-a' }));
    const podLabels = d.spec?.template.metadata?.labels ?? {};
    expect(podLabels).toMatchObject(EXPECTED_LABELS('github'));
    expect(podLabels).toMatchObject(d.spec?.selector.matchLabels ?? { missing: 'selector' });
  });

  it('refuses pod.labels that would override the selector labels, and keeps the others', () => {
    expect(() =>
      deploymentOf(
        stdioServer('github', {
          pod: { labels: { 'app.kubernetes.io/instance': 'other', 'app.kubernetes.io/name': 'x', team: 'a' } },
        }),
      ),
    ).toThrow(/spec.pod.labels: pod.labels may not set app.kubernetes.io\/name: the operator sets/);
    const d = deploymentOf(stdioServer('github', { pod: { labels: { team: 'a' } } }));
    const podLabels = d.spec?.template.metadata?.labels ?? {};
    expect(podLabels).toMatchObject(d.spec?.selector.matchLabels ?? { missing: 'selector' });
    expect(podLabels['app.kubernetes.io/instance']).toBe('github');
    expect(podLabels.team).toBe('a');
  });

  it('gives every child a controller ownerReference to the McpServer when it has a uid', () => {
    const uid = '6f1e4c1a-0000-4000-8000-000000000001';
    for (const child of render(withMeta(everything('github'), { namespace: 'team-a', uid }))) {
      expect(child.metadata?.ownerReferences, child.kind).toEqual([
        {
          apiVersion: 'mcpoperator.io/v1alpha1',
          kind: 'McpServer',
          name: 'github',
          uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ]);
    }
  });

  it('has no ownerReference when rendering offline (no uid)', () => {
    for (const child of render(everything('github')))
      expect(child.metadata?.ownerReferences, child.kind).toBeUndefined();
  });
});

describe('serviceURL and externalURL', () => {
  const parse = (m: Manifest) => parseMcpServer(m);

  it('points inside the cluster at the Service on 8080 and /mcp', () => {
    expect(serviceURL(parse(withMeta(stdioServer('github'), { namespace: 'team-a' })))).toBe(
      'http://github.team-a.svc:8080/mcp',
    );
    expect(serviceURL(parse(withMeta(httpServer('legacy', { transport: 'sse' }), { namespace: 'x' })))).toBe(
      'http://legacy.x.svc:8080/mcp',
    );
  });

  it("uses the server's own path when the gateway is disabled", () => {
    const bare = (spec: Record<string, unknown>) =>
      parse(withMeta(httpServer('bare', { gateway: { enabled: false }, ...spec }), { namespace: 'ns' }));
    expect(serviceURL(bare({}))).toBe('http://bare.ns.svc:8080/mcp');
    expect(serviceURL(bare({ transport: 'sse' }))).toBe('http://bare.ns.svc:8080/sse');
    expect(serviceURL(bare({ path: '/api/mcp' }))).toBe('http://bare.ns.svc:8080/api/mcp');
    expect(externalURL(bare({ path: '/api/mcp', ingress: { host: 'bare.example.com' } }))).toBe(
      'http://bare.example.com/api/mcp',
    );
  });

  it('has no external URL without an Ingress host', () => {
    expect(externalURL(parse(stdioServer()))).toBeUndefined();
    expect(externalURL(parse(stdioServer('x', { ingress: { className: 'nginx' } })))).toBeUndefined();
  });

  it('is https with TLS and keeps the path prefix, with /mcp for the gateway', () => {
    expect(externalURL(parse(stdioServer('x', { ingress: { host: 'mcp.example.com' } })))).toBe(
      'http://mcp.example.com/mcp',
    );
    expect(
      externalURL(
        parse(stdioServer('x', { ingress: { host: 'mcp.example.com', path: '/github', tls: { secretName: 'c' } } })),
      ),
    ).toBe('https://mcp.example.com/github/mcp');
    expect(externalURL(parse(stdioServer('x', { ingress: { host: 'mcp.example.com', path: '/github/' } })))).toBe(
      'http://mcp.example.com/github/mcp',
    );
  });
});

describe('referencedObjects', () => {
  it('lists every Secret and ConfigMap reference with its field and optional flag', () => {
    const mcp = parseMcpServer(
      stdioServer('refs', {
        env: [
          { name: 'PLAIN', value: 'x' },
          { name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'github', key: 'token' } } },
          { name: 'MODE', valueFrom: { configMapKeyRef: { name: 'settings', key: 'mode', optional: true } } },
        ],
        envFrom: [{ secretRef: { name: 'db', optional: true } }, { configMapRef: { name: 'common' } }],
        auth: { bearer: { secretRef: { name: 'mcp-tokens' } } },
        pod: {
          volumes: [
            { name: 'certs', secret: { secretName: 'ca-bundle' } },
            { name: 'conf', configMap: { name: 'server-conf', optional: true } },
            { name: 'scratch', emptyDir: {} },
          ],
        },
      }),
    );
    const refs = referencedObjects(mcp);
    const expected = [
      { kind: 'Secret', name: 'github', key: 'token', optional: false, field: 'spec.env[1].valueFrom.secretKeyRef' },
      {
        kind: 'ConfigMap',
        name: 'settings',
        key: 'mode',
        optional: true,
        field: 'spec.env[2].valueFrom.configMapKeyRef',
      },
      { kind: 'Secret', name: 'db', optional: true, field: 'spec.envFrom[0].secretRef' },
      { kind: 'ConfigMap', name: 'common', optional: false, field: 'spec.envFrom[1].configMapRef' },
      { kind: 'Secret', name: 'mcp-tokens', key: 'token', optional: false, field: 'spec.auth.bearer.secretRef' },
      { kind: 'Secret', name: 'ca-bundle', optional: false, field: 'spec.pod.volumes[0].secret' },
      { kind: 'ConfigMap', name: 'server-conf', optional: true, field: 'spec.pod.volumes[1].configMap' },
    ];
    expect(refs).toHaveLength(expected.length);
    for (const e of expected) expect(refs).toContainEqual(e.key ? e : { ...e, key: undefined });
  });

  it('lists nothing for a server without references', () => {
    expect(referencedObjects(parseMcpServer(stdioServer('plain', { env: [{ name: 'A', value: 'b' }] })))).toEqual([]);
  });

  it('lists the Secrets and ConfigMaps a projected volume reads', () => {
    const refs = referencedObjects(
      parseMcpServer(
        stdioServer('projected', {
          pod: {
            volumes: [
              {
                name: 'bundle',
                projected: {
                  sources: [{ secret: { name: 'client-cert' } }, { configMap: { name: 'ca', optional: true } }],
                },
              },
            ],
          },
        }),
      ),
    );
    expect(refs.map((r) => `${r.kind}/${r.name}/${r.optional}`).sort()).toEqual([
      'ConfigMap/ca/true',
      'Secret/client-cert/false',
    ]);
  });
});

describe('determinism and purity', () => {
  const rich = withMeta(
    stdioServer('rich', {
      replicas: 3,
      env: [{ name: 'GITHUB_TOKEN', valueFrom: { secretKeyRef: { name: 'github', key: 'token' } } }],
      tools: { allow: ['a', 'b'] },
      rateLimit: { requestsPerMinute: 10, perTool: { a: 1, b: 2 } },
      auth: { bearer: { secretRef: { name: 'tokens' } } },
      ingress: { host: 'mcp.example.com', path: '/rich', tls: { secretName: 'cert' }, annotations: { a: 'b' } },
      networkPolicy: { ingressFrom: [{ podSelector: {} }], egress: [{ to: [{ podSelector: {} }] }] },
      pod: { nodeSelector: { pool: 'mcp' }, tolerations: [{ key: 'k', operator: 'Exists' }] },
    }),
    { namespace: 'team-a', uid: 'u-1' },
  );

  it('renders the same input twice to deep-equal output', () => {
    for (const m of [stdioServer(), httpServer(), rich]) {
      expect(render(m, { configHash: 'h' })).toStrictEqual(render(m, { configHash: 'h' }));
    }
  });

  it('does not modify the McpServer it renders', () => {
    const mcp = parseMcpServer(rich);
    const before = structuredClone(mcp);
    renderChildren(mcp, { gatewayImage: GATEWAY_IMAGE, configHash: 'h' });
    expect(mcp).toStrictEqual(before);
  });
});
