/**
 * The Gateway API exposure, offline: the HTTPRoute the renderer writes, and what a route's status (as a Gateway's
 * controller writes it) and its parent Gateways mean for the McpServer's conditions and externalURL.
 */
import { describe, expect, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { parseMcpServer } from '../../src/api/validate.ts';
import { routeConflict } from '../../src/controller/route-conflict.ts';
import { type Gateway, routeVerdict } from '../../src/controller/route-status.ts';
import type { Cached } from '../../src/kube/informer.ts';
import { renderChildren } from '../../src/render/index.ts';
import { type HTTPRoute, renderHTTPRoute } from '../../src/render/route.ts';
import { stdioServer } from '../fixtures/manifests.ts';

const PUBLIC = { name: 'public', namespace: 'gateway-system', sectionName: 'https' };

function server(httpRoute: Record<string, unknown>, extra: Record<string, unknown> = {}): McpServer {
  const m = stdioServer('github', { httpRoute, ...extra });
  return parseMcpServer({ ...m, metadata: { ...m.metadata, namespace: 'team-a', uid: 'u-1' } });
}

const route = (mcp: McpServer) => {
  const r = renderHTTPRoute(mcp);
  if (!r) throw new Error('no HTTPRoute rendered');
  return r;
};

describe('renderHTTPRoute', () => {
  it('routes the path prefix to the Service mcp port, attached to the named Gateways, with no request timeout', () => {
    const mcp = server({ parentRefs: [PUBLIC], hostnames: ['mcp.example.com'], path: '/github' });
    const r = route(mcp);
    expect(r.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(r.kind).toBe('HTTPRoute');
    expect(r.metadata).toMatchObject({ name: 'github', namespace: 'team-a' });
    expect(r.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'McpServer', uid: 'u-1', controller: true });
    expect(r.spec).toEqual({
      parentRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', ...PUBLIC }],
      hostnames: ['mcp.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/github' } }],
          backendRefs: [{ name: 'github', port: 8080 }],
          timeouts: { request: '0s' },
        },
      ],
    });
  });

  it('with auth under a prefix, also routes the RFC 9728 metadata path at the host root', () => {
    const mcp = server(
      { parentRefs: [{ name: 'public' }], path: '/github' },
      { auth: { bearer: { secretRef: { name: 'tokens' } } } },
    );
    expect(route(mcp).spec?.rules?.[0]?.matches).toEqual([
      { path: { type: 'PathPrefix', value: '/github' } },
      { path: { type: 'PathPrefix', value: '/.well-known/oauth-protected-resource/github' } },
    ]);
  });

  it('tells the gateway its base path, as for the Ingress', () => {
    const mcp = server({ parentRefs: [{ name: 'public' }], path: '/github' });
    const children = renderChildren(mcp, { gatewayImage: 'registry.test/op:1' });
    const deployment = children.find((c) => c.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { containers: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
    };
    const env = deployment.spec.template.spec.containers.flatMap((c) => c.env ?? []);
    expect(env).toContainEqual({ name: 'MCP_GATEWAY_BASE_PATH', value: '/github' });
    // Requests come from the Gateway's controller: the client address is its last X-Forwarded-For entry.
    expect(env).toContainEqual({ name: 'MCP_GATEWAY_TRUST_PROXY', value: 'true' });
    expect(children.at(-1)?.kind).toBe('HTTPRoute');
  });

  it('renders nothing without spec.httpRoute, and carries user annotations', () => {
    expect(renderHTTPRoute(parseMcpServer(stdioServer('plain')))).toBeUndefined();
    const mcp = server({ parentRefs: [{ name: 'public' }], annotations: { team: 'a' } });
    expect(route(mcp).metadata?.annotations).toEqual({ team: 'a' });
    expect(route(mcp).spec?.hostnames).toBeUndefined();
  });
});

const gateway = (listeners: NonNullable<Gateway['spec']>['listeners'], addresses?: string[]): Gateway => ({
  metadata: { name: 'public', namespace: 'gateway-system' },
  spec: { listeners },
  ...(addresses ? { status: { addresses: addresses.map((value) => ({ type: 'IPAddress', value })) } } : {}),
});
const HTTPS = gateway([
  { name: 'http', protocol: 'HTTP', port: 80 },
  { name: 'https', protocol: 'HTTPS', port: 443 },
]);

function withStatus(r: HTTPRoute, conditions: Array<Record<string, unknown>>, generation = 1): HTTPRoute {
  return {
    ...r,
    metadata: { ...r.metadata, generation } as HTTPRoute['metadata'],
    status: {
      parents: [
        {
          parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', ...PUBLIC },
          controllerName: 'traefik.io/gateway-controller',
          conditions: conditions as never,
        },
      ],
    },
  };
}
const accepted = [
  { type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 1 },
  { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: '', observedGeneration: 1 },
];

describe('routeVerdict', () => {
  const mcp = server({ parentRefs: [PUBLIC], hostnames: ['mcp.example.com'], path: '/github' });
  const gateways = new Map([['gateway-system/public', HTTPS]]);

  it('is Pending (Unknown, no blocker, no URL) until a controller answers for the current generation', () => {
    for (const r of [route(mcp), withStatus(route(mcp), accepted, 2)]) {
      const v = routeVerdict({ mcp, route: r, gateways });
      expect(v.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
        ['RouteAccepted', 'Unknown', 'Pending'],
        ['RouteResolvedRefs', 'Unknown', 'Pending'],
      ]);
      expect(v.conditions[0]?.message).toContain('Gateway gateway-system/public/https');
      expect(v.blocker).toBeUndefined();
      expect(v.externalURL).toBeUndefined();
    }
  });

  it('once Accepted, gives the https URL of an HTTPS listener with the route host and path', () => {
    const v = routeVerdict({ mcp, route: withStatus(route(mcp), accepted), gateways });
    expect(v.conditions.map((c) => [c.type, c.status])).toEqual([
      ['RouteAccepted', 'True'],
      ['RouteResolvedRefs', 'True'],
    ]);
    expect(v.blocker).toBeUndefined();
    expect(v.externalURL).toBe('https://mcp.example.com/github/mcp');
  });

  it('takes http from an HTTP listener, keeps a non-default port, and falls back to the Gateway address', () => {
    const plain = server({ parentRefs: [{ ...PUBLIC, sectionName: 'web' }], path: '/github' });
    const g = gateway([{ name: 'web', protocol: 'HTTP', port: 8000 }], ['10.0.0.7']);
    const r = withStatus(route(plain), accepted);
    (r.status?.parents?.[0]?.parentRef as { sectionName: string }).sectionName = 'web';
    const v = routeVerdict({ mcp: plain, route: r, gateways: new Map([['gateway-system/public', g]]) });
    expect(v.externalURL).toBe('http://10.0.0.7:8000/github/mcp');
    // The listener's own host name wins over the address; a wildcard one does not.
    const named = gateway([{ name: 'web', protocol: 'HTTP', port: 80, hostname: 'gw.example.com' }], ['10.0.0.7']);
    expect(
      routeVerdict({ mcp: plain, route: r, gateways: new Map([['gateway-system/public', named]]) }).externalURL,
    ).toBe('http://gw.example.com/github/mcp');
    const wild = gateway([{ name: 'web', protocol: 'HTTP', port: 80, hostname: '*.example.com' }]);
    expect(
      routeVerdict({ mcp: plain, route: r, gateways: new Map([['gateway-system/public', wild]]) }).externalURL,
    ).toBeUndefined();
    // Nor the address when a wildcard restricts the host: a request to the IP would match no route.
    const wildWithAddress = gateway(
      [{ name: 'web', protocol: 'HTTP', port: 80, hostname: '*.example.com' }],
      ['10.0.0.7'],
    );
    expect(
      routeVerdict({ mcp: plain, route: r, gateways: new Map([['gateway-system/public', wildWithAddress]]) })
        .externalURL,
    ).toBeUndefined();
    const wildRoute = server({
      parentRefs: [{ ...PUBLIC, sectionName: 'web' }],
      hostnames: ['*.mcp.example.com'],
      path: '/github',
    });
    const rw = withStatus(route(wildRoute), accepted);
    (rw.status?.parents?.[0]?.parentRef as { sectionName: string }).sectionName = 'web';
    expect(
      routeVerdict({ mcp: wildRoute, route: rw, gateways: new Map([['gateway-system/public', g]]) }).externalURL,
    ).toBeUndefined();
  });

  it('without a sectionName, the URL goes through a listener that admits the namespace and a host name', () => {
    const all = { namespaces: { from: 'All' } };
    const g = gateway([
      { name: 'http', protocol: 'HTTP', port: 80 }, // allowedRoutes default: the Gateway's namespace only
      { name: 'internal', protocol: 'HTTPS', port: 443, hostname: '*.internal.test', allowedRoutes: all },
      { name: 'https', protocol: 'HTTPS', port: 8443, hostname: '*.example.com', allowedRoutes: all },
    ]);
    const open = server({
      parentRefs: [{ name: 'public', namespace: 'gateway-system' }],
      hostnames: ['mcp.other.test', 'mcp.example.com'],
      path: '/github',
    });
    const r = withStatus(route(open), accepted);
    const parent = r.status?.parents?.[0]?.parentRef as { sectionName?: string };
    delete parent.sectionName;
    const v = routeVerdict({ mcp: open, route: r, gateways: new Map([['gateway-system/public', g]]) });
    expect(v.externalURL).toBe('https://mcp.example.com:8443/github/mcp');
    // In the Gateway's own namespace the first listener admits it.
    const local = parseMcpServer({ ...open, metadata: { ...open.metadata, namespace: 'gateway-system' } });
    const lv = routeVerdict({ mcp: local, route: r, gateways: new Map([['gateway-system/public', g]]) });
    expect(lv.externalURL).toBe('http://mcp.other.test/github/mcp');
  });

  it('a refusal becomes RouteAccepted=False with the controller reason and a RouteNotAccepted blocker', () => {
    const refused = withStatus(route(mcp), [
      {
        type: 'Accepted',
        status: 'False',
        reason: 'NotAllowedByListeners',
        message: 'namespace team-a is not allowed',
        observedGeneration: 1,
      },
      accepted[1] as Record<string, unknown>,
    ]);
    const v = routeVerdict({ mcp, route: refused, gateways });
    expect(v.conditions[0]).toEqual({
      type: 'RouteAccepted',
      status: 'False',
      reason: 'NotAllowedByListeners',
      message:
        "Gateway gateway-system/public/https (traefik.io/gateway-controller): namespace team-a is not allowed; let the listener's allowedRoutes admit HTTPRoutes from namespace team-a (on Gateway gateway-system/public/https), or attach spec.httpRoute.parentRefs to a Gateway that does",
    });
    expect(v.blocker?.reason).toBe('RouteNotAccepted');
    expect(v.blocker?.message).toContain('namespace team-a is not allowed');
    expect(v.externalURL).toBeUndefined();
  });

  it("names the fix on the McpServer for each of the Gateway API's standard refusal reasons", () => {
    const fixes: Array<[string, string, RegExp]> = [
      ['Accepted', 'NoMatchingListenerHostname', /; set spec\.httpRoute\.hostnames to names the listener hostnames/],
      ['Accepted', 'NoMatchingParent', /; spec\.httpRoute\.parentRefs sectionName or port names no listener/],
      ['Accepted', 'UnsupportedValue', /; the Gateway's controller does not support a value of the route/],
      ['ResolvedRefs', 'RefNotPermitted', /ReferenceGrant/],
      ['ResolvedRefs', 'BackendNotFound', /check that the Service exists/],
    ];
    for (const [type, reason, fix] of fixes) {
      const refusal = { type, status: 'False', reason, message: 'refused', observedGeneration: 1 };
      const r = withStatus(
        route(mcp),
        accepted.map((c) => (c.type === type ? refusal : (c as Record<string, unknown>))),
      );
      const v = routeVerdict({ mcp, route: r, gateways });
      expect(v.conditions.find((c) => c.status === 'False')?.message, reason).toMatch(fix);
      expect(v.blocker?.message, reason).toMatch(fix);
    }
    // A reason of its own: its controller's words alone.
    const own = { type: 'Accepted', status: 'False', reason: 'Custom', message: 'refused', observedGeneration: 1 };
    const v = routeVerdict({
      mcp,
      route: withStatus(route(mcp), [own, accepted[1] as Record<string, unknown>]),
      gateways,
    });
    expect(v.conditions[0]?.message).toBe(
      'Gateway gateway-system/public/https (traefik.io/gateway-controller): refused',
    );
  });

  it('an unresolved backend is a RouteRefsNotResolved blocker', () => {
    const r = withStatus(route(mcp), [
      accepted[0] as Record<string, unknown>,
      {
        type: 'ResolvedRefs',
        status: 'False',
        reason: 'BackendNotFound',
        message: 'service not found',
        observedGeneration: 1,
      },
    ]);
    const v = routeVerdict({ mcp, route: r, gateways });
    expect(v.conditions[1]).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(v.blocker?.reason).toBe('RouteRefsNotResolved');
  });

  it('a parent Gateway that does not exist is GatewayNotFound, named with the fix', () => {
    const v = routeVerdict({ mcp, route: route(mcp), gateways: new Map([['gateway-system/public', null]]) });
    expect(v.conditions[0]).toMatchObject({ type: 'RouteAccepted', status: 'False', reason: 'GatewayNotFound' });
    expect(v.blocker).toEqual({
      reason: 'GatewayNotFound',
      message:
        'HTTPRoute not accepted: Gateway gateway-system/public/https (spec.httpRoute.parentRefs) does not exist: create it or fix the reference',
    });
  });

  it('an unreadable Gateway (no RBAC there) leaves the conditions to the route status but gives no URL', () => {
    const v = routeVerdict({ mcp, route: withStatus(route(mcp), accepted), gateways: new Map() });
    expect(v.conditions[0]?.status).toBe('True');
    expect(v.externalURL).toBeUndefined();
  });

  it('two parents, one accepting and one refusing: not Ready and no externalURL (every parent must accept)', () => {
    const INTERNAL = { name: 'internal', namespace: 'gateway-system', sectionName: 'http' };
    const two = server({ parentRefs: [PUBLIC, INTERNAL], hostnames: ['mcp.example.com'], path: '/github' });
    const r = withStatus(route(two), accepted);
    r.status?.parents?.push({
      parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', ...INTERNAL },
      controllerName: 'example.test/other',
      conditions: [
        { type: 'Accepted', status: 'False', reason: 'NotAllowedByListeners', message: 'no', observedGeneration: 1 },
        { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: '', observedGeneration: 1 },
      ],
    });
    const internal = gateway([{ name: 'http', protocol: 'HTTP', port: 80 }]);
    const both = new Map([
      ['gateway-system/public', HTTPS],
      ['gateway-system/internal', internal],
    ]);
    const v = routeVerdict({ mcp: two, route: r, gateways: both });
    expect(v.conditions[0]).toMatchObject({ status: 'False', reason: 'NotAllowedByListeners' });
    expect(v.conditions[0]?.message).toContain('Gateway gateway-system/internal/http (example.test/other)');
    expect(v.blocker?.reason).toBe('RouteNotAccepted');
    expect(v.externalURL).toBeUndefined();
  });

  it('ignores a status another controller wrote for a parent the McpServer does not name', () => {
    const r = withStatus(route(mcp), accepted);
    const foreign = r.status?.parents?.[0];
    if (!foreign) throw new Error('no parent status');
    foreign.parentRef = { ...foreign.parentRef, name: 'elsewhere' };
    foreign.controllerName = 'example.test/other';
    const v = routeVerdict({ mcp, route: r, gateways });
    expect(v.conditions.map((c) => c.reason)).toEqual(['Pending', 'Pending']);
    expect(v.externalURL).toBeUndefined();
  });
});

describe('routeConflict', () => {
  /** Our route for an McpServer, as the cache holds it (uid and creation time from the API server). */
  function cached(name: string, httpRoute: Record<string, unknown>, createdAt: string) {
    const m = stdioServer(name, { httpRoute });
    const mcp = parseMcpServer({ ...m, metadata: { ...m.metadata, namespace: 'team-a', uid: `uid-${name}` } });
    const r = route(mcp);
    const metadata = { ...r.metadata, namespace: 'team-a', name, creationTimestamp: createdAt };
    return { mcp, route: { ...r, metadata } as unknown as HTTPRoute & Cached };
  }
  const first = cached(
    'first',
    { parentRefs: [PUBLIC], hostnames: ['mcp.example.com'], path: '/x' },
    '2026-01-01T00:00:00Z',
  );
  const conflictOf = (other: ReturnType<typeof cached>, live?: HTTPRoute) =>
    routeConflict({
      ownerUid: other.mcp.metadata?.uid,
      namespace: 'team-a',
      desired: other.route,
      live,
      routes: [first.route, other.route],
    });

  it('refuses a newcomer on the same listener, host and prefix, naming the route that keeps it', () => {
    const second = cached(
      'second',
      { parentRefs: [{ name: 'public', namespace: 'gateway-system' }], hostnames: ['mcp.example.com'], path: '/x/' },
      '2026-01-02T00:00:00Z',
    );
    expect(conflictOf(second)).toMatchObject({ reason: 'RoutePathConflict' });
    expect(conflictOf(second)?.message).toContain('HTTPRoute team-a/first');
    // Both exist (created at once): the Gateway serves the older, so the older is never the one refused.
    expect(conflictOf(first, first.route)).toBeUndefined();
    const tie = cached(
      'a-tie',
      { parentRefs: [PUBLIC], hostnames: ['mcp.example.com'], path: '/x' },
      '2026-01-01T00:00:00Z',
    );
    expect(conflictOf(tie, tie.route)).toBeUndefined(); // "team-a/a-tie" sorts before "team-a/first"
  });

  it('lets routes that differ by listener, host or prefix be', () => {
    const others = [
      { parentRefs: [{ ...PUBLIC, sectionName: 'http' }], hostnames: ['mcp.example.com'], path: '/x' },
      { parentRefs: [PUBLIC], hostnames: ['other.example.com'], path: '/x' },
      { parentRefs: [PUBLIC], path: '/x' }, // no host name: the more specific route wins its host, this one the rest
      { parentRefs: [PUBLIC], hostnames: ['mcp.example.com'], path: '/xy' },
      { parentRefs: [{ name: 'public', namespace: 'other' }], hostnames: ['mcp.example.com'], path: '/x' },
    ];
    for (const httpRoute of others) {
      expect(
        conflictOf(cached('second', httpRoute, '2026-01-02T00:00:00Z')),
        JSON.stringify(httpRoute),
      ).toBeUndefined();
    }
  });
});

describe('spec.httpRoute.parentRefs naming a Gateway more than once', () => {
  it('takes one Gateway through different listeners, and same-named Gateways of different namespaces', () => {
    for (const parentRefs of [
      [PUBLIC, { ...PUBLIC, sectionName: 'http' }],
      [{ name: 'public' }, { name: 'public', namespace: 'gateway-system' }],
    ]) {
      const r = route(server({ parentRefs }));
      expect(r.spec?.parentRefs?.length).toBe(2);
    }
  });
});
