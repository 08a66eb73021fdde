/**
 * What the operator and the gateway agree on inside every pod: the gateway's ports and the paths of its health
 * port. render writes probes and annotations with them and the gateway serves them, so both import them from here.
 * A leaf module (it imports nothing), so the gateway bundle takes nothing else of src/api with it.
 */

/** MCP traffic (`/mcp`, `/sse`, `/messages`): the Service's `mcp` port targets it. */
export const GATEWAY_MCP_PORT = 8080;
/** Health and metrics; the ingress never routes here. */
export const GATEWAY_HEALTH_PORT = 9090;

export const HEALTH_PATHS = {
  /** The gateway process is alive (`/livez` is an alias). */
  liveness: '/healthz',
  /** Deep: the MCP server is initialized and answers an MCP ping. */
  readiness: '/readyz',
  metrics: '/metrics',
  /**
   * Proxy mode: the gateway can open a TCP connection to its upstream, the server in the same pod. The server
   * container's default liveness check behind the gateway: the gateway reaches the server on loopback, where the
   * kubelet (which probes the pod IP) cannot.
   */
  upstreamLiveness: '/livez/upstream',
} as const;

/** RFC 9728 protected-resource metadata lives under this path at the host root; the Ingress routes it there. */
export const WELL_KNOWN_RESOURCE = '/.well-known/oauth-protected-resource';
