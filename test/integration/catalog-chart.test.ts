/**
 * The chart's catalog Deployment with careless values, rendered by the real helm: a newline, ": " or " #" in a
 * value must arrive as one argument, exactly, never as an extra argument or a YAML mapping.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { controlPlaneBinaries } from '../../src/local-cluster/control-plane.ts';

const ROOT = resolve(import.meta.dirname, '../..');
let helm: string;
let work: string;

beforeAll(async () => {
  helm = join(await controlPlaneBinaries(['helm']), 'helm');
  work = mkdtempSync(join(tmpdir(), 'catalog-chart-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Container {
  args: unknown[];
  volumeMounts?: unknown[];
}
interface Rendered {
  kind: string;
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { template?: { spec?: { containers: Container[]; volumes?: Array<{ secret?: unknown }> } } };
}

async function catalogDeployment(values: object): Promise<Rendered> {
  const file = join(work, `values-${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, stringify(values));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HELM_CACHE_HOME: work,
    HELM_CONFIG_HOME: work,
    HELM_DATA_HOME: work,
  };
  delete env.KUBECONFIG;
  const stdout = await new Promise<string>((ok, fail) =>
    // spawns: helm
    execFile(
      helm,
      ['template', 'it', join(ROOT, 'charts/mcp-operator'), '-f', file],
      { env, maxBuffer: 64 * 1024 * 1024 },
      (err, out, stderr) => (err ? fail(new Error(stderr)) : ok(out)),
    ),
  );
  const docs = parseAllDocuments(stdout).map((d) => d.toJSON() as Rendered | null);
  const found = docs.find(
    (d) => d?.kind === 'Deployment' && d.metadata.labels?.['app.kubernetes.io/component'] === 'catalog',
  );
  if (!found) throw new Error('no catalog Deployment rendered');
  return found;
}

async function refusal(values: object): Promise<string> {
  try {
    await catalogDeployment(values);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('helm rendered it');
}

const HOSTILE = 'aud\n            - --auth-token-file=/etc/passwd';

describe('the catalog chart with careless values', () => {
  it('passes OIDC values with a newline, ": " or " #" as single, exact arguments', async () => {
    const d = await catalogDeployment({
      catalog: {
        enabled: true,
        auth: { oidc: { issuer: 'https://id.example.com/realms/a b', audience: HOSTILE, jwksURL: 'https://x: y #1' } },
      },
    });
    const args = d.spec?.template?.spec?.containers[0]?.args ?? [];
    for (const a of args) expect(typeof a, JSON.stringify(a)).toBe('string');
    expect(args).toContain('--oidc-issuer=https://id.example.com/realms/a b');
    expect(args).toContain(`--oidc-audience=${HOSTILE}`);
    expect(args).toContain('--oidc-jwks-url=https://x: y #1');
    expect(args.filter((a) => String(a).startsWith('--auth-token-file'))).toEqual([]);
  });

  it('passes the bearer Secret key as given, never splitting it', async () => {
    const d = await catalogDeployment({
      catalog: {
        enabled: true,
        auth: { bearer: { secretRef: { name: 'tokens: x', key: 'token #2' } } },
        ingress: { host: 'mcp.example.test', path: '/tools/catalog' },
      },
    });
    const spec = d.spec?.template?.spec;
    const args = spec?.containers[0]?.args ?? [];
    for (const a of args) expect(typeof a, JSON.stringify(a)).toBe('string');
    expect(args).toContain('--auth-token-file=/etc/mcp-operator-catalog/tokens/token #2');
    expect(args).toContain('--base-path=/tools/catalog');
    expect(spec?.volumes?.find((v) => v.secret)?.secret).toEqual({
      secretName: 'tokens: x',
      items: [{ key: 'token #2', path: 'token #2' }],
    });
  });

  it.each(['ingress', 'httpRoute'])('refuses a %s path the catalog cannot serve under, naming it', async (via) => {
    const route = via === 'ingress' ? { host: 'mcp.example.test' } : { parentRefs: [{ name: 'gw' }] };
    const message = await refusal({ catalog: { enabled: true, [via]: { ...route, path: '/cat: alog' } } });
    expect(message).toContain(`/catalog/${via}/path`);
  });
});
