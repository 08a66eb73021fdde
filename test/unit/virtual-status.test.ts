/** computeVirtualStatus: the aggregate's conditions from its workload, its backends and their names. Pure. */
import type { V1Deployment } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { McpServer, VirtualMcpServer } from '../../src/api/types.generated.ts';
import { parseMcpServer, parseVirtualMcpServer } from '../../src/api/validate.ts';
import { computeVirtualStatus } from '../../src/controller/virtual/status.ts';
import { selectBackends } from '../../src/render/virtual-backends.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';

const NOW = '2026-12-01T10:00:00Z';
const LATER = '2026-12-01T11:00:00Z';

function backend(name: string, ready: boolean, tools: string[], labels?: Record<string, string>): McpServer {
  const mcp = parseMcpServer(stdioServer(name));
  return {
    ...mcp,
    metadata: { name, namespace: 'team', ...(labels ? { labels } : {}) },
    status: {
      conditions: [
        {
          type: 'Ready',
          status: ready ? 'True' : 'False',
          reason: ready ? 'Ready' : 'DeploymentUnavailable',
          message: ready ? '1/1 replicas ready' : 'no replica is available yet',
          lastTransitionTime: NOW,
        },
      ],
      tools,
      url: `http://${name}.team.svc:8080/mcp`,
    },
  };
}

const vmcp = (spec: Record<string, unknown>): VirtualMcpServer => ({
  ...parseVirtualMcpServer(virtualServer('tools', spec)),
  metadata: { name: 'tools', namespace: 'team', generation: 3 },
});

const readyDeployment: V1Deployment = {
  metadata: { name: 'tools', generation: 1 },
  status: { observedGeneration: 1, replicas: 1, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 },
};

/** `deployment` null: none yet. */
function status(v: VirtualMcpServer, servers: McpServer[], deployment: V1Deployment | null = readyDeployment) {
  return computeVirtualStatus(
    {
      vmcp: v,
      selection: selectBackends(v, servers),
      deployment: deployment ?? undefined,
      pods: [],
      url: 'http://tools.team.svc:8080/mcp',
      now: NOW,
    },
    undefined,
  );
}
const condition = (s: ReturnType<typeof status>, type: string) => s.conditions?.find((c) => c.type === type);

describe('computeVirtualStatus', () => {
  it('is Ready with every backend ready: the exposed tools, counts and no conflicts', () => {
    const s = status(vmcp({ servers: [{ name: 'github', prefix: 'gh' }, { name: 'memory' }] }), [
      backend('github', true, ['create_issue', 'search']),
      backend('memory', true, ['read_graph']),
    ]);
    expect(condition(s, 'Ready')).toMatchObject({ status: 'True', reason: 'Ready' });
    expect(condition(s, 'Ready')?.message).toContain('2/2 backends ready');
    expect(condition(s, 'BackendsReady')).toMatchObject({ status: 'True', reason: 'AllBackendsReady' });
    expect(condition(s, 'ToolNamesResolved')).toMatchObject({ status: 'True', reason: 'NamesResolved' });
    expect(condition(s, 'Degraded')).toMatchObject({ status: 'False', reason: 'AsExpected' });
    expect(s.tools).toEqual(['gh_create_issue', 'gh_search', 'read_graph']);
    expect(s).toMatchObject({ toolCount: 3, conflictCount: 0, readyBackends: '2/2', observedGeneration: 3 });
    expect(s.backends).toEqual([
      { name: 'github', ready: true, toolCount: 2, url: 'http://github.team.svc:8080/mcp' },
      { name: 'memory', ready: true, toolCount: 1, url: 'http://memory.team.svc:8080/mcp' },
    ]);
  });

  it('stays Ready with one backend down: its tools leave the list, Degraded says which', () => {
    const s = status(vmcp({ servers: [{ name: 'github' }, { name: 'memory' }] }), [
      backend('github', false, ['create_issue']),
      backend('memory', true, ['read_graph']),
    ]);
    expect(condition(s, 'Ready')?.status).toBe('True');
    expect(s.tools).toEqual(['read_graph']);
    expect(condition(s, 'Degraded')).toMatchObject({ status: 'True', reason: 'BackendNotReady' });
    expect(condition(s, 'BackendsReady')?.message).toContain('McpServer github is not Ready (DeploymentUnavailable');
    expect(s.backends?.[0]).toMatchObject({ name: 'github', ready: false, reason: 'DeploymentUnavailable' });
  });

  it('is not Ready when no backend is: the reason is the backends’', () => {
    const s = status(vmcp({ servers: [{ name: 'github' }] }), []);
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(condition(s, 'Ready')?.message).toContain('spec.servers[0] names McpServer github, which does not exist');
  });

  it('names a listed VirtualMcpServer as one, not as an McpServer to create (its name is taken)', () => {
    const v = vmcp({ servers: [{ name: 'memory' }, { name: 'inner' }] });
    const s = computeVirtualStatus(
      {
        vmcp: v,
        selection: selectBackends(v, [backend('memory', true, ['read_graph'])]),
        deployment: readyDeployment,
        pods: [],
        virtualServers: new Set(['tools', 'inner']),
        now: NOW,
      },
      undefined,
    );
    const message = condition(s, 'BackendsReady')?.message ?? '';
    expect(condition(s, 'BackendsReady')).toMatchObject({ status: 'False', reason: 'BackendNotFound' });
    expect(message).toContain('spec.servers[1] names inner, a VirtualMcpServer: backends are McpServers only');
    expect(message).toContain('list the McpServers of inner here instead');
    expect(message).not.toContain('create it');
  });

  it('says NoBackends when the selector matches nothing', () => {
    const s = status(vmcp({ selector: { matchLabels: { team: 'a' } } }), [backend('memory', true, [], { team: 'b' })]);
    expect(condition(s, 'BackendsReady')).toMatchObject({ status: 'False', reason: 'NoBackends' });
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False', reason: 'NoBackends' });
  });

  it('reports a conflict even while the winner is not ready, and never lets the hidden tool take the name', () => {
    const s = status(vmcp({ servers: [{ name: 'a' }, { name: 'b' }] }), [
      backend('a', false, ['search']),
      backend('b', true, ['search', 'write']),
    ]);
    expect(s.conflicts).toEqual([
      expect.objectContaining({
        kind: 'tool',
        name: 'search',
        server: 'a',
        hiddenServer: 'b',
        hiddenOriginal: 'search',
      }),
    ]);
    expect(s.conflicts?.[0]?.message).toContain('spec.servers[1].prefix');
    expect(s.tools).toEqual(['write']);
    expect(condition(s, 'ToolNamesResolved')).toMatchObject({ status: 'False', reason: 'ToolNameConflict' });
  });

  it('keeps lastTransitionTime while a condition holds', () => {
    const v = vmcp({ servers: [{ name: 'memory' }] });
    const servers = [backend('memory', true, ['read_graph'])];
    const first = status(v, servers);
    const again = computeVirtualStatus(
      { vmcp: v, selection: selectBackends(v, servers), deployment: readyDeployment, pods: [], url: 'u', now: LATER },
      first,
    );
    expect(again.conditions?.map((c) => c.lastTransitionTime)).toEqual(first.conditions?.map(() => NOW));
  });

  it('judges the workload as an McpServer’s: no Deployment yet is not Ready', () => {
    const s = status(vmcp({ servers: [{ name: 'memory' }] }), [backend('memory', true, [])], null);
    expect(condition(s, 'Ready')).toMatchObject({ status: 'False', reason: 'DeploymentNotFound' });
    expect(condition(s, 'Progressing')).toMatchObject({ status: 'True', reason: 'Creating' });
  });
});

describe('a selector that matches an McpServer of the VirtualMcpServer’s own name', () => {
  it('leaves it out (its URL would be the aggregate itself) and says so in Degraded', () => {
    const servers = [backend('tools', true, ['loop']), backend('memory', true, ['remember'])].map((s) => ({
      ...s,
      metadata: { ...s.metadata, labels: { team: 'a' } },
    }));
    const v = vmcp({ selector: { matchLabels: { team: 'a' } } });
    const selection = selectBackends(v, servers);
    expect(selection.backends.map((b) => b.naming.name)).toEqual(['memory']);
    expect(selection.ownName).toBe('tools');
    const s = status(v, servers);
    expect(s.tools).toEqual(['remember']);
    expect(condition(s, 'Degraded')).toMatchObject({
      status: 'True',
      reason: 'BackendNamedLikeSelf',
      message: expect.stringContaining('McpServer tools'),
    });
  });
});
