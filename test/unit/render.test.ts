/**
 * The renderer, the pod: a defaulted McpServer in, its Deployment out (hardening, the gateway, env, HTTP
 * servers). Every manifest goes through parseMcpServer first, as it would through the API server.
 */
import type { V1EnvVar, V1ServiceAccount } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import {
  allContainersOf,
  container,
  containersOf,
  deploymentOf,
  envValue,
  find,
  GATEWAY_IMAGE,
  gatewayEnvNames,
  initContainersOf,
  mountPathOf,
  must,
  podSpecOf,
  probesOf,
  render,
  volume,
} from './render-helpers.ts';

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
