/** The McpServer status a person reads: conditions with reasons and messages they can act on. */
import type { V1ContainerStatus, V1Deployment, V1DeploymentCondition, V1Pod } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import type { Condition, McpServer, McpServerStatus } from '../../src/api/types.generated.ts';
import { parseMcpServer } from '../../src/api/validate.ts';
import {
  type ConditionType,
  computeStatus,
  conditionOf,
  MAX_CONDITION_MESSAGE,
  type Observation,
} from '../../src/controller/status.ts';
import { stdioServer } from '../fixtures/manifests.ts';

const URL = 'http://github.team-a.svc:8080/mcp';
const EXTERNAL = 'https://mcp.example.com/github/mcp';
const T0 = '2026-01-01T00:00:00Z';
const T1 = '2026-01-01T00:05:00Z';
const T2 = '2026-01-01T00:10:00Z';

function mcpServer(replicas = 2, generation = 3): McpServer {
  const mcp = parseMcpServer({
    ...stdioServer('github', { replicas }),
    metadata: { name: 'github', namespace: 'team-a' },
  });
  return { ...mcp, metadata: { ...mcp.metadata, generation, uid: 'uid-1' } };
}

interface DeploymentState {
  generation?: number;
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  conditions?: V1DeploymentCondition[];
}

function deployment(s: DeploymentState): V1Deployment {
  const generation = s.generation ?? 1;
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'github', namespace: 'team-a', generation },
    status: {
      observedGeneration: s.observedGeneration ?? generation,
      ...(s.replicas !== undefined ? { replicas: s.replicas } : {}),
      ...(s.updatedReplicas !== undefined ? { updatedReplicas: s.updatedReplicas } : {}),
      ...(s.readyReplicas !== undefined ? { readyReplicas: s.readyReplicas } : {}),
      ...(s.availableReplicas !== undefined ? { availableReplicas: s.availableReplicas } : {}),
      ...(s.conditions ? { conditions: s.conditions } : {}),
    },
  };
}

const healthy = (n: number) => deployment({ replicas: n, updatedReplicas: n, readyReplicas: n, availableReplicas: n });

function observe(o: Partial<Observation> = {}): Observation {
  return { mcp: mcpServer(), url: URL, externalURL: EXTERNAL, now: T1, ...o };
}

function cond(status: McpServerStatus, type: ConditionType): Condition {
  const c = conditionOf(status, type);
  if (!c) throw new Error(`no ${type} condition in ${JSON.stringify(status)}`);
  return c;
}

describe('computeStatus', () => {
  it('reports all four condition types once, each with a reason and a message', () => {
    for (const obs of [observe(), observe({ deployment: healthy(2) }), observe({ mcp: mcpServer(0) })]) {
      const status = computeStatus(obs, undefined);
      expect((status.conditions ?? []).map((c) => c.type).sort()).toEqual([
        'Available',
        'Degraded',
        'Progressing',
        'Ready',
      ]);
      for (const c of status.conditions ?? []) {
        expect(c.reason, c.type).toMatch(/^[A-Z][A-Za-z]*$/);
        expect(c.message.length, c.type).toBeGreaterThan(0);
        expect(['True', 'False', 'Unknown']).toContain(c.status);
      }
    }
  });

  it('is not Ready while the Deployment does not exist yet, and says it is being created', () => {
    const status = computeStatus(observe(), undefined);
    expect(cond(status, 'Ready').status).toBe('False');
    expect(cond(status, 'Available').status).toBe('False');
    expect(cond(status, 'Progressing').status).toBe('True');
    expect(cond(status, 'Degraded').status).toBe('False');
    expect(status.readyReplicas).toBe(0);
  });

  it('is not Ready while a rollout is in progress, and says how far it got', () => {
    const d = deployment({ replicas: 2, updatedReplicas: 1, readyReplicas: 1, availableReplicas: 1 });
    const status = computeStatus(observe({ deployment: d }), undefined);
    const ready = cond(status, 'Ready');
    expect(ready.status).toBe('False');
    expect(ready.reason).toBe('RolloutInProgress');
    expect(cond(status, 'Progressing').status).toBe('True');
    expect(cond(status, 'Progressing').message).toContain('1/2');
    expect(cond(status, 'Available').status).toBe('True');
    expect(cond(status, 'Degraded').status).toBe('False');
    expect(status.readyReplicas).toBe(1);
  });

  it('is not Ready before the Deployment controller has seen the new template', () => {
    // The old pods are all ready, but they run the previous spec.
    const d = deployment({
      generation: 5,
      observedGeneration: 4,
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
    });
    const status = computeStatus(observe({ deployment: d }), undefined);
    expect(cond(status, 'Ready').status).toBe('False');
    expect(cond(status, 'Progressing').status).toBe('True');
  });

  it('is not Ready while surplus old pods are still running', () => {
    const d = deployment({ replicas: 3, updatedReplicas: 2, readyReplicas: 3, availableReplicas: 3 });
    expect(cond(computeStatus(observe({ deployment: d }), undefined), 'Ready').status).toBe('False');
  });

  it('is Ready with the URL in the message once every replica is updated and ready', () => {
    const status = computeStatus(observe({ deployment: healthy(2) }), undefined);
    const ready = cond(status, 'Ready');
    expect(ready.status).toBe('True');
    expect(ready.message).toContain(URL);
    expect(cond(status, 'Available').status).toBe('True');
    expect(cond(status, 'Progressing').status).toBe('False');
    expect(cond(status, 'Degraded').status).toBe('False');
    expect(status.readyReplicas).toBe(2);
    expect(status.replicas).toBe(2);
    expect(status.url).toBe(URL);
    expect(status.externalURL).toBe(EXTERNAL);
  });

  it('reports ScaledToZero, not a failure, for replicas 0', () => {
    const d = deployment({ replicas: 0 });
    for (const obs of [observe({ mcp: mcpServer(0), deployment: d }), observe({ mcp: mcpServer(0) })]) {
      const status = computeStatus(obs, undefined);
      expect(cond(status, 'Ready')).toMatchObject({ status: 'False', reason: 'ScaledToZero' });
      expect(cond(status, 'Degraded').status).toBe('False');
    }
    expect(cond(computeStatus(observe({ mcp: mcpServer(0), deployment: d }), undefined), 'Available')).toMatchObject({
      status: 'False',
      reason: 'ScaledToZero',
    });
  });

  it('cuts a blocker message to what a condition may hold, keeping its start and saying how much was left', () => {
    // An API server refusal that lists every invalid field: past 32768 bytes the status write itself is refused.
    const message = `NetworkPolicy refused: ${'spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.0.0.0/33"; '.repeat(600)}`;
    const status = computeStatus(observe({ blocker: { reason: 'ApplyFailed', message } }), undefined);
    for (const c of status.conditions ?? []) {
      expect(Buffer.byteLength(c.message)).toBeLessThanOrEqual(32768);
      expect(c.message.length).toBeLessThanOrEqual(MAX_CONDITION_MESSAGE);
    }
    const ready = cond(status, 'Ready').message;
    expect(ready.startsWith('NetworkPolicy refused: spec.egress[0]')).toBe(true);
    expect(ready).toMatch(/…\[\d+ more characters\]$/);
    const short = computeStatus(
      observe({ blocker: { reason: 'ApplyFailed', message: 'x'.repeat(MAX_CONDITION_MESSAGE) } }),
      undefined,
    );
    expect(cond(short, 'Ready').message).toBe('x'.repeat(MAX_CONDITION_MESSAGE));
  });

  it('reports a blocker as Ready False and Degraded True with its reason and message', () => {
    const blocker = {
      reason: 'SecretNotFound',
      message: 'Secret team-a/github (referenced by spec.env[0].valueFrom.secretKeyRef) does not exist',
    };
    // Even with healthy pods from an earlier spec, the blocker is what the user must see.
    for (const d of [undefined, healthy(2)]) {
      const status = computeStatus(observe({ deployment: d, blocker }), undefined);
      expect(cond(status, 'Ready')).toMatchObject({ status: 'False', ...blocker });
      expect(cond(status, 'Degraded')).toMatchObject({ status: 'True', ...blocker });
    }
  });

  it('surfaces the Deployment ReplicaFailure message (e.g. PodSecurity refusal) in Available and Degraded', () => {
    const refusal =
      'pods "github-7c9d-x2" is forbidden: violates PodSecurity "restricted:latest": runAsNonRoot != true';
    const d = deployment({
      replicas: 0,
      updatedReplicas: 0,
      readyReplicas: 0,
      availableReplicas: 0,
      conditions: [
        { type: 'Progressing', status: 'True', reason: 'ReplicaSetUpdated', message: 'progressing' },
        { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: refusal },
      ],
    });
    const status = computeStatus(observe({ deployment: d }), undefined);
    expect(cond(status, 'Available').status).toBe('False');
    expect(cond(status, 'Available').message).toContain(refusal);
    expect(cond(status, 'Degraded').status).toBe('True');
    expect(cond(status, 'Degraded').message).toContain(refusal);
    expect(cond(status, 'Ready').status).toBe('False');
    expect(cond(status, 'Ready').message).toContain(refusal);
  });

  it('ignores a ReplicaFailure condition that is not True', () => {
    const d = healthy(2);
    d.status = { ...d.status, conditions: [{ type: 'ReplicaFailure', status: 'False', reason: 'R', message: 'old' }] };
    const status = computeStatus(observe({ deployment: d }), undefined);
    expect(cond(status, 'Degraded').status).toBe('False');
    expect(cond(status, 'Ready').status).toBe('True');
  });

  it('reports a stalled rollout (ProgressDeadlineExceeded) as Degraded', () => {
    const d = deployment({
      replicas: 3,
      updatedReplicas: 1,
      readyReplicas: 2,
      availableReplicas: 2,
      conditions: [
        {
          type: 'Progressing',
          status: 'False',
          reason: 'ProgressDeadlineExceeded',
          message: 'ReplicaSet "github-abc" has timed out progressing.',
        },
      ],
    });
    const status = computeStatus(observe({ deployment: d }), undefined);
    expect(cond(status, 'Degraded').status).toBe('True');
    expect(cond(status, 'Degraded').message).toContain('timed out');
    expect(cond(status, 'Ready').status).toBe('False');
  });

  it('copies the McpServer generation to observedGeneration, on the status and every condition', () => {
    const status = computeStatus(observe({ mcp: mcpServer(2, 7), deployment: healthy(2) }), undefined);
    expect(status.observedGeneration).toBe(7);
    for (const c of status.conditions ?? []) expect(c.observedGeneration, c.type).toBe(7);
  });

  it('keeps lastTransitionTime while a condition keeps its status, and sets it to now when it changes', () => {
    const first = computeStatus(observe({ deployment: healthy(2), now: T0 }), undefined);
    for (const c of first.conditions ?? []) expect(c.lastTransitionTime, c.type).toBe(T0);

    // Same world later: nothing transitions, so the status is identical (no write).
    const same = computeStatus(observe({ deployment: healthy(2), now: T1 }), first);
    expect(same).toEqual(first);

    // A Secret goes missing: Ready and Degraded flip, Available and Progressing hold.
    const blocker = { reason: 'SecretNotFound', message: 'Secret team-a/github does not exist' };
    const blocked = computeStatus(observe({ deployment: healthy(2), blocker, now: T2 }), same);
    expect(cond(blocked, 'Ready').lastTransitionTime).toBe(T2);
    expect(cond(blocked, 'Degraded').lastTransitionTime).toBe(T2);
    expect(cond(blocked, 'Available').lastTransitionTime).toBe(T0);
    expect(cond(blocked, 'Progressing').lastTransitionTime).toBe(T0);
  });

  it('keeps lastTransitionTime when only the reason or message changes', () => {
    const a = computeStatus(observe({ now: T0 }), undefined); // no Deployment: Ready False
    const b = computeStatus(
      observe({
        deployment: deployment({ replicas: 2, updatedReplicas: 1, readyReplicas: 0, availableReplicas: 0 }),
        now: T1,
      }),
      a,
    );
    expect(cond(b, 'Ready').status).toBe('False');
    expect(cond(b, 'Ready').lastTransitionTime).toBe(T0);
  });

  it('sets lastTransitionTime to now for a condition the previous status did not have', () => {
    const previous: McpServerStatus = {
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'Ready',
          message: 'ok',
          lastTransitionTime: T0,
          observedGeneration: 3,
        },
      ],
    };
    const status = computeStatus(observe({ deployment: healthy(2), now: T1 }), previous);
    expect(cond(status, 'Ready').lastTransitionTime).toBe(T0);
    expect(cond(status, 'Available').lastTransitionTime).toBe(T1);
  });

  it('keeps serverInfo and tools from the previous status', () => {
    const previous: McpServerStatus = {
      serverInfo: { name: 'github-mcp-server', version: '0.20.0', protocolVersion: '2025-11-25' },
      tools: ['create_issue', 'search_code'],
    };
    const status = computeStatus(observe({ deployment: healthy(2) }), previous);
    expect(status.serverInfo).toEqual(previous.serverInfo);
    expect(status.tools).toEqual(previous.tools);
    const fresh = computeStatus(observe({ deployment: healthy(2) }), undefined);
    expect(fresh.serverInfo).toBeUndefined();
    expect(fresh.tools).toBeUndefined();
  });

  it('leaves out the URLs it was not given (an invalid spec has none)', () => {
    const status = computeStatus(
      observe({
        url: undefined,
        externalURL: undefined,
        blocker: { reason: 'InvalidSpec', message: 'spec.port: bad' },
      }),
      undefined,
    );
    expect(status.url).toBeUndefined();
    expect(status.externalURL).toBeUndefined();
    expect(cond(status, 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidSpec' });
  });

  it('does not modify the previous status', () => {
    const previous = computeStatus(observe({ now: T0 }), undefined);
    const copy = structuredClone(previous);
    computeStatus(observe({ deployment: healthy(2), now: T1 }), previous);
    expect(previous).toEqual(copy);
  });

  it('reports discovered server info and tools, and keeps the last ones when nothing new was discovered', () => {
    const discovered = {
      serverInfo: { name: 'github-mcp', version: '1.2.3', protocolVersion: '2025-06-18' },
      tools: ['create_issue', 'search_code'],
      toolDescriptions: { create_issue: 'Open an issue' },
    };
    const first = computeStatus(observe({ deployment: healthy(2), discovered }), undefined);
    expect(first.serverInfo).toEqual(discovered.serverInfo);
    expect(first.tools).toEqual(['create_issue', 'search_code']);
    expect(first.toolDescriptions).toEqual({ create_issue: 'Open an issue' });
    const later = computeStatus(observe({ deployment: healthy(2), now: T2 }), first);
    expect(later.tools).toEqual(['create_issue', 'search_code']);
    expect(later.toolDescriptions).toEqual({ create_issue: 'Open an issue' });
    const changed = computeStatus(observe({ deployment: healthy(2), discovered: { ...discovered, tools: [] } }), first);
    expect(changed.tools).toEqual([]);
  });
});

describe('computeStatus while blocked or with pods that cannot start', () => {
  const waitingPod = (
    name: string,
    container: { name?: string; image?: string; reason: string; message?: string; terminated?: object },
  ): V1Pod => ({
    metadata: { name, namespace: 'team-a' },
    status: {
      phase: 'Pending',
      containerStatuses: [
        {
          name: container.name ?? 'server',
          image: container.image ?? 'ghcr.io/example/github-mcp:v9',
          imageID: '',
          ready: false,
          restartCount: 4,
          state: {
            waiting: { reason: container.reason, ...(container.message ? { message: container.message } : {}) },
          },
          ...(container.terminated ? { lastState: { terminated: container.terminated } } : {}),
        } as V1ContainerStatus,
      ],
    },
  });
  const unavailable = deployment({ replicas: 2, updatedReplicas: 2, readyReplicas: 0, availableReplicas: 0 });

  it('does not say it is creating the Deployment while a blocker holds it back', () => {
    const blocker = { reason: 'ApplyFailed', message: 'the API server refused the NetworkPolicy team-a/github' };
    const status = computeStatus(observe({ blocker }), undefined);
    const progressing = cond(status, 'Progressing');
    expect(progressing).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(progressing.message).not.toMatch(/creating the Deployment/);
    expect(progressing.message).toContain('refused the NetworkPolicy');
    expect(cond(status, 'Ready')).toMatchObject({ status: 'False', ...blocker });
  });

  it('names the image a pod cannot pull, with the kubelet error, instead of DeploymentUnavailable', () => {
    const pod = waitingPod('github-5d8-abc', {
      reason: 'ErrImagePull',
      message: 'failed to pull and unpack image "ghcr.io/example/github-mcp:v9": not found',
    });
    const status = computeStatus(observe({ deployment: unavailable, pods: [pod] }), undefined);
    const ready = cond(status, 'Ready');
    expect(ready).toMatchObject({ status: 'False', reason: 'ErrImagePull' });
    expect(ready.message).toBe(
      'container server of pod github-5d8-abc cannot pull image "ghcr.io/example/github-mcp:v9" (ErrImagePull): failed to pull and unpack image "ghcr.io/example/github-mcp:v9": not found; check spec.image (and spec.pod.imagePullSecrets for a private registry)',
    );
    expect(cond(status, 'Degraded')).toMatchObject({ status: 'True', reason: 'ErrImagePull' });
    expect(cond(status, 'Available')).toMatchObject({ status: 'False', reason: 'DeploymentUnavailable' });
    expect(cond(status, 'Available').message).toContain('cannot pull image');
    const progressing = cond(status, 'Progressing');
    expect(progressing).toMatchObject({ status: 'False', reason: 'ErrImagePull' });
    expect(progressing.message).not.toMatch(/creating the Deployment/);

    const backOff = waitingPod('github-5d8-abc', {
      reason: 'ImagePullBackOff',
      message: 'Back-off pulling image "ghcr.io/example/github-mcp:v9"',
    });
    const later = computeStatus(observe({ deployment: unavailable, pods: [backOff] }), status);
    expect(cond(later, 'Ready')).toMatchObject({ status: 'False', reason: 'ImagePullBackOff' });
    expect(cond(later, 'Ready').message).toContain('"ghcr.io/example/github-mcp:v9"');
  });

  it('gives a crash loop its last exit code and the end of its termination message, stable across restarts', () => {
    const longMessage = `${'x'.repeat(2000)} Error: GITHUB_PERSONAL_ACCESS_TOKEN is not set`;
    const crashing = (backOff: string) =>
      waitingPod('github-5d8-abc', {
        reason: 'CrashLoopBackOff',
        message: `back-off ${backOff} restarting failed container=server pod=github-5d8-abc_team-a`,
        terminated: { exitCode: 1, reason: 'Error', message: longMessage },
      });
    const first = computeStatus(observe({ deployment: unavailable, pods: [crashing('10s')] }), undefined);
    const ready = cond(first, 'Ready');
    expect(ready.reason).toBe('CrashLoopBackOff');
    expect(ready.message).toContain('last exit code 1 (Error)');
    expect(ready.message).toContain('Error: GITHUB_PERSONAL_ACCESS_TOKEN is not set"');
    expect(ready.message).toContain('kubectl logs github-5d8-abc -c server --previous');
    expect(ready.message.length).toBeLessThan(600);
    // The kubelet's back-off grows on every restart; status must not be rewritten each time.
    expect(computeStatus(observe({ deployment: unavailable, pods: [crashing('5m0s')] }), first)).toEqual(first);
  });

  it('points a container killed by a signal (exit 137 or 143) at its probes, but not an OOM kill', () => {
    const killed = (exitCode: number, reason: string) =>
      cond(
        computeStatus(
          observe({
            deployment: unavailable,
            pods: [waitingPod('github-a', { reason: 'CrashLoopBackOff', terminated: { exitCode, reason } })],
          }),
          undefined,
        ),
        'Ready',
      ).message;
    expect(killed(137, 'Error')).toContain('killed by a signal: if its liveness or startup probe failed');
    expect(killed(143, 'Error')).toContain('spec.livenessProbe');
    expect(killed(137, 'OOMKilled')).not.toContain('probe');
    expect(killed(1, 'Error')).not.toContain('probe');
  });

  it('surfaces CreateContainerConfigError with its message', () => {
    const pod = waitingPod('github-5d8-abc', {
      reason: 'CreateContainerConfigError',
      message: "couldn't find key token in Secret team-a/gh",
    });
    const status = computeStatus(observe({ deployment: unavailable, pods: [pod] }), undefined);
    expect(cond(status, 'Ready')).toMatchObject({
      status: 'False',
      reason: 'CreateContainerConfigError',
      message:
        "container server of pod github-5d8-abc cannot start (CreateContainerConfigError): couldn't find key token in Secret team-a/gh",
    });
  });

  it("points an init container's image at the operator's gateway image, not spec.image", () => {
    const pod: V1Pod = {
      metadata: { name: 'github-5d8-abc' },
      status: {
        initContainerStatuses: [
          {
            name: 'install-gateway',
            image: 'registry.test/mcp-operator:1',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: 'ImagePullBackOff', message: 'Back-off' } },
          },
        ],
      },
    };
    const message = cond(computeStatus(observe({ deployment: unavailable, pods: [pod] }), undefined), 'Ready').message;
    expect(message).toContain('container install-gateway of pod github-5d8-abc cannot pull image');
    expect(message).toContain('--gateway-image');
  });

  it('reports the same pod whatever order the pods come in, and ignores terminating ones', () => {
    const a = waitingPod('github-a', { reason: 'ErrImagePull', message: 'a' });
    const b = waitingPod('github-b', { reason: 'CrashLoopBackOff', terminated: { exitCode: 2 } });
    const gone = { ...waitingPod('github-0', { reason: 'ErrImagePull' }) };
    gone.metadata = { ...gone.metadata, deletionTimestamp: new Date(0) };
    const one = computeStatus(observe({ deployment: unavailable, pods: [b, a, gone] }), undefined);
    const two = computeStatus(observe({ deployment: unavailable, pods: [gone, a, b] }), undefined);
    expect(one).toEqual(two);
    expect(cond(one, 'Ready').message).toContain('pod github-a ');
  });

  it('ignores waiting pods once the rollout is done, and pods that are only starting', () => {
    const stuck = waitingPod('github-a', { reason: 'ErrImagePull' });
    expect(cond(computeStatus(observe({ deployment: healthy(2), pods: [stuck] }), undefined), 'Ready').status).toBe(
      'True',
    );
    const starting = waitingPod('github-a', { reason: 'ContainerCreating' });
    const status = computeStatus(observe({ deployment: unavailable, pods: [starting] }), undefined);
    expect(cond(status, 'Ready').reason).toBe('DeploymentUnavailable');
    expect(cond(status, 'Progressing')).toMatchObject({ status: 'True', reason: 'RolloutInProgress' });
  });
});
