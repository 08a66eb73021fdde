/**
 * The Gateway API CRDs (standard channel, the version Traefik implements), from the sigs.k8s.io/gateway-api Go
 * module through scripts/traefik.sh (module cache, nothing committed), installed into a real API server.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { isNotFound, type KubeClient, resourcePath } from '../../src/kube/client.ts';

const SCRIPT = resolve(import.meta.dirname, '../../scripts/traefik.sh');
const CRDS = { apiVersion: 'apiextensions.k8s.io/v1', plural: 'customresourcedefinitions' };
/** What an HTTPRoute needs: the route, its parent Gateway, and the Gateway's class. */
export const GATEWAY_API_CRDS = [
  'gatewayclasses',
  'gateways',
  'httproutes',
  'referencegrants',
  'grpcroutes',
  'backendtlspolicies',
];

export function gatewayApiCrdDir(): string {
  return execFileSync('bash', [SCRIPT, 'crds'], { encoding: 'utf8', timeout: 600_000 }).trim();
}

interface Crd {
  metadata: { name: string };
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** Server-side applies the CRDs whose plural is in `plurals` and waits until each is Established. */
export async function installGatewayApiCrds(client: KubeClient, plurals = GATEWAY_API_CRDS): Promise<string[]> {
  const dir = gatewayApiCrdDir();
  const names: string[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.yaml'))) {
    const crd = parse(readFileSync(join(dir, file), 'utf8')) as Crd & { spec: { names: { plural: string } } };
    if (!plurals.includes(crd.spec.names.plural)) continue;
    await client.apply(resourcePath(CRDS, { name: crd.metadata.name }), crd, 'mcp-operator-tests');
    names.push(crd.metadata.name);
  }
  for (const name of names) {
    for (let i = 0; ; i++) {
      const live = await client.get<Crd>(resourcePath(CRDS, { name }));
      if (live.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
      if (i > 300) throw new Error(`CRD ${name} not established in 30 s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  return names;
}

export async function removeCrds(client: KubeClient, names: string[]): Promise<void> {
  for (const name of names) {
    try {
      await client.delete(resourcePath(CRDS, { name }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
