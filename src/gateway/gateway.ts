/** Wires one gateway: the server connection(s), router, sessions, the MCP port, the health port, and drain. */
import { createServer, type Server as HttpServer } from 'node:http';
import { createLogger, type Logger } from '../observability/log.ts';
import { stdoutLogSink } from '../observability/log-sink.ts';
import type { AggregateCore } from './aggregate/serve.ts';
import { type AuditWriter, directAudit, loggerAudit } from './audit.ts';
import type { GatewayConfig } from './config.ts';
import { healthHandler, Readiness, tcpTargetOf, UpstreamLiveness } from './health.ts';
import { McpHttp } from './http/pipeline.ts';
import { LazySdk2026 } from './http/sdk-2026-loader.ts';
import { OpenStreams, type StalledStream } from './http/sse.ts';
import { SdkStreamWatch } from './http/stall.ts';
import { DEFAULT_STREAM_LIMITS, type StreamLimits } from './http/streams.ts';
import { listen } from './listen.ts';
import { GatewayMetrics } from './metrics.ts';
import { Mux } from './mux/mux.ts';
import { authenticatorFor, channelFactory, signedIdsFor } from './parts.ts';
import { RateLimiter } from './policy/ratelimit.ts';
import { ToolPolicy } from './policy/tools.ts';
import { SessionManager } from './sessions.ts';
import { gatewayInitParams, Upstream } from './upstream/upstream.ts';
import { GATEWAY_VERSION } from './version.ts';

const LOGGER_NAME = 'mcp-gateway';

/** Capabilities the gateway declares to a shared server: it can route sampling and elicitation to the caller. */
const SHARED_CLIENT_CAPABILITIES = { sampling: {}, elicitation: { form: {}, url: {} } };
/**
 * An aggregate's backends are gateways, which tell their servers nothing of roots but relay a roots/list asked
 * during a call to the caller, here the aggregate, only if it declared roots. The aggregate relays it in turn to
 * the client whose call it is, and refuses it for a client without roots, as a shared gateway does.
 */
const AGGREGATE_CLIENT_CAPABILITIES = { ...SHARED_CLIENT_CAPABILITIES, roots: {} };

export interface GatewayOptions {
  log?: Logger;
  env?: NodeJS.ProcessEnv;
  streamLimits?: Partial<StreamLimits>;
}

export class Gateway {
  readonly config: GatewayConfig;
  readonly metrics = new GatewayMetrics();
  readonly log: Logger;
  private readonly audit: AuditWriter;
  private readonly env: NodeJS.ProcessEnv;
  private readonly openStreams: OpenStreams;
  /** Closes the streams and ended answers whose client stopped reading that the byte cap cannot see. */
  private readonly stalls: SdkStreamWatch;
  private readonly streamLimits: StreamLimits;
  /** The server (stdio, proxy); undefined in aggregate mode, where `aggregate` links one upstream per backend. */
  private sharedUpstream?: Upstream;
  private aggregate?: AggregateCore;
  private sharedRouter!: Mux;
  private sessions!: SessionManager;
  private sdk2026!: LazySdk2026;
  private readiness!: Readiness;
  private mcpServer?: HttpServer;
  private healthServer?: HttpServer;
  private draining = false;
  private drainPromise?: Promise<void>;

  constructor(config: GatewayConfig, options: GatewayOptions = {}) {
    this.config = config;
    if (options.log) {
      this.log = options.log;
      this.audit = loggerAudit(options.log);
    } else {
      // Buffered: one write per 4 KiB of lines or per 200 ms instead of one per audit line (each write is a
      // syscall on the hot path); flushed on drain and at exit (log-sink.ts).
      const destination = stdoutLogSink();
      this.log = createLogger({ name: LOGGER_NAME, level: config.logLevel, destination });
      this.audit = directAudit(this.log, destination, LOGGER_NAME);
    }
    this.env = options.env ?? process.env;
    this.stalls = new SdkStreamWatch({ intervalMs: config.keepAliveMs, onStalled: this.onStalled });
    this.openStreams = new OpenStreams({
      keepAliveMs: config.keepAliveMs,
      maxBufferedBytes: config.maxStreamBufferBytes,
      onStalled: this.onStalled,
      onEndedUnsent: (res, stream) => this.stalls.watch(res, stream, true),
    });
    this.streamLimits = { ...DEFAULT_STREAM_LIMITS, ...options.streamLimits };
    this.metrics.inflightSource = () => this.inflight();
  }

  private readonly onStalled = (info: StalledStream): void => {
    this.metrics.stalledStreams.inc({ stream: info.stream });
    if (info.stream === 'json') this.log.warn(info, 'answer dropped, connection closed: the client stopped reading');
    else this.log.warn(info, 'event stream closed: the client stopped reading');
  };

  get isDraining(): boolean {
    return this.draining;
  }

  /** Starts serving; resolves with the bound ports once both listen (the server may still be starting). */
  async start(): Promise<{ port: number; healthPort: number }> {
    const { config, metrics, log } = this;
    const auth = await authenticatorFor(config, log);
    const { ids, requestStates } = await signedIdsFor(config);
    const limiter = new RateLimiter();
    const policy = new ToolPolicy({
      allow: config.toolsAllow,
      deny: config.toolsDeny,
      perTool: config.rateLimitPerTool,
      limiter,
    });
    const createChannel = await channelFactory(config, this.env, log.child({ component: 'server' }), metrics);
    const createUpstream = (name: string) => new Upstream({ name, createChannel, log, metrics });
    const readyWaitMs = Math.min(config.requestTimeoutMs, 10_000);
    const { stalls } = this;
    const initParams = gatewayInitParams(
      GATEWAY_VERSION,
      config.mode === 'aggregate' ? AGGREGATE_CLIENT_CAPABILITIES : SHARED_CLIENT_CAPABILITIES,
    );
    if (config.mode === 'aggregate') {
      // Loaded only in aggregate mode, like the HTTP channel in proxy mode.
      const { AggregateCore } = await import('./aggregate/serve.ts');
      this.aggregate = new AggregateCore({
        backendsFile: config.backendsFile as string,
        tools: { allow: config.toolsAllow, deny: config.toolsDeny },
        log,
        metrics,
        version: GATEWAY_VERSION,
        initParams,
      });
    } else this.sharedUpstream = createUpstream('shared');
    const front = this.aggregate?.front ?? (this.sharedUpstream as Upstream);
    this.sdk2026 = new LazySdk2026({
      router: () => this.sharedRouter,
      log,
      keepAliveMs: config.keepAliveMs,
      maxBodyBytes: config.maxBodyBytes,
      maxListens: config.maxSessions,
      stalls,
    });
    this.sharedRouter = new Mux({
      upstream: front,
      routing: this.aggregate?.routing,
      policy,
      metrics,
      log,
      audit: this.audit,
      perSession: false,
      requestTimeoutMs: config.requestTimeoutMs,
      readyWaitMs,
      onServerEvent: (note) => this.sdk2026.serverEvent(note),
      requestStates,
      inputTimeoutMs: config.inputTimeoutMs,
    });
    this.sessions = new SessionManager({
      perSession: config.sessionMode === 'perSession',
      maxSessions: config.maxSessions,
      maxPerClient: config.maxSessionsPerClient,
      idleTimeoutMs: config.idleTimeoutMs,
      handshakeTimeoutMs: config.handshakeTimeoutMs,
      sharedRouter: this.sharedRouter,
      policy,
      metrics,
      log,
      audit: this.audit,
      ids,
      requestTimeoutMs: config.requestTimeoutMs,
      readyWaitMs,
      createUpstream,
    });
    this.readiness = new Readiness({ upstream: front, isDraining: () => this.draining });
    this.sharedUpstream?.start(initParams).catch(() => {});
    this.aggregate?.attach(this.sharedRouter);
    await this.aggregate?.start();

    const http = new McpHttp({
      config,
      sessions: this.sessions,
      sharedRouter: this.sharedRouter,
      sdk2026: this.sdk2026,
      requestStates,
      auth,
      limiter,
      metrics,
      log,
      openStreams: this.openStreams,
      streamLimits: this.streamLimits,
      stalls,
      isDraining: () => this.draining,
    });
    this.mcpServer = createServer({ keepAliveTimeout: 65_000, headersTimeout: 66_000 }, http.handle);
    const upstreamLiveness =
      config.mode === 'proxy' && config.upstream
        ? new UpstreamLiveness({ target: tcpTargetOf(config.upstream), log: log.child({ component: 'health' }) })
        : undefined;
    this.healthServer = createServer(healthHandler({ readiness: this.readiness, metrics, upstreamLiveness }));
    const port = await listen(this.mcpServer, config.port, config.host, '--port, MCP_GATEWAY_PORT');
    const healthPort = await listen(
      this.healthServer,
      config.healthPort,
      config.host,
      '--health-port, MCP_GATEWAY_HEALTH_PORT',
    );
    log.info(
      {
        mode: config.mode,
        server: config.mode === 'stdio' ? config.command[0] : (config.upstream ?? config.backendsFile),
        host: config.host,
        port,
        healthPort,
        basePath: config.basePath || undefined,
        sessionMode: config.sessionMode,
        auth: config.authTokenFile ? 'bearer' : config.oidcIssuer ? 'oidc' : 'none',
      },
      'gateway listening',
    );
    return { port, healthPort };
  }

  /** Requests in flight through every router. */
  inflight(): number {
    let n = this.sharedRouter?.inflightCount ?? 0;
    if (this.sessions) {
      for (const e of this.sessions.entries()) if (e.router !== this.sharedRouter) n += e.router.inflightCount;
    }
    return n;
  }

  /**
   * Graceful drain (SIGTERM): not ready at once, no new sessions, in-flight calls finish up to the deadline,
   * streams end cleanly, the server process stops, the ports close.
   */
  drain(): Promise<void> {
    this.drainPromise ??= this.runDrain();
    return this.drainPromise;
  }

  private async runDrain(): Promise<void> {
    const { log } = this;
    this.draining = true;
    this.readiness?.invalidate();
    this.sessions?.stopAccepting();
    const deadline = Date.now() + this.config.drainTimeoutMs;
    log.info({ inflight: this.inflight(), deadlineMs: this.config.drainTimeoutMs }, 'draining');
    while (this.inflight() > 0 && Date.now() < deadline) await sleep(25);
    const left = this.inflight();
    if (left > 0) {
      log.warn({ inflight: left }, 'drain deadline reached; failing the remaining requests');
      const reason = 'the gateway is shutting down (drain deadline reached); retry on another replica';
      this.sharedRouter?.failAll(reason);
      for (const e of this.sessions?.entries() ?? []) if (e.router !== this.sharedRouter) e.router.failAll(reason);
      await sleep(50);
    }
    this.openStreams.endAll();
    await this.sessions?.closeAll('gateway shutting down');
    const mcp = this.mcpServer;
    const closed = mcp ? new Promise<void>((r) => mcp.close(() => r())) : Promise.resolve();
    mcp?.closeIdleConnections();
    const force = setTimeout(() => mcp?.closeAllConnections(), 200);
    await this.sdk2026?.close().catch(() => {});
    this.sharedRouter?.close();
    await this.sharedUpstream?.stop(Math.max(1000, Math.min(5000, deadline - Date.now())));
    await this.aggregate?.stop();
    await closed;
    clearTimeout(force);
    const health = this.healthServer;
    if (health) {
      await new Promise<void>((r) => health.close(() => r()));
      health.closeAllConnections();
    }
    log.info('drained');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
