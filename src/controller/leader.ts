/**
 * Leader election on a coordination.k8s.io/v1 Lease, compare-and-swap on resourceVersion (client-node has
 * no helper). Expiry is judged by when *we* last saw the record change, not by the holder's clock.
 * Losing the lease stops the controller (the process restarts clean, as controller-runtime does).
 */

import { isConflict, isNotFound, type KubeClient, resourcePath } from '../kube/client.ts';
import type { Logger } from '../observability/log.ts';

const LEASES = { apiVersion: 'coordination.k8s.io/v1', plural: 'leases' };

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec: {
    holderIdentity?: string | null;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  log: Logger;
}

const microTime = () => new Date().toISOString().replace('Z', '000Z');

export class LeaderElector {
  private readonly o: Required<LeaderElectionOptions>;
  private observed: { record: string; at: number } | undefined;
  private leading = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: LeaderElectionOptions) {
    this.o = { leaseDurationSeconds: 15, renewDeadlineMs: 10_000, retryPeriodMs: 2_000, ...options };
  }

  get isLeader(): boolean {
    return this.leading;
  }

  private get path() {
    return resourcePath(LEASES, { namespace: this.o.namespace, name: this.o.name });
  }

  /** One attempt to acquire or renew; true when we hold the lease afterwards. */
  async tryAcquireOrRenew(): Promise<boolean> {
    const now = microTime();
    let lease: Lease;
    try {
      lease = await this.o.client.get<Lease>(this.path);
    } catch (err) {
      if (!isNotFound(err)) throw err;
      try {
        await this.o.client.create(resourcePath(LEASES, { namespace: this.o.namespace }), {
          apiVersion: LEASES.apiVersion,
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.o.leaseDurationSeconds,
            acquireTime: now,
            renewTime: now,
            leaseTransitions: 0,
          },
        });
        return true;
      } catch (createErr) {
        if (isConflict(createErr)) return false; // someone else created it first
        throw createErr;
      }
    }
    const spec = lease.spec;
    const record = JSON.stringify([spec.holderIdentity, spec.renewTime]);
    if (this.observed?.record !== record) this.observed = { record, at: Date.now() };
    const mine = spec.holderIdentity === this.o.identity;
    const duration = (spec.leaseDurationSeconds ?? this.o.leaseDurationSeconds) * 1000;
    const expired = !spec.holderIdentity || Date.now() - this.observed.at > duration;
    if (!mine && !expired) return false;
    const next: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.o.leaseDurationSeconds,
        renewTime: now,
        ...(mine ? {} : { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 }),
      },
    };
    try {
      await this.o.client.update(this.path, next); // carries resourceVersion: 409 if anyone wrote in between
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  /**
   * Blocks until we lead, then keeps renewing in the background. `onLost` runs once if a renewal
   * fails for longer than the renew deadline.
   */
  async acquire(onLost: () => void): Promise<void> {
    while (!this.stopped) {
      try {
        if (await this.tryAcquireOrRenew()) break;
      } catch (err) {
        this.o.log.warn({ err: String(err) }, 'leader election: cannot read or write the lease; retrying');
      }
      await new Promise((r) => setTimeout(r, this.o.retryPeriodMs));
    }
    if (this.stopped) return;
    this.leading = true;
    this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, 'became leader');
    let lastRenew = Date.now();
    const renew = async () => {
      if (this.stopped) return;
      let ok = false;
      try {
        ok = await this.tryAcquireOrRenew();
      } catch (err) {
        this.o.log.warn({ err: String(err) }, 'leader election: renew failed');
      }
      if (ok) lastRenew = Date.now();
      if (!ok && Date.now() - lastRenew > this.o.renewDeadlineMs) {
        this.leading = false;
        this.o.log.error({ identity: this.o.identity }, 'lost leadership');
        onLost();
        return;
      }
      this.timer = setTimeout(renew, this.o.retryPeriodMs);
    };
    this.timer = setTimeout(renew, this.o.retryPeriodMs);
  }

  /** Stop renewing; if leading, give the lease up so a standby takes over at once instead of after expiry. */
  async release(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.o.client.get<Lease>(this.path);
      if (lease.spec.holderIdentity !== this.o.identity) return;
      await this.o.client.update(this.path, {
        ...lease,
        spec: { ...lease.spec, holderIdentity: null, leaseDurationSeconds: 1, renewTime: microTime() },
      });
    } catch (err) {
      this.o.log.warn({ err: String(err) }, 'leader election: could not release the lease');
    }
  }
}
