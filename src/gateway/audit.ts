/**
 * The audit line: one per tool call, an `audit` object with a fixed schema (tool, argument keys, client identity,
 * session fingerprint, duration, outcome). Never argument values, tokens or session ids.
 */
import type { Logger } from '../observability/log.ts';
import { clip } from './clip.ts';

export interface AuditRecord {
  event: 'tool_call';
  tool?: string;
  /** An aggregate's backend the tool belongs to (tool is then its exposed name). */
  backend?: string;
  argumentKeys?: string[];
  /** Argument keys past MAX_AUDITED_KEYS, counted, not listed. */
  argumentKeysOmitted?: number;
  client: string;
  /** The end client an aggregate (the client here) called for. */
  onBehalfOf?: string;
  session: string;
  durationMs: number;
  outcome: string;
  errorCode?: number;
}

export type AuditWriter = (record: AuditRecord) => void;

/** Argument keys listed in one audit line, each cut to MAX_AUDITED_KEY characters. */
export const MAX_AUDITED_KEYS = 32;
export const MAX_AUDITED_KEY = 64;
/** Tool names are refused past 128 characters, but the refusal is audited too. */
const MAX_AUDITED_TOOL = 128;

/**
 * The record with every client-supplied string bounded (tool, argument keys, client identity), so an audit line
 * stays around a kilobyte whatever the request held. The record itself when nothing needs cutting (the usual
 * case: no copy on the hot path).
 */
export function boundedAudit(record: AuditRecord): AuditRecord {
  const { tool, argumentKeys: keys, client } = record;
  const keysFit =
    keys === undefined || (keys.length <= MAX_AUDITED_KEYS && keys.every((k) => k.length <= MAX_AUDITED_KEY));
  if ((tool === undefined || tool.length <= MAX_AUDITED_TOOL) && keysFit && client.length <= 256) return record;
  const bounded: AuditRecord = { ...record, client: clip(client) };
  if (tool !== undefined) bounded.tool = clip(tool, MAX_AUDITED_TOOL);
  if (keys !== undefined && !keysFit) {
    bounded.argumentKeys = keys.slice(0, MAX_AUDITED_KEYS).map((k) => clip(k, MAX_AUDITED_KEY));
    if (keys.length > MAX_AUDITED_KEYS) bounded.argumentKeysOmitted = keys.length - MAX_AUDITED_KEYS;
  }
  return bounded;
}

/** Through any logger (a logger handed in by an embedding program). */
export function loggerAudit(log: Logger): AuditWriter {
  // One nested object: the logger's wildcard redaction then has one key to walk, not nine.
  return (audit) => log.info({ audit: boundedAudit(audit) }, 'tool call');
}

/**
 * The same JSON line pino writes for `log.info({ audit }, 'tool call')`, formatted here and handed to the
 * logger's own buffered destination, so it interleaves with the other lines in order. It skips pino's
 * serialization and wildcard redaction, which were the largest piece of the gateway's own work per call: the
 * record's keys are fixed and none of them is a redacted path, so redaction could not change the line.
 */
export function directAudit(log: Logger, destination: { write(line: string): unknown }, name: string): AuditWriter {
  const middle = `,"pid":${process.pid},"name":${JSON.stringify(name)},"audit":`;
  return (audit) => {
    if (!log.isLevelEnabled('info')) return;
    destination.write(
      `{"level":30,"time":${Date.now()}${middle}${JSON.stringify(boundedAudit(audit))},"msg":"tool call"}\n`,
    );
  };
}
