/**
 * What the operator and the gateway agree on inside every pod: the gateway's ports, the paths of its health port,
 * its command-line verbs and every setting it reads from the environment. render writes pods with these names and
 * the gateway parses them, so both import them from here and a rename cannot compile on one side only.
 * A leaf module (it imports nothing), so the gateway bundle takes nothing of the operator with it.
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

/**
 * The gateway's verbs (after `mcp-operator gateway`, or as the bundled runtime's first argument).
 * stdio: spawn the server (`-- CMD ARGS...`); proxy: front an HTTP server (`--upstream URL`);
 * install-runtime: copy the bundled runtime into a volume (the operator's init container);
 * build-runtime: produce that bundle (image build); aggregate: a VirtualMcpServer's pod, many McpServers behind
 * one endpoint (`--backends-file`, contract/aggregate.ts).
 */
export const GATEWAY_VERBS = {
  stdio: 'stdio',
  proxy: 'proxy',
  aggregate: 'aggregate',
  installRuntime: 'install-runtime',
  buildRuntime: 'build-runtime',
} as const;

/** The runtime verbs take a directory through this flag. */
export const RUNTIME_DIR_FLAG = { 'install-runtime': '--to', 'build-runtime': '--out' } as const;

/** Every gateway setting: its flag and the environment variable the operator sets it through (flags win). */
export const GATEWAY_SETTINGS = {
  port: { flag: '--port', env: 'MCP_GATEWAY_PORT' },
  healthPort: { flag: '--health-port', env: 'MCP_GATEWAY_HEALTH_PORT' },
  host: { flag: '--host', env: 'MCP_GATEWAY_HOST' },
  basePath: { flag: '--base-path', env: 'MCP_GATEWAY_BASE_PATH' },
  sessionMode: { flag: '--session-mode', env: 'MCP_GATEWAY_SESSION_MODE' },
  maxSessions: { flag: '--max-sessions', env: 'MCP_GATEWAY_MAX_SESSIONS' },
  maxSessionsPerClient: { flag: '--max-sessions-per-client', env: 'MCP_GATEWAY_MAX_SESSIONS_PER_CLIENT' },
  idleTimeout: { flag: '--idle-timeout', env: 'MCP_GATEWAY_IDLE_TIMEOUT' },
  handshakeTimeout: { flag: '--handshake-timeout', env: 'MCP_GATEWAY_HANDSHAKE_TIMEOUT' },
  toolsAllow: { flag: '--tools-allow', env: 'MCP_GATEWAY_TOOLS_ALLOW' },
  toolsDeny: { flag: '--tools-deny', env: 'MCP_GATEWAY_TOOLS_DENY' },
  rateLimitRpm: { flag: '--rate-limit-rpm', env: 'MCP_GATEWAY_RATE_LIMIT_RPM' },
  rateLimitPerTool: { flag: '--rate-limit-per-tool', env: 'MCP_GATEWAY_RATE_LIMIT_PER_TOOL' },
  authTokenFile: { flag: '--auth-token-file', env: 'MCP_GATEWAY_AUTH_TOKEN_FILE' },
  oidcIssuer: { flag: '--oidc-issuer', env: 'MCP_GATEWAY_OIDC_ISSUER' },
  oidcAudience: { flag: '--oidc-audience', env: 'MCP_GATEWAY_OIDC_AUDIENCE' },
  oidcJwksUrl: { flag: '--oidc-jwks-url', env: 'MCP_GATEWAY_OIDC_JWKS_URL' },
  upstream: { flag: '--upstream', env: 'MCP_GATEWAY_UPSTREAM' },
  upstreamTransport: { flag: '--upstream-transport', env: 'MCP_GATEWAY_UPSTREAM_TRANSPORT' },
  /** aggregate mode: the backends file (contract/aggregate.ts). */
  backendsFile: { flag: '--backends-file', env: 'MCP_GATEWAY_BACKENDS_FILE' },
  drainTimeout: { flag: '--drain-timeout', env: 'MCP_GATEWAY_DRAIN_TIMEOUT' },
  maxBodyBytes: { flag: '--max-body-bytes', env: 'MCP_GATEWAY_MAX_BODY_BYTES' },
  maxStreamBufferBytes: { flag: '--max-stream-buffer-bytes', env: 'MCP_GATEWAY_MAX_STREAM_BUFFER_BYTES' },
  allowedOrigins: { flag: '--allowed-origins', env: 'MCP_GATEWAY_ALLOWED_ORIGINS' },
  trustProxy: { flag: '--trust-proxy', env: 'MCP_GATEWAY_TRUST_PROXY', boolean: true },
  sessionSecretFile: { flag: '--session-secret-file', env: 'MCP_GATEWAY_SESSION_SECRET_FILE' },
  advertiseAddress: { flag: '--advertise-address', env: 'MCP_GATEWAY_ADVERTISE_ADDRESS' },
  requestTimeout: { flag: '--request-timeout', env: 'MCP_GATEWAY_REQUEST_TIMEOUT' },
  inputTimeout: { flag: '--input-timeout', env: 'MCP_GATEWAY_INPUT_TIMEOUT' },
  keepAliveInterval: { flag: '--keepalive-interval', env: 'MCP_GATEWAY_KEEPALIVE_INTERVAL' },
  logLevel: { flag: '--log-level', env: 'MCP_GATEWAY_LOG_LEVEL' },
} as const satisfies Record<string, { flag: string; env: string; boolean?: true }>;

export type GatewaySetting = keyof typeof GATEWAY_SETTINGS;

/** Every gateway variable starts with this; the gateway strips them from the environment of a server it spawns. */
export const GATEWAY_ENV_PREFIX = 'MCP_GATEWAY_';
