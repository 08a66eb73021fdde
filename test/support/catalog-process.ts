/** Runs the real `mcp-operator catalog` CLI as a child process, as it runs in its pod. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');

export interface CatalogProcess {
  child: ChildProcess;
  url: string;
  logs: Array<Record<string, unknown>>;
  stop: () => Promise<void>;
}

export async function startCatalog(options: { kubeconfig: string; args?: string[] }): Promise<CatalogProcess> {
  const child = spawn(
    process.execPath,
    [MAIN, 'catalog', `--kubeconfig=${options.kubeconfig}`, '--listen=127.0.0.1:0', ...(options.args ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, LOG_LEVEL: 'debug' } },
  );
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
  const port = await new Promise<number>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`the catalog did not sync in 60 s: ${stderr.slice(-2000)}`)), 60_000);
    let listening = 0;
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        entry = { msg: line };
      }
      logs.push(entry);
      if (entry.msg === 'listening') listening = Number(entry.port);
      if (entry.msg === 'catalog synced') {
        clearTimeout(timer);
        ok(listening);
      }
    });
    child.once('exit', (code) => fail(new Error(`the catalog exited with ${code}: ${stderr.slice(-2000)}`)));
  });
  return {
    child,
    url: `http://127.0.0.1:${port}`,
    logs,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
