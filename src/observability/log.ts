/**
 * pino JSON logs for every role. Secret values and tool arguments never reach a log line: callers log keys
 * only, and these paths are redacted as a second line of defence.
 */
import { pino } from 'pino';

export type Logger = pino.Logger;

/** The levels every role's --log-level (and LOG_LEVEL) accepts: pino's. */
export const LOG_LEVELS: readonly string[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export const REDACTED_PATHS = [
  '*.authorization',
  '*.Authorization',
  '*.token',
  '*.password',
  '*.secret',
  '*.arguments',
  '*.headers.authorization',
  '*.headers.cookie',
];

export function createLogger(options: { name: string; level?: string; destination?: pino.DestinationStream }): Logger {
  const level = options.level ?? process.env.LOG_LEVEL ?? 'info';
  return pino(
    { name: options.name, level, redact: { paths: REDACTED_PATHS, censor: '[redacted]' }, base: { pid: process.pid } },
    options.destination ?? pino.destination({ fd: 1, sync: false }),
  );
}
