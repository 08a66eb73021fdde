/**
 * The audit line: one per tool call, an `audit` object with a fixed schema (tool, argument keys, client identity,
 * session fingerprint, duration, outcome). Never argument values, tokens or session ids.
 */
import type { Logger } from '../observability/log.ts';

export interface AuditRecord {
  event: 'tool_call';
  tool?: string;
  argumentKeys?: string[];
  client: string;
  session: string;
  durationMs: number;
  outcome: string;
  errorCode?: number;
}

export type AuditWriter = (record: AuditRecord) => void;

/** Through any logger (a logger handed in by an embedding program). */
export function loggerAudit(log: Logger): AuditWriter {
  // One nested object: the logger's wildcard redaction then has one key to walk, not nine.
  return (audit) => log.info({ audit }, 'tool call');
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
    destination.write(`{"level":30,"time":${Date.now()}${middle}${JSON.stringify(audit)},"msg":"tool call"}\n`);
  };
}
