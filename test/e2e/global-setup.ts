/**
 * One real single-node cluster (test/e2e/cluster.ts) for the e2e project, with the Node base image on the node.
 * A cluster already running (`node test/e2e/cluster.ts up`) is reused and left running; one started here is torn
 * down afterwards (MCP_E2E_KEEP=1 keeps it). Needs root; the first run builds the Kubernetes binaries.
 */
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startCluster } from './cluster.ts';
import { buildahImageId } from './images.ts';
import { run } from './sh.ts';

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
