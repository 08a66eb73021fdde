/** Runs the real `mcp-operator controller` CLI as a child process, as it runs in a pod. */
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');
const BIN = resolve(import.meta.dirname, '../../bin/mcp-operator.js');

export interface ControllerProcess {
  child: ChildProcess;
  /** Parsed JSON log lines so far. */
  logs: Array<Record<string, unknown>>;
  healthPort: () => Promise<number>;
  /** Resolves with the exit code when the process ends. */
  exited: Promise<number | null>;
  waitForLog: (
    match: (line: Record<string, unknown>) => boolean,
    timeoutMs?: number,
  ) => Promise<Record<string, unknown>>;
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

export function startController(options: {
  kubeconfig: string;
  namespaces: string[];
  leaderElectionNamespace?: string;
  leaderElect?: boolean;
  extraArgs?: string[];
  /** POD_NAMESPACE and POD_SERVICE_ACCOUNT, as the chart's downward API sets them: who the controller runs as. */
  podNamespace?: string;
  podServiceAccount?: string;
  /** Run this bundle as the image does (bin/mcp-operator.js, MCP_OPERATOR_CONTROLLER_BUNDLE), without TypeScript. */
  bundle?: string;
}): ControllerProcess {
  const args = [
    ...(options.bundle ? ['--no-experimental-strip-types', BIN] : [MAIN]),
    'controller',
    `--kubeconfig=${options.kubeconfig}`,
    `--namespaces=${options.namespaces.join(',')}`,
    `--leader-elect=${options.leaderElect ?? true}`,
    `--leader-election-namespace=${options.leaderElectionNamespace ?? options.namespaces[0]}`,
    '--health-addr=127.0.0.1:0',
    '--gateway-image=registry.test/mcp-operator:test',
    '--resync=0',
    ...(options.extraArgs ?? []),
  ];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      LOG_LEVEL: 'debug',
      ...(options.podNamespace ? { POD_NAMESPACE: options.podNamespace } : {}),
      ...(options.podServiceAccount ? { POD_SERVICE_ACCOUNT: options.podServiceAccount } : {}),
      ...(options.bundle ? { MCP_OPERATOR_CONTROLLER_BUNDLE: options.bundle } : {}),
    },
  });
  const logs: Array<Record<string, unknown>> = [];
  const listeners = new Set<() => void>();
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    try {
      logs.push(JSON.parse(line));
    } catch {
      logs.push({ msg: line });
    }
    for (const l of listeners) l();
  });
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)));

  const waitForLog: ControllerProcess['waitForLog'] = (match, timeoutMs = 60_000) =>
    new Promise((ok, fail) => {
      const check = () => {
        const hit = logs.find(match);
        if (!hit) return false;
        listeners.delete(check);
        clearTimeout(timer);
        ok(hit);
        return true;
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        fail(new Error(`controller log line not seen in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`));
      }, timeoutMs);
      if (!check()) listeners.add(check);
    });

  return {
    child,
    logs,
    exited,
    waitForLog,
    healthPort: async () => Number((await waitForLog((l) => l.msg === 'health and metrics listening')).port),
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
