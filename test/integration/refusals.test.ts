/**
 * What the user reads when the cluster will not take what the spec asks for, on a real API server with the real
 * controller process (and exactly its RBAC): children the API server refuses (validation, an admission policy, a
 * webhook that keeps failing), a NetworkPolicy that must exist before any pod, an Ingress that is not ours, and
 * pods that cannot start (their status written as a kubelet would: this control plane has no node).
 */
import type { V1Deployment, V1Ingress, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { McpServer } from '../../src/api/types.generated.ts';
import { isNotFound, type KubeClient } from '../../src/kube/client.ts';
import { stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import {
  adminClient,
  createRestrictedNamespace,
  eventually,
  getOrUndefined,
  KubeApiError,
  resourcePath,
  T,
} from '../support/kube.ts';

const ADMISSION = { apiVersion: 'admissionregistration.k8s.io/v1' };
const POLICIES = { ...ADMISSION, plural: 'validatingadmissionpolicies' };
const BINDINGS = { ...ADMISSION, plural: 'validatingadmissionpolicybindings' };
const WEBHOOKS = { ...ADMISSION, plural: 'validatingwebhookconfigurations' };

let admin: KubeClient;
let ns: string;
let controller: ControllerProcess;
/** Cluster-scoped objects this file creates, deleted at the end. */
const clusterObjects: string[] = [];

const path = (type: { apiVersion: string; plural: string }, name?: string) =>
  resourcePath(type, { namespace: ns, name });
const getServer = (name: string) => admin.get<McpServer>(path(T.mcpservers, name));
const condition = (mcp: McpServer, type: string) => mcp.status?.conditions?.find((c) => c.type === type);

async function readyReason(name: string, reason: string): Promise<McpServer> {
  return eventually(`${name} Ready=False ${reason}`, async () => {
    const mcp = await getServer(name);
    const ready = condition(mcp, 'Ready');
    return ready?.status === 'False' &&
      ready.reason === reason &&
      mcp.status?.observedGeneration === mcp.metadata?.generation
      ? mcp
      : undefined;
  });
}

async function warningEvent(name: string, reason: string) {
  return eventually(`a ${reason} Warning event for ${name}`, async () => {
    const events = await admin.list<{
      reason: string;
      type: string;
      message: string;
      involvedObject: { name: string };
    }>(path(T.events));
    return events.items.find((e) => e.reason === reason && e.involvedObject.name === name && e.type === 'Warning');
  });
}

/**
 * A ValidatingAdmissionPolicy (CEL, in the API server) that refuses `resource` for one McpServer's children;
 * resolves once it is in force (a dry run is refused).
 */
async function refuseChildren(instance: string, group: string, resource: string, probe: object): Promise<void> {
  const name = `refuse-${resource}-${ns}`;
  await admin.create(resourcePath(POLICIES), {
    apiVersion: ADMISSION.apiVersion,
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          { apiGroups: [group], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: [resource] },
        ],
      },
      validations: [{ expression: 'false', message: `${resource} are not allowed for this server by policy ${name}` }],
    },
  });
  clusterObjects.push(resourcePath(POLICIES, { name }));
  await admin.create(resourcePath(BINDINGS), {
    apiVersion: ADMISSION.apiVersion,
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name },
    spec: {
      policyName: name,
      validationActions: ['Deny'],
      matchResources: {
        namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
        objectSelector: { matchLabels: { 'app.kubernetes.io/instance': instance } },
      },
    },
  });
  clusterObjects.push(resourcePath(BINDINGS, { name }));
  await eventually(`policy ${name} in force`, async () => {
    try {
      await admin.create(path({ apiVersion: group ? `${group}/v1` : 'v1', plural: resource }), probe, {
        dryRun: 'All',
      });
      return undefined;
    } catch (err) {
      return err instanceof KubeApiError && err.message.includes(name) ? true : undefined;
    }
  });
}

/** Writes a pod's container states as the kubelet would (this control plane has no node and no kubelet). */
async function setContainerStatus(instance: string, state: Record<string, unknown>): Promise<string> {
  const pod = await eventually(`a pod of ${instance}`, async () => {
    const pods = await admin.list<V1Pod>(path(T.pods), { labelSelector: `app.kubernetes.io/instance=${instance}` });
    return pods.items[0];
  });
  const name = pod.metadata?.name ?? '';
  const server = pod.spec?.containers.find((c) => c.name === 'server');
  await admin.mergePatch(resourcePath(T.pods, { namespace: ns, name, subresource: 'status' }), {
    status: {
      containerStatuses: [
        { name: 'server', image: server?.image, imageID: '', ready: false, restartCount: 3, started: false, ...state },
      ],
    },
  });
  return name;
}

beforeAll(async () => {
  admin = adminClient(inject('adminKubeconfig'));
  ns = await createRestrictedNamespace(admin, 'refuse');
  controller = startController({
    kubeconfig: inject('controllerKubeconfig'),
    namespaces: [ns],
    // As if the controller ran in this namespace as the ServiceAccount mcp-operator (the chart's downward API).
    podNamespace: ns,
    podServiceAccount: 'mcp-operator',
  });
  await controller.waitForLog((l) => l.msg === 'controller started');
});

afterAll(async () => {
  // Cluster-scoped policies and webhooks outlive the namespace: one left behind would refuse other suites' writes.
  for (const object of clusterObjects.reverse()) {
    await admin.delete(object).catch((err: unknown) => {
      if (!isNotFound(err)) throw err;
    });
  }
  expect(await controller.stop()).toBe(0);
});

describe('a child the API server refuses', () => {
  it('makes the McpServer Degraded with ApplyFailed, the McpServer field, an Event and backoff', async () => {
    // Valid for the CRD; the API server's own validation of projected tokens refuses it in the Deployment.
    const tokenVolume = (expirationSeconds: number) => ({
      volumes: [{ name: 'vault', projected: { sources: [{ serviceAccountToken: { path: 't', expirationSeconds } }] } }],
    });
    await admin.create(path(T.mcpservers), stdioServer('tolerant', { pod: tokenVolume(60) }));
    const mcp = await readyReason('tolerant', 'ApplyFailed');
    const ready = condition(mcp, 'Ready');
    expect(ready?.message).toContain(`the API server refused the Deployment ${ns}/tolerant (HTTP 422)`);
    const field = 'spec.pod.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds';
    expect(ready?.message).toContain(`${field}: Invalid value: 60: may not specify a duration less than 10 minutes`);
    expect(ready?.message).toContain(`fix ${field} in the McpServer`);
    expect(ready?.message).not.toContain('spec.template');
    expect(condition(mcp, 'Degraded')).toMatchObject({ status: 'True', reason: 'ApplyFailed' });
    expect(condition(mcp, 'Progressing')).toMatchObject({ status: 'False', reason: 'ApplyFailed' });
    expect(condition(mcp, 'Progressing')?.message).not.toContain('creating the Deployment');
    // The columns are never blank: `kubectl get mcps` shows Ready False and the in-cluster URL.
    expect(mcp.status?.url).toBe(`http://tolerant.${ns}.svc:8080/mcp`);
    const event = await warningEvent('tolerant', 'ApplyFailed');
    expect(event.message).toContain(field);

    // Backoff from the queue's rate limiter: each retry waits longer than the one before.
    const delays = await eventually('four retries, backing off', async () => {
      const retries = controller.logs
        .filter(
          (l) => l.mcpserver === `${ns}/tolerant` && l.reason === 'ApplyFailed' && l.msg === 'waiting; will retry',
        )
        .map((l) => Number(l.retryInMs));
      return retries.length >= 4 ? retries.slice(0, 4) : undefined;
    });
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThan(delays[i - 1] as number);

    // Fixed spec: applied, and the blocker is gone.
    await admin.mergePatch(path(T.mcpservers, 'tolerant'), { spec: { pod: tokenVolume(3600) } });
    await eventually('the Deployment', () => getOrUndefined<V1Deployment>(admin, path(T.deployments, 'tolerant')));
    await eventually('Degraded False', async () =>
      condition(await getServer('tolerant'), 'Degraded')?.status === 'False' ? true : undefined,
    );
  });

  it("names the VirtualMcpServer's own field when the API server refuses its NetworkPolicy", async () => {
    await admin.create(path(T.mcpservers), stdioServer('np-backend'));
    const egress = [{ to: [{ ipBlock: { cidr: '10.9.0.0/33' } }] }];
    await admin.create(
      path(T.virtualmcpservers),
      virtualServer('np-aggregate', { servers: [{ name: 'np-backend' }], networkPolicy: { egress } }),
    );
    const vmcp = await eventually('the VirtualMcpServer ApplyFailed', async () => {
      const v = await admin.get<McpServer>(path(T.virtualmcpservers, 'np-aggregate'));
      return condition(v, 'Ready')?.reason === 'ApplyFailed' ? v : undefined;
    });
    const message = condition(vmcp, 'Ready')?.message;
    expect(message).toContain(`the API server refused the NetworkPolicy ${ns}/np-aggregate`);
    expect(message).toContain('spec.networkPolicy.egress[0].to[0].ipBlock.cidr: Invalid value: "10.9.0.0/33"');
    expect(message).toContain('fix spec.networkPolicy.egress[0].to[0].ipBlock.cidr in the VirtualMcpServer');
  });

  it('reports a 5xx that repeats (a failing admission webhook) as ApplyFailed instead of retrying silently', async () => {
    const name = `unreachable-${ns}`;
    await admin.create(resourcePath(WEBHOOKS), {
      apiVersion: ADMISSION.apiVersion,
      kind: 'ValidatingWebhookConfiguration',
      metadata: { name },
      webhooks: [
        {
          name: 'unreachable.mcpoperator.test',
          clientConfig: { url: 'https://127.0.0.1:1/validate' },
          rules: [{ apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE', 'UPDATE'], resources: ['services'] }],
          namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
          objectSelector: { matchLabels: { 'app.kubernetes.io/instance': 'flaky' } },
          failurePolicy: 'Fail',
          sideEffects: 'None',
          admissionReviewVersions: ['v1'],
          timeoutSeconds: 2,
        },
      ],
    });
    clusterObjects.push(resourcePath(WEBHOOKS, { name }));
    await eventually('the webhook in force', async () => {
      try {
        await admin.create(
          path(T.services),
          {
            apiVersion: 'v1',
            kind: 'Service',
            metadata: { name: 'probe', labels: { 'app.kubernetes.io/instance': 'flaky' } },
            spec: { ports: [{ port: 80 }] },
          },
          { dryRun: 'All' },
        );
        return undefined;
      } catch (err) {
        return err instanceof KubeApiError && err.status >= 500 ? true : undefined;
      }
    });
    await admin.create(path(T.mcpservers), stdioServer('flaky'));
    const mcp = await readyReason('flaky', 'ApplyFailed');
    expect(condition(mcp, 'Ready')?.message).toMatch(
      new RegExp(`the API server refused the Service ${ns}/flaky \\(HTTP 500\\): .*failed calling webhook`),
    );
    // It was retried first: a one-off 5xx is not a refusal.
    const transient = controller.logs.filter(
      (l) => l.mcpserver === `${ns}/flaky` && l.msg === 'reconcile failed; will retry',
    );
    expect(transient.length).toBeGreaterThanOrEqual(2);
    await warningEvent('flaky', 'ApplyFailed');
  });
});

describe('the NetworkPolicy comes before any pod', () => {
  it('creates no workload while the NetworkPolicy is refused, says why, and converges once it is fixed', async () => {
    await admin.create(
      path(T.mcpservers),
      stdioServer('fenced', { networkPolicy: { ingressFrom: [{ ipBlock: { cidr: '10.0.0.0/33' } }] } }),
    );
    const mcp = await readyReason('fenced', 'ApplyFailed');
    expect(await getOrUndefined(admin, path(T.deployments, 'fenced'))).toBeUndefined();
    expect(await getOrUndefined(admin, path(T.services, 'fenced'))).toBeUndefined();
    expect(await getOrUndefined(admin, path(T.networkpolicies, 'fenced'))).toBeUndefined();
    const message = condition(mcp, 'Ready')?.message ?? '';
    expect(message).toContain(`the API server refused the NetworkPolicy ${ns}/fenced (HTTP 422)`);
    expect(message).toContain('spec.networkPolicy.ingressFrom[0].ipBlock.cidr: Invalid value: "10.0.0.0/33"');
    expect(message).toContain('Deployment not created, so no pod runs without the policy');
    expect(condition(mcp, 'Progressing')?.message).not.toContain('creating the Deployment');

    await admin.mergePatch(path(T.mcpservers, 'fenced'), {
      spec: { networkPolicy: { ingressFrom: [{ ipBlock: { cidr: '10.0.0.0/8' } }] } },
    });
    await eventually('the Deployment after the policy', () => getOrUndefined(admin, path(T.deployments, 'fenced')));
    const policy = await admin.get<{ metadata: { creationTimestamp: string }; spec: { ingress: unknown[] } }>(
      path(T.networkpolicies, 'fenced'),
    );
    // The controller's namespace (POD_NAMESPACE) stays admitted to the MCP port: tool discovery calls it.
    expect(policy.spec.ingress).toContainEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } } }],
      ports: [{ port: 'mcp', protocol: 'TCP' }],
    });
    const deployment = await admin.get<V1Deployment>(path(T.deployments, 'fenced'));
    expect(Date.parse(policy.metadata.creationTimestamp)).toBeLessThanOrEqual(
      Date.parse(deployment.metadata?.creationTimestamp as unknown as string),
    );
  });

  it('keeps the running Deployment as it was when a policy update is refused, and says so', async () => {
    await admin.create(
      path(T.mcpservers),
      stdioServer('guarded', { networkPolicy: { ingressFrom: [{ ipBlock: { cidr: '10.0.0.0/8' } }] } }),
    );
    const before = await eventually('the Deployment', () =>
      getOrUndefined<V1Deployment>(admin, path(T.deployments, 'guarded')),
    );
    await admin.mergePatch(path(T.mcpservers, 'guarded'), {
      spec: {
        env: [{ name: 'LOG_LEVEL', value: 'debug' }],
        networkPolicy: { ingressFrom: [{ ipBlock: { cidr: '10.0.0.0/33' } }] },
      },
    });
    const mcp = await readyReason('guarded', 'ApplyFailed');
    const after = await admin.get<V1Deployment>(path(T.deployments, 'guarded'));
    expect(after.spec?.template.spec?.containers[0]?.env?.map((e) => e.name)).not.toContain('LOG_LEVEL');
    expect(after.metadata?.generation).toBe(before.metadata?.generation);
    expect(condition(mcp, 'Ready')?.message).toContain(
      'Until it applies: Deployment not updated (the running one stays as it was)',
    );
  });
});

describe("the operator's own ServiceAccount is not lent", () => {
  const reserved = 'spec.pod.serviceAccountName: "mcp-operator" is the operator\'s own ServiceAccount';

  it('refuses an McpServer in its namespace that names it, and stops a pod that already ran as it', async () => {
    await admin.create(path(T.mcpservers), stdioServer('borrower', { pod: { serviceAccountName: 'mcp-operator' } }));
    const refused = await readyReason('borrower', 'ReservedServiceAccount');
    expect(condition(refused, 'Ready')?.message).toContain(reserved);
    expect(await getOrUndefined(admin, path(T.deployments, 'borrower'))).toBeUndefined();

    // Its own account: it runs. Switched to the operator's: the Deployment goes, not just its next rollout.
    await admin.mergePatch(path(T.mcpservers, 'borrower'), { spec: { pod: { serviceAccountName: null } } });
    await eventually('the Deployment', () => getOrUndefined(admin, path(T.deployments, 'borrower')));
    await admin.mergePatch(path(T.mcpservers, 'borrower'), { spec: { pod: { serviceAccountName: 'mcp-operator' } } });
    await readyReason('borrower', 'ReservedServiceAccount');
    await eventually('the Deployment deleted', async () =>
      (await getOrUndefined(admin, path(T.deployments, 'borrower'))) === undefined ? true : undefined,
    );
  });

  it('refuses a VirtualMcpServer in its namespace that names it', async () => {
    await admin.create(
      path(T.virtualmcpservers),
      virtualServer('borrowing-aggregate', {
        servers: [{ name: 'borrower' }],
        pod: { serviceAccountName: 'mcp-operator' },
      }),
    );
    const vmcp = await eventually('the VirtualMcpServer refused', async () => {
      const v = await admin.get<McpServer>(path(T.virtualmcpservers, 'borrowing-aggregate'));
      return condition(v, 'Ready')?.reason === 'ReservedServiceAccount' ? v : undefined;
    });
    expect(condition(vmcp, 'Ready')?.message).toContain(reserved);
    expect(await getOrUndefined(admin, path(T.deployments, 'borrowing-aggregate'))).toBeUndefined();
  });
});

describe('status.externalURL', () => {
  const ingress = (path: string) => ({ className: 'nginx', host: 'tools.example.com', path });

  it('is not published when the Ingress is refused', async () => {
    await refuseChildren('hidden', 'networking.k8s.io', 'ingresses', {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: { name: 'probe', labels: { 'app.kubernetes.io/instance': 'hidden' } },
      spec: { defaultBackend: { service: { name: 'x', port: { number: 80 } } } },
    });
    await admin.create(path(T.mcpservers), stdioServer('hidden', { ingress: ingress('/hidden') }));
    const mcp = await readyReason('hidden', 'ApplyFailed');
    expect(condition(mcp, 'Ready')?.message).toContain(`the API server refused the Ingress ${ns}/hidden`);
    expect(condition(mcp, 'Ready')?.message).toContain('ingresses are not allowed for this server');
    expect(mcp.status?.url).toBe(`http://hidden.${ns}.svc:8080/mcp`);
    expect(mcp.status?.externalURL).toBeUndefined();
  });

  it("is not another server's URL when the route is taken, and is published for the holder", async () => {
    await admin.create(path(T.mcpservers), stdioServer('holder', { ingress: ingress('/shared') }));
    const holder = await eventually('the holder with its external URL', async () => {
      const m = await getServer('holder');
      return m.status?.externalURL ? m : undefined;
    });
    expect(holder.status?.externalURL).toBe('http://tools.example.com/shared/mcp');
    await admin.create(path(T.mcpservers), stdioServer('latecomer', { ingress: ingress('/shared') }));
    const latecomer = await readyReason('latecomer', 'IngressConflict');
    expect(latecomer.status?.externalURL).toBeUndefined();
  });
});

describe('a route two servers ask for at once', () => {
  it('is kept by exactly one of them; the other withholds its Ingress and publishes no URL', async () => {
    const host = 'race.example.com';
    // One request after the other, within one second: neither sees the other's Ingress before it makes its own.
    await Promise.all([
      admin.create(path(T.mcpservers), stdioServer('race-a', { ingress: { host, path: '/race' } })),
      admin.create(path(T.mcpservers), stdioServer('race-b', { ingress: { host, path: '/race/' } })),
    ]);
    const settled = await eventually('one holder and one refused', async () => {
      const both = await Promise.all(['race-a', 'race-b'].map(getServer));
      const refused = both.filter((m) => condition(m, 'Ready')?.reason === 'IngressConflict');
      const holder = both.find((m) => m.status?.externalURL);
      const ingresses = await Promise.all(
        ['race-a', 'race-b'].map((n) => getOrUndefined<V1Ingress>(admin, path(T.ingresses, n))),
      );
      return refused.length === 1 && holder && ingresses.filter(Boolean).length === 1
        ? { refused: refused[0] as McpServer, holder, ingresses }
        : undefined;
    });
    expect(settled.refused.status?.externalURL).toBeUndefined();
    expect(settled.holder.metadata?.name).not.toBe(settled.refused.metadata?.name);
    // The holder's Ingress is the one that stands.
    expect(settled.ingresses.find((i) => i !== undefined)?.metadata?.name).toBe(settled.holder.metadata?.name);
  });
});

describe("what reaches a stdio server's gateway", () => {
  it("refuses an envFrom key that would become one of the gateway's settings, and runs once it is gone", async () => {
    await admin.create(path(T.configmaps), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'app-settings' },
      data: { LOG_LEVEL: 'debug', MCP_GATEWAY_TRUST_PROXY: 'true' },
    });
    await admin.create(
      path(T.mcpservers),
      stdioServer('envfrom', { envFrom: [{ configMapRef: { name: 'app-settings' } }] }),
    );
    const refused = await readyReason('envfrom', 'ReservedEnvName');
    expect(condition(refused, 'Ready')?.message).toContain(
      `ConfigMap ${ns}/app-settings (spec.envFrom[0]) has the key "MCP_GATEWAY_TRUST_PROXY"`,
    );
    expect(await getOrUndefined(admin, path(T.deployments, 'envfrom'))).toBeUndefined();
    await admin.update(path(T.configmaps, 'app-settings'), {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'app-settings' },
      data: { LOG_LEVEL: 'debug' },
    });
    await eventually('the Deployment once the key is gone', () =>
      getOrUndefined(admin, path(T.deployments, 'envfrom')),
    );
  });

  it('gives a session-key Secret edited by hand a new key', async () => {
    await admin.create(path(T.mcpservers), stdioServer('rekey'));
    const secret = 'rekey-gateway-session';
    await eventually('the session-key Secret', () => getOrUndefined(admin, path(T.secrets, secret)));
    await admin.mergePatch(path(T.secrets, secret), { data: { 'session-key': null, other: 'eA==' } });
    const repaired = await eventually('a new session key', async () => {
      const s = await admin.get<{ data?: Record<string, string> }>(path(T.secrets, secret));
      const key = s.data?.['session-key'];
      return key && Buffer.from(key, 'base64').length === 32 ? s : undefined;
    });
    expect(repaired.data?.other).toBe('eA==');
    const event = await warningEvent('rekey', 'SessionKeyRepaired');
    expect(event.message).not.toContain(repaired.data?.['session-key'] as string);
  });
});

describe('pods that cannot start', () => {
  it('surfaces ErrImagePull, CrashLoopBackOff and CreateContainerConfigError instead of DeploymentUnavailable', async () => {
    await admin.create(path(T.mcpservers), stdioServer('unpullable', { image: 'registry.invalid/missing:1' }));
    const pod = await setContainerStatus('unpullable', {
      state: {
        waiting: {
          reason: 'ErrImagePull',
          message: 'failed to pull and unpack image "registry.invalid/missing:1": no such host',
        },
      },
    });
    const pulling = await readyReason('unpullable', 'ErrImagePull');
    expect(condition(pulling, 'Ready')?.message).toContain(
      `container server of pod ${pod} cannot pull image "registry.invalid/missing:1" (ErrImagePull): failed to pull and unpack image`,
    );
    expect(condition(pulling, 'Degraded')).toMatchObject({ status: 'True', reason: 'ErrImagePull' });
    expect(condition(pulling, 'Available')?.message).toContain('cannot pull image');
    expect(condition(pulling, 'Progressing')).toMatchObject({ status: 'False', reason: 'ErrImagePull' });

    await setContainerStatus('unpullable', {
      state: { waiting: { reason: 'CrashLoopBackOff', message: 'back-off 40s restarting failed container' } },
      lastState: { terminated: { exitCode: 3, reason: 'Error', message: 'fatal: GITHUB_TOKEN is not set' } },
    });
    const crashing = await readyReason('unpullable', 'CrashLoopBackOff');
    expect(condition(crashing, 'Ready')?.message).toContain('last exit code 3 (Error)');
    expect(condition(crashing, 'Ready')?.message).toContain('fatal: GITHUB_TOKEN is not set');

    await setContainerStatus('unpullable', {
      state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "gh" not found' } },
    });
    const config = await readyReason('unpullable', 'CreateContainerConfigError');
    expect(condition(config, 'Ready')?.message).toContain('secret "gh" not found');
  });
});
