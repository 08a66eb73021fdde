/** Loading a kubeconfig as kubectl does, with errors that name the file and the fix (every CLI verb uses it). */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';

/**
 * The kubeconfig as the client library loads it, or an Error whose message says which file and what is wrong
 * (the library throws raw ENOENT or YAML parser errors, and without any kubeconfig it silently targets
 * http://localhost:8080). A KUBECONFIG list is read as kubectl reads it: files that do not exist are skipped,
 * an empty KUBECONFIG is unset, and where two files name the same cluster, user or context the first one wins.
 */
export function loadKubeConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kubeConfig = new KubeConfig();
  const listed = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(homedir(), '.kube', 'config');
  const inCluster = env.KUBERNETES_SERVICE_HOST !== undefined;
  const files = path ? [path] : listed.length ? listed.filter((f) => existsSync(f)) : existsSync(home) ? [home] : [];
  const where = files.join(delimiter) || (listed.length ? listed.join(delimiter) : home);
  if (files.length === 0 && (listed.length || !inCluster)) {
    throw new Error(
      listed.length
        ? `cannot load the kubeconfig ${where}: no file in KUBECONFIG exists; pass --kubeconfig PATH or fix KUBECONFIG`
        : `no kubeconfig: ${where} does not exist; pass --kubeconfig PATH or set KUBECONFIG`,
    );
  }
  try {
    if (files.length === 0) kubeConfig.loadFromCluster();
    else {
      const [first, ...rest] = files.map((f) => {
        const one = new KubeConfig();
        one.loadFromFile(f);
        return one;
      });
      const firstWins = <T extends { name: string }>(lists: T[][]) => {
        const seen = new Set<string>();
        return lists.flat().filter((x) => !seen.has(x.name) && seen.add(x.name));
      };
      const all = [first as KubeConfig, ...rest];
      kubeConfig.loadFromOptions({
        clusters: firstWins(all.map((c) => c.clusters)),
        users: firstWins(all.map((c) => c.users)),
        contexts: firstWins(all.map((c) => c.contexts)),
        currentContext: all.map((c) => c.currentContext).find(Boolean) ?? '',
      });
    }
  } catch (err) {
    const first = ((err as Error).message ?? String(err)).split('\n')[0];
    throw new Error(`cannot load the kubeconfig ${where}: ${first}`);
  }
  if (!kubeConfig.getCurrentCluster())
    throw new Error(`the kubeconfig ${where} has no current context with a cluster: kubectl config use-context NAME`);
  return kubeConfig;
}
