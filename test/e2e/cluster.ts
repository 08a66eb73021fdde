/**
 * The node cluster of src/local-cluster/node-cluster.ts by hand (needs root):
 *
 *   node test/e2e/cluster.ts up [--image NAME]...   start, or reuse a healthy running cluster; prints the kubeconfig
 *   node test/e2e/cluster.ts down                   stop everything and clean up (keeps logs and the image cache)
 *   node test/e2e/cluster.ts status
 *   node test/e2e/cluster.ts import NAME...          copy images from buildah's storage to the node
 *
 * MCP_E2E_DIR: cluster directory (default /var/lib/mcp-operator-e2e); see node-cluster.ts for the rest.
 */
import { join } from 'node:path';
import { healthy, importImages, startCluster, stopCluster } from '../../src/local-cluster/node-cluster.ts';
import { clusterDir, layout, readState } from '../../src/local-cluster/node-layout.ts';
import { isAlive } from '../../src/local-cluster/sh.ts';

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  const images: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    if (rest[i] === '--image' && rest[i + 1]) images.push(rest[++i] as string);
  }
  switch (command) {
    case 'up': {
      const cluster = await startCluster({ images });
      const kubectl = join(cluster.binDir, 'kubectl');
      process.stderr.write(
        [
          `e2e-cluster: ${cluster.reused ? 'reused' : 'started'} in ${cluster.timings.total?.toFixed(1)} s: node ${cluster.nodeName} Ready at ${cluster.nodeIP}, API ${cluster.server}`,
          '',
          `  export KUBECONFIG=${cluster.kubeconfig}`,
          `  ${kubectl} get nodes,pods -A`,
          '',
          `  images: node test/e2e/cluster.ts import localhost/NAME:TAG   (from buildah's storage; pods: imagePullPolicy: Never)`,
          `  logs:   ${join(cluster.dir, 'logs')}, ${join(cluster.dir, 'control-plane', 'logs')}`,
          '  stop:   node test/e2e/cluster.ts down',
          '',
        ].join('\n'),
      );
      process.stdout.write(`${cluster.kubeconfig}\n`);
      return 0;
    }
    case 'down': {
      const result = await stopCluster();
      for (const problem of result.problems) process.stderr.write(`e2e-cluster: ${problem}\n`);
      process.stderr.write(`e2e-cluster: down in ${result.seconds.toFixed(1)} s\n`);
      return result.problems.length > 0 ? 1 : 0;
    }
    case 'status': {
      const l = layout(clusterDir());
      const state = readState(l);
      if (!state) {
        process.stdout.write('no cluster\n');
        return 1;
      }
      const ok = await healthy(state);
      process.stdout.write(`${ok ? 'running' : 'not healthy'}: ${l.dir}\n`);
      for (const p of state.processes) {
        process.stdout.write(
          `  ${p.name.padEnd(24)} pid ${p.pid} ${isAlive(p.pid, p.start) ? 'up' : 'DOWN'}  ${p.log}\n`,
        );
      }
      return ok ? 0 : 1;
    }
    case 'import':
      await importImages(rest);
      return 0;
    default:
      process.stderr.write('usage: node test/e2e/cluster.ts up [--image NAME]... | down | status | import NAME...\n');
      return 2;
  }
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`e2e-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
