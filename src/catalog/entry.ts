/**
 * One catalog entry from any kind whose status looks like McpServer's (url, externalURL, conditions, tools,
 * serverInfo): McpServer and VirtualMcpServer go through this one function. Pure: no I/O, no clock.
 * Only what a client needs to connect is kept: no env, no Secret names, never a value.
 */

export type AuthMode = 'none' | 'bearer' | 'oidc';
export type RemoteType = 'streamable-http' | 'sse';

export interface Endpoint {
  type: RemoteType;
  url: string;
  /** external: through the Ingress or HTTPRoute; cluster: the in-cluster Service. */
  scope: 'external' | 'cluster';
}

export interface CatalogTool {
  name: string;
  description?: string;
}

export interface CatalogEntry {
  kind: string;
  namespace: string;
  name: string;
  title?: string;
  description?: string;
  ready: { status: 'True' | 'False' | 'Unknown'; reason: string; message: string };
  /** What the server speaks behind the gateway (stdio, streamable-http, sse), or "virtual". */
  transport: string;
  auth: AuthMode;
  /** Best first: external Streamable HTTP, external SSE, then the in-cluster ones. */
  endpoints: Endpoint[];
  serverInfo?: { name?: string; version?: string; protocolVersion?: string };
  tools: CatalogTool[];
  /** A VirtualMcpServer's "ready / all" backends, e.g. 2/3. */
  readyBackends?: string;
  createdAt?: string;
  /** The latest of creation, every condition transition and every write (managedFields' times). */
  updatedAt?: string;
}

/** The shape the catalog reads: an McpServer-like object, whatever its kind. */
export interface StatusLike {
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    creationTimestamp?: string | Date;
    /** Only each write's time is read: a spec or status change that moves no condition is an update too. */
    managedFields?: Array<{ time?: string | Date }>;
  };
  spec?: {
    title?: string;
    description?: string;
    transport?: string;
    auth?: { bearer?: unknown; oidc?: unknown };
    gateway?: { enabled?: boolean };
    servers?: unknown[];
  };
  status?: {
    url?: string;
    externalURL?: string;
    conditions?: Array<{
      type: string;
      status: string;
      reason?: string;
      message?: string;
      lastTransitionTime?: string;
    }>;
    serverInfo?: { name?: string; version?: string; protocolVersion?: string };
    tools?: Array<string | { name?: string; description?: string }>;
    /** McpServer: what each tool does, from discovery. */
    toolDescriptions?: Record<string, string>;
    readyBackends?: string;
  };
}

export const entryKey = (e: { kind: string; namespace: string; name: string }) => `${e.kind}/${e.namespace}/${e.name}`;

const iso = (t: string | Date | undefined): string | undefined =>
  t === undefined ? undefined : t instanceof Date ? t.toISOString() : t;

/** The gateway serves Streamable HTTP at .../mcp and HTTP+SSE at the sibling .../sse. */
function endpointsFor(url: string | undefined, scope: Endpoint['scope'], viaGateway: boolean, transport: string) {
  if (!url) return [];
  if (!viaGateway) return [{ type: transport === 'sse' ? 'sse' : 'streamable-http', url, scope } as Endpoint];
  const out: Endpoint[] = [{ type: 'streamable-http', url, scope }];
  if (/\/mcp$/.test(url)) out.push({ type: 'sse', url: url.replace(/\/mcp$/, '/sse'), scope });
  return out;
}

function toolsOf(status: StatusLike['status']): CatalogTool[] {
  const tools: CatalogTool[] = [];
  const described = status?.toolDescriptions ?? {};
  for (const t of status?.tools ?? []) {
    if (typeof t === 'string') {
      const description = Object.hasOwn(described, t) ? described[t] : undefined;
      tools.push(typeof description === 'string' ? { name: t, description } : { name: t });
    } else if (t && typeof t.name === 'string')
      tools.push(typeof t.description === 'string' ? { name: t.name, description: t.description } : { name: t.name });
  }
  return tools;
}

export function entryOf(object: StatusLike, kind = object.kind ?? 'McpServer'): CatalogEntry {
  const spec = object.spec ?? {};
  const status = object.status ?? {};
  const ready = status.conditions?.find((c) => c.type === 'Ready');
  const virtual = kind === 'VirtualMcpServer';
  const transport = virtual ? 'virtual' : (spec.transport ?? 'stdio');
  const viaGateway = virtual || spec.gateway?.enabled !== false;
  const createdAt = iso(object.metadata.creationTimestamp);
  const times = [
    createdAt,
    ...(status.conditions ?? []).map((c) => c.lastTransitionTime),
    ...(object.metadata.managedFields ?? []).map((f) => iso(f.time)),
  ].filter((t): t is string => typeof t === 'string' && t !== '');
  const updatedAt = times.sort().at(-1);
  const entry: CatalogEntry = {
    kind,
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    ready: {
      status: ready?.status === 'True' || ready?.status === 'False' ? ready.status : 'Unknown',
      reason: ready?.reason ?? 'NotObserved',
      message: ready?.message ?? 'The operator has not written a Ready condition yet.',
    },
    transport,
    auth: spec.auth?.bearer ? 'bearer' : spec.auth?.oidc ? 'oidc' : 'none',
    endpoints: [
      ...endpointsFor(status.externalURL, 'external', viaGateway, transport),
      ...endpointsFor(status.url, 'cluster', viaGateway, transport),
    ],
    tools: toolsOf(status),
  };
  if (spec.title) entry.title = spec.title;
  if (spec.description) entry.description = spec.description;
  if (status.serverInfo) entry.serverInfo = { ...status.serverInfo };
  if (typeof status.readyBackends === 'string') entry.readyBackends = status.readyBackends;
  if (createdAt) entry.createdAt = createdAt;
  if (updatedAt) entry.updatedAt = updatedAt;
  return entry;
}

/** The URL a person outside the cluster should use first: external Streamable HTTP, else the in-cluster one. */
export function preferredEndpoint(entry: CatalogEntry): Endpoint | undefined {
  return entry.endpoints.find((e) => e.type === 'streamable-http') ?? entry.endpoints[0];
}

/** Sorted by namespace, then name, then kind: the order of the page and of the registry's pages. */
export function sortEntries(entries: CatalogEntry[]): CatalogEntry[] {
  return [...entries].sort(
    (a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name) || a.kind.localeCompare(b.kind),
  );
}
