/**
 * status.externalURL through an Ingress: a wildcard host (*.example.com) matches many names and names none, so
 * there is no URL to publish, as for an HTTPRoute whose only host names are wildcards (route.test.ts). Pure.
 */
import { describe, expect, it } from 'vitest';
import { parseMcpServer, parseVirtualMcpServer } from '../../src/api/validate.ts';
import { renderChildren } from '../../src/render/index.ts';
import { externalURL } from '../../src/render/urls.ts';
import { virtualExternalURL } from '../../src/render/virtual.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';

const server = (ingress: Record<string, unknown>) => parseMcpServer(stdioServer('github', { ingress }));
const aggregate = (ingress: Record<string, unknown>) =>
  parseVirtualMcpServer(virtualServer('team', { servers: [{ name: 'github' }], ingress }));

describe('the external URL of an Ingress', () => {
  it('is none for a wildcard host, on an McpServer and on a VirtualMcpServer', () => {
    const wild = { host: '*.mcp.example.com', path: '/github', tls: { secretName: 'wild' } };
    expect(externalURL(server(wild))).toBeUndefined();
    expect(virtualExternalURL(aggregate(wild))).toBeUndefined();
    // The Ingress itself still routes every name the wildcard matches.
    const ingress = renderChildren(server(wild), { gatewayImage: 'example.test/gw:1' }).find(
      (c) => c.kind === 'Ingress',
    ) as { spec: { rules: Array<{ host: string }> } };
    expect(ingress.spec.rules[0]?.host).toBe('*.mcp.example.com');
  });

  it('is the host for a plain one', () => {
    const named = { host: 'mcp.example.com', path: '/github', tls: { secretName: 'c' } };
    expect(externalURL(server(named))).toBe('https://mcp.example.com/github/mcp');
    expect(virtualExternalURL(aggregate(named))).toBe('https://mcp.example.com/github/mcp');
  });
});
