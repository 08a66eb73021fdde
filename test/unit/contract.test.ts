/**
 * The operator writes pods; the gateway reads them. Both sides take their names from src/contract/gateway.ts,
 * and this test proves the round trip: what render puts in a pod is what the gateway parses, setting by setting.
 */
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { parseMcpServer, parseVirtualMcpServer } from '../../src/api/validate.ts';
import {
  GATEWAY_ENV_PREFIX,
  GATEWAY_HEALTH_PORT,
  GATEWAY_MCP_PORT,
  GATEWAY_SETTINGS,
  HEALTH_PATHS,
} from '../../src/contract/gateway.ts';
import { type GatewayConfig, parseConfig, USAGE } from '../../src/gateway/config.ts';
import { renderChildren } from '../../src/render/index.ts';
import { renderVirtualChildren } from '../../src/render/virtual.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';

const everySetting = {
  sessions: { mode: 'shared', max: 321, maxPerClient: 7, idleTimeout: '90s' },
  tools: { allow: ['echo', 'get_*'], deny: ['get_secret'] },
  rateLimit: { requestsPerMinute: 120, perTool: { echo: 5 } },
  auth: { bearer: { secretRef: { name: 'tokens', key: 'tokens' } } },
  ingress: { host: 'mcp.example.test' },
};

/** The gateway container of a rendered pod, with its environment as the kubelet passes it. */
function gatewayOf(manifest: object): { argv: string[]; env: Record<string, string>; container: V1Container } {
  const children = renderChildren(parseMcpServer(manifest), { gatewayImage: 'example.test/gw:1' });
  const deployment = children.find((c) => c.kind === 'Deployment') as V1Deployment;
  const containers = deployment.spec?.template.spec?.containers ?? [];
  const container = containers.find((c) => c.name === 'gateway') ?? (containers[0] as V1Container);
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    env[e.name] = (e.value ?? '10.0.0.7').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, v) => env[v] ?? m);
  }
  // The sidecar runs `mcp-operator gateway proxy ...`; a stdio pod runs the runtime as `mcp-gateway stdio ...`.
  const args = container.args ?? [];
  return { argv: container.name === 'gateway' ? args.slice(1) : args, env, container };
}

describe('the gateway contract', () => {
  it.each([
    ['stdio', stdioServer('s', everySetting)],
    ['proxy', httpServer('p', everySetting)],
  ])('every variable render sets in a %s pod is one the gateway reads, with the value the spec asked for', (_, m) => {
    const { argv, env } = gatewayOf(m);
    const known = new Set<string>(Object.values(GATEWAY_SETTINGS).map((s) => s.env));
    const unread = Object.keys(env).filter((k) => k.startsWith(GATEWAY_ENV_PREFIX) && !known.has(k));
    expect(unread).toEqual(['MCP_GATEWAY_POD_IP']); // only $(...)-expanded into the advertise address
    const config: GatewayConfig = parseConfig(argv, env);
    expect(config).toMatchObject({
      port: GATEWAY_MCP_PORT,
      healthPort: GATEWAY_HEALTH_PORT,
      sessionMode: 'shared',
      maxSessions: 321,
      maxSessionsPerClient: 7,
      idleTimeoutMs: 90_000,
      toolsAllow: ['echo', 'get_*'],
      toolsDeny: ['get_secret'],
      rateLimitRpm: 120,
      trustProxy: true,
      advertiseAddress: `10.0.0.7:${GATEWAY_MCP_PORT}`,
    });
    expect(config.rateLimitPerTool.get('echo')).toBe(5);
    expect(config.authTokenFile).toBeDefined();
    expect(config.sessionSecretFile).toBeDefined();
  });

  it('probes the paths and ports the gateway serves', () => {
    const { container } = gatewayOf(stdioServer('s'));
    const portOf = (name: unknown) => container.ports?.find((p) => p.name === name)?.containerPort;
    const probes = [container.startupProbe, container.livenessProbe, container.readinessProbe];
    expect(probes.map((p) => p?.httpGet?.path)).toEqual([
      HEALTH_PATHS.readiness,
      HEALTH_PATHS.liveness,
      HEALTH_PATHS.readiness,
    ]);
    for (const probe of probes) expect(portOf(probe?.httpGet?.port)).toBe(GATEWAY_HEALTH_PORT);
    expect(portOf('mcp')).toBe(GATEWAY_MCP_PORT);
  });

  it('an aggregate pod (VirtualMcpServer) runs a verb and settings the gateway parses', () => {
    const v = parseVirtualMcpServer({
      ...virtualServer('tools', { servers: [{ name: 'memory' }], ...everySetting }),
      metadata: { name: 'tools', namespace: 'team' },
    });
    const children = renderVirtualChildren(v, { version: 1, backends: [] }, { gatewayImage: 'example.test/gw:1' });
    const deployment = children.find((c) => c.kind === 'Deployment') as V1Deployment;
    const container = deployment.spec?.template.spec?.containers[0] as V1Container;
    const env: Record<string, string> = {};
    for (const e of container.env ?? []) {
      env[e.name] = (e.value ?? '10.0.0.7').replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, x) => env[x] ?? m);
    }
    const known = new Set<string>(Object.values(GATEWAY_SETTINGS).map((s) => s.env));
    const unread = Object.keys(env).filter((k) => k.startsWith(GATEWAY_ENV_PREFIX) && !known.has(k));
    expect(unread).toEqual(['MCP_GATEWAY_POD_IP']);
    const config = parseConfig((container.args ?? []).slice(1), env);
    expect(config).toMatchObject({
      mode: 'aggregate',
      backendsFile: env[GATEWAY_SETTINGS.backendsFile.env],
      port: GATEWAY_MCP_PORT,
      healthPort: GATEWAY_HEALTH_PORT,
      toolsDeny: ['get_secret'],
      rateLimitRpm: 120,
    });
    expect(config.backendsFile).toMatch(/backends\.json$/);
  });

  it('names every setting once, under the prefix, and documents every flag', () => {
    const settings = Object.values(GATEWAY_SETTINGS);
    expect(new Set(settings.map((s) => s.env)).size).toBe(settings.length);
    expect(new Set(settings.map((s) => s.flag)).size).toBe(settings.length);
    for (const s of settings) {
      expect(s.env.startsWith(GATEWAY_ENV_PREFIX)).toBe(true);
      expect(USAGE).toContain(s.flag);
    }
  });
});
