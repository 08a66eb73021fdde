/**
 * The Gateway API exposure: an HTTPRoute (gateway.networking.k8s.io/v1) attached to the Gateways the user names,
 * routing the path prefix (and, with auth, the RFC 9728 metadata path) to the Service's mcp port.
 */
import type { KubernetesObject } from '@kubernetes/client-node';
import { GATEWAY_MCP_PORT } from '../api/schema.ts';
import { childMetadata, nameOf } from './metadata.ts';
import { type ExposedOwner, exposurePaths } from './urls.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const HTTPROUTE_TYPE = {
  apiVersion: `${GATEWAY_API_GROUP}/v1`,
  kind: 'HTTPRoute',
  plural: 'httproutes',
} as const;
export const GATEWAY_TYPE = { apiVersion: `${GATEWAY_API_GROUP}/v1`, kind: 'Gateway', plural: 'gateways' } as const;

/**
 * GEP-1742: "0s" disables the request timeout ("implementations that cannot completely disable it MUST use the
 * longest value they can"), so a long tool call or an idle listen stream is never cut by the route.
 */
export const ROUTE_REQUEST_TIMEOUT = '0s';

export interface ParentRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}

/** The slice of the HTTPRoute type the operator writes and reads (the CRD is not in @kubernetes/client-node). */
export interface HTTPRoute extends KubernetesObject {
  spec?: {
    parentRefs?: ParentRef[];
    hostnames?: string[];
    rules?: Array<{
      matches?: Array<{ path?: { type?: string; value?: string } }>;
      backendRefs?: Array<{ name: string; port?: number }>;
      timeouts?: { request?: string };
    }>;
  };
  status?: { parents?: RouteParentStatus[] };
}

export interface RouteParentStatus {
  parentRef: Partial<ParentRef> & { name: string };
  controllerName?: string;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string; observedGeneration?: number }>;
}

/** The route's path prefixes: like the Ingress, the prefix and, with auth under a prefix, the metadata path. */
export function routePaths(mcp: ExposedOwner): string[] {
  return exposurePaths(mcp, mcp.spec.httpRoute?.path ?? '/');
}

export function renderHTTPRoute(mcp: ExposedOwner): HTTPRoute | undefined {
  const route = mcp.spec.httpRoute;
  if (!route) return undefined;
  const parentRefs = route.parentRefs.map(
    (p): ParentRef => ({
      group: GATEWAY_API_GROUP,
      kind: 'Gateway',
      name: p.name,
      ...(p.namespace ? { namespace: p.namespace } : {}),
      ...(p.sectionName ? { sectionName: p.sectionName } : {}),
      ...(p.port ? { port: p.port } : {}),
    }),
  );
  return {
    apiVersion: HTTPROUTE_TYPE.apiVersion,
    kind: HTTPROUTE_TYPE.kind,
    metadata: childMetadata(mcp, { annotations: { ...(route.annotations ?? {}) } }),
    spec: {
      parentRefs,
      ...(route.hostnames?.length ? { hostnames: [...route.hostnames] } : {}),
      rules: [
        {
          matches: routePaths(mcp).map((value) => ({ path: { type: 'PathPrefix', value } })),
          backendRefs: [{ name: nameOf(mcp), port: GATEWAY_MCP_PORT }],
          timeouts: { request: ROUTE_REQUEST_TIMEOUT },
        },
      ],
    },
  };
}
