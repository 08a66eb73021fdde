/** Small process and file helpers for the node cluster (node-cluster.ts): run a command, read a log's tail. */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export interface RunOptions {
  /** stdin text */
  input?: string;
  /** resolve with the result instead of throwing when the exit code is not 0 */
  allowFail?: boolean;
  /** kill the command after this many ms (default 120 s) */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command without a shell; throws with its stderr (and stdout) unless allowFail. */
export async function run(command: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  child.stdin.on('error', () => {}); // a command that does not read stdin
  child.stdin.end(options.input ?? '');
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 120_000);
  const code = await new Promise<number | null>((ok, fail) => {
    child.once('error', fail);
    child.once('close', (c) => ok(c));
  }).finally(() => clearTimeout(timer));
  if (code !== 0 && !options.allowFail) {
    const output = [stderr.trim(), stdout.trim()].filter(Boolean).join('\n');
    throw new Error(`${command} ${args.join(' ')} failed (exit ${code}):\n${tail(output, 40)}`);
  }
  return { code, stdout, stderr };
}

/** The last `lines` lines of a text. */
export function tail(text: string, lines: number): string {
  return text.split('\n').slice(-lines).join('\n');
}

/** The last lines of a log file, headed by its path; '' when it does not exist. */
export function logTail(path: string, lines = 40): string {
  if (!existsSync(path)) return '';
  const text = readFileSync(path, 'utf8').trimEnd();
  return `--- last ${lines} lines of ${path} ---\n${tail(text, lines)}`;
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined, or throws `onTimeout()`. */
export async function waitFor<T>(
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs: number,
  onTimeout: () => Error,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw onTimeout();
    await sleep(intervalMs);
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks): with the pid, identifies one process incarnation. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // the command name (field 2) is parenthesised and may contain spaces: count from the last ')'
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** Whether the process `pid` is alive, is the incarnation started at `startTime`, and is not a zombie. */
export function isAlive(pid: number, startTime?: string): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (fields[0] === 'Z' || fields[0] === 'X') return false;
    return startTime === undefined || fields[19] === startTime;
  } catch {
    return false;
  }
}

/** Sends `signal`, waits up to `graceMs` for the process to go, then SIGKILLs it. */
export async function terminate(pid: number, startTime: string | undefined, graceMs = 10_000): Promise<void> {
  if (!isAlive(pid, startTime)) return;
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (isAlive(pid, startTime)) {
    if (Date.now() > deadline) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {}
      // a SIGKILLed process is gone once the kernel reaps it; its parent may still have to wait() for it
      for (let i = 0; i < 50 && isAlive(pid, startTime); i++) await sleep(100);
      return;
    }
    await sleep(50);
  }
}
