/**
 * The gateway's buffered stdout for log lines (src/observability/log-sink.ts): every line arrives, in order, whether
 * stdout is a pipe (a container) or a file, whether the process exits at once (process.exit right after the
 * last line) or flushes first.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';

const SINK = fileURLToPath(new URL('../../src/observability/log-sink.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'log-sink-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A child that writes `count` lines through the sink, then exits the way `ending` says. */
function program(count: number, ending: 'exit' | 'flush-then-exit'): string {
  return `
    import { stdoutLogSink } from ${JSON.stringify(SINK)};
    const sink = stdoutLogSink();
    for (let i = 0; i < ${count}; i++) sink.write('{"line":' + i + ',"pad":"' + 'x'.repeat(i % 300) + '"}\\n');
    ${ending === 'exit' ? 'process.exit(0);' : 'sink.flush(() => process.exit(0));'}
  `;
}

function expectAllLines(output: string, count: number): void {
  const lines = output.split('\n').filter((l) => l !== '');
  expect(lines.length).toBe(count);
  const numbers = lines.map((l) => (JSON.parse(l) as { line: number }).line);
  expect(numbers).toEqual(Array.from({ length: count }, (_, i) => i));
}

function run(code: string, stdout: 'pipe' | number) {
  return spawnSync(process.execPath, ['--input-type=module', '-e', code], {
    stdio: ['ignore', stdout, 'pipe'],
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
}

describe('stdoutLogSink', () => {
  // 20,000 lines are ~3.5 MB: far more than a pipe holds, so the reader's pace matters.
  for (const ending of ['exit', 'flush-then-exit'] as const) {
    test(`to a pipe, ${ending}: every line, in order`, () => {
      const result = run(program(20_000, ending), 'pipe');
      expect(result.stderr).toBe('');
      expectAllLines(result.stdout, 20_000);
    });

    test(`to a file, ${ending}: every line, in order`, () => {
      const path = join(dir, `${ending}.log`);
      const fd = openSync(path, 'w');
      const result = run(program(5_000, ending), fd);
      closeSync(fd);
      expect(result.stderr).toBe('');
      expectAllLines(readFileSync(path, 'utf8'), 5_000);
    });
  }

  test('a line below the batch size still leaves within the flush interval', () => {
    const code = `
      import { stdoutLogSink } from ${JSON.stringify(SINK)};
      stdoutLogSink().write('{"line":0}\\n');
      // No flush and no exit for 1 s: only the periodic flush can write the line.
      setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000);
    `;
    const result = run(code, 'pipe');
    expectAllLines(result.stdout, 1);
  });
});
