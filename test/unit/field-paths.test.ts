/** A child field the API server refuses, named as the McpServer field the user wrote. */
import { describe, expect, it } from 'vitest';
import type { VirtualMcpServer } from '../../src/api/types.generated.ts';
import { parseMcpServer } from '../../src/api/validate.ts';
import {
  mcpServerField,
  translateChildPaths,
  translatePaths,
  virtualServerField,
} from '../../src/render/field-paths.ts';
import { httpServer, type Manifest, stdioServer } from '../fixtures/manifests.ts';
import { virtualServer } from '../fixtures/virtual.ts';

const peer = (app: string) => ({ podSelector: { matchLabels: { app } } });

const stdio = parseMcpServer(
  stdioServer('github', {
    command: ['npx', '-y', 'server'],
    args: ['--read-only'],
    env: [
      { name: 'LOG_LEVEL', value: 'debug' },
      { name: 'POD', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
    ],
    envFrom: [{ configMapRef: { name: 'settings' } }],
    auth: { bearer: { secretRef: { name: 'tokens' } } },
    pod: {
      tolerations: [{ key: 'a', operator: 'Exists' }],
      affinity: { nodeAffinity: {} },
      volumes: [
        { name: 'data', emptyDir: {} },
        { name: 'config', configMap: { name: 'cfg' } },
      ],
      volumeMounts: [
        { name: 'data', mountPath: '/data' },
        { name: 'config', mountPath: '/config' },
      ],
      imagePullSecrets: [{ name: 'registry' }],
    },
    networkPolicy: {
      ingressFrom: [peer('client'), peer('agent')],
      metricsFrom: [peer('prometheus')],
      egress: [{ to: [{ ipBlock: { cidr: '10.0.0.0/8' } }] }],
    },
    ingress: { host: 'mcp.example.com', path: '/github', className: 'nginx', tls: { secretName: 'cert' } },
  }) as Manifest,
);
const http = parseMcpServer(
  httpServer('remote', {
    command: ['/server'],
    args: ['--port', '3000'],
    livenessProbe: { httpGet: { path: '/healthz' } },
    networkPolicy: { metricsFrom: [peer('prometheus')] },
  }),
);

const cases: Array<[string, typeof stdio, string, string, string | undefined]> = [
  // [what, McpServer, child kind, child path as the API server names it, McpServer field]
  [
    'affinity, deep',
    stdio,
    'Deployment',
    'spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator',
    'spec.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator',
  ],
  [
    'affinity, typed-patch form with a leading dot',
    stdio,
    'Deployment',
    '.spec.template.spec.affinity.nodeAffinty',
    'spec.pod.affinity.nodeAffinty',
  ],
  ['a toleration', stdio, 'Deployment', 'spec.template.spec.tolerations[0].effect', 'spec.pod.tolerations[0].effect'],
  ['replicas', stdio, 'Deployment', 'spec.replicas', 'spec.replicas'],
  ['pod labels', stdio, 'Deployment', 'spec.template.metadata.labels', 'spec.pod.labels'],
  [
    'pod user id',
    stdio,
    'Deployment',
    'spec.template.spec.securityContext.runAsUser',
    'spec.pod.securityContext.runAsUser',
  ],
  // Volumes: the renderer puts its own first (tmp, home, the runtime, the session key, the tokens).
  [
    'a user volume by index',
    stdio,
    'Deployment',
    'spec.template.spec.volumes[6].configMap.name',
    'spec.pod.volumes[1].configMap.name',
  ],
  [
    'a user volume by name',
    stdio,
    'Deployment',
    'spec.template.spec.volumes[name="data"].emptyDir',
    'spec.pod.volumes[0].emptyDir',
  ],
  ["the operator's own volume", stdio, 'Deployment', 'spec.template.spec.volumes[0].emptyDir', undefined],
  [
    'a user env var by index',
    stdio,
    'Deployment',
    'spec.template.spec.containers[0].env[1].valueFrom.fieldRef.fieldPath',
    'spec.env[1].valueFrom.fieldRef.fieldPath',
  ],
  [
    'a user env var by key',
    stdio,
    'Deployment',
    'spec.template.spec.containers[name="server"].env[name="LOG_LEVEL"].value',
    'spec.env[0].value',
  ],
  ["the gateway's env var", stdio, 'Deployment', 'spec.template.spec.containers[0].env[4].value', undefined],
  [
    'envFrom',
    stdio,
    'Deployment',
    'spec.template.spec.containers[0].envFrom[0].configMapRef.name',
    'spec.envFrom[0].configMapRef.name',
  ],
  // Mounts: /tmp and HOME first.
  [
    'a user mount',
    stdio,
    'Deployment',
    'spec.template.spec.containers[0].volumeMounts[3].mountPath',
    'spec.pod.volumeMounts[1].mountPath',
  ],
  ['the image', stdio, 'Deployment', 'spec.template.spec.containers[0].image', 'spec.image'],
  [
    'resources',
    stdio,
    'Deployment',
    'spec.template.spec.containers[0].resources.requests[cpu]',
    'spec.resources.requests[cpu]',
  ],
  // stdio: args are `stdio -- <command> <args>`.
  ['stdio command', stdio, 'Deployment', 'spec.template.spec.containers[0].args[3]', 'spec.command[1]'],
  ['stdio args', stdio, 'Deployment', 'spec.template.spec.containers[0].args[5]', 'spec.args[0]'],
  ['stdio gateway args', stdio, 'Deployment', 'spec.template.spec.containers[0].args[0]', undefined],
  ['init container', stdio, 'Deployment', 'spec.template.spec.initContainers[0].image', undefined],
  [
    'image pull secret',
    stdio,
    'Deployment',
    'spec.template.spec.imagePullSecrets[0].name',
    'spec.pod.imagePullSecrets[0].name',
  ],
  ['http args', http, 'Deployment', 'spec.template.spec.containers[0].args[1]', 'spec.args[1]'],
  ['http port', http, 'Deployment', 'spec.template.spec.containers[0].ports[0].containerPort', 'spec.port'],
  [
    'http liveness',
    http,
    'Deployment',
    'spec.template.spec.containers[0].livenessProbe.httpGet.path',
    'spec.livenessProbe.httpGet.path',
  ],
  ['the gateway sidecar', http, 'Deployment', 'spec.template.spec.containers[1].image', undefined],
  // NetworkPolicy: rule 0 holds ingressFrom; rule 1 lets siblings in; rule 2 holds metricsFrom; egress adds DNS.
  [
    'ingressFrom peer',
    stdio,
    'NetworkPolicy',
    'spec.ingress[0].from[1].podSelector.matchLabels',
    'spec.networkPolicy.ingressFrom[1].podSelector.matchLabels',
  ],
  [
    'metricsFrom peer',
    stdio,
    'NetworkPolicy',
    'spec.ingress[2].from[0].namespaceSelector',
    'spec.networkPolicy.metricsFrom[0].namespaceSelector',
  ],
  [
    'metricsFrom, without ingressFrom',
    http,
    'NetworkPolicy',
    'spec.ingress[1].from[0].podSelector',
    'spec.networkPolicy.metricsFrom[0].podSelector',
  ],
  ["the operator's ports", stdio, 'NetworkPolicy', 'spec.ingress[0].ports[0].port', undefined],
  ['the sibling rule', stdio, 'NetworkPolicy', 'spec.ingress[1].from[0].podSelector', undefined],
  [
    'an egress rule',
    stdio,
    'NetworkPolicy',
    'spec.egress[0].to[0].ipBlock.cidr',
    'spec.networkPolicy.egress[0].to[0].ipBlock.cidr',
  ],
  ['the DNS egress rule', stdio, 'NetworkPolicy', 'spec.egress[1].ports[0].port', undefined],
  ['ingress host', stdio, 'Ingress', 'spec.rules[0].host', 'spec.ingress.host'],
  ['ingress TLS host', stdio, 'Ingress', 'spec.tls[0].hosts[0]', 'spec.ingress.host'],
  ['ingress path', stdio, 'Ingress', 'spec.rules[0].http.paths[0].path', 'spec.ingress.path'],
  ['ingress class', stdio, 'Ingress', 'spec.ingressClassName', 'spec.ingress.className'],
  ['ingress annotations', stdio, 'Ingress', 'metadata.annotations', 'spec.ingress.annotations'],
  ['the name', stdio, 'Service', 'metadata.name', 'metadata.name'],
  ['a Service port', stdio, 'Service', 'spec.ports[0].port', undefined],
];

describe('mcpServerField', () => {
  it.each(cases)('%s', (_what, mcp, kind, childPath, field) => {
    expect(mcpServerField(mcp, kind, childPath)).toBe(field);
  });
});

describe('translateChildPaths', () => {
  it('rewrites a Deployment refusal to the McpServer field, keeping the rest of the message', () => {
    const refusal =
      'Deployment.apps "github" is invalid: spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: "Inn": supported values: "DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"';
    const { message, fields } = translateChildPaths(stdio, 'Deployment', refusal);
    expect(message).toBe(
      'Deployment.apps "github" is invalid: spec.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: Unsupported value: "Inn": supported values: "DoesNotExist", "Exists", "Gt", "In", "Lt", "NotIn"',
    );
    expect(fields).toEqual([
      'spec.pod.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator',
    ]);
  });

  it('rewrites every field of a list of errors, and the typed-patch form of server-side apply', () => {
    const refusal =
      'NetworkPolicy.networking.k8s.io "github" is invalid: [spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR, spec.egress[0].to[0].ipBlock.cidr: Required value]';
    expect(translateChildPaths(stdio, 'NetworkPolicy', refusal)).toEqual({
      message:
        'NetworkPolicy.networking.k8s.io "github" is invalid: [spec.networkPolicy.ingressFrom[0].ipBlock.cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR, spec.networkPolicy.egress[0].to[0].ipBlock.cidr: Required value]',
      fields: ['spec.networkPolicy.ingressFrom[0].ipBlock.cidr', 'spec.networkPolicy.egress[0].to[0].ipBlock.cidr'],
    });
    const typed =
      'failed to create typed patch object (/v1, Kind=Deployment): .spec.template.spec.tolerations[0].efect: field not declared in schema';
    expect(translateChildPaths(stdio, 'Deployment', typed).message).toBe(
      'failed to create typed patch object (/v1, Kind=Deployment): spec.pod.tolerations[0].efect: field not declared in schema',
    );
  });

  it("leaves the operator's own fields and other text alone", () => {
    const refusal = 'Deployment.apps "github" is invalid: spec.selector: Invalid value: immutable; see metadata.labels';
    expect(translateChildPaths(stdio, 'Deployment', refusal)).toEqual({ message: refusal, fields: [] });
  });
});

describe('virtualServerField, through translatePaths', () => {
  const translateVirtualChildPaths = (v: VirtualMcpServer, kind: string, message: string) =>
    translatePaths(message, (p) => virtualServerField(v, kind, p));
  const vmcp = (networkPolicy?: object) =>
    virtualServer('agg', {
      servers: [{ name: 'a' }],
      ...(networkPolicy ? { networkPolicy } : {}),
    }) as unknown as VirtualMcpServer;
  const refusal =
    'NetworkPolicy.networking.k8s.io "agg" is invalid: [spec.ingress[0].from[0].ipBlock.cidr: Invalid value: "10.0.0.0/33", spec.egress[0].to[0].ipBlock.cidr: Invalid value: "10.1.0.0/33", spec.egress[2].ports[0].port: Invalid value]';

  it("names the VirtualMcpServer's own networkPolicy fields", () => {
    const policy = {
      ingressFrom: [{ ipBlock: { cidr: '10.0.0.0/33' } }],
      egress: [{ to: [{ ipBlock: { cidr: '10.1.0.0/33' } }] }],
    };
    const { message, fields } = translateVirtualChildPaths(vmcp(policy), 'NetworkPolicy', refusal);
    expect(fields).toEqual([
      'spec.networkPolicy.ingressFrom[0].ipBlock.cidr',
      'spec.networkPolicy.egress[0].to[0].ipBlock.cidr',
    ]);
    // egress[2] is the operator's own rule (after the user's one and DNS): left as the API server said it.
    expect(message).toContain('spec.egress[2].ports[0].port');
    expect(message).toContain('spec.networkPolicy.egress[0].to[0].ipBlock.cidr: Invalid value: "10.1.0.0/33"');
  });

  it('maps nothing it cannot place: another kind, or no networkPolicy in the spec', () => {
    expect(translateVirtualChildPaths(vmcp(), 'NetworkPolicy', refusal).fields).toEqual([]);
    const deployment = 'Deployment.apps "agg" is invalid: spec.template.spec.containers[0].image: Required value';
    expect(translateVirtualChildPaths(vmcp({ egress: [] }), 'Deployment', deployment)).toEqual({
      message: deployment,
      fields: [],
    });
  });
});
