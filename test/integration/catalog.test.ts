// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Cursor's own ${env:...} reference
/**
 * The catalog on real parts: the real API server, the real controller writing McpServer status, the real
 * `mcp-operator catalog` process running with the chart's own ServiceAccount and ClusterRole (a real token), its
 * registry API checked against the official MCP Registry schemas, and its page in Debian's headless Chromium:
 * rows, reasons and exact snippets in the DOM, a status change arriving without a reload, the search and the
 * namespace filter, bearer auth, and a screenshot kept in .scratch/artifacts/catalog.png.
 *
 * In the second namespace no controller runs: the test writes McpServer status itself (as the controller
 * would with running pods, which this API server has no kubelet for), to show Ready servers with tools.
 */

import { execFile } from 'node:child_process';
import { generateKeyPairSync, sign } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { KubeConfig, type V1Deployment, type V1Ingress, type V1PolicyRule } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import type { McpServer } from '../../src/api/types.generated.ts';
import { catalogRules } from '../../src/catalog/rbac.ts';
import type { ServerList, ServerResponse } from '../../src/catalog/registry.ts';
import { CONTENT_SECURITY_POLICY } from '../../src/catalog/server.ts';
import { KubeApiError, KubeClient } from '../../src/kube/client.ts';
import { controlPlaneBinaries } from '../../src/local-cluster/control-plane.ts';
import { httpServer, stdioServer } from '../fixtures/manifests.ts';
import { type CatalogProcess, startCatalog } from '../support/catalog-process.ts';
import { Browser, type Page } from '../support/chromium.ts';
import { type ControllerProcess, startController } from '../support/controller-process.ts';
import { adminClient, createRestrictedNamespace, eventually, resourcePath, T } from '../support/kube.ts';
import { registryValidators } from '../support/registry-schema.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ARTIFACTS = join(ROOT, '.scratch/artifacts');
const PREFIX = 'com.example.test';
type K8sObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
};

let admin: KubeClient;
let work: string;
let sys: string;
let nsA: string;
let nsB: string;
let chart: K8sObject[];
let saKubeconfig: string;
let controller: ControllerProcess;
let catalog: CatalogProcess;
let browser: Browser;
let page: Page;
const created: string[] = [];
const v = registryValidators();

let helmBin: string;

function helmRun(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: work,
    HELM_CONFIG_HOME: work,
    HELM_DATA_HOME: work,
  };
  delete env.KUBECONFIG;
  return new Promise((ok) =>
    // spawns: helm
    execFile(helmBin, args, { env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) =>
      ok({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

function helmTemplate(helm: string, namespace: string): Promise<K8sObject[]> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: work,
    HELM_CONFIG_HOME: work,
    HELM_DATA_HOME: work,
  };
  delete env.KUBECONFIG;
  return new Promise((ok, fail) =>
    // spawns: helm
    execFile(
      helm,
      [
        'template',
        'catalog-it',
        join(ROOT, 'charts/mcp-operator'),
        '--namespace',
        namespace,
        '--set',
        'catalog.enabled=true',
      ],
      { env, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err
          ? fail(new Error(stderr))
          : ok(
              parseAllDocuments(stdout)
                .map((d) => d.toJSON() as K8sObject | null)
                .filter((o): o is K8sObject => o !== null),
            ),
    ),
  );
}

const catalogObject = (kind: string) => {
  const found = chart.filter(
    (o) => o.kind === kind && o.metadata.labels?.['app.kubernetes.io/component'] === 'catalog',
  );
  expect(found, kind).toHaveLength(1);
  return found[0] as K8sObject;
};

/** A kubeconfig for the API server with only this ServiceAccount's token. */
async function serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
  const request = await admin.create<{ status: { token: string } }>(
    resourcePath(T.serviceaccounts, { namespace, name, subresource: 'token' }),
    { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } },
  );
  const kc = new KubeConfig();
  kc.loadFromFile(inject('adminKubeconfig'));
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('no cluster in the admin kubeconfig');
  const sa = new KubeConfig();
  sa.loadFromOptions({
    clusters: [cluster],
    users: [{ name: 'catalog', token: request.status.token }],
    contexts: [{ name: 'catalog', cluster: cluster.name, user: 'catalog' }],
    currentContext: 'catalog',
  });
  const path = join(work, 'catalog.kubeconfig');
  writeFileSync(path, sa.exportConfig());
  return path;
}

async function createMcp(namespace: string, manifest: ReturnType<typeof stdioServer>) {
  await admin.create(resourcePath(T.mcpservers, { namespace }), manifest);
}

/** What the controller writes once the pods run: Ready, the URLs, the server's info and tools. */
async function writeStatus(namespace: string, name: string, status: Record<string, unknown>) {
  await admin.mergePatch(resourcePath(T.mcpservers, { namespace, name, subresource: 'status' }), { status });
}

const readyStatus = (namespace: string, name: string, tools: string[], version: string) => ({
  observedGeneration: 1,
  url: `http://${name}.${namespace}.svc:8080/mcp`,
  externalURL: `https://mcp.example.test/${name}/mcp`,
  conditions: [
    {
      type: 'Ready',
      status: 'True',
      reason: 'Ready',
      message: 'all wanted replicas are updated and ready',
      lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    },
  ],
  serverInfo: { name: `${name}-mcp`, version, protocolVersion: '2025-11-25' },
  tools,
});

const live = (namespace: string, name: string) => admin.get<McpServer>(resourcePath(T.mcpservers, { namespace, name }));

const text = (key: string, selector: string) =>
  page.evaluate<string | null>(
    `document.querySelector(${JSON.stringify(`article[data-key="${key}"] ${selector}`)})?.textContent ?? null`,
  );
const rows = () =>
  page.evaluate<string[]>(`[...document.querySelectorAll('article.server')].map((a) => a.dataset.key)`);

beforeAll(async () => {
  const helm = join(await controlPlaneBinaries(['helm']), 'helm');
  helmBin = helm;
  work = mkdtempSync(join(tmpdir(), 'mcp-operator-catalog-'));
  admin = adminClient(inject('adminKubeconfig'));
  sys = await createRestrictedNamespace(admin, 'catalog-sys');
  nsA = await createRestrictedNamespace(admin, 'catalog-a');
  nsB = await createRestrictedNamespace(admin, 'catalog-b');
  for (const ns of [sys, nsA, nsB]) created.push(resourcePath(T.namespaces, { name: ns }));

  // The chart's own ServiceAccount, ClusterRole and binding for the catalog, applied as rendered.
  chart = await helmTemplate(helm, sys);
  for (const kind of ['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding']) {
    const object = catalogObject(kind);
    const type = {
      ServiceAccount: T.serviceaccounts,
      ClusterRole: T.clusterroles,
      ClusterRoleBinding: T.clusterrolebindings,
    }[kind];
    if (!type) throw new Error(kind);
    const namespace = kind === 'ServiceAccount' ? sys : undefined;
    await admin.create(resourcePath(type, { namespace }), object);
    created.push(resourcePath(type, { namespace, name: object.metadata.name }));
  }
  saKubeconfig = await serviceAccountKubeconfig(sys, catalogObject('ServiceAccount').metadata.name);

  controller = startController({ kubeconfig: inject('controllerKubeconfig'), namespaces: [nsA], leaderElect: false });
  await createMcp(nsA, stdioServer('everything', { description: 'The MCP reference server' }));
  await createMcp(
    nsA,
    stdioServer('github', {
      title: 'GitHub',
      description: 'Issues and pull requests',
      auth: { bearer: { secretRef: { name: 'github-tokens' } } },
    }),
  );
  await createMcp(
    nsB,
    httpServer('postgres', { title: 'Postgres', description: 'Read-only SQL on the analytics replica' }),
  );
  await writeStatus(nsB, 'postgres', readyStatus(nsB, 'postgres', ['query', 'list_tables', 'describe_table'], '0.8.1'));
  await createMcp(
    nsB,
    httpServer('docs', {
      title: 'Docs search',
      description: 'Searches the internal handbook',
      auth: { bearer: { secretRef: { name: 'docs-tokens' } } },
    }),
  );
  await writeStatus(nsB, 'docs', readyStatus(nsB, 'docs', ['search', 'fetch_page'], '2.3.0'));
  // The controller has given both of its servers a URL and a reason.
  for (const name of ['everything', 'github'])
    await eventually(`status of ${nsA}/${name}`, async () => {
      const m = await live(nsA, name);
      return m.status?.url && m.status.conditions?.some((c) => c.type === 'Ready') ? m : undefined;
    });

  catalog = await startCatalog({ kubeconfig: saKubeconfig, args: [`--name-prefix=${PREFIX}`] });
  browser = await Browser.launch();
  page = await browser.newPage(1280, 1000);
}, 600_000);

afterAll(async () => {
  await browser?.close();
  await catalog?.stop();
  await controller?.stop();
  for (const path of created.reverse()) await admin?.delete(path).catch(() => {});
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('the catalog', () => {
  it('gets exactly the rules of src/catalog/rbac.ts from the chart, and a restricted pod', () => {
    expect(catalogObject('ClusterRole').rules as V1PolicyRule[]).toEqual(catalogRules);
    expect(catalogObject('ServiceAccount').automountServiceAccountToken).toBe(false);
    const pod = (catalogObject('Deployment') as unknown as V1Deployment).spec?.template.spec;
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod?.containers[0]?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
  });

  it('renders every catalog option (ci/catalog-values.yaml), refuses bad values, and runs under restricted', async () => {
    const chartDir = join(ROOT, 'charts/mcp-operator');
    const values = join(chartDir, 'ci/catalog-values.yaml');
    const lint = await helmRun(['lint', '--strict', chartDir, '-f', values]);
    expect(lint.code, lint.stdout + lint.stderr).toBe(0);
    const rendered = await helmRun(['template', 'catalog-it', chartDir, '-n', sys, '-f', values]);
    expect(rendered.code, rendered.stderr).toBe(0);
    const objects = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJSON() as K8sObject | null)
      .filter((o): o is K8sObject => o?.metadata.labels?.['app.kubernetes.io/component'] === 'catalog');
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'ClusterRole',
      'ClusterRoleBinding',
      'Deployment',
      'HTTPRoute',
      'Ingress',
      'Service',
      'ServiceAccount',
    ]);
    const deployment = objects.find((o) => o.kind === 'Deployment') as unknown as V1Deployment;
    expect(deployment.spec?.template.spec?.containers[0]?.args).toEqual([
      'catalog',
      '--listen=0.0.0.0:8080',
      '--name-prefix=com.example.cluster',
      '--log-level=info',
      '--auth-token-file=/etc/mcp-operator-catalog/tokens/token',
    ]);
    expect(deployment.spec?.template.spec?.volumes?.find((vol) => vol.name === 'tokens')?.secret?.secretName).toBe(
      'catalog-tokens',
    );
    const ingress = objects.find((o) => o.kind === 'Ingress') as unknown as V1Ingress;
    expect(ingress.spec).toMatchObject({
      ingressClassName: 'nginx',
      tls: [{ hosts: ['catalog.example.com'], secretName: 'catalog-tls' }],
    });
    expect(ingress.metadata?.annotations?.['nginx.ingress.kubernetes.io/proxy-buffering']).toBe('off');
    // The API server takes the Service, Ingress and Deployment as rendered, and the Deployment's pod passes Pod
    // Security "restricted" in a namespace that enforces it (the ReplicaSet controller creates the Pod).
    const types = { Service: T.services, Ingress: T.ingresses, Deployment: T.deployments } as const;
    for (const o of objects) {
      const type = types[o.kind as keyof typeof types];
      if (!type) continue;
      await admin.create(resourcePath(type, { namespace: sys }), o);
      created.push(resourcePath(type, { namespace: sys, name: o.metadata.name }));
    }
    // Same release as beforeAll's, so the pod's ServiceAccount is the one already applied.
    await eventually('a catalog Pod admitted under restricted', async () => {
      const sets = await admin.list<{ status?: { conditions?: Array<{ type: string; message?: string }> } }>(
        resourcePath(T.replicasets, { namespace: sys }),
      );
      const failure = sets.items.flatMap((r) => r.status?.conditions ?? []).find((c) => c.type === 'ReplicaFailure');
      if (failure) throw new Error(`the ReplicaSet cannot create the pod: ${failure.message}`);
      const pods = await admin.list<{ metadata: { labels?: Record<string, string> } }>(
        resourcePath(T.pods, { namespace: sys }),
      );
      return pods.items.some((p) => p.metadata.labels?.['app.kubernetes.io/component'] === 'catalog')
        ? true
        : undefined;
    });

    // With rbac.namespaced, a Role per watched namespace and no cluster-wide grant; rbac.create=false: none.
    const kindsOf = async (...args: string[]) => {
      const out = await helmRun(['template', 'x', chartDir, '--set', 'catalog.enabled=true', ...args]);
      expect(out.code, out.stderr).toBe(0);
      return parseAllDocuments(out.stdout)
        .map((d) => d.toJSON() as K8sObject | null)
        .filter((o): o is K8sObject => o?.metadata.labels?.['app.kubernetes.io/component'] === 'catalog');
    };
    const namespaced = await kindsOf('--set', 'rbac.namespaced=true', '--set', 'watchNamespaces={a,b}');
    expect(namespaced.filter((o) => o.kind.startsWith('Cluster'))).toEqual([]);
    const roles = namespaced.filter((o) => o.kind === 'Role');
    expect(roles.map((r) => r.metadata.namespace)).toEqual(['a', 'b']);
    for (const role of roles) expect(role.rules).toEqual(catalogRules);
    expect(namespaced.filter((o) => o.kind === 'RoleBinding').map((r) => r.metadata.namespace)).toEqual(['a', 'b']);
    expect((await kindsOf('--set', 'rbac.create=false')).filter((o) => o.kind.includes('Role'))).toEqual([]);

    const refusals: Array<[string[], string]> = [
      [['--set', 'catalog.namePrefix=not a prefix'], 'namePrefix'],
      [['--set', 'catalog.auth.oidc.issuer=http://id.example.com'], 'issuer'],
      [['--set', 'catalog.colour=blue'], 'colour'],
      [
        ['--set', 'catalog.auth.bearer.secretRef.name=t', '--set', 'catalog.auth.oidc.issuer=https://id.example.com'],
        'set one of bearer.secretRef.name or oidc.issuer',
      ],
    ];
    for (const [args, needle] of refusals) {
      const refused = await helmRun(['template', 'x', chartDir, '--set', 'catalog.enabled=true', ...args]);
      expect(refused.code, args.join(' ')).not.toBe(0);
      expect(refused.stderr, args.join(' ')).toContain(needle);
    }
  });

  it('runs with a ServiceAccount token that reads McpServers and nothing else: no Secret, no write', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(saKubeconfig);
    const sa = new KubeClient(kc);
    await admin.create(resourcePath(T.secrets, { namespace: nsA }), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'unrelated' },
      stringData: { password: 'not-for-the-catalog' },
    });
    const status = async (p: Promise<unknown>) => {
      try {
        await p;
        return 200;
      } catch (err) {
        if (err instanceof KubeApiError) return err.status;
        throw err;
      }
    };
    expect(await status(sa.list(resourcePath(T.mcpservers)))).toBe(200);
    expect(await status(sa.get(resourcePath(T.mcpservers, { namespace: nsA, name: 'github' })))).toBe(200);
    expect(await status(sa.get(resourcePath(T.secrets, { namespace: nsA, name: 'unrelated' })))).toBe(403);
    expect(await status(sa.list(resourcePath(T.secrets)))).toBe(403);
    expect(await status(sa.list(resourcePath(T.pods, { namespace: nsA })))).toBe(403);
    expect(await status(sa.create(resourcePath(T.mcpservers, { namespace: nsA }), stdioServer('intruder')))).toBe(403);
    expect(
      await status(
        sa.mergePatch(resourcePath(T.mcpservers, { namespace: nsA, name: 'github', subresource: 'status' }), {
          status: {},
        }),
      ),
    ).toBe(403);
    // Granted, so never Forbidden: 404 while the VirtualMcpServer CRD is not installed.
    expect(
      await status(sa.list(resourcePath({ apiVersion: 'mcpoperator.io/v1alpha1', plural: 'virtualmcpservers' }))),
    ).not.toBe(403);
  });

  it('serves the MCP Registry read API, every response valid against the official schemas', async () => {
    const get = async <B = ServerList>(path: string) => {
      const res = await fetch(`${catalog.url}${path}`);
      return { status: res.status, body: (await res.json()) as B, headers: res.headers };
    };
    const list = await get(`/v0.1/servers?search=${encodeURIComponent(`${PREFIX}.${nsB}/`)}`);
    expect(list.status).toBe(200);
    expect(v.list(list.body), JSON.stringify(v.list.errors)).toBe(true);
    expect(list.body.servers.map((s) => s.server.name)).toEqual([`${PREFIX}.${nsB}/docs`, `${PREFIX}.${nsB}/postgres`]);
    const postgres = list.body.servers[1];
    expect(postgres?.server).toMatchObject({
      name: `${PREFIX}.${nsB}/postgres`,
      title: 'Postgres',
      description: 'Read-only SQL on the analytics replica',
      version: '0.8.1',
      remotes: [
        { type: 'streamable-http', url: 'https://mcp.example.test/postgres/mcp' },
        { type: 'sse', url: 'https://mcp.example.test/postgres/sse' },
        { type: 'streamable-http', url: `http://postgres.${nsB}.svc:8080/mcp` },
        { type: 'sse', url: `http://postgres.${nsB}.svc:8080/sse` },
      ],
    });
    expect(list.body.servers[0]?.server.remotes[0]?.headers).toEqual([
      expect.objectContaining({ name: 'Authorization', isSecret: true, value: 'Bearer {token}' }),
    ]);

    const name = encodeURIComponent(`${PREFIX}.${nsB}/postgres`);
    for (const path of [
      `/v0.1/servers/${name}/versions/latest`,
      `/v0.1/servers/${name}/versions/0.8.1`,
      `/v0/servers/${name}/versions/latest`,
    ]) {
      const one = await get<ServerResponse>(path);
      expect(one.status, path).toBe(200);
      expect(v.response(one.body), JSON.stringify(v.response.errors)).toBe(true);
      expect(one.body.server.name).toBe(`${PREFIX}.${nsB}/postgres`);
    }
    const versions = await get(`/v0.1/servers/${name}/versions`);
    expect(v.list(versions.body)).toBe(true);
    expect(versions.body.servers.map((s) => s.server.version)).toEqual(['0.8.1']);
    for (const path of [
      `/v0.1/servers/${name}/versions/9.9.9`,
      `/v0.1/servers/${encodeURIComponent(`${PREFIX}.${nsB}/nope`)}/versions`,
    ]) {
      const missing = await get(path);
      expect(missing.status, path).toBe(404);
      expect(v.error(missing.body)).toBe(true);
    }

    // Paging by cursor over both namespaces, page by page.
    const names: string[] = [];
    let cursor = '';
    do {
      const page = await get(
        `/v0.1/servers?limit=1&search=${encodeURIComponent(PREFIX)}${cursor ? `&cursor=${cursor}` : ''}`,
      );
      expect(v.list(page.body), JSON.stringify(v.list.errors)).toBe(true);
      names.push(...page.body.servers.map((s) => s.server.name));
      cursor = page.body.metadata.nextCursor ?? '';
    } while (cursor);
    expect(names.filter((n) => n.includes('.catalog-'))).toEqual(
      [`${nsA}/everything`, `${nsA}/github`, `${nsB}/docs`, `${nsB}/postgres`].map((n) => `${PREFIX}.${n}`),
    );

    expect((await get('/v0.1/servers?limit=0')).status).toBe(400);
    const post = await fetch(`${catalog.url}/v0.1/servers`, { method: 'POST', body: '{}' });
    expect(post.status).toBe(405);
    expect(list.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('shows every server with Ready, its reason, URL, transport, auth, tools and exact snippets', async () => {
    const res = await fetch(`${catalog.url}/`);
    expect(res.headers.get('content-security-policy')).toBe(CONTENT_SECURITY_POLICY);
    expect(CONTENT_SECURITY_POLICY).toContain("frame-ancestors 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toContain('unsafe-inline');
    expect(res.headers.get('x-frame-options')).toBe('DENY');

    await page.goto(catalog.url);
    const postgres = `McpServer/${nsB}/postgres`;
    const github = `McpServer/${nsA}/github`;
    await page.waitFor(`document.querySelector('#live').dataset.state === 'live'`);
    // Without auth there is nothing to sign in to: the form is not just marked hidden, it is not displayed.
    expect(await page.evaluate<boolean>(`document.querySelector('#login').checkVisibility()`)).toBe(false);
    const githubLive = await live(nsA, 'github');
    const githubReady = githubLive.status?.conditions?.find((c) => c.type === 'Ready');
    await page.waitFor(
      `document.querySelector('article[data-key="${github}"] .reason')?.textContent === ${JSON.stringify(githubReady?.reason)}`,
    );
    expect(await rows()).toEqual(
      expect.arrayContaining([`McpServer/${nsA}/everything`, github, `McpServer/${nsB}/docs`, postgres]),
    );
    expect(await page.evaluate<number>(`document.querySelectorAll('script:not([src]), [style]').length`)).toBe(0);

    expect(await text(postgres, '.title')).toBe('Postgres');
    expect(await text(postgres, '.ready')).toBe('Ready: True');
    expect(await text(postgres, '.reason')).toBe('Ready');
    expect(await text(postgres, '.url')).toBe('https://mcp.example.test/postgres/mcp');
    expect(await text(postgres, '.transport')).toBe('streamable-http');
    expect(await text(postgres, '.auth')).toBe('none');
    expect(
      await page.evaluate<string[]>(
        `[...document.querySelectorAll('article[data-key="${postgres}"] li[data-tool]')].map((l) => l.dataset.tool)`,
      ),
    ).toEqual(['query', 'list_tables', 'describe_table']);
    expect(await text(postgres, 'pre[data-client="claude-code"]')).toBe(
      'claude mcp add --transport http postgres https://mcp.example.test/postgres/mcp\n',
    );
    await page.evaluate(
      `document.querySelector('article[data-key="${postgres}"] button[data-client="vscode"]').click()`,
    );
    expect(JSON.parse((await text(postgres, 'pre[data-client="vscode"]')) ?? '')).toEqual({
      servers: { postgres: { type: 'http', url: 'https://mcp.example.test/postgres/mcp' } },
    });

    expect(githubReady?.status).toBe('False');
    expect(await text(github, '.ready')).toBe('Ready: False');
    expect(await text(github, '.message')).toBe(githubReady?.message);
    expect(await text(github, '.auth')).toBe('bearer');
    expect(await text(github, '.transport')).toBe('stdio');
    expect(await text(github, 'pre[data-client="claude-code"]')).toBe(
      `claude mcp add --transport http github ${githubLive.status?.url} --header "Authorization: Bearer $MCP_TOKEN_GITHUB"\n`,
    );
  });

  it('filters by search and by namespace', async () => {
    const ours = async () => (await rows()).filter((k) => k.includes('/catalog-'));
    await page.evaluate(
      `(() => { const s = document.querySelector('#search'); s.value = 'handbook'; s.dispatchEvent(new Event('input')); })()`,
    );
    expect(await ours()).toEqual([`McpServer/${nsB}/docs`]);
    await page.evaluate(
      `(() => { const s = document.querySelector('#search'); s.value = ''; s.dispatchEvent(new Event('input')); })()`,
    );
    await page.evaluate(
      `(() => { const n = document.querySelector('#namespace'); n.value = ${JSON.stringify(nsA)}; n.dispatchEvent(new Event('change')); })()`,
    );
    expect(await ours()).toEqual([`McpServer/${nsA}/everything`, `McpServer/${nsA}/github`]);
    await page.evaluate(
      `(() => { const n = document.querySelector('#namespace'); n.value = ''; n.dispatchEvent(new Event('change')); })()`,
    );
  });

  it('shows a status change live, without a reload', async () => {
    const github = `McpServer/${nsA}/github`;
    // Its Secret is missing: the controller says so, and so does the page.
    await page.waitFor(
      `document.querySelector('article[data-key="${github}"] .reason')?.textContent === 'SecretNotFound'`,
    );
    await page.evaluate('window.__sameDocument = true');
    // The missing Secret arrives: the controller moves on, the catalog's watch sees it, the page follows.
    await admin.create(resourcePath(T.secrets, { namespace: nsA }), {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 'github-tokens' },
      stringData: { token: 'only-the-gateway-reads-this' },
    });
    const after = await eventually('a new Ready reason for github', async () => {
      const reason = (await live(nsA, 'github')).status?.conditions?.find((c) => c.type === 'Ready')?.reason;
      return reason && reason !== 'SecretNotFound' ? reason : undefined;
    });
    await page.waitFor(
      `document.querySelector('article[data-key="${github}"] .reason')?.textContent === ${JSON.stringify(after)}`,
    );
    expect(await page.evaluate<boolean>('window.__sameDocument === true')).toBe(true);
    expect(await page.evaluate<string>('document.body.textContent')).not.toContain('only-the-gateway-reads-this');

    mkdirSync(ARTIFACTS, { recursive: true });
    writeFileSync(join(ARTIFACTS, 'catalog.png'), await page.screenshot());

    // Servers that come and go appear and disappear the same way.
    await createMcp(nsB, httpServer('memory', { description: 'A knowledge graph' }));
    await page.waitFor(`document.querySelector('article[data-key="McpServer/${nsB}/memory"]')`);
    await admin.delete(resourcePath(T.mcpservers, { namespace: nsA, name: 'everything' }));
    await page.waitFor(`!document.querySelector('article[data-key="McpServer/${nsA}/everything"]')`);
    expect(await page.evaluate<boolean>('window.__sameDocument === true')).toBe(true);
  });

  it("connect prints the same snippet from the live cluster, with only the catalog's read access", async () => {
    const connect = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((ok) =>
        execFile(
          process.execPath,
          [join(ROOT, 'src/cli/main.ts'), 'connect', ...args, `--kubeconfig=${saKubeconfig}`],
          (err, stdout, stderr) => ok({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const code = await connect(['postgres', '-n', nsB, '--client', 'claude-code']);
    expect(code).toMatchObject({
      code: 0,
      stdout: 'claude mcp add --transport http postgres https://mcp.example.test/postgres/mcp\n',
    });
    const cursor = await connect(['docs', '-n', nsB, '--client', 'cursor']);
    expect(cursor.code).toBe(0);
    expect(JSON.parse(cursor.stdout)).toEqual({
      mcpServers: {
        docs: { url: 'https://mcp.example.test/docs/mcp', headers: { Authorization: 'Bearer ${env:MCP_TOKEN_DOCS}' } },
      },
    });
    expect(cursor.stderr).toContain('.cursor/mcp.json');
    const missing = await connect(['nope', '-n', nsB, '--client', 'vscode']);
    expect(missing).toMatchObject({ code: 1, stdout: '' });
    expect(missing.stderr).toContain(`no McpServer or VirtualMcpServer ${nsB}/nope`);
    const bad = await connect(['postgres', '-n', nsB, '--client', 'emacs']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--client must be one of claude-code, claude-desktop, vscode, cursor, sdk');
  });

  it('with bearer auth, refuses the data without a token and the page asks for one', async () => {
    const tokenFile = join(work, 'tokens');
    writeFileSync(tokenFile, 'catalog-test-token\n');
    const guarded = await startCatalog({ kubeconfig: saKubeconfig, args: [`--auth-token-file=${tokenFile}`] });
    try {
      for (const path of ['/v0.1/servers', '/api/catalog', '/api/events']) {
        const res = await fetch(`${guarded.url}${path}`);
        expect(res.status, path).toBe(401);
        expect(res.headers.get('www-authenticate')).toContain('Bearer');
      }
      const wrong = await fetch(`${guarded.url}/v0.1/servers`, { headers: { authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      const ok = await fetch(`${guarded.url}/v0.1/servers`, {
        headers: { authorization: 'Bearer catalog-test-token' },
      });
      expect(ok.status).toBe(200);
      expect(v.list(await ok.json())).toBe(true);

      const p = await browser.newPage();
      await p.goto(guarded.url);
      await p.waitFor(`document.querySelector('#login').checkVisibility()`);
      expect(await p.evaluate<number>(`document.querySelectorAll('article.server').length`)).toBe(0);
      await p.evaluate(
        `(() => { document.querySelector('#token').value = 'catalog-test-token'; document.querySelector('#login').requestSubmit(); })()`,
      );
      await p.waitFor(`document.querySelector('article[data-key="McpServer/${nsB}/postgres"]')`);
      expect(await p.evaluate<boolean>(`document.querySelector('#login').checkVisibility()`)).toBe(false);
    } finally {
      await guarded.stop();
    }
  });
  it('serves page and API under a base path routed without rewriting, probes at the root', async () => {
    const prefixed = await startCatalog({ kubeconfig: saKubeconfig, args: ['--base-path=/catalog/'] });
    try {
      const redirect = await fetch(`${prefixed.url}/catalog`, { redirect: 'manual' });
      expect(redirect.status).toBe(308);
      expect(redirect.headers.get('location')).toBe('/catalog/');
      expect((await fetch(`${prefixed.url}/v0.1/servers`)).status).toBe(404);
      expect((await fetch(`${prefixed.url}/healthz`)).status).toBe(200);
      expect((await fetch(`${prefixed.url}/readyz`)).status).toBe(200);
      const list = await fetch(`${prefixed.url}/catalog/v0.1/servers?search=${encodeURIComponent(nsB)}`);
      expect(v.list(await list.json())).toBe(true);
      const p = await browser.newPage();
      await p.goto(`${prefixed.url}/catalog`);
      await p.waitFor(`document.querySelector('article[data-key="McpServer/${nsB}/postgres"]')`);
      expect(await p.evaluate<string>('location.pathname')).toBe('/catalog/');
    } finally {
      await prefixed.stop();
    }
  });

  it('bounds the open event streams: one more gets 503 with Retry-After', async () => {
    const capped = await startCatalog({ kubeconfig: saKubeconfig, args: ['--max-event-streams=2'] });
    const aborts = [new AbortController(), new AbortController()];
    try {
      for (const a of aborts) {
        const res = await fetch(`${capped.url}/api/events`, { signal: a.signal });
        expect(res.status).toBe(200);
      }
      const third = await fetch(`${capped.url}/api/events`);
      expect(third.status).toBe(503);
      expect(third.headers.get('retry-after')).toBe('10');
      // A closed stream frees its place.
      aborts[0]?.abort();
      await eventually('a free stream slot', async () => {
        const res = await fetch(`${capped.url}/api/events`);
        if (res.status !== 200) return undefined;
        await res.body?.cancel();
        return true;
      });
    } finally {
      for (const a of aborts) a.abort();
      await capped.stop();
    }
  });

  it('with OIDC, takes only a JWT from the issuer for its audience (the gateway authenticator)', async () => {
    const key = generateKeyPairSync('rsa', { modulusLength: 2048 });
    let issuer = '';
    const idp = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      if (req.url === '/.well-known/openid-configuration')
        res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks` }));
      else if (req.url === '/jwks')
        res.end(
          JSON.stringify({
            keys: [{ ...key.publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }],
          }),
        );
      else res.writeHead(404).end('{}');
    });
    await new Promise<void>((r) => idp.listen(0, '127.0.0.1', r));
    issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}`;
    const jwt = (claims: Record<string, unknown>) => {
      const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
      const data = `${enc({ alg: 'RS256', kid: 'k1', typ: 'JWT' })}.${enc(claims)}`;
      return `${data}.${sign('sha256', Buffer.from(data), key.privateKey).toString('base64url')}`;
    };
    const exp = Math.floor(Date.now() / 1000) + 300;
    const guarded = await startCatalog({
      kubeconfig: saKubeconfig,
      args: [`--oidc-issuer=${issuer}`, '--oidc-audience=catalog'],
    });
    try {
      const status = async (token?: string) =>
        (await fetch(`${guarded.url}/v0.1/servers`, token ? { headers: { authorization: `Bearer ${token}` } } : {}))
          .status;
      expect(await status()).toBe(401);
      expect(await status(jwt({ iss: issuer, aud: 'someone-else', sub: 'alice', exp }))).toBe(401);
      expect(await status(jwt({ iss: 'https://elsewhere.example.com', aud: 'catalog', sub: 'alice', exp }))).toBe(401);
      expect(await status(jwt({ iss: issuer, aud: 'catalog', sub: 'alice', exp }))).toBe(200);
    } finally {
      await guarded.stop();
      await new Promise((r) => idp.close(r));
    }
  });
});
