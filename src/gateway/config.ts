/**
 * Gateway configuration from flags and MCP_GATEWAY_* environment variables (flags win). Every problem is a
 * ConfigError naming the flag or variable, which the CLI turns into exit code 2. The names are the operator's
 * contract too: src/contract/gateway.ts spells them once for both sides.
 */

import { isIP } from 'node:net';
import { GATEWAY_ENV_PREFIX, GATEWAY_SETTINGS, GATEWAY_VERBS } from '../contract/gateway.ts';
import { LOG_LEVELS } from '../observability/log.ts';

export type SessionMode = 'shared' | 'perSession';
export type UpstreamTransport = 'streamable-http' | 'sse';

export interface GatewayConfig {
  mode: 'stdio' | 'proxy' | 'aggregate';
  /** stdio mode: the server command and its arguments. */
  command: string[];
  /** proxy mode: the upstream MCP endpoint. */
  upstream?: string;
  upstreamTransport: UpstreamTransport;
  /** aggregate mode: the backends file (contract/aggregate.ts), watched for membership changes. */
  backendsFile?: string;
  host: string;
  port: number;
  healthPort: number;
  /** '' or a path prefix such as '/github' (no trailing slash). */
  basePath: string;
  sessionMode: SessionMode;
  maxSessions: number;
  /** Sessions one client (token, OIDC subject, or address) may hold; over it, its least recently used idle one closes. */
  maxSessionsPerClient: number;
  idleTimeoutMs: number;
  /** A session that makes no request after initialize closes after this long (abandoned handshakes). */
  handshakeTimeoutMs: number;
  toolsAllow: string[];
  toolsDeny: string[];
  rateLimitRpm: number;
  rateLimitPerTool: Map<string, number>;
  authTokenFile?: string;
  oidcIssuer?: string;
  oidcAudience?: string;
  oidcJwksUrl?: string;
  drainTimeoutMs: number;
  maxBodyBytes: number;
  /** Unsent bytes an event stream may hold for a client that is not reading before it is closed. */
  maxStreamBufferBytes: number;
  allowedOrigins: string[];
  /** Trust X-Forwarded-For (its last entry) for the client address: only behind one proxy that sets it. */
  trustProxy: boolean;
  /** Multi-replica: file holding the HMAC key that signs session ids, and the address (host:port) other replicas reach this one on. */
  sessionSecretFile?: string;
  advertiseAddress?: string;
  /** Interval of the keep-alive comments on event streams. */
  keepAliveMs: number;
  /** How long a request may wait for the server before the gateway answers with an error. */
  requestTimeoutMs: number;
  /** How long a 2026-07-28 input_required result waits for the client's retry. */
  inputTimeoutMs: number;
  logLevel: string;
}

export class ConfigError extends Error {
  readonly source: string;
  constructor(source: string, message: string) {
    super(`${source}: ${message}`);
    this.source = source;
  }
}

interface OptionSpec {
  flag: string;
  env?: string;
  /** A boolean switch takes no value. */
  boolean?: boolean;
}

const OPTIONS: Readonly<Record<string, OptionSpec>> = GATEWAY_SETTINGS;

/**
 * Default session limits. Shared mode: 1000 sessions. Measured (bench/RESULTS.md, `npm run bench -- sessions`):
 * an idle session costs the gateway about 45 KB of RSS (handshake done, GET stream open; about 35 KB for legacy
 * SSE, under 30 KB for an abandoned handshake), so 1000 take about 45 MB, a tenth of the 512 Mi the operator
 * gives the server container (gateway, about 100 MB, and server included) by default, a sixth of the proxy
 * sidecar's 256 Mi. Sessions that buffer events use more,
 * bounded per session by the event store. perSession mode keeps 100: each session there is a server process,
 * whose memory the gateway cannot know; size it from the server's. Per client: a tenth of the shared default, so
 * it takes ten clients' busy sessions (idle ones are evicted) to fill the gateway, while a team behind one NAT
 * address or one shared token still has room. The same tenth in perSession mode: with 100 there, one anonymous
 * client's 100 unanswered initialize POSTs started 100 server processes (80 MB each for server-everything).
 */
export const DEFAULT_MAX_SESSIONS: Record<SessionMode, number> = { shared: 1000, perSession: 100 };
export const DEFAULT_MAX_SESSIONS_PER_CLIENT: Record<SessionMode, number> = { shared: 100, perSession: 10 };
/** Clients send notifications/initialized right after initialize; 30 s is far beyond any real handshake. */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 30_000;

const BY_FLAG = new Map(Object.entries(OPTIONS).map(([key, spec]) => [spec.flag, key]));

export const USAGE = `usage:
  mcp-operator gateway stdio [options] -- COMMAND [ARGS...]
  mcp-operator gateway proxy --upstream URL [--upstream-transport streamable-http|sse] [options]
  mcp-operator gateway aggregate --backends-file FILE [options]   (many McpServers behind one endpoint)
  mcp-operator gateway install-runtime --to DIR    (copy the self-contained runtime, for the init container)
  mcp-operator gateway build-runtime --out DIR     (build it, at image build time)

options (each also as an environment variable; flags win):
${Object.values(OPTIONS)
  .map((o) => `  ${o.flag.padEnd(24)} ${o.env ?? ''}`)
  .join('\n')}
`;

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Parses `30m`, `90s`, `1h30m`, `250ms`, `1.5s` or a bare number of seconds into milliseconds. */
export function parseDuration(text: string, source: string): number {
  const trimmed = text.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|h|m|s)/gy;
  let total = 0;
  let matched = 0;
  for (let m = re.exec(trimmed); m !== null; m = re.exec(trimmed)) {
    total += Number(m[1]) * (UNITS[m[2] ?? 's'] ?? 1000);
    matched = re.lastIndex;
  }
  if (trimmed === '' || matched !== trimmed.length) {
    throw new ConfigError(source, `invalid duration ${JSON.stringify(text)} (use e.g. 90s, 30m, 1h30m)`);
  }
  return Math.round(total);
}

function parseInteger(text: string, source: string, min: number, max: number): number {
  if (!/^\d+$/.test(text.trim())) throw new ConfigError(source, `expected an integer, got ${JSON.stringify(text)}`);
  const n = Number(text.trim());
  if (n < min || n > max) throw new ConfigError(source, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function parseList(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

function parsePerTool(text: string, source: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const item of parseList(text)) {
    const eq = item.lastIndexOf('=');
    if (eq <= 0) throw new ConfigError(source, `expected tool=N, got ${JSON.stringify(item)}`);
    out.set(item.slice(0, eq).trim(), parseInteger(item.slice(eq + 1), source, 1, 1_000_000));
  }
  return out;
}

function parseBasePath(text: string, source: string): string {
  const t = text.trim();
  if (t === '' || t === '/') return '';
  if (!t.startsWith('/') || /[?#\s]/.test(t))
    throw new ConfigError(source, `must be a path starting with '/', got ${t}`);
  return t.replace(/\/+$/, '');
}

export interface ParsedArgs {
  values: Map<string, { value: string; source: string }>;
  command: string[];
  verb: string;
}

/** Splits argv into the verb, known options (flags over env) and the command after `--`. */
export function collectOptions(argv: string[], env: NodeJS.ProcessEnv): ParsedArgs {
  const [verb, ...rest] = argv;
  if (verb !== GATEWAY_VERBS.stdio && verb !== GATEWAY_VERBS.proxy && verb !== GATEWAY_VERBS.aggregate) {
    throw new ConfigError('mode', `expected 'stdio', 'proxy' or 'aggregate', got ${JSON.stringify(verb ?? '')}`);
  }
  const values = new Map<string, { value: string; source: string }>();
  for (const [key, spec] of Object.entries(OPTIONS)) {
    const v = spec.env ? env[spec.env] : undefined;
    if (v !== undefined && v !== '') values.set(key, { value: v, source: spec.env ?? key });
  }
  let command: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const arg = rest[i] ?? '';
    if (arg === '--') {
      command = rest.slice(i + 1);
      break;
    }
    if (!arg.startsWith('--')) {
      throw new ConfigError(arg, `unexpected argument (put the server command after '--')`);
    }
    const eq = arg.indexOf('=');
    const flag = eq >= 0 ? arg.slice(0, eq) : arg;
    const key = BY_FLAG.get(flag);
    if (key === undefined) throw new ConfigError(flag, 'unknown flag');
    const spec = OPTIONS[key];
    if (spec?.boolean) {
      values.set(key, { value: eq >= 0 ? arg.slice(eq + 1) : 'true', source: flag });
      continue;
    }
    let value: string | undefined;
    if (eq >= 0) value = arg.slice(eq + 1);
    else {
      value = rest[i + 1];
      i++;
    }
    if (value === undefined) throw new ConfigError(flag, 'requires a value');
    values.set(key, { value, source: flag });
  }
  return { values, command, verb };
}

export function parseConfig(argv: string[], env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const { values, command, verb } = collectOptions(argv, env);
  const get = (key: string) => values.get(key);
  const str = (key: string) => get(key)?.value;
  const int = (key: string, def: number, min: number, max: number) => {
    const v = get(key);
    return v ? parseInteger(v.value, v.source, min, max) : def;
  };
  const dur = (key: string, def: number) => {
    const v = get(key);
    return v ? parseDuration(v.value, v.source) : def;
  };
  const bool = (key: string) => {
    const v = get(key);
    if (!v) return false;
    if (/^(1|true|yes|on)$/i.test(v.value)) return true;
    if (/^(0|false|no|off)$/i.test(v.value)) return false;
    throw new ConfigError(v.source, `expected true or false, got ${JSON.stringify(v.value)}`);
  };

  const mode = verb as GatewayConfig['mode'];
  if (mode === 'stdio' && command.length === 0) {
    throw new ConfigError('--', 'stdio mode needs the server command after `--`');
  }
  if (mode !== 'stdio' && command.length > 0) throw new ConfigError('--', `${mode} mode takes no command`);
  const backendsFile = str('backendsFile');
  if (mode === 'aggregate' && !backendsFile) {
    throw new ConfigError(
      '--backends-file',
      'aggregate mode requires --backends-file FILE (or MCP_GATEWAY_BACKENDS_FILE)',
    );
  }
  if (mode !== 'aggregate' && backendsFile) {
    throw new ConfigError(
      get('backendsFile')?.source ?? '--backends-file',
      'only aggregate mode reads a backends file',
    );
  }
  let upstream: string | undefined;
  if (mode === 'proxy') {
    const u = get('upstream');
    if (!u) throw new ConfigError('--upstream', 'proxy mode requires --upstream URL (or MCP_GATEWAY_UPSTREAM)');
    try {
      const url = new URL(u.value);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
      upstream = url.toString();
    } catch {
      throw new ConfigError(u.source, `not an http(s) URL: ${JSON.stringify(u.value)}`);
    }
  }
  const transportOpt = get('upstreamTransport');
  const upstreamTransport = (transportOpt?.value ?? 'streamable-http') as UpstreamTransport;
  if (upstreamTransport !== 'streamable-http' && upstreamTransport !== 'sse') {
    throw new ConfigError(transportOpt?.source ?? '--upstream-transport', `expected streamable-http or sse`);
  }
  const modeOpt = get('sessionMode');
  const sessionMode = (modeOpt?.value ?? 'shared') as SessionMode;
  if (sessionMode !== 'shared' && sessionMode !== 'perSession') {
    throw new ConfigError(modeOpt?.source ?? '--session-mode', `expected shared or perSession, got ${sessionMode}`);
  }
  if (mode === 'aggregate' && sessionMode === 'perSession') {
    // Backends are McpServers with their own session mode; the aggregate holds one connection to each.
    throw new ConfigError(
      modeOpt?.source ?? '--session-mode',
      'aggregate mode is shared: set perSession on the McpServers',
    );
  }
  const basePathOpt = get('basePath');
  const oidcIssuer = str('oidcIssuer');
  const oidcAudience = str('oidcAudience');
  if ((oidcIssuer === undefined) !== (oidcAudience === undefined)) {
    throw new ConfigError(
      oidcIssuer ? '--oidc-audience' : '--oidc-issuer',
      'OIDC needs both an issuer and an audience',
    );
  }
  for (const key of ['oidcIssuer', 'oidcJwksUrl'] as const) {
    const value = str(key);
    const problem = value === undefined ? undefined : oidcUrlProblem(value);
    if (problem) throw new ConfigError(get(key)?.source ?? key, problem);
  }
  const config: GatewayConfig = {
    mode,
    command,
    upstream,
    upstreamTransport,
    backendsFile,
    host: str('host') ?? '0.0.0.0',
    port: int('port', 8080, 0, 65535),
    healthPort: int('healthPort', 9090, 0, 65535),
    basePath: basePathOpt ? parseBasePath(basePathOpt.value, basePathOpt.source) : '',
    sessionMode,
    maxSessions: int('maxSessions', DEFAULT_MAX_SESSIONS[sessionMode], 1, 1_000_000),
    maxSessionsPerClient: int('maxSessionsPerClient', DEFAULT_MAX_SESSIONS_PER_CLIENT[sessionMode], 1, 1_000_000),
    idleTimeoutMs: dur('idleTimeout', 30 * 60_000),
    handshakeTimeoutMs: dur('handshakeTimeout', DEFAULT_HANDSHAKE_TIMEOUT_MS),
    toolsAllow: parseList(str('toolsAllow') ?? ''),
    toolsDeny: parseList(str('toolsDeny') ?? ''),
    rateLimitRpm: int('rateLimitRpm', 0, 0, 10_000_000),
    rateLimitPerTool: get('rateLimitPerTool')
      ? parsePerTool(get('rateLimitPerTool')?.value ?? '', get('rateLimitPerTool')?.source ?? '')
      : new Map(),
    authTokenFile: str('authTokenFile'),
    oidcIssuer,
    oidcAudience,
    oidcJwksUrl: str('oidcJwksUrl'),
    drainTimeoutMs: dur('drainTimeout', 25_000),
    maxBodyBytes: int('maxBodyBytes', 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    maxStreamBufferBytes: int('maxStreamBufferBytes', 8 * 1024 * 1024, 64 * 1024, 1024 * 1024 * 1024),
    allowedOrigins: parseList(str('allowedOrigins') ?? ''),
    trustProxy: bool('trustProxy'),
    advertiseAddress: str('advertiseAddress'),
    requestTimeoutMs: dur('requestTimeout', 10 * 60_000),
    inputTimeoutMs: dur('inputTimeout', 10 * 60_000),
    keepAliveMs: dur('keepAliveInterval', 15_000),
    logLevel: str('logLevel') ?? env.LOG_LEVEL ?? 'info',
  };
  const secretFile = get('sessionSecretFile');
  if (secretFile) config.sessionSecretFile = secretFile.value;
  if ((config.sessionSecretFile === undefined) !== (config.advertiseAddress === undefined)) {
    throw new ConfigError(
      config.sessionSecretFile ? '--advertise-address' : '--session-secret-file',
      'session forwarding between replicas needs both a session secret file and an advertise address',
    );
  }
  if (config.idleTimeoutMs <= 0) throw new ConfigError(get('idleTimeout')?.source ?? '', 'must be positive');
  if (config.handshakeTimeoutMs <= 0) {
    throw new ConfigError(get('handshakeTimeout')?.source ?? '', 'must be positive');
  }
  if (config.inputTimeoutMs <= 0) throw new ConfigError(get('inputTimeout')?.source ?? '', 'must be positive');
  if (config.port !== 0 && config.port === config.healthPort) {
    throw new ConfigError('--health-port', 'must differ from --port');
  }
  if (config.authTokenFile && config.oidcIssuer) {
    throw new ConfigError('--oidc-issuer', 'choose bearer tokens (--auth-token-file) or OIDC, not both');
  }
  if (!LOG_LEVELS.includes(config.logLevel)) {
    throw new ConfigError(get('logLevel')?.source ?? 'LOG_LEVEL', `unknown log level ${config.logLevel}`);
  }
  return config;
}

/** The child's environment: the gateway's own, minus every MCP_GATEWAY_* variable. */
export function childEnvironment(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith(GATEWAY_ENV_PREFIX)) out[k] = v;
  }
  return out;
}

/**
 * Why `value` cannot be an OIDC issuer or JWKS URL, or undefined when it can: an https URL, or http to this
 * machine (a local identity provider in development). The API refuses anything else for a pod's gateway; the
 * command line refuses it the same way, before a token is ever checked against it.
 */
export function oidcUrlProblem(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be an https URL (e.g. https://id.example.com), got ${JSON.stringify(value)}`;
  }
  if (url.protocol === 'https:') return undefined;
  const loopback =
    url.hostname === 'localhost' ||
    url.hostname === '[::1]' ||
    (isIP(url.hostname) === 4 && url.hostname.startsWith('127.'));
  if (url.protocol === 'http:' && loopback) return undefined;
  return `must be an https URL (http only to localhost), got ${JSON.stringify(value)}`;
}
