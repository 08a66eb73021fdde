/**
 * The control plane's working directory, owned through a marker file: it never deletes what it did not create.
 * A directory is used when it is missing (created, marked), empty (marked) or already marked by us (our entries
 * from the last run are replaced); a non-empty directory without our marker is refused, untouched. At stop only
 * our own entries go, then the marker, then the directory if we created it and nothing else is left in it.
 * The decisions are pure (`decideClaim`, `decideRelease`); `claimDir` and `releaseDir` do the file work.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Marks a directory as the working directory of mcp-operator's local control plane. */
export const MARKER = '.mcp-operator-control-plane';
const MARKER_HEADER = 'mcp-operator local control plane';

/** Where the kubeconfigs of extra users go (their names are the caller's, so they get a directory of ours). */
export const USERS_DIR = 'users';

/** What the control plane writes at the top of its directory; anything else in it is someone else's. */
const OWN_ENTRIES = new Set([
  'etcd',
  'certs',
  'logs',
  'tokens.csv',
  'sa.pub',
  'sa.key',
  'audit-policy.yaml',
  'audit.log',
  // By name, not every *.kubeconfig: a user's own kubeconfig kept beside them is not ours to delete.
  'admin.kubeconfig',
  'controller.kubeconfig',
  'kube-controller-manager.kubeconfig',
  'kube-scheduler.kubeconfig',
  /** ControlPlaneOptions.users' kubeconfigs */
  USERS_DIR,
]);

function isOwnEntry(name: string): boolean {
  return OWN_ENTRIES.has(name);
}

/** What is at the directory's path now. */
export interface DirState {
  exists: boolean;
  isDirectory: boolean;
  /** names in it (the marker included) */
  entries: string[];
  /** the marker file's text, if there is one */
  marker?: string;
}

export interface Marker {
  /** the control plane created the directory itself (so it may remove it when it is empty) */
  createdDir: boolean;
}

export function formatMarker(marker: Marker): string {
  return `${MARKER_HEADER}\n${JSON.stringify(marker)}\n`;
}

function parseMarker(text: string | undefined): Marker | undefined {
  const [header, json] = (text ?? '').split('\n');
  if (header !== MARKER_HEADER) return undefined;
  try {
    const parsed = JSON.parse(json ?? '') as Partial<Marker>;
    return typeof parsed.createdDir === 'boolean' ? { createdDir: parsed.createdDir } : undefined;
  } catch {
    return undefined;
  }
}

export type ClaimDecision =
  | { action: 'create' }
  | { action: 'adopt-empty' }
  /** ours from an earlier run: remove `remove`, keep the marker (and whatever else was put there) */
  | { action: 'reuse'; marker: Marker; remove: string[] }
  | { action: 'refuse'; reason: string };

export function decideClaim(dir: string, state: DirState): ClaimDecision {
  if (!state.exists) return { action: 'create' };
  if (!state.isDirectory) return { action: 'refuse', reason: `${dir} exists and is not a directory` };
  if (state.entries.length === 0) return { action: 'adopt-empty' };
  const marker = state.entries.includes(MARKER) ? parseMarker(state.marker) : undefined;
  if (marker) return { action: 'reuse', marker, remove: state.entries.filter(isOwnEntry) };
  const shown = state.entries.slice(0, 3).join(', ') + (state.entries.length > 3 ? ', ...' : '');
  return {
    action: 'refuse',
    reason:
      `${dir} is not empty (${shown}) and was not made by mcp-operator (no ${MARKER} file in it); ` +
      'refusing to use it so that nothing in it is deleted: use a new or empty directory',
  };
}

export interface ReleaseDecision {
  /** entries to delete recursively (ours only) */
  remove: string[];
  removeMarker: boolean;
  /** rmdir (not recursive) once the rest is gone: we created it and nothing of anyone else's is in it */
  removeDir: boolean;
}

/** At stop: what to delete. Nothing at all unless our marker is there. */
export function decideRelease(state: DirState): ReleaseDecision {
  const marker = state.exists && state.isDirectory ? parseMarker(state.marker) : undefined;
  if (!marker) return { remove: [], removeMarker: false, removeDir: false };
  const remove = state.entries.filter(isOwnEntry);
  const others = state.entries.filter((e) => e !== MARKER && !isOwnEntry(e));
  return { remove, removeMarker: true, removeDir: marker.createdDir && others.length === 0 };
}

function readDirState(dir: string): DirState {
  if (!existsSync(dir)) return { exists: false, isDirectory: false, entries: [] };
  if (!statSync(dir).isDirectory()) return { exists: true, isDirectory: false, entries: [] };
  const entries = readdirSync(dir);
  let marker: string | undefined;
  if (entries.includes(MARKER)) {
    try {
      marker = readFileSync(join(dir, MARKER), 'utf8');
    } catch {
      marker = undefined;
    }
  }
  return { exists: true, isDirectory: true, entries, marker };
}

/** The directory cannot be used without risking someone else's files. */
export class ForeignDirError extends Error {
  readonly dir: string;
  readonly reason: string;

  constructor(dir: string, reason: string) {
    super(`control plane: ${reason}`);
    this.name = 'ForeignDirError';
    this.dir = dir;
    this.reason = reason;
  }
}

/** Makes `dir` ours for a run (see the module comment), or throws ForeignDirError and touches nothing. */
export function claimDir(dir: string): void {
  const decision = decideClaim(dir, readDirState(dir));
  switch (decision.action) {
    case 'refuse':
      throw new ForeignDirError(dir, decision.reason);
    case 'create':
      try {
        mkdirSync(dir, { recursive: true });
      } catch (err) {
        // A dangling symlink, a file on the way, no permission: say so instead of crashing with a stack.
        throw new ForeignDirError(dir, `cannot create ${dir}: ${(err as Error).message}; use another directory`);
      }
      writeFileSync(join(dir, MARKER), formatMarker({ createdDir: true }));
      return;
    case 'adopt-empty':
      writeFileSync(join(dir, MARKER), formatMarker({ createdDir: false }));
      return;
    case 'reuse':
      for (const name of decision.remove) rmSync(join(dir, name), { recursive: true, force: true });
      return;
  }
}

/** Removes what the control plane made in `dir` (only if the marker is ours), and `dir` if it made that too. */
export function releaseDir(dir: string): void {
  const decision = decideRelease(readDirState(dir));
  for (const name of decision.remove) rmSync(join(dir, name), { recursive: true, force: true });
  if (decision.removeMarker) rmSync(join(dir, MARKER), { force: true });
  if (decision.removeDir) {
    try {
      rmdirSync(dir);
    } catch {
      // something appeared in it meanwhile: it stays
    }
  }
}
