/**
 * Which McpServers a VirtualMcpServer puts behind its endpoint, in priority order, and what its gateway is told
 * about each. Pure: the controller passes the McpServers of the namespace from its cache, `render` those of its
 * input files.
 */

import { CREDENTIALS_DIR } from '../api/pod-layout.ts';
import { MAX_BACKENDS } from '../api/schema.ts';
import type { McpServer, VirtualMcpServer, VirtualServerSelector } from '../api/types.generated.ts';
import { type AggregateBackend, type AggregateBackendsFile, BACKENDS_FILE_VERSION } from '../contract/aggregate.ts';
import { GATEWAY_MCP_PORT } from '../contract/gateway.ts';
import type { BackendNaming } from '../contract/virtual-names.ts';
import { nameOf, namespaceOf } from './metadata.ts';

/** Kubernetes label-selector semantics: every matchLabels entry and every requirement holds; {} matches all. */
export function matchesSelector(labels: Readonly<Record<string, string>> | undefined, selector: VirtualServerSelector) {
  const have = labels ?? {};
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) if (have[key] !== value) return false;
  for (const req of selector.matchExpressions ?? []) {
    const present = Object.hasOwn(have, req.key);
    const inValues = present && (req.values ?? []).includes(have[req.key] as string);
    const holds =
      req.operator === 'In'
        ? inValues
        : req.operator === 'NotIn'
          ? !inValues
          : req.operator === 'Exists'
            ? present
            : !present;
    if (!holds) return false;
  }
  return true;
}

export interface SelectedBackend {
  naming: BackendNaming;
  /** The McpServer; undefined when a listed one does not exist (or is being deleted). */
  server?: McpServer | undefined;
}

export interface Selection {
  /** spec.servers in order, then the selector's McpServers by name, at most MAX_BACKENDS. */
  backends: SelectedBackend[];
  /** Names in spec.servers with no McpServer. */
  missing: string[];
  /** McpServers the selector matched beyond MAX_BACKENDS (left out). */
  leftOut: number;
  /**
   * An McpServer the selector matched that has the VirtualMcpServer's own name: left out, since its Service
   * name is the VirtualMcpServer's, so the aggregate would call itself. (Listing it is refused by the CRD.)
   */
  ownName?: string;
}

/** `candidates`: McpServers of the VirtualMcpServer's namespace. */
export function selectBackends(vmcp: VirtualMcpServer, candidates: readonly McpServer[]): Selection {
  const namespace = namespaceOf(vmcp);
  const live = new Map(
    candidates
      .filter((c) => namespaceOf(c) === namespace && !c.metadata?.deletionTimestamp)
      .map((c) => [nameOf(c), c] as const),
  );
  const listed: SelectedBackend[] = (vmcp.spec.servers ?? []).map((ref, i) => ({
    naming: {
      name: ref.name,
      ...(ref.prefix ? { prefix: ref.prefix } : {}),
      ...(ref.tools ? { tools: ref.tools } : {}),
      listedAt: i,
    },
    server: live.get(ref.name),
  }));
  const names = new Set(listed.map((b) => b.naming.name));
  const selector = vmcp.spec.selector;
  const matched = selector
    ? [...live.values()].filter((c) => !names.has(nameOf(c)) && matchesSelector(c.metadata?.labels, selector))
    : [];
  const own = nameOf(vmcp);
  const selected: SelectedBackend[] = matched
    .filter((c) => nameOf(c) !== own)
    .sort((a, b) => (nameOf(a) < nameOf(b) ? -1 : 1))
    .map((server) => ({ naming: { name: nameOf(server) }, server }));
  const all = [...listed, ...selected];
  return {
    backends: all.slice(0, MAX_BACKENDS),
    missing: listed.filter((b) => !b.server).map((b) => b.naming.name),
    leftOut: Math.max(0, all.length - MAX_BACKENDS),
    ...(matched.length !== selected.length ? { ownName: own } : {}),
  };
}

/**
 * A backend's in-cluster endpoint: its Service, at the gateway's /mcp (or, without its gateway, the server's own
 * path and transport). Without the McpServer (offline, or not created yet): where its gateway will serve.
 */
export function backendEndpoint(
  namespace: string,
  name: string,
  server: McpServer | undefined,
): Pick<AggregateBackend, 'url' | 'transport'> {
  const base = `http://${name}.${namespace}.svc:${GATEWAY_MCP_PORT}`;
  const spec = server?.spec;
  if (spec?.gateway?.enabled !== false) return { url: `${base}/mcp`, transport: 'streamable-http' };
  const transport = spec.transport === 'sse' ? 'sse' : 'streamable-http';
  return { url: `${base}${spec.path ?? (transport === 'sse' ? '/sse' : '/mcp')}`, transport };
}

/** A backend whose gateway checks tokens: the aggregate presents it the credential the operator minted for it. */
export function backendNeedsCredential(server: McpServer | undefined): boolean {
  const spec = server?.spec;
  return !!spec && spec.gateway?.enabled !== false && !!(spec.auth?.bearer || spec.auth?.oidc);
}

/** The backends file the gateway reads (aggregate-contract.ts), missing backends included: they may come. */
export function backendsFile(vmcp: VirtualMcpServer, selection: Selection): AggregateBackendsFile {
  const namespace = namespaceOf(vmcp);
  return {
    version: BACKENDS_FILE_VERSION,
    backends: selection.backends.map(({ naming, server }) => {
      const tools = naming.tools
        ? {
            ...(naming.tools.allow?.length ? { allow: [...naming.tools.allow] } : {}),
            ...(naming.tools.deny?.length ? { deny: [...naming.tools.deny] } : {}),
            ...(naming.tools.rename && Object.keys(naming.tools.rename).length
              ? { rename: { ...naming.tools.rename } }
              : {}),
          }
        : {};
      return {
        name: naming.name,
        ...backendEndpoint(namespace, naming.name, server),
        ...(naming.prefix ? { prefix: naming.prefix } : {}),
        ...(Object.keys(tools).length ? { tools } : {}),
        ...(backendNeedsCredential(server) ? { tokenFile: `${CREDENTIALS_DIR}/${naming.name}` } : {}),
      };
    }),
  };
}
