/**
 * The aggregate's backends file (src/contract/aggregate.ts): parsed and checked here, each problem naming the
 * field and the fix, and watched. The file is a ConfigMap volume that the kubelet replaces in place (a symlink
 * swap in its directory), so the watcher listens to the directory and also polls (a missed event costs one
 * interval, never the change); a new file that cannot be read or is invalid keeps the last good list.
 */
import { type FSWatcher, watch } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import {
  type AggregateBackend,
  type AggregateBackendsFile,
  BACKENDS_FILE_ENV,
  BACKENDS_FILE_VERSION,
} from '../../contract/aggregate.ts';
import type { Logger } from '../../observability/log.ts';

export type ParsedBackends = { ok: true; file: AggregateBackendsFile } | { ok: false; problem: string };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');

const FILE_FIELDS = ['version', 'backends'];
const BACKEND_FIELDS = ['name', 'url', 'transport', 'prefix', 'tools', 'tokenFile'];
const TOOLS_FIELDS = ['allow', 'deny', 'rename'];

/**
 * A field the contract does not have: refused, never ignored (a misspelt tools.allow ignored would expose every
 * tool). The operator writes only known fields, so one is a typo in a hand-written file or a version skew.
 */
function unknownField(value: Record<string, unknown>, known: readonly string[], at: string): string | undefined {
  const extra = Object.keys(value).find((k) => !known.includes(k));
  if (extra === undefined) return undefined;
  return `${at}${at ? '.' : ''}${extra}: unknown field (expected ${known.join(', ')}; operator and gateway versions differ, or a typo)`;
}

function backendProblem(b: unknown, at: string): string | undefined {
  if (!isRecord(b)) return `${at}: expected an object`;
  const extra = unknownField(b, BACKEND_FIELDS, at);
  if (extra) return extra;
  if (typeof b.name !== 'string' || b.name === '') return `${at}.name: a non-empty string is required`;
  if (typeof b.url !== 'string') return `${at}.url: the backend's MCP endpoint (an http(s) URL) is required`;
  let url: URL;
  try {
    url = new URL(b.url);
  } catch {
    return `${at}.url: not a URL: ${JSON.stringify(b.url)}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `${at}.url: expected http(s), got ${url.protocol}`;
  if (b.transport !== 'streamable-http' && b.transport !== 'sse') {
    return `${at}.transport: expected streamable-http or sse, got ${JSON.stringify(b.transport)}`;
  }
  if (b.prefix !== undefined && typeof b.prefix !== 'string') return `${at}.prefix: expected a string`;
  if (b.tokenFile !== undefined && (typeof b.tokenFile !== 'string' || b.tokenFile === '')) {
    return `${at}.tokenFile: expected the path of a file holding the bearer token`;
  }
  const tools = b.tools;
  if (tools === undefined) return undefined;
  if (!isRecord(tools)) return `${at}.tools: expected an object with allow, deny and rename`;
  const extraTools = unknownField(tools, TOOLS_FIELDS, `${at}.tools`);
  if (extraTools) return extraTools;
  for (const key of ['allow', 'deny'] as const) {
    if (tools[key] !== undefined && !isStringList(tools[key])) return `${at}.tools.${key}: expected a list of names`;
  }
  const rename = tools.rename;
  if (rename !== undefined && (!isRecord(rename) || !Object.values(rename).every((v) => typeof v === 'string'))) {
    return `${at}.tools.rename: expected an object mapping a tool's own name to its exposed name`;
  }
  return undefined;
}

/** The file's text checked against the contract; a problem names the field and what to put there. */
export function parseBackendsFile(text: string): ParsedBackends {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    return { ok: false, problem: `not JSON: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (!isRecord(data)) return { ok: false, problem: 'expected an object {version, backends}' };
  const extra = unknownField(data, FILE_FIELDS, '');
  if (extra) return { ok: false, problem: extra };
  if (data.version !== BACKENDS_FILE_VERSION) {
    return {
      ok: false,
      problem: `version: expected ${BACKENDS_FILE_VERSION}, got ${JSON.stringify(data.version)} (operator and gateway versions differ?)`,
    };
  }
  if (!Array.isArray(data.backends)) return { ok: false, problem: 'backends: expected a list (in priority order)' };
  const names = new Set<string>();
  for (const [i, b] of data.backends.entries()) {
    const problem = backendProblem(b, `backends[${i}]`);
    if (problem) return { ok: false, problem };
    const name = (b as AggregateBackend).name;
    if (names.has(name)) return { ok: false, problem: `backends[${i}].name: ${name} is listed twice` };
    names.add(name);
  }
  return { ok: true, file: data as unknown as AggregateBackendsFile };
}

export interface BackendsWatcherOptions {
  path: string;
  log: Logger;
  /** A new valid file (also the first one). */
  onChange: (file: AggregateBackendsFile) => void;
  /** The poll interval beside the directory watch. */
  intervalMs?: number;
}

export class BackendsWatcher {
  private readonly o: BackendsWatcherOptions;
  private lastText?: string;
  private loaded = false;
  /** Why no file is loaded yet (readiness says it). */
  problem = 'the backends file has not been read yet';
  private timer?: NodeJS.Timeout;
  private watcher?: FSWatcher;
  private reading?: Promise<void>;
  private again = false;

  constructor(options: BackendsWatcherOptions) {
    this.o = options;
  }

  get isLoaded(): boolean {
    return this.loaded;
  }

  /** Reads the file once now, then watches it. */
  async start(): Promise<void> {
    await this.check();
    this.timer = setInterval(() => void this.check(), this.o.intervalMs ?? 2000);
    this.timer.unref();
    try {
      const file = basename(this.o.path);
      // The kubelet swaps a `..data` symlink: an event on any name in the directory may be the change.
      this.watcher = watch(dirname(this.o.path), (_event, name) => {
        if (name === null || name === file || name.startsWith('..')) void this.check();
      });
      this.watcher.on('error', () => this.watcher?.close());
      this.watcher.unref();
    } catch {
      // No directory watch (the directory may appear later): the poll still finds every change.
    }
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
  }

  /** One read at a time; a change announced meanwhile gets one more. */
  check(): Promise<void> {
    if (this.reading) {
      this.again = true;
      return this.reading;
    }
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (!this.again) return;
      this.again = false;
      void this.check();
    });
    return this.reading;
  }

  private async read(): Promise<void> {
    const { path, log } = this.o;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const why = `cannot read the backends file ${path} (${BACKENDS_FILE_ENV}): ${(err as NodeJS.ErrnoException).code ?? String(err)}`;
      if (!this.loaded) this.problem = why;
      if (this.lastText !== '')
        log.warn({ file: path, problem: why }, 'backends file unreadable; keeping the last good list');
      this.lastText = '';
      return;
    }
    if (text === this.lastText) return;
    this.lastText = text;
    const parsed = parseBackendsFile(text);
    if (!parsed.ok) {
      const why = `the backends file ${path} is invalid: ${parsed.problem}`;
      if (!this.loaded) this.problem = why;
      log.error({ file: path, problem: parsed.problem }, 'backends file invalid; keeping the last good list');
      return;
    }
    this.loaded = true;
    this.problem = '';
    log.info({ file: path, backends: parsed.file.backends.map((b) => b.name) }, 'backends file loaded');
    this.o.onChange(parsed.file);
  }
}
