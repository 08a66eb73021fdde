/**
 * A gateway that cannot bind its ports exits at once with code 1 and a message naming the port and the setting
 * that chose it, through every entry point (the package's `mcp-operator gateway` and `src/gateway/main.ts`).
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { GATEWAY_MAIN, NODE, ROOT } from './helpers.ts';

/** A server that never answers initialize: its pending handshake must not hold the exit back. */
const SILENT_SERVER = [NODE, '-e', 'setInterval(() => {}, 1000)'];
const ENTRY_POINTS: Record<string, string[]> = {
  'mcp-operator gateway': [join(ROOT, 'bin/mcp-operator.js'), 'gateway'],
  'src/gateway/main.ts': [GATEWAY_MAIN],
};

const held: Server[] = [];
afterAll(() => {
  for (const s of held) s.close();
});

async function holdPort(): Promise<number> {
  const server = createServer();
  held.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

/** Runs the gateway to its exit (killed after `limitMs`, which then shows as a null code). */
function runToExit(args: string[], limitMs: number): Promise<{ code: number | null; stderr: string }> {
  const proc = spawn(NODE, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
  });
  const timer = setTimeout(() => proc.kill('SIGKILL'), limitMs);
  return new Promise((resolve) =>
    proc.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe('a port already taken', () => {
  for (const [entry, pre] of Object.entries(ENTRY_POINTS)) {
    for (const which of ['mcp', 'health'] as const) {
      test(`${entry}: the ${which} port taken exits 1 at once, naming the port`, async () => {
        const taken = await holdPort();
        const ports =
          which === 'mcp'
            ? ['--port', String(taken), '--health-port', '0']
            : ['--port', '0', '--health-port', String(taken)];
        // Generous, yet well under the 30 s a pending server handshake used to hold the process.
        const { code, stderr } = await runToExit(
          [...pre, 'stdio', '--host', '127.0.0.1', ...ports, '--', ...SILENT_SERVER],
          15_000,
        );
        expect(code).toBe(1);
        const setting = which === 'mcp' ? '--port, MCP_GATEWAY_PORT' : '--health-port, MCP_GATEWAY_HEALTH_PORT';
        expect(stderr).toContain(`port ${taken} on 127.0.0.1 is already in use (${setting})`);
      });
    }
  }
});
