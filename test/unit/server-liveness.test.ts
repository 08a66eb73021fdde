/**
 * HTTP transports: the server container has its own liveness probe (the gateway's probes cover only the gateway),
 * overridable with spec.livenessProbe. Default behind the gateway: its /livez/upstream (a TCP connect on loopback,
 * where a server bound to 127.0.0.1 is reachable and the kubelet's probe of the pod IP is not); without the
 * gateway: TCP on the server's port.
 */
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { InvalidMcpServerError, parseMcpServer } from '../../src/api/validate.ts';
import { GATEWAY_HEALTH_PORT, HEALTH_PATHS } from '../../src/contract/gateway.ts';
import { renderChildren } from '../../src/render/index.ts';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';

function containerOf(manifest: Manifest, name: string): V1Container {
  const children = renderChildren(parseMcpServer(manifest), { gatewayImage: 'registry.test/mcp-operator:1' });
  const deployment = children.find((c) => c.kind === 'Deployment') as V1Deployment;
  const container = deployment.spec?.template.spec?.containers.find((c) => c.name === name);
  if (!container) throw new Error(`no ${name} container`);
  return container;
}
const serverContainer = (manifest: Manifest) => containerOf(manifest, 'server');

function refusal(manifest: Manifest): string {
  try {
    parseMcpServer(manifest);
  } catch (err) {
    if (err instanceof InvalidMcpServerError) return err.errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw err;
  }
  throw new Error('accepted');
}

describe('the server container of an HTTP transport', () => {
  for (const transport of ['streamable-http', 'sse']) {
    it(`behind the gateway, is checked through the gateway's /livez/upstream (${transport})`, () => {
      const server = serverContainer(httpServer('remote', { transport }));
      expect(server.ports).toEqual([expect.objectContaining({ name: 'server', containerPort: 3000 })]);
      // Not a TCP probe of the pod IP: a server bound to 127.0.0.1 (FastMCP's default) would be restarted in a loop.
      expect(server.livenessProbe).toEqual({
        httpGet: { path: '/livez/upstream', port: 9090 },
        periodSeconds: 10,
        timeoutSeconds: 3,
        failureThreshold: 3,
      });
      // Liveness counts only after the startup probe passed: a slow first boot is not killed.
      expect(server.startupProbe).toMatchObject({ httpGet: { path: '/livez/upstream', port: 9090 }, periodSeconds: 5 });
      expect(server.startupProbe?.tcpSocket).toBeUndefined();
      expect((server.startupProbe?.periodSeconds ?? 0) * (server.startupProbe?.failureThreshold ?? 0)).toBe(300);
      // Readiness stays with the gateway, whose /readyz reflects the server.
      expect(server.readinessProbe).toBeUndefined();
    });
  }

  it("targets the gateway container's health port by number, the path the gateway serves", () => {
    const manifest = httpServer('remote');
    const gateway = containerOf(manifest, 'gateway');
    // A probe resolves a port name among its own container's ports only: `health` is the gateway's, not the server's.
    expect(serverContainer(manifest).ports?.map((p) => p.name)).not.toContain('health');
    expect(gateway.ports).toContainEqual(
      expect.objectContaining({ name: 'health', containerPort: GATEWAY_HEALTH_PORT }),
    );
    expect(serverContainer(manifest).livenessProbe?.httpGet).toEqual({
      path: HEALTH_PATHS.upstreamLiveness,
      port: GATEWAY_HEALTH_PORT,
    });
  });

  it('keeps the default check when spec.livenessProbe sets only timings', () => {
    const server = serverContainer(httpServer('remote', { livenessProbe: { periodSeconds: 30, failureThreshold: 5 } }));
    expect(server.livenessProbe).toEqual({
      httpGet: { path: '/livez/upstream', port: 9090 },
      periodSeconds: 30,
      timeoutSeconds: 3,
      failureThreshold: 5,
    });
  });

  it("probes the server's port over the pod IP when spec.livenessProbe asks for tcpSocket", () => {
    const server = serverContainer(httpServer('remote', { livenessProbe: { tcpSocket: {} } }));
    expect(server.livenessProbe).toMatchObject({ tcpSocket: { port: 'server' }, periodSeconds: 10 });
    expect(server.livenessProbe?.httpGet).toBeUndefined();
    expect(server.startupProbe?.tcpSocket).toEqual({ port: 'server' });
  });

  it('takes an httpGet check and timings from spec.livenessProbe', () => {
    const server = serverContainer(
      httpServer('remote', {
        livenessProbe: { httpGet: { path: '/healthz' }, periodSeconds: 20, timeoutSeconds: 5, failureThreshold: 6 },
      }),
    );
    expect(server.livenessProbe).toEqual({
      httpGet: { path: '/healthz', port: 'server' },
      periodSeconds: 20,
      timeoutSeconds: 5,
      failureThreshold: 6,
    });
    expect(server.startupProbe?.httpGet).toEqual({ path: '/healthz', port: 'server' });
    expect(server.startupProbe?.tcpSocket).toBeUndefined();
  });

  it('runs an exec check in the server container, for a server that listens only on 127.0.0.1', () => {
    const command = ['python', '-c', "import socket; socket.create_connection(('127.0.0.1', 3000), 2)"];
    const server = serverContainer(httpServer('remote', { livenessProbe: { exec: { command } } }));
    expect(server.livenessProbe).toMatchObject({ exec: { command }, periodSeconds: 10 });
    expect(server.livenessProbe?.tcpSocket).toBeUndefined();
    expect(server.startupProbe?.exec).toEqual({ command });
  });

  it('checks another port when the spec names one', () => {
    const tcp = serverContainer(httpServer('remote', { livenessProbe: { tcpSocket: { port: 3001 } } }));
    expect(tcp.livenessProbe?.tcpSocket).toEqual({ port: 3001 });
    const http = serverContainer(httpServer('remote', { livenessProbe: { httpGet: { path: '/live', port: 3002 } } }));
    expect(http.livenessProbe?.httpGet).toEqual({ path: '/live', port: 3002 });
  });

  it('without the gateway, uses the same liveness on the port named mcp and keeps TCP readiness', () => {
    const server = serverContainer(
      httpServer('bare', { gateway: { enabled: false }, livenessProbe: { httpGet: { path: '/healthz' } } }),
    );
    expect(server.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'mcp' });
    expect(server.readinessProbe?.tcpSocket).toEqual({ port: 'mcp' });
    // No gateway: clients reach the server on the pod IP, so it listens there: TCP on its port by default.
    const plain = serverContainer(httpServer('bare', { gateway: { enabled: false } }));
    expect(plain.livenessProbe).toMatchObject({ tcpSocket: { port: 'mcp' }, periodSeconds: 10 });
    expect(plain.livenessProbe?.httpGet).toBeUndefined();
    expect(plain.startupProbe?.tcpSocket).toEqual({ port: 'mcp' });
  });
});

describe('spec.livenessProbe validation', () => {
  it('refuses both checks at once', () => {
    const message = refusal(httpServer('remote', { livenessProbe: { tcpSocket: {}, httpGet: { path: '/healthz' } } }));
    expect(message).toMatch(/spec.livenessProbe: set one check: tcpSocket, httpGet or exec/);
    expect(refusal(httpServer('remote', { livenessProbe: { exec: { command: ['true'] }, tcpSocket: {} } }))).toMatch(
      /spec.livenessProbe: set one check/,
    );
    expect(refusal(httpServer('remote', { livenessProbe: { exec: { command: [] } } }))).toMatch(
      /spec.livenessProbe.exec.command/,
    );
  });

  it('refuses a path without a leading slash, and out-of-range timings', () => {
    expect(refusal(httpServer('remote', { livenessProbe: { httpGet: { path: 'healthz' } } }))).toMatch(
      /spec.livenessProbe.httpGet.path: must start with '\/'/,
    );
    expect(refusal(httpServer('remote', { livenessProbe: { failureThreshold: 0 } }))).toMatch(
      /spec.livenessProbe.failureThreshold/,
    );
  });

  it('refuses it for stdio servers, which the gateway supervises', () => {
    expect(refusal(stdioServer('s', { livenessProbe: { tcpSocket: {} } }))).toMatch(
      /spec.livenessProbe: livenessProbe is for HTTP transports/,
    );
  });
});
