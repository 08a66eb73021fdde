/**
 * The Python server kind of the gateway bench: a FastMCP server (bench/gateway/servers/fastmcp_echo.py) run by a
 * virtual environment that holds the pinned Python MCP SDK. The environment is made on first use, outside the
 * repository (`$MCP_OPERATOR_CACHE/bench`, default ~/.cache/mcp-operator/bench), from the Python package index;
 * later runs reuse it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Python MCP SDK, pinned: its last 1.x release, the one that still calls its server FastMCP. */
export const PYTHON_MCP_VERSION = '1.30.0';
const SERVER = fileURLToPath(new URL('./servers/fastmcp_echo.py', import.meta.url));

export type PythonServer = { command: string[]; version: string } | { missing: string };

function cacheDir(env: NodeJS.ProcessEnv): string {
  return join(env.MCP_OPERATOR_CACHE ?? join(homedir(), '.cache', 'mcp-operator'), 'bench');
}

function run(command: string, args: string[], timeoutMs: number): { ok: boolean; why: string } {
  // spawns: python3 (the system interpreter that makes the environment, then the environment's own)
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
  if (r.error) return { ok: false, why: r.error.message };
  if (r.status !== 0) return { ok: false, why: (r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ') };
  return { ok: true, why: '' };
}

/**
 * The command that starts the FastMCP echo server, making the environment when it is missing; or why there is
 * none (no python3, no venv module, the index unreachable), for the bench to print instead of a Python row.
 */
export function pythonFastMcpServer(
  log: (line: string) => void = () => {},
  env: NodeJS.ProcessEnv = process.env,
): PythonServer {
  const venv = join(cacheDir(env), `python-mcp-${PYTHON_MCP_VERSION}`);
  const python = join(venv, 'bin', 'python');
  const importable = () => existsSync(python) && run(python, ['-c', 'import mcp.server.fastmcp'], 60_000).ok;
  if (!importable()) {
    log(`making ${venv} with the Python MCP SDK ${PYTHON_MCP_VERSION} (once; later runs reuse it)`);
    const made = run('python3', ['-m', 'venv', '--clear', venv], 120_000);
    if (!made.ok) return { missing: `python3 -m venv ${venv} failed: ${made.why}` };
    const pip = [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-input',
      `mcp==${PYTHON_MCP_VERSION}`,
    ];
    const installed = run(python, pip, 600_000);
    if (!installed.ok) return { missing: `pip install mcp==${PYTHON_MCP_VERSION} failed: ${installed.why}` };
    if (!importable()) return { missing: `mcp ${PYTHON_MCP_VERSION} installed in ${venv} but not importable` };
  }
  // -W ignore: a pydantic warning at import time on stderr, not part of what is measured.
  return { command: [python, '-W', 'ignore', SERVER], version: PYTHON_MCP_VERSION };
}
