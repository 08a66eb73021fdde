/** Kubernetes Events on the McpServer for decisions a user must know about (kubectl describe mcps NAME). */
import type { McpServer } from '../api/types.generated.ts';
import { type KubeClient, resourcePath } from '../kube/client.ts';
import type { Logger } from '../observability/log.ts';

const EVENTS = { apiVersion: 'v1', plural: 'events' };

export class EventRecorder {
  private readonly client: KubeClient;
  private readonly instance: string;
  private readonly log: Logger;

  constructor(client: KubeClient, instance: string, log: Logger) {
    this.client = client;
    this.instance = instance;
    this.log = log;
  }

  /** Best effort: a failed event never fails a reconcile. */
  async record(mcp: McpServer, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    const namespace = mcp.metadata?.namespace ?? 'default';
    const now = new Date().toISOString();
    try {
      await this.client.create(resourcePath(EVENTS, { namespace }), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${mcp.metadata?.name}.`, namespace },
        involvedObject: {
          apiVersion: mcp.apiVersion,
          kind: mcp.kind,
          name: mcp.metadata?.name,
          namespace,
          uid: mcp.metadata?.uid,
          resourceVersion: mcp.metadata?.resourceVersion,
        },
        type,
        reason,
        message: message.slice(0, 1024),
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
        source: { component: 'mcp-operator' },
        reportingComponent: 'mcp-operator',
        reportingInstance: this.instance,
      });
    } catch (err) {
      this.log.warn({ reason, err: String(err) }, 'could not record event');
    }
  }
}
