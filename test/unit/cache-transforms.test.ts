/** What the caches keep (src/controller/cache-transforms.ts): what the controller reads, nothing else. */
import { describe, expect, it } from 'vitest';
import { keptMetadata, projectChild, projectMcpServer } from '../../src/controller/cache-transforms.ts';
import type { Cached } from '../../src/kube/informer.ts';

const metadata = {
  name: 'a',
  namespace: 'ns',
  uid: 'u1',
  resourceVersion: '7',
  generation: 2,
  creationTimestamp: '2026-12-01T00:00:00Z',
  labels: { app: 'a' },
  annotations: { 'mcpoperator.io/spec-hash': 'h', 'kubectl.kubernetes.io/last-applied-configuration': '{"big":1}' },
  ownerReferences: [{ apiVersion: 'v1', kind: 'McpServer', name: 'a', uid: 'o', controller: true }],
  managedFields: [{ manager: 'mcp-operator', fieldsV1: {} }],
  selfLink: '/x',
  finalizers: ['f'],
};
const kept = {
  name: 'a',
  namespace: 'ns',
  uid: 'u1',
  resourceVersion: '7',
  generation: 2,
  creationTimestamp: '2026-12-01T00:00:00Z',
  labels: { app: 'a' },
  annotations: { 'mcpoperator.io/spec-hash': 'h' },
  ownerReferences: metadata.ownerReferences,
};

describe('cache transforms', () => {
  it('keeps identity, versions, labels, annotations and owners; drops managedFields and kubectl’s copy', () => {
    expect(keptMetadata(metadata as never)).toEqual(kept);
    const { annotations: _a, ...bare } = metadata;
    expect(
      keptMetadata({ ...bare, annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } } as never),
    ).not.toHaveProperty('annotations');
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'a Service: spec kept, status dropped',
      { apiVersion: 'v1', kind: 'Service', metadata, spec: { ports: [{ port: 8080 }] }, status: { loadBalancer: {} } },
      { apiVersion: 'v1', kind: 'Service', metadata: kept, spec: { ports: [{ port: 8080 }] } },
    ],
    [
      'a ServiceAccount: its top-level fields kept',
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata, automountServiceAccountToken: false },
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: kept, automountServiceAccountToken: false },
    ],
    [
      'a Deployment: the status fields status.ts reads, conditions without timestamps',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata,
        spec: { replicas: 1 },
        status: {
          observedGeneration: 2,
          replicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
          updatedReplicas: 1,
          unavailableReplicas: 0,
          collisionCount: 0,
          conditions: [
            {
              type: 'Progressing',
              status: 'True',
              reason: 'NewReplicaSetAvailable',
              message: 'm',
              lastUpdateTime: 't',
            },
          ],
        },
      },
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: kept,
        spec: { replicas: 1 },
        status: {
          observedGeneration: 2,
          replicas: 1,
          readyReplicas: 1,
          availableReplicas: 1,
          updatedReplicas: 1,
          conditions: [{ type: 'Progressing', status: 'True', reason: 'NewReplicaSetAvailable', message: 'm' }],
        },
      },
    ],
  ])('%s', (_name, object, expected) => {
    expect(JSON.parse(JSON.stringify(projectChild(object as unknown as Cached)))).toEqual(expected);
  });

  it('keeps an McpServer’s spec, status and finalizers whole (status names them while it is deleted)', () => {
    const mcp = {
      apiVersion: 'mcpoperator.io/v1alpha1',
      kind: 'McpServer',
      metadata,
      spec: { image: 'x' },
      status: { url: 'u' },
    };
    expect(projectMcpServer(mcp as unknown as Cached)).toEqual({ ...mcp, metadata: { ...kept, finalizers: ['f'] } });
  });
});
