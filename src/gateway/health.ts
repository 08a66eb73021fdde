/**
 * The health port: `/healthz` (the process is alive), `/readyz` (deep: the server is initialized and answered
 * an MCP ping, or tools/list, within the deadline; the verdict is cached briefly so probes do not load the
 * server; not ready while restarting or draining), `/metrics` (Prometheus).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { METHOD_NOT_FOUND } from './jsonrpc.ts';
import type { GatewayMetrics } from './metrics.ts';
import type { Upstream } from './upstream/upstream.ts';

export interface ReadinessVerdict {
  ready: boolean;
  reason: string;
}

export class Readiness {
  private cached?: { at: number; verdict: ReadinessVerdict };
  private probing?: Promise<ReadinessVerdict>;
  private readonly upstream: Upstream;
  private readonly isDraining: () => boolean;
  private readonly ttlMs: number;
  private readonly deadlineMs: number;

  constructor(options: { upstream: Upstream; isDraining: () => boolean; ttlMs?: number; deadlineMs?: number }) {
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

export function healthHandler(readiness: Readiness, metrics: GatewayMetrics) {
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
    if (path === '/healthz' || path === '/livez') {
      reply(200, JSON.stringify({ status: 'ok' }));
      return;
    }
    if (path === '/readyz') {
      readiness.check().then(
        (v) =>
          reply(v.ready ? 200 : 503, JSON.stringify({ status: v.ready ? 'ready' : 'not ready', reason: v.reason })),
        (err: unknown) => reply(503, JSON.stringify({ status: 'not ready', reason: String(err) })),
      );
      return;
    }
    if (path === '/metrics') {
      metrics.registry.metrics().then(
        (text) => reply(200, text, metrics.registry.contentType),
        () => reply(500, 'metrics failed', 'text/plain'),
      );
      return;
    }
    reply(404, JSON.stringify({ error: 'not found', endpoints: ['/healthz', '/readyz', '/metrics'] }));
  };
}
