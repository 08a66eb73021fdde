/**
 * The real-node figures: `npm run test:e2e` measures them while it proves the behaviour (test/e2e) and writes
 * them to $MCP_E2E_RESULTS (default: the temp dir's mcp-operator-e2e-results.json); this formats them.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface NodeMeasurements {
  applyToReadySeconds?: number;
  podMemoryMiB?: number;
  imageSizes?: Record<string, string>;
  cluster?: Record<string, number>;
}

export const resultsFile = () => process.env.MCP_E2E_RESULTS ?? join(tmpdir(), 'mcp-operator-e2e-results.json');

export async function nodeSection(): Promise<string> {
  const file = resultsFile();
  if (!existsSync(file)) throw new Error(`${file} does not exist: run \`npm run test:e2e\` first`);
  const m = JSON.parse(readFileSync(file, 'utf8')) as NodeMeasurements;
  const when = statSync(file).mtime.toISOString().slice(0, 16).replace('T', ' ');
  const lines = [
    '## Real node: apply-to-Ready, image sizes, pod memory',
    '',
    `Command: \`npm run test:e2e && npm run bench -- node\` (measured by test/e2e/mcpserver.test.ts at ${when} UTC). One node: containerd 1.6 + runc, kubelet, kube-proxy, kube-scheduler, kube-controller-manager, kube-apiserver v1.34.4 and etcd, all on this machine; images built by \`scripts/images.sh\` and already imported (cached).`,
    '',
    '| measure | value |',
    '| --- | ---: |',
    `| \`kubectl apply\` of a stdio McpServer (server-everything + injected gateway) → Ready=True, observed generation | ${m.applyToReadySeconds?.toFixed(1) ?? 'n/a'} s |`,
    `| that pod's memory (cgroup working set: gateway + server-everything) right after Ready | ${m.podMemoryMiB ?? 'n/a'} MiB |`,
  ];
  for (const [phase, seconds] of Object.entries(m.cluster ?? {})) {
    lines.push(`| cluster start, ${phase} | ${seconds.toFixed(1)} s |`);
  }
  lines.push('', '| image (buildah, uncompressed) | size |', '| --- | ---: |');
  for (const [name, size] of Object.entries(m.imageSizes ?? {})) lines.push(`| \`${name}\` | ${size} |`);
  return lines.join('\n');
}
