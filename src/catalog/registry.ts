/**
 * The catalog as an MCP Registry: entries mapped to the official registry's `server.json` format (schema
 * 2025-12-11) and its read API envelopes (`ServerList`, `ServerResponse` of docs/reference/api/openapi.yaml in
 * modelcontextprotocol/registry). Pure functions: the HTTP layer only parses the query and writes the JSON.
 */
import type { CatalogEntry } from './entry.ts';

export const SERVER_SCHEMA_URL = 'https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json';
/** Our extension in a ServerResponse's registry-managed `_meta` (reverse-DNS, as the spec asks). */
export const CATALOG_META = 'io.mcpoperator/catalog';
const OFFICIAL_META = 'io.modelcontextprotocol.registry/official';
/** When the server has not said its version: valid semver that sorts before any real release. */
export const UNKNOWN_VERSION = '0.0.0-unknown';
export const DEFAULT_PAGE_SIZE = 30;
/**
 * The longest --name-prefix whose every name fits server.json's 200 characters: the longest is a
 * VirtualMcpServer's `<prefix>.<namespace>.virtual/<name>`, namespace and name at most 63 each.
 */
export const MAX_NAME_PREFIX = 200 - '.'.length - 63 - '.virtual/'.length - 63;
export const MAX_PAGE_SIZE = 100;

export interface RegistryOptions {
  /** Reverse-DNS namespace of every name, e.g. com.example.cluster: `<prefix>.<k8s namespace>/<name>`. */
  namePrefix: string;
}

export interface KeyValueInput {
  name: string;
  description?: string;
  isRequired?: boolean;
  isSecret?: boolean;
  value?: string;
  variables?: Record<string, { description?: string; isRequired?: boolean; isSecret?: boolean }>;
}
export interface Remote {
  type: 'streamable-http' | 'sse';
  url: string;
  headers?: KeyValueInput[];
}
export interface ServerDetail {
  $schema: string;
  name: string;
  title?: string;
  description: string;
  version: string;
  remotes: Remote[];
}
export interface ServerResponse {
  server: ServerDetail;
  _meta: Record<string, unknown>;
}
export interface ServerList {
  servers: ServerResponse[];
  metadata: { count: number; nextCursor?: string };
}

/** A VirtualMcpServer may share its name with an McpServer of its namespace: its own segment keeps them apart. */
export function registryName(entry: CatalogEntry, options: RegistryOptions): string {
  const virtual = entry.kind === 'VirtualMcpServer' ? '.virtual' : '';
  return `${options.namePrefix}.${entry.namespace}${virtual}/${entry.name}`;
}

/** By code points, as the schema's maxLength (and the CRD's) counts: a UTF-16 slice could split an emoji in two. */
function clip(s: string, max: number): string {
  const chars = Array.from(s);
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

/** The header a client must send, as a template: the registry never holds a token. */
function authHeaders(entry: CatalogEntry): KeyValueInput[] | undefined {
  if (entry.auth === 'none') return undefined;
  const what = entry.auth === 'bearer' ? 'a bearer token issued for this server' : 'a JWT from the OIDC issuer';
  return [
    {
      name: 'Authorization',
      description: `Bearer ${what}`,
      isRequired: true,
      isSecret: true,
      value: 'Bearer {token}',
      variables: { token: { description: what, isRequired: true, isSecret: true } },
    },
  ];
}

export function serverJson(entry: CatalogEntry, options: RegistryOptions): ServerDetail {
  const headers = authHeaders(entry);
  const description = entry.description ?? `${entry.kind} ${entry.namespace}/${entry.name}`;
  const detail: ServerDetail = {
    $schema: SERVER_SCHEMA_URL,
    name: registryName(entry, options),
    description: clip(description, 100),
    version: entry.serverInfo?.version ? clip(entry.serverInfo.version, 255) : UNKNOWN_VERSION,
    remotes: entry.endpoints.map((e) =>
      headers ? { type: e.type, url: e.url, headers } : { type: e.type, url: e.url },
    ),
  };
  if (entry.title) detail.title = clip(entry.title, 100);
  return detail;
}

export function serverResponse(entry: CatalogEntry, options: RegistryOptions): ServerResponse {
  const official: Record<string, unknown> = { status: 'active', isLatest: true };
  if (entry.createdAt) official.publishedAt = entry.createdAt;
  if (entry.updatedAt) official.updatedAt = entry.updatedAt;
  return {
    server: serverJson(entry, options),
    _meta: {
      [OFFICIAL_META]: official,
      [CATALOG_META]: {
        kind: entry.kind,
        namespace: entry.namespace,
        name: entry.name,
        ready: entry.ready,
        transport: entry.transport,
        auth: entry.auth,
        endpoints: entry.endpoints,
        tools: entry.tools,
        ...(entry.serverInfo ? { serverInfo: entry.serverInfo } : {}),
      },
    },
  };
}

export interface ListQuery {
  cursor?: string;
  limit?: number;
  search?: string;
  /** RFC 3339 */
  updatedSince?: string;
  /** 'latest' or an exact version */
  version?: string;
}

export type ParsedQuery = { ok: true; query: ListQuery } | { ok: false; error: string };

/** RFC 3339 date-time (section 5.6): Date.parse alone also takes "1", "2026" or "Tue". */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** The list endpoint's query string, refusing what the spec's types refuse. */
export function parseListQuery(params: URLSearchParams): ParsedQuery {
  const query: ListQuery = {};
  const limit = params.get('limit');
  if (limit !== null) {
    // Digits only: Number() would also take 1e2, 0x10, " 5" and 1.0. Clamped, so 10^30 is simply the maximum.
    if (!/^[1-9][0-9]*$/.test(limit))
      return { ok: false, error: `limit must be a positive integer (at most ${MAX_PAGE_SIZE} are returned)` };
    query.limit = limit.length > 3 ? MAX_PAGE_SIZE : Math.min(Number(limit), MAX_PAGE_SIZE);
  }
  const since = params.get('updated_since');
  if (since !== null) {
    if (!RFC3339.test(since) || Number.isNaN(Date.parse(since)))
      return { ok: false, error: 'updated_since must be an RFC 3339 date-time, e.g. 2026-01-31T12:00:00Z' };
    query.updatedSince = since;
  }
  const cursor = params.get('cursor');
  if (cursor !== null && cursor !== '' && decodeCursor(cursor) === undefined)
    return { ok: false, error: 'cursor is not one this registry issued: use metadata.nextCursor, or omit it' };
  for (const [param, key] of [
    ['cursor', 'cursor'],
    ['search', 'search'],
    ['version', 'version'],
  ] as const) {
    const v = params.get(param);
    if (v !== null && v !== '') query[key] = v;
  }
  return { ok: true, query };
}

const encodeCursor = (name: string) => Buffer.from(name, 'utf8').toString('base64url');
/** undefined unless the cursor is exactly what encodeCursor gives for some name (Buffer skips bad characters). */
function decodeCursor(cursor: string): string | undefined {
  const name = Buffer.from(cursor, 'base64url').toString('utf8');
  return name !== '' && encodeCursor(name) === cursor ? name : undefined;
}

function matches(entry: CatalogEntry, server: ServerDetail, query: ListQuery): boolean {
  if (query.search && !server.name.toLowerCase().includes(query.search.toLowerCase())) return false;
  if (query.version && query.version !== 'latest' && query.version !== server.version) return false;
  if (query.updatedSince) {
    const updated = Date.parse(entry.updatedAt ?? entry.createdAt ?? '');
    if (!(updated >= Date.parse(query.updatedSince))) return false;
  }
  return true;
}

/** One page, ordered by name; the cursor is the last name of the page (opaque to clients). */
export function listServers(entries: CatalogEntry[], query: ListQuery, options: RegistryOptions): ServerList {
  const after = (query.cursor && decodeCursor(query.cursor)) ?? '';
  const all = entries
    .map((entry) => ({ entry, response: serverResponse(entry, options) }))
    .filter(({ entry, response }) => matches(entry, response.server, query))
    .sort((a, b) => (a.response.server.name < b.response.server.name ? -1 : 1))
    .filter(({ response }) => response.server.name > after);
  const limit = query.limit ?? DEFAULT_PAGE_SIZE;
  const page = all.slice(0, limit).map(({ response }) => response);
  const metadata: ServerList['metadata'] = { count: page.length };
  const last = page.at(-1);
  if (all.length > limit && last) metadata.nextCursor = encodeCursor(last.server.name);
  return { servers: page, metadata };
}

/** `/servers/{serverName}/versions[/{version}]`: each entry has one version, the one it runs now. */
export function findServer(
  entries: CatalogEntry[],
  serverName: string,
  options: RegistryOptions,
): CatalogEntry | undefined {
  return entries.find((e) => registryName(e, options) === serverName);
}

export function versionResponse(
  entry: CatalogEntry,
  version: string,
  options: RegistryOptions,
): ServerResponse | undefined {
  const response = serverResponse(entry, options);
  return version === 'latest' || version === response.server.version ? response : undefined;
}
