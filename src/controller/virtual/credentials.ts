/**
 * The credentials Secret of a VirtualMcpServer whose backends have auth on: the backends' session keys read
 * (kept per Secret version, so a steady state reads nothing), the Secret rendered (render/virtual-credentials.ts)
 * and applied only when its content changed: a backend joined or left, or the renewal window turned.
 */
import type { McpServer, VirtualMcpServer } from '../../api/types.generated.ts';
import { msUntilRenewal } from '../../contract/aggregate-credential.ts';
import { isNotFound, type KubeClient, resourcePath } from '../../kube/client.ts';
import type { Cached } from '../../kube/informer.ts';
import type { ControllerMetrics } from '../../observability/controller-metrics.ts';
import { nameOf } from '../../render/metadata.ts';
import { backendNeedsCredential, type Selection } from '../../render/virtual-backends.ts';
import { backendCredentialsSecretName, renderBackendCredentials } from '../../render/virtual-credentials.ts';
import { SESSION_KEY, sessionSecretName } from '../../render/workload.ts';
import { projectReferenced } from '../cache-transforms.ts';
import { controlledBy } from '../gates.ts';
import type { ReferencedObject, Store } from '../reconcile.ts';
import type { Blocker } from '../status.ts';

const SECRETS = { apiVersion: 'v1', plural: 'secrets' };
/** A backend whose gateway has no session key yet (its McpServer is being set up): look again soon. */
const PENDING_RECHECK_MS = 5_000;

export interface BackendCredentialsOptions {
  client: KubeClient;
  secrets: Store<ReferencedObject>;
  fieldManager: string;
  metrics?: ControllerMetrics | undefined;
  now?: () => number;
}

export type CredentialsOutcome = { blocker: Blocker } | { recheckAfterMs?: number };

export class BackendCredentials {
  private readonly o: BackendCredentialsOptions;
  /** Session keys by `namespace/secret`, with the resourceVersion they were read at. */
  private readonly keys = new Map<string, { version: string | undefined; key: Buffer }>();

  constructor(options: BackendCredentialsOptions) {
    this.o = options;
  }

  /** Keeps the Secret true to the selection; a Secret of that name that is not ours is a ChildConflict. */
  async ensure(vmcp: VirtualMcpServer & Cached, selection: Selection): Promise<CredentialsOutcome> {
    const namespace = vmcp.metadata.namespace;
    const name = backendCredentialsSecretName(vmcp);
    const existing = this.o.secrets.get(namespace, name);
    const needing = selection.backends.filter((b) => backendNeedsCredential(b.server));
    if (!needing.length && !existing) return {};
    if (existing && !controlledBy(existing, vmcp.metadata.uid)) {
      return {
        blocker: {
          reason: 'ChildConflict',
          message: `Secret ${namespace}/${name} already exists and is not managed by this VirtualMcpServer: delete it or rename the VirtualMcpServer`,
        },
      };
    }
    const sessionKeys = new Map<string, Buffer>();
    let pending = false;
    for (const { server } of needing) {
      const key = await this.sessionKey(server as McpServer);
      if (key) sessionKeys.set(nameOf(server as McpServer), key);
      else pending = true;
    }
    const now = (this.o.now ?? Date.now)();
    // No backend needs one any more: the Secret is emptied (no credential outlives its use), not left behind.
    const desired = renderBackendCredentials(vmcp, sessionKeys, now);
    if (projectReferenced(desired as unknown as Cached).hash !== existing?.hash) {
      const written = await this.o.client.apply<Cached>(
        resourcePath(SECRETS, { namespace, name }),
        desired,
        this.o.fieldManager,
      );
      this.o.metrics?.childWrites.inc({ kind: 'Secret', action: 'apply' });
      this.o.secrets.remember?.(written, undefined);
    }
    if (!needing.length) return {};
    return { recheckAfterMs: pending ? PENDING_RECHECK_MS : msUntilRenewal(now) + 1000 };
  }

  /** A backend gateway's session key, or undefined while its McpServer's controller has not created it. */
  private async sessionKey(server: McpServer): Promise<Buffer | undefined> {
    const namespace = server.metadata?.namespace;
    const name = sessionSecretName(server);
    const cached = this.o.secrets.get(namespace, name);
    if (!cached) return undefined;
    const id = `${namespace}/${name}`;
    const version = cached.metadata.resourceVersion;
    const known = this.keys.get(id);
    if (known && known.version === version) return known.key;
    try {
      const secret = await this.o.client.get<{ data?: Record<string, string> }>(
        resourcePath(SECRETS, { namespace, name }),
      );
      const value = secret.data?.[SESSION_KEY];
      if (!value) return undefined;
      const key = Buffer.from(value, 'base64');
      this.keys.set(id, { version, key });
      return key;
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }
}
