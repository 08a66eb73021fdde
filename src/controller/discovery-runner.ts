/**
 * Background tool discovery for Ready McpServers, owned by the Manager: a reconcile that finds an McpServer Ready
 * hands the Manager a target, the Manager starts (or keeps) its discovery here, and status only writes what was
 * found. Once per incarnation, generation and rollout, never inside a reconcile worker (a slow or unreachable
 * server must not hold one), retried with backoff, a bounded number at once. A finished discovery requeues the
 * McpServer, whose next reconcile writes the result.
 */
import type { V1Deployment } from '@kubernetes/client-node';
import type { McpServer } from '../api/types.generated.ts';
import type { Cached } from '../kube/informer.ts';
import type { Logger } from '../observability/log.ts';
import { serviceURL } from '../render/index.ts';
import type { Discovery } from './discovery.ts';

/** A failed discovery is tried again after 2 s, doubling to 5 min (it never changes readiness). */
export const discoveryRetryMs = (failures: number) => Math.min(2_000 * 2 ** (failures - 1), 300_000);
/** Discoveries run beside the workers, never in them; at most this many at once. */
export const MAX_CONCURRENT_DISCOVERIES = 8;
/** A target over the limit is tried again this much later. */
const DEFER_MS = 1_000;

/** What to discover for one Ready McpServer. */
export interface DiscoveryTarget {
  key: string;
  /** uid, spec generation and Deployment generation: a new rollout is discovered again. */
  fingerprint: string;
  url: string;
  /** The gateway checks tokens: discovery presents a credential minted from its session key. */
  credential?: boolean;
}

export interface DiscoveryState {
  fingerprint: string;
  /** running: in flight; waiting: failed, its retry timer pending; retry: the timer fired; found: done. */
  state: 'running' | 'waiting' | 'retry' | 'found';
  result?: Discovery;
  failures?: number;
}

export const discoveryFingerprint = (mcp: McpServer & Cached, deployment: V1Deployment | undefined) =>
  `${mcp.metadata.uid}/${mcp.metadata.generation}/${deployment?.metadata?.generation}`;

/**
 * Pure: the target for a Ready McpServer, or undefined when its Service has no cluster IP. The cluster IP, not the
 * Service's DNS name: it also works for a controller running outside the cluster. A gateway with auth on is asked
 * with a credential the controller mints from its session key (contract/aggregate-credential.ts), never with a
 * user's token.
 */
export function discoveryTarget(
  mcp: McpServer & Cached,
  spec: McpServer,
  deployment: V1Deployment | undefined,
  clusterIP: string | undefined,
): DiscoveryTarget | undefined {
  if (!clusterIP || clusterIP === 'None') return undefined;
  const url = new URL(serviceURL(spec));
  url.hostname = clusterIP.includes(':') ? `[${clusterIP}]` : clusterIP;
  return {
    key: `${mcp.metadata.namespace}/${mcp.metadata.name}`,
    fingerprint: discoveryFingerprint(mcp, deployment),
    url: url.toString(),
    ...(spec.spec.auth ? { credential: true } : {}),
  };
}

/** Pure: nothing to do (known, in flight or waiting for its retry), start it, or defer it (too many at once). */
export function discoveryStep(
  known: DiscoveryState | undefined,
  fingerprint: string,
  running: number,
): 'none' | 'start' | 'defer' {
  if (known?.fingerprint === fingerprint && known.state !== 'retry') return 'none';
  return running >= MAX_CONCURRENT_DISCOVERIES ? 'defer' : 'start';
}

export interface DiscoveryRunnerOptions {
  log: Logger;
  /** Asks a server for its info and tools (default: an MCP client, loaded on first use). */
  discover?: (url: string, token?: string) => Promise<Discovery>;
  /** A credential for the McpServer of this key (namespace/name) whose gateway checks tokens. */
  credential?: (key: string) => Promise<string>;
  /** Puts an McpServer back on the queue (a discovery finished, or its retry is due). */
  requeue: (key: string) => void;
}

export class DiscoveryRunner {
  private readonly o: DiscoveryRunnerOptions;
  /** Per McpServer key: the discovery of its current incarnation, generation and rollout. */
  private readonly discoveries = new Map<string, DiscoveryState>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private running = 0;
  private stopped = false;

  constructor(options: DiscoveryRunnerOptions) {
    this.o = options;
  }

  /** What was found for this rollout, for status; undefined while unknown. */
  result(key: string, fingerprint: string): Discovery | undefined {
    const known = this.discoveries.get(key);
    return known?.fingerprint === fingerprint ? known.result : undefined;
  }

  /** The McpServer is gone: drop its state; a discovery in flight is ignored when it ends. */
  forget(key: string): void {
    this.discoveries.delete(key);
  }

  /** Starts the target's discovery unless it is known, in flight or waiting. */
  ensure(target: DiscoveryTarget): void {
    if (this.stopped) return;
    const { key, fingerprint, url } = target;
    const known = this.discoveries.get(key);
    const step = discoveryStep(known, fingerprint, this.running);
    if (step === 'none') return;
    if (step === 'defer') {
      this.later(DEFER_MS, () => this.ensure(target));
      return;
    }
    const failures = known?.fingerprint === fingerprint ? (known.failures ?? 0) : 0;
    this.discoveries.set(key, { fingerprint, state: 'running', failures });
    this.running++;
    const current = () => !this.stopped && this.discoveries.get(key)?.fingerprint === fingerprint;
    this.discover(target).then(
      (result) => {
        this.running--;
        if (!current()) return; // superseded, deleted or stopped
        this.discoveries.set(key, { fingerprint, state: 'found', result });
        this.o.requeue(key);
      },
      (err: unknown) => {
        this.running--;
        if (!current()) return;
        const delay = discoveryRetryMs(failures + 1);
        this.o.log.info({ mcpserver: key, url, err: String(err), retryInMs: delay }, 'tool discovery failed');
        this.discoveries.set(key, { fingerprint, state: 'waiting', failures: failures + 1 });
        this.later(delay, () => {
          if (!current()) return;
          this.discoveries.set(key, { fingerprint, state: 'retry', failures: failures + 1 });
          this.o.requeue(key);
        });
      },
    );
  }

  /** No new discoveries, no pending retries; those in flight end unheard. */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async discover(target: DiscoveryTarget): Promise<Discovery> {
    let token: string | undefined;
    if (target.credential) {
      if (!this.o.credential) throw new Error('the gateway requires a token and no credential source is set');
      token = await this.o.credential(target.key);
    }
    if (this.o.discover) return this.o.discover(target.url, token);
    // The MCP client is loaded on first use: a controller with no Ready server never pays for it.
    const { discoverServer } = await import('./discovery.ts');
    return discoverServer(target.url, { ...(token ? { token } : {}) });
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
