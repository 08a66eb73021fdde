/** The README's main job: `mcp-operator up` with no cluster starts a real control plane and shows the examples. */
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const MAIN = resolve(import.meta.dirname, '../../src/cli/main.ts');

describe('mcp-operator up (npm start) without a cluster', () => {
  it('starts a local control plane, reconciles examples/ and stops cleanly', async () => {
    const child = spawn(
      process.execPath,
      [MAIN, 'up', '--local', '--once', `--dir=${join(tmpdir(), `mcp-operator-up-${process.pid}`)}`],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    const code = await new Promise((ok) => child.once('exit', ok));
    expect(code, out).toBe(0);
    expect(out).toMatch(/applied 5 McpServers/);
    for (const name of ['github', 'filesystem', 'postgres', 'everything-http', 'everything']) {
      expect(out).toMatch(
        new RegExp(`^${name}\\s+\\S+\\s+False\\s+DeploymentUnavailable\\s+http://${name}\\.demo\\.svc:8080/mcp$`, 'm'),
      );
    }
    expect(out).toMatch(/networkpolicies\s+postgres/);
    expect(out).toMatch(/poddisruptionbudgets\s+everything-http/);
  });
});
