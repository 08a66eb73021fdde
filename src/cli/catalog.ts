/** `mcp-operator catalog`: the cluster's MCP servers as an MCP Registry and a web page (see src/catalog). */
import { parseArgs } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { MAX_NAME_PREFIX } from '../catalog/registry.ts';
import { CatalogServer } from '../catalog/server.ts';
import { CatalogSource } from '../catalog/source.ts';
import { oidcUrlProblem } from '../gateway/config.ts';
import { type Authenticator, OidcAuthenticator, TokenFileAuthenticator } from '../gateway/policy/auth.ts';
import { KubeClient } from '../kube/client.ts';
import { loadKubeConfig } from '../kube/kubeconfig.ts';
import { createLogger, LOG_LEVELS, type Logger } from '../observability/log.ts';
import { CLI_ANSWER_TIMEOUT_MS, VERSION } from './defaults.ts';

export const CATALOG_USAGE = `Usage: mcp-operator catalog [flags]

  --kubeconfig PATH         kubeconfig (default: $KUBECONFIG, ~/.kube/config, or in-cluster)
  --namespaces NS[,NS...]   namespaces to list (default: all; env WATCH_NAMESPACES)
  --listen HOST:PORT        the page, /api and the registry API /v0.1/servers (default: 0.0.0.0:8080)
  --base-path PATH          serve under this prefix, as routed without rewriting (e.g. /catalog; default: /)
  --name-prefix PREFIX      reverse-DNS namespace of registry names: PREFIX.<namespace>/<name>
                            (default: local.cluster)
  --max-event-streams N     live page connections at most, then 503 (default: 1000)
  --auth-token-file PATH    require a bearer token from this file (one per line, re-read when it changes)
  --oidc-issuer URL         require an OIDC JWT from this issuer (with --oidc-audience)
  --oidc-audience AUD       the audience (aud claim) OIDC tokens must carry
  --oidc-jwks-url URL       the issuer's JWKS (default: discovered from the issuer)
  --log-level LEVEL         trace|debug|info|warn|error (default: info; env LOG_LEVEL)`;

export function parseCatalogFlags(argv: string[], env: NodeJS.ProcessEnv) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      kubeconfig: { type: 'string' },
      namespaces: { type: 'string', default: env.WATCH_NAMESPACES ?? '' },
      listen: { type: 'string', default: '0.0.0.0:8080' },
      'name-prefix': { type: 'string', default: 'local.cluster' },
      'base-path': { type: 'string', default: '/' },
      'max-event-streams': { type: 'string', default: '1000' },
      'auth-token-file': { type: 'string' },
      'oidc-issuer': { type: 'string' },
      'oidc-audience': { type: 'string' },
      'oidc-jwks-url': { type: 'string' },
      'log-level': { type: 'string', default: env.LOG_LEVEL ?? 'info' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const [host = '', portText = ''] = (values.listen as string).split(/:(?=[^:]*$)/);
  const port = /^\d+$/.test(portText) ? Number(portText) : Number.NaN;
  if (!Number.isInteger(port) || port > 65535)
    throw new Error(`--listen must be HOST:PORT with a port 0-65535, got ${JSON.stringify(values.listen)}`);
  const namePrefix = values['name-prefix'] as string;
  if (!/^[a-zA-Z0-9-]+(\.[a-zA-Z0-9-]+)*$/.test(namePrefix))
    throw new Error(
      `--name-prefix must be reverse-DNS (letters, digits, - and dots), got ${JSON.stringify(namePrefix)}`,
    );
  if (namePrefix.length > MAX_NAME_PREFIX)
    throw new Error(
      `--name-prefix must be at most ${MAX_NAME_PREFIX} characters, so every registry name fits server.json's 200, got ${namePrefix.length}`,
    );
  const basePathFlag = values['base-path'] as string;
  if (!/^\/[A-Za-z0-9._~\-/]*$/.test(basePathFlag))
    throw new Error(`--base-path must be a URL path starting with /, got ${JSON.stringify(basePathFlag)}`);
  // Request paths arrive normalized (no . or .. segment, no //): a base path with one would never match.
  if (/\/\/|(^|\/)\.\.?(\/|$)/.test(basePathFlag.replace(/\/+$/, '')))
    throw new Error(
      `--base-path must not hold //, . or .. segments (no request path matches them), got ${JSON.stringify(basePathFlag)}`,
    );
  const maxStreamsText = values['max-event-streams'] as string;
  const maxStreams = /^[1-9][0-9]{0,6}$/.test(maxStreamsText) ? Number(maxStreamsText) : Number.NaN;
  if (!Number.isInteger(maxStreams))
    throw new Error(
      `--max-event-streams must be an integer from 1 to 9999999, got ${JSON.stringify(values['max-event-streams'])}`,
    );
  const namespaces = (values.namespaces as string)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const badNamespace = namespaces.find((n) => n.length > 63 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(n));
  if (badNamespace !== undefined)
    throw new Error(`--namespaces takes namespace names separated by commas, got ${JSON.stringify(badNamespace)}`);
  const tokenFile = values['auth-token-file'];
  const issuer = values['oidc-issuer'];
  const audience = values['oidc-audience'];
  if (tokenFile && issuer) throw new Error('set one of --auth-token-file or --oidc-issuer, not both');
  if (Boolean(issuer) !== Boolean(audience)) throw new Error('--oidc-issuer and --oidc-audience go together');
  for (const [flag, value] of [
    ['--oidc-issuer', issuer],
    ['--oidc-jwks-url', values['oidc-jwks-url']],
  ] as const) {
    const problem = value === undefined ? undefined : oidcUrlProblem(value);
    if (problem) throw new Error(`${flag} ${problem}`);
  }
  const logLevel = values['log-level'] as string;
  if (!LOG_LEVELS.includes(logLevel))
    throw new Error(
      `--log-level (or LOG_LEVEL) must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  return {
    help: values.help ?? false,
    kubeconfig: values.kubeconfig,
    namespaces,
    listen: { host: host || '0.0.0.0', port },
    namePrefix,
    basePath: basePathFlag.replace(/\/+$/, ''),
    maxStreams,
    tokenFile,
    oidc: issuer && audience ? { issuer, audience, jwksUrl: values['oidc-jwks-url'] } : undefined,
    logLevel,
  };
}

async function authenticator(flags: ReturnType<typeof parseCatalogFlags>, log: Logger) {
  if (flags.tokenFile) {
    const auth = new TokenFileAuthenticator(flags.tokenFile, log);
    await auth.load();
    return auth;
  }
  if (flags.oidc) return new OidcAuthenticator({ ...flags.oidc, log });
  return undefined;
}

export async function runCatalog(argv: string[]): Promise<number> {
  let flags: ReturnType<typeof parseCatalogFlags>;
  try {
    flags = parseCatalogFlags(argv, process.env);
  } catch (err) {
    process.stderr.write(`catalog: ${(err as Error).message}\n\n${CATALOG_USAGE}\n`);
    return 2;
  }
  if (flags.help) {
    process.stdout.write(`${CATALOG_USAGE}\n`);
    return 0;
  }
  const log = createLogger({ name: 'catalog', level: flags.logLevel });
  let kubeConfig: KubeConfig;
  try {
    kubeConfig = loadKubeConfig(flags.kubeconfig);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'catalog could not start');
    return 1;
  }
  let auth: Authenticator | undefined;
  try {
    auth = await authenticator(flags, log);
  } catch (err) {
    log.error({ err: (err as Error).message }, 'catalog could not start');
    return 1;
  }
  const client = new KubeClient(kubeConfig, {
    userAgent: `mcp-operator-catalog/${VERSION}`,
    answerTimeoutMs: CLI_ANSWER_TIMEOUT_MS,
  });
  const source = new CatalogSource({ client, namespaces: flags.namespaces, log });
  const server = new CatalogServer({
    source,
    registry: { namePrefix: flags.namePrefix },
    authenticator: auth,
    basePath: flags.basePath,
    maxStreams: flags.maxStreams,
    log,
  });
  let port: number;
  try {
    ({ port } = await server.listen(flags.listen.port, flags.listen.host));
  } catch (err) {
    log.error({ err: (err as Error).message, listen: flags.listen }, 'cannot listen: is the port in use? (--listen)');
    return 1;
  }
  log.info(
    { host: flags.listen.host, port, auth: flags.tokenFile ? 'bearer' : flags.oidc ? 'oidc' : 'none' },
    'listening',
  );
  try {
    await source.start();
    log.info({ servers: source.list().length }, 'catalog synced');
  } catch (err) {
    log.error({ err: String(err) }, 'cannot list McpServers: check the kubeconfig and RBAC (get, list, watch)');
    await server.close();
    return 1;
  }
  const code = await new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      source.stop();
      server.close().then(() => resolve(0));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  log.flush();
  return code;
}
