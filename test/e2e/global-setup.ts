/**
 * One real single-node cluster (test/e2e/cluster.ts) for the e2e project, with the Node base image on the node.
 * A cluster already running (`node test/e2e/cluster.ts up`) is reused and left running; one started here is torn
 * down afterwards (MCP_E2E_KEEP=1 keeps it). Needs root; the first run builds the Kubernetes binaries.
 */
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCluster } from '../../src/local-cluster/node-cluster.ts';
import { buildahImageId } from '../../src/local-cluster/node-images.ts';
import { run } from '../../src/local-cluster/sh.ts';

/** Built by `scripts/images.sh base`; has /usr/local/bin/node. */
export const NODE_IMAGE = 'localhost/node:24.21.0-bookworm-slim';

declare module 'vitest' {
  export interface ProvidedContext {
    e2eKubeconfig: string;
    e2eServer: string;
    e2eAdminToken: string;
    e2eNodeName: string;
    e2eNodeIP: string;
    e2eNodeImage: string;
    e2eLogs: Record<string, string>;
  }
}

export default async function setup(project: TestProject) {
  if (!(await buildahImageId(NODE_IMAGE))) {
    await run('bash', [join(import.meta.dirname, '../../scripts/images.sh'), 'base'], { timeoutMs: 1_800_000 });
  }
  // Traefik (exposure.test.ts's Gateway API and ingress-nginx controller) and the Gateway API CRDs: built from
  // their Go modules the first time (minutes on 2 cores), cached under ~/.cache/mcp-operator after.
  const traefikStart = Date.now();
  const script = join(import.meta.dirname, '../../scripts/traefik.sh');
  await run('bash', [script, 'binary'], { timeoutMs: 3_600_000 });
  await run('bash', [script, 'crds'], { timeoutMs: 600_000 });
  process.stderr.write(
    `e2e: Traefik and the Gateway API CRDs ready in ${((Date.now() - traefikStart) / 1000).toFixed(1)} s\n`,
  );
  const cluster = await startCluster({ images: [NODE_IMAGE] });
  process.stderr.write(
    `e2e: cluster ${cluster.reused ? 'reused' : 'started'} in ${cluster.timings.total?.toFixed(1)} s ` +
      `(${JSON.stringify(cluster.timings)}); KUBECONFIG=${cluster.kubeconfig}\n`,
  );
  project.provide('e2eKubeconfig', cluster.kubeconfig);
  project.provide('e2eServer', cluster.server);
  project.provide('e2eAdminToken', cluster.adminToken);
  project.provide('e2eNodeName', cluster.nodeName);
  project.provide('e2eNodeIP', cluster.nodeIP);
  project.provide('e2eNodeImage', NODE_IMAGE);
  project.provide('e2eLogs', cluster.logs);
  return async () => {
    if (cluster.reused || process.env.MCP_E2E_KEEP === '1') return;
    const result = await cluster.stop();
    process.stderr.write(`e2e: cluster down in ${result.seconds.toFixed(1)} s\n`);
    if (result.problems.length > 0) throw new Error(`e2e cluster teardown:\n${result.problems.join('\n')}`);
  };
}
