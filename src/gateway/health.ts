/**
 * The health port: `/healthz` (the process is alive), `/readyz` (deep: the server is initialized and answered
 * an MCP ping, or tools/list, within the deadline; the verdict is cached briefly so probes do not load the
 * server; not ready while restarting or draining), `/metrics` (Prometheus), and in proxy mode `/livez/upstream`
 * (the upstream accepts TCP connections: the server container's liveness). Paths: src/contract/gateway.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import { HEALTH_PATHS } from '../contract/gateway.ts';
import type { Logger } from '../observability/log.ts';
import type { GatewayMetrics } from './metrics.ts';
import { METHOD_NOT_FOUND } from './protocol/jsonrpc.ts';
import type { Upstream } from './upstream/upstream.ts';

export interface ReadinessVerdict {
  ready: boolean;
  reason: string;
}

/** What readiness probes: the server, or an aggregate's front (ready once its backends file is loaded). */
export type ProbedServer = Pick<Upstream, 'ready' | 'unavailableReason' | 'request'>;

export class Readiness {
  private cached?: { at: number; verdict: ReadinessVerdict };
  private probing?: Promise<ReadinessVerdict>;
  private readonly upstream: ProbedServer;
  private readonly isDraining: () => boolean;
  private readonly ttlMs: number;
  private readonly deadlineMs: number;

  constructor(options: { upstream: ProbedServer; isDraining: () => boolean; ttlMs?: number; deadlineMs?: number }) {
    this.upstream = options.upstream;
    this.isDraining = options.isDraining;
    this.ttlMs = options.ttlMs ?? 2000;
    this.deadlineMs = options.deadlineMs ?? 3000;
  }

  async check(): Promise<ReadinessVerdict> {
    if (this.isDraining()) return { ready: false, reason: 'draining' };
    if (!this.upstream.ready) return { ready: false, reason: this.upstream.unavailableReason() };
    const c = this.cached;
    if (c && Date.now() - c.at < this.ttlMs) return c.verdict;
    this.probing ??= this.probe().finally(() => {
      this.probing = undefined;
    });
    return this.probing;
  }

  private async probe(): Promise<ReadinessVerdict> {
    let response = await this.upstream.request('ping', undefined, this.deadlineMs);
    if (response.error?.code === METHOD_NOT_FOUND) {
      response = await this.upstream.request('tools/list', {}, this.deadlineMs);
    }
    const verdict: ReadinessVerdict = response.error
      ? { ready: false, reason: `the MCP server did not answer: ${response.error.message}` }
      : { ready: true, reason: 'the MCP server answered' };
    if (this.isDraining()) return { ready: false, reason: 'draining' };
    this.cached = { at: Date.now(), verdict };
    return verdict;
  }

  invalidate(): void {
    this.cached = undefined;
  }
}

export interface TcpTarget {
  host: string;
  port: number;
}

/** The host and port an upstream URL connects to (IPv6 brackets dropped, the scheme's port when none is given). */
export function tcpTargetOf(url: string): TcpTarget {
  const u = new URL(url);
  const port = u.port !== '' ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  return { host: u.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

export interface LivenessVerdict {
  alive: boolean;
  reason: string;
}

/**
 * Proxy mode: is the upstream alive, i.e. does it accept a TCP connection within timeoutMs (default 1 s)? The
 * kubelet probes the pod IP, but the upstream often listens on 127.0.0.1 only; the gateway shares its network
 * namespace and reaches it there. A bare connect, no MCP request: cheap, and a server busy with long calls passes.
 * At most one connect in flight: concurrent probes share its verdict. A server that is hung but whose socket still
 * accepts (the kernel completes the handshake until the accept queue is full) passes: the limit of a TCP check.
 */
export class UpstreamLiveness {
  private checking?: Promise<LivenessVerdict>;
  private readonly target: TcpTarget;
  private readonly timeoutMs: number;
  private readonly log: Logger;

  constructor(options: { target: TcpTarget; timeoutMs?: number; log: Logger }) {
    this.target = options.target;
    this.timeoutMs = options.timeoutMs ?? 1000;
    this.log = options.log;
  }

  /** Host and port, as in the replies. */
  get where(): string {
    const { host, port } = this.target;
    return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  }

  check(): Promise<LivenessVerdict> {
    this.checking ??= this.connectOnce().finally(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private connectOnce(): Promise<LivenessVerdict> {
    return new Promise((resolve) => {
      const socket = connect(this.target);
      let settled = false;
      const settle = (verdict: LivenessVerdict) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        // Probes come every few seconds: a failure is a debug line, the kubelet's Event is what a person reads.
        if (!verdict.alive)
          this.log.debug({ upstream: this.where, reason: verdict.reason }, 'upstream liveness check failed');
        resolve(verdict);
      };
      const timer = setTimeout(
        () => settle({ alive: false, reason: `no TCP connection to ${this.where} within ${this.timeoutMs} ms` }),
        this.timeoutMs,
      );
      socket.once('connect', () => settle({ alive: true, reason: `${this.where} accepts TCP connections` }));
      // Listening for the socket's whole life: an 'error' with no listener would crash the gateway.
      socket.on('error', (err: NodeJS.ErrnoException) =>
        settle({ alive: false, reason: `cannot connect to ${this.where}: ${err.code ?? err.message}` }),
      );
    });
  }
}

export interface HealthEndpoints {
  readiness: Readiness;
  metrics: GatewayMetrics;
  /** Proxy mode only: stdio mode has no TCP upstream, its child is supervised by the gateway itself. */
  upstreamLiveness?: UpstreamLiveness;
}

export function healthHandler({ readiness, metrics, upstreamLiveness }: HealthEndpoints) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const path = (req.url ?? '/').split('?')[0];
    const reply = (status: number, body: string, type = 'application/json') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      reply(405, JSON.stringify({ error: 'method not allowed' }));
      return;
    }
    if (path === HEALTH_PATHS.liveness || path === '/livez') {
      reply(200, JSON.stringify({ status: 'ok' }));
      return;
    }
    if (path === HEALTH_PATHS.upstreamLiveness && upstreamLiveness) {
      const where = upstreamLiveness.where;
      upstreamLiveness.check().then(
        (v) =>
          reply(
            v.alive ? 200 : 503,
            JSON.stringify(v.alive ? { status: 'ok', upstream: where } : { status: 'down', reason: v.reason }),
          ),
        (err: unknown) => reply(503, JSON.stringify({ status: 'down', reason: String(err) })),
      );
      return;
    }
    if (path === HEALTH_PATHS.readiness) {
      readiness.check().then(
        (v) =>
          reply(v.ready ? 200 : 503, JSON.stringify({ status: v.ready ? 'ready' : 'not ready', reason: v.reason })),
        (err: unknown) => reply(503, JSON.stringify({ status: 'not ready', reason: String(err) })),
      );
      return;
    }
    if (path === HEALTH_PATHS.metrics) {
      metrics.registry.metrics().then(
        (text) => reply(200, text, metrics.registry.contentType),
        () => reply(500, 'metrics failed', 'text/plain'),
      );
      return;
    }
    // stdio mode: no /livez/upstream (no TCP upstream; the gateway restarts its child), so a probe aimed at it fails
    // loudly instead of passing for a server it does not check.
    const endpoints: string[] = [HEALTH_PATHS.liveness, HEALTH_PATHS.readiness, HEALTH_PATHS.metrics];
    if (upstreamLiveness) endpoints.push(HEALTH_PATHS.upstreamLiveness);
    reply(404, JSON.stringify({ error: 'not found', endpoints }));
  };
}
