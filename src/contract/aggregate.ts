/**
 * What the operator and the gateway agree on for a VirtualMcpServer's pods (the gateway's aggregate mode). The
 * renderer writes the Deployment and the backends ConfigMap with these; the gateway reads them. Beside
 * gateway.ts, whose settings and probes apply unchanged; a leaf of the contract layer.
 *
 * The pod runs one container, our image, as `mcp-operator gateway aggregate`, with:
 * - every MCP_GATEWAY_* variable an McpServer's gateway gets, with the same meaning (ports, base path, session
 *   limits and idle timeout, rate limits, bearer tokens or OIDC, the session-signing key and advertise address,
 *   trust-proxy), where MCP_GATEWAY_TOOLS_ALLOW / _DENY and the MCP_GATEWAY_RATE_LIMIT_PER_TOOL keys are exposed
 *   names (after prefix and rename);
 * - MCP_GATEWAY_BACKENDS_FILE: a JSON file ({@link AggregateBackendsFile}) holding the backends in priority order,
 *   each with its in-cluster URL, its prefix, its allow/deny (on the backend's own tool names) and its renames.
 *   The file is a ConfigMap volume: when membership changes the kubelet replaces it in place (within about a
 *   minute) and the pods are not rolled, so the gateway must watch it and apply a new list without dropping
 *   sessions (an unreadable or invalid new file keeps the last good list and is logged).
 * - the probes of every gateway: /healthz alive; /readyz ready once the backends file is loaded and the MCP port
 *   serves, whatever the backends' state (one backend down must not take the others' endpoint out of the Service).
 * Names follow virtual-names.ts (`buildCatalog`), which the gateway imports for the same answers.
 */

import { GATEWAY_SETTINGS, GATEWAY_VERBS } from './gateway.ts';

/** `mcp-operator gateway aggregate`: one of GATEWAY_VERBS (gateway.ts), which the gateway's CLI dispatches on. */
export const AGGREGATE_VERB = GATEWAY_VERBS.aggregate;
/** The backends file: the GATEWAY_SETTINGS entry `backendsFile`. */
export const BACKENDS_FILE_ENV = GATEWAY_SETTINGS.backendsFile.env;
export const BACKENDS_FILE_FLAG = GATEWAY_SETTINGS.backendsFile.flag;
/** The key of the backends ConfigMap, and the file's name in BACKENDS_DIR (pod-layout.ts). */
export const BACKENDS_KEY = 'backends.json';
export const BACKENDS_FILE_VERSION = 1;

export interface AggregateBackend {
  /** The McpServer's name: audit and metrics label calls with it. */
  name: string;
  /** Its in-cluster MCP endpoint (its Service), e.g. http://github.team.svc:8080/mcp. */
  url: string;
  /** streamable-http, or sse for an sse server without its gateway. */
  transport: 'streamable-http' | 'sse';
  prefix?: string;
  tools?: { allow?: string[]; deny?: string[]; rename?: Record<string, string> };
  /**
   * A file holding the bearer token the aggregate presents to this backend's gateway (a backend with auth on);
   * re-read at each (re)connection, so a rotated Secret takes effect without a restart.
   */
  tokenFile?: string;
}

export interface AggregateBackendsFile {
  version: typeof BACKENDS_FILE_VERSION;
  /** In priority order: the earlier wins a name two backends expose. */
  backends: AggregateBackend[];
}
