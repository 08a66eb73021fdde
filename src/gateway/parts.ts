/** The parts of a gateway that its configuration chooses: the server connection, authentication, signed ids. */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../observability/log.ts';
import { childEnvironment, type GatewayConfig } from './config.ts';
import { RequestStateCodec } from './input.ts';
import type { GatewayMetrics } from './metrics.ts';
import { AggregateCredentialAuthenticator, SessionKeyFile } from './policy/aggregate-auth.ts';
import { type Authenticator, OidcAuthenticator, TokenFileAuthenticator } from './policy/auth.ts';
import { SessionIds } from './sessions.ts';
import type { Channel } from './upstream/channel.ts';
import { StdioChannel } from './upstream/stdio.ts';

/** How to open a connection to the server: its stdio child, or its HTTP endpoint (proxy mode). */
export async function channelFactory(
  config: GatewayConfig,
  env: NodeJS.ProcessEnv,
  log: Logger,
  metrics: GatewayMetrics,
): Promise<() => Channel> {
  if (config.mode === 'aggregate') {
    // The aggregate's backends get their HTTP channels from aggregate/serve.ts; there is no per-session server.
    return () => {
      throw new Error('aggregate mode starts no per-session server');
    };
  }
  if (config.mode === 'proxy') {
    const url = config.upstream as string;
    if (config.upstreamTransport === 'streamable-http') {
      const { StreamableHttpChannel } = await import('./upstream/streamable-http.ts');
      return () => new StreamableHttpChannel({ url, log });
    }
    // Loaded only for a legacy SSE upstream: the SDK client transports cost startup time.
    const { HttpChannel } = await import('./upstream/http.ts');
    return () => new HttpChannel({ url, transport: 'sse', log });
  }
  const [command = '', ...args] = config.command;
  const childEnv = childEnvironment(env);
  const nonJson = metrics.droppedMessages.labels({ reason: 'non_json_stdout' });
  return () => new StdioChannel({ command, args, env: childEnv, log, onNonJsonLine: () => nonJson.inc() });
}

/**
 * Bearer tokens from a file, OIDC, or none. With auth on and a session key, also the credentials the operator
 * mints from that key for VirtualMcpServers (policy/aggregate-auth.ts).
 */
export async function authenticatorFor(config: GatewayConfig, log: Logger): Promise<Authenticator | undefined> {
  const users = await usersAuthenticator(config, log);
  if (!users || !config.sessionSecretFile) return users;
  const keys = new SessionKeyFile(config.sessionSecretFile, log);
  await keys.load();
  return new AggregateCredentialAuthenticator({ users, sessionKeys: keys.current, log });
}

async function usersAuthenticator(config: GatewayConfig, log: Logger): Promise<Authenticator | undefined> {
  if (config.authTokenFile) {
    const auth = new TokenFileAuthenticator(config.authTokenFile, log);
    await auth.load();
    if (auth.tokenCount === 0) log.warn('the bearer token file holds no tokens: every request will get 401');
    return auth;
  }
  if (config.oidcIssuer && config.oidcAudience) {
    return new OidcAuthenticator({
      issuer: config.oidcIssuer,
      audience: config.oidcAudience,
      jwksUrl: config.oidcJwksUrl,
      log,
    });
  }
  return undefined;
}

/**
 * Session ids and 2026 requestStates, signed with the session secret when there is one (and this replica's
 * address to name in them): then any replica can verify them and relay to the replica that owns them.
 */
export async function signedIdsFor(
  config: GatewayConfig,
): Promise<{ ids: SessionIds; requestStates: RequestStateCodec }> {
  if (!config.sessionSecretFile || !config.advertiseAddress) {
    return { ids: new SessionIds(), requestStates: new RequestStateCodec() };
  }
  const secret = (await readFile(config.sessionSecretFile, 'utf8')).trim();
  if (secret.length < 16) throw new Error(`the session secret in ${config.sessionSecretFile} is shorter than 16 bytes`);
  return {
    ids: new SessionIds(Buffer.from(secret), config.advertiseAddress),
    requestStates: new RequestStateCodec(Buffer.from(secret), config.advertiseAddress),
  };
}
