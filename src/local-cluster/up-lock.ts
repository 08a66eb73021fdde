/**
 * One `mcp-operator up` at a time per user: a lock file created exclusively, naming the pid (and its start time, so
 * a reused pid is not taken for the holder) and, once they are known, the URLs it serves. A lock whose holder is
 * gone (killed, crashed) is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isAlive, processStartTime } from './sh.ts';

export interface LockInfo {
  pid: number;
  start?: string;
  startedAt: string;
  /** what the holder runs: `node` (a local node) or `control-plane` */
  mode?: string;
  urls?: string[];
}

export type LockResult = { ok: true; lock: UpLock } | { ok: false; holder: LockInfo };

export interface UpLock {
  path: string;
  /** records more about the run (its URLs) for a second `up` to show */
  update(info: Partial<LockInfo>): void;
  release(): void;
}

function read(path: string): LockInfo | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockInfo;
  } catch {
    return undefined;
  }
}

export function acquireLock(path: string, mode: string): LockResult {
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 3; attempt++) {
    const info: LockInfo = {
      pid: process.pid,
      start: processStartTime(process.pid),
      startedAt: new Date().toISOString(),
      mode,
    };
    try {
      writeFileSync(path, `${JSON.stringify(info)}\n`, { flag: 'wx', mode: 0o600 });
      let current = info;
      return {
        ok: true,
        lock: {
          path,
          update(more) {
            current = { ...current, ...more };
            writeFileSync(path, `${JSON.stringify(current)}\n`, { mode: 0o600 });
          },
          release() {
            if (read(path)?.pid === process.pid) rmSync(path, { force: true });
          },
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = read(path);
      // a holder that is alive, or a file being written this instant (unreadable): someone else's run
      if (holder === undefined && attempt === 0) continue;
      if (holder && isAlive(holder.pid, holder.start)) return { ok: false, holder };
      rmSync(path, { force: true }); // stale: its process is gone
    }
  }
  const holder = read(path);
  if (holder) return { ok: false, holder };
  throw new Error(`could not take the lock ${path}`);
}
