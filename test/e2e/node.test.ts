/**
 * The node is real: the kubelet registers and is Ready, a pod that passes the `restricted` Pod Security Standard
 * runs (runc, CNI bridge) and passes an HTTP readiness probe, and kube-proxy's rules carry a ClusterIP Service to
 * it from this (the host's) process.
 */
import { randomBytes } from 'node:crypto';
import { get } from 'node:http';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { Api, condition } from '../../src/local-cluster/api.ts';
import { logTail, waitFor } from '../../src/local-cluster/sh.ts';

const api = new Api(inject('e2eServer'), inject('e2eAdminToken'));
const nodeName = inject('e2eNodeName');
const logs = inject('e2eLogs');
const namespace = `e2e-smoke-${randomBytes(3).toString('hex')}`;

interface Pod {
  status?: { podIP?: string; phase?: string; conditions?: unknown[]; containerStatuses?: unknown[] };
}

/** What the cluster says about the pod, for a failure message. */
async function diagnose(name: string): Promise<string> {
  const pod = await api.request('GET', `/api/v1/namespaces/${namespace}/pods/${name}`);
  const events = await api.request<{ items?: Array<{ reason?: string; message?: string }> }>(
    'GET',
    `/api/v1/namespaces/${namespace}/events`,
  );
  return [
    `pod status: ${JSON.stringify((pod.body as Pod).status)}`,
    `events:\n${(events.body.items ?? []).map((e) => `  ${e.reason}: ${e.message}`).join('\n')}`,
    logTail(logs.kubelet ?? '', 30),
    logTail(logs.containerd ?? '', 15),
  ].join('\n');
}

/**
 * GET over a new connection each time (no keep-alive pool): before kube-proxy programs a Service, its ClusterIP is
 * routed like any address (here: to a gateway that answers HTTP 404), and a pooled connection would stay there.
 */
function httpGet(url: string): Promise<string | undefined> {
  return new Promise((ok) => {
    const req = get(url, { agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => ok(res.statusCode === 200 ? body : undefined));
      res.on('error', () => ok(undefined));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => ok(undefined));
  });
}

afterAll(async () => {
  await api.request('DELETE', `/api/v1/namespaces/${namespace}`);
  await api.close();
});

describe('a real single-node cluster', () => {
  it('has a Ready node running kubelet v1.34 on containerd', async () => {
    const node = await api.get<{ status: { nodeInfo: { kubeletVersion: string; containerRuntimeVersion: string } } }>(
      `/api/v1/nodes/${nodeName}`,
    );
    expect(condition(node, 'Ready')?.status).toBe('True');
    expect(node.status.nodeInfo.kubeletVersion).toBe('v1.34.4');
    expect(node.status.nodeInfo.containerRuntimeVersion).toMatch(/^containerd:\/\//);
  });

  it('runs a pod that passes the restricted Pod Security Standard, and rejects one that does not', async () => {
    await api.apply(`/api/v1/namespaces/${namespace}`, {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { 'pod-security.kubernetes.io/enforce': 'restricted' } },
    });
    // pods need the namespace's default ServiceAccount, which kube-controller-manager creates
    await waitFor(
      async () =>
        (await api.request('GET', `/api/v1/namespaces/${namespace}/serviceaccounts/default`)).status === 200 ||
        undefined,
      30_000,
      () => new Error(`no default ServiceAccount in ${namespace} after 30 s`),
    );

    const container = {
      name: 'web',
      image: inject('e2eNodeImage'),
      imagePullPolicy: 'Never',
      command: ['node', '-e', "require('http').createServer((q,s)=>s.end('ok')).listen(8080)"],
      ports: [{ containerPort: 8080 }],
      readinessProbe: { httpGet: { path: '/', port: 8080 }, periodSeconds: 1 },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        capabilities: { drop: ['ALL'] },
      },
    };
    const podSecurity = {
      runAsNonRoot: true,
      runAsUser: 65532,
      runAsGroup: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    };
    const rejected = await api.request<{ message?: string }>('POST', `/api/v1/namespaces/${namespace}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'root' },
      spec: { containers: [{ ...container, name: 'root', securityContext: { runAsUser: 0 } }] },
    });
    expect(rejected.status).toBe(403);
    expect(rejected.body.message).toContain('violates PodSecurity "restricted:latest"');

    const applied = Date.now();
    await api.apply(`/api/v1/namespaces/${namespace}/pods/web`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'web', labels: { app: 'web' } },
      spec: {
        securityContext: podSecurity,
        terminationGracePeriodSeconds: 1, // node as PID 1 ignores SIGTERM
        containers: [container],
      },
    });
    const pod = await waitFor(
      async () => {
        const live = await api.get<Pod>(`/api/v1/namespaces/${namespace}/pods/web`);
        return condition(live, 'Ready')?.status === 'True' ? live : undefined;
      },
      120_000,
      () => new Error('pod web not Ready in 120 s'),
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}\n${await diagnose('web')}`);
    });
    process.stderr.write(`e2e: pod web Ready ${((Date.now() - applied) / 1000).toFixed(1)} s after apply\n`);
    expect(pod.status?.podIP).toMatch(/^10\.244\./);
    // the pod IP is routed from the host (CNI bridge)
    expect(await httpGet(`http://${pod.status?.podIP}:8080/`)).toBe('ok');
  });

  it('reaches the pod through a ClusterIP Service from the host (kube-proxy)', async () => {
    const service = await api.apply<{ spec: { clusterIP: string } }>(`/api/v1/namespaces/${namespace}/services/web`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web' },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    });
    const clusterIP = service.spec.clusterIP;
    expect(clusterIP).toMatch(/^10\.96\./);
    const body = await waitFor(
      () => httpGet(`http://${clusterIP}/`),
      30_000,
      () => new Error(`GET http://${clusterIP}/ got no 'ok' in 30 s\n${logTail(logs['kube-proxy'] ?? '', 30)}`),
    );
    expect(body).toBe('ok');
  });
});
