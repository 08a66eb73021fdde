/**
 * Background tool discovery for Ready McpServers: once per incarnation, generation and rollout, never inside a
 * reconcile worker (a slow or unreachable server must not hold one), retried with backoff, a bounded number at
 * once. A finished discovery requeues the McpServer, whose next reconcile reads the result.
 */
import type { V1Deployment, V1Service } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import type { Cached } from '../kube/informer.ts';
import type { Logger } from '../observability/log.ts';
import { serviceURL } from '../render/index.ts';
import { type Discovery, discoverServer } from './discovery.ts';

/** A failed discovery is tried again after 2 s, doubling to 5 min (it never changes readiness). */
const discoveryRetryMs = (failures: number) => Math.min(2_000 * 2 ** (failures - 1), 300_000);
/** Discoveries run beside the workers, never in them; at most this many at once. */
const MAX_CONCURRENT_DISCOVERIES = 8;

interface DiscoveryState {
  /** uid, spec generation and Deployment generation: a new rollout is discovered again. */
  fingerprint: string;
  /** running: in flight; waiting: failed, its retry timer pending; retry: the timer fired; found: done. */
  state: 'running' | 'waiting' | 'retry' | 'found';
  result?: Discovery;
  failures?: number;
}

export interface DiscoveryRunnerOptions {
  log: Logger;
  /** The McpServer's Service, from the cache. */
  service: (namespace: string | undefined, name: string) => (V1Service & Cached) | undefined;
  /** Asks a server for its info and tools (default: an MCP client). */
  discover?: (url: string) => Promise<Discovery>;
  /** Puts an McpServer back on the queue; absent: nothing is discovered. */
  requeue?: (key: string) => void;
}

export class DiscoveryRunner {
  private readonly o: DiscoveryRunnerOptions;
  /** Per McpServer key: the discovery of its current incarnation, generation and rollout. */
  private readonly discoveries = new Map<string, DiscoveryState>();
  private running = 0;

  constructor(options: DiscoveryRunnerOptions) {
    this.o = options;
  }

  forget(key: string): void {
    this.discoveries.delete(key);
  }

  /**
   * The server's info and tools once discovered for this rollout; otherwise starts (or schedules) a discovery and
   * returns undefined. Skipped when the gateway requires a token (the controller holds none) or the Service has
   * no cluster IP.
   */
  resultOrStart(mcp: McpServer & Cached, spec: McpServer, deployment: V1Deployment | undefined): Discovery | undefined {
    const key = `${mcp.metadata.namespace}/${mcp.metadata.name}`;
    const fingerprint = `${mcp.metadata.uid}/${mcp.metadata.generation}/${deployment?.metadata?.generation}`;
    const known = this.discoveries.get(key);
    if (known?.fingerprint === fingerprint && known.state !== 'retry') return known.result;
    if (spec.spec.auth || !this.o.requeue) return undefined;
    const clusterIP = this.o.service(mcp.metadata.namespace, mcp.metadata.name)?.spec?.clusterIP;
    if (!clusterIP || clusterIP === 'None') return undefined;
    const requeue = this.o.requeue;
    if (this.running >= MAX_CONCURRENT_DISCOVERIES) {
      setTimeout(() => requeue(key), 1_000).unref();
      return undefined;
    }
    // The cluster IP, not the Service's DNS name: it also works for a controller running outside the cluster.
    const url = new URL(serviceURL(spec));
    url.hostname = clusterIP.includes(':') ? `[${clusterIP}]` : clusterIP;
    const failures = known?.fingerprint === fingerprint ? (known.failures ?? 0) : 0;
    this.discoveries.set(key, { fingerprint, state: 'running', failures });
    this.running++;
    (this.o.discover ?? discoverServer)(url.toString()).then(
      (result) => {
        this.running--;
        if (this.discoveries.get(key)?.fingerprint !== fingerprint) return; // superseded or deleted
        this.discoveries.set(key, { fingerprint, state: 'found', result });
        requeue(key);
      },
      (err: unknown) => {
        this.running--;
        if (this.discoveries.get(key)?.fingerprint !== fingerprint) return;
        const delay = discoveryRetryMs(failures + 1);
        this.o.log.info(
          { mcpserver: key, url: url.toString(), err: String(err), retryInMs: delay },
          'tool discovery failed',
        );
        this.discoveries.set(key, { fingerprint, state: 'waiting', failures: failures + 1 });
        setTimeout(() => {
          if (this.discoveries.get(key)?.fingerprint !== fingerprint) return;
          this.discoveries.set(key, { fingerprint, state: 'retry', failures: failures + 1 });
          requeue(key);
        }, delay).unref();
      },
    );
    return undefined;
  }
}
