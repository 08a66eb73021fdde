/** Where clients reach an McpServer, inside the cluster and through its Ingress. */

import { GATEWAY_MCP_PORT } from '../api/schema.ts';
import type { McpServer, McpServerSpec } from '../api/types.generated.ts';
import { WELL_KNOWN_RESOURCE } from '../contract/gateway.ts';
import { nameOf, namespaceOf, type Owner } from './metadata.ts';

/** What the exposure needs of its owner (an McpServer or a VirtualMcpServer): the same fields on both. */
export type ExposedOwner = Owner & { spec: Pick<McpServerSpec, 'ingress' | 'httpRoute' | 'auth'> };

/** The path the server itself serves MCP on, for HTTP transports. */
export function upstreamPath(mcp: McpServer): string {
  return mcp.spec.path ?? (mcp.spec.transport === 'sse' ? '/sse' : '/mcp');
}

/** The path clients use: the gateway always serves Streamable HTTP at /mcp; without it, the server's own path. */
export function clientPath(mcp: McpServer): string {
  return mcp.spec.gateway.enabled ? '/mcp' : upstreamPath(mcp);
}

/** The Ingress or HTTPRoute path prefix the gateway must serve under ('' for none); a CEL rule keeps them equal. */
export function basePath(mcp: ExposedOwner): string {
  const prefix = mcp.spec.ingress?.path ?? mcp.spec.httpRoute?.path ?? '/';
  return prefix === '/' ? '' : prefix.replace(/\/+$/, '');
}

/**
 * The paths an Ingress or HTTPRoute routes for `prefix`: the prefix and, with auth under a prefix, the RFC 9728
 * metadata of `<prefix>/mcp`, which sits at the host root where the prefix cannot reach.
 */
export function exposurePaths(mcp: ExposedOwner, prefix: string): string[] {
  const base = basePath(mcp);
  return mcp.spec.auth && base !== '' ? [prefix, `${WELL_KNOWN_RESOURCE}${base}`] : [prefix];
}

export function serviceURL(mcp: McpServer): string {
  return `http://${nameOf(mcp)}.${namespaceOf(mcp)}.svc:${GATEWAY_MCP_PORT}${clientPath(mcp)}`;
}

/**
 * The host a client can use: the Ingress host unless it is a wildcard (*.example.com matches many names, and
 * `https://*.example.com/mcp` is no URL), as the HTTPRoute's URL skips wildcard host names.
 */
export function ingressURLHost(ingress: McpServerSpec['ingress']): string | undefined {
  return ingress?.host && !ingress.host.startsWith('*') ? ingress.host : undefined;
}

export function externalURL(mcp: McpServer): string | undefined {
  const host = ingressURLHost(mcp.spec.ingress);
  if (!host) return undefined;
  const scheme = mcp.spec.ingress?.tls ? 'https' : 'http';
  return `${scheme}://${host}${basePath(mcp)}${clientPath(mcp)}`;
}
