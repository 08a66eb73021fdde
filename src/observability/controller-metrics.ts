/** Prometheus metrics of the controller (served on :8081/metrics). */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createControllerMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    reconciles: new Counter({
      name: 'mcp_operator_reconcile_total',
      help: 'Reconciles by result: success, requeue (waiting on something) or error.',
      labelNames: ['result'] as const,
      registers: [registry],
    }),
    reconcileDuration: new Histogram({
      name: 'mcp_operator_reconcile_duration_seconds',
      help: 'Time to reconcile one McpServer.',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    queueDepth: new Gauge({
      name: 'mcp_operator_workqueue_depth',
      help: 'McpServers waiting to be reconciled.',
      registers: [registry],
    }),
    mcpservers: new Gauge({
      name: 'mcp_operator_mcpservers',
      help: 'McpServers by condition type and status.',
      labelNames: ['condition', 'status'] as const,
      registers: [registry],
    }),
    kubeRequests: new Counter({
      name: 'mcp_operator_kube_requests_total',
      help: 'Requests to the Kubernetes API by verb, resource and HTTP status code.',
      labelNames: ['verb', 'resource', 'code'] as const,
      registers: [registry],
    }),
    childWrites: new Counter({
      name: 'mcp_operator_child_writes_total',
      help: 'Children applied or deleted, by kind and action.',
      labelNames: ['kind', 'action'] as const,
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'mcp_operator_leader',
      help: '1 while this instance holds the leader lease.',
      registers: [registry],
    }),
  };
}

export type ControllerMetrics = ReturnType<typeof createControllerMetrics>;
