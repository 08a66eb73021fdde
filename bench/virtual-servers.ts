/**
 * The virtual bench's own MCP servers and the processes it starts (bench/virtual.ts). Run as a program, this file
 * is those servers: `--serve-http B T` (B Streamable HTTP backends of T tools) or `--serve-stdio B T` (one stdio
 * server listing the same tools under the names the aggregate exposes), so both lists are built by one function.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { stopProc } from './gateway/targets.ts';

/** This file: the bench spawns it as its MCP servers. */
export const SERVERS = fileURLToPath(import.meta.url);
const NODE = process.execPath;

// ---- the benchmark's MCP servers ------------------------------------------------------------------------------

/** The tools of backend `b`: the aggregate exposes them as `b<b>_tool_<j>` (prefix `b<b>`). */
function registerTools(mcp: McpServer, backend: number, tools: number, prefixed: boolean): void {
  for (let j = 0; j < tools; j++) {
    const name = prefixed ? `b${backend}_tool_${j}` : `tool_${j}`;
    mcp.registerTool(name, { description: `tool ${j} of backend b${backend}` }, async () => ({ content: [] }));
  }
}

/** `--serve-http B T`: B stateless Streamable HTTP endpoints /b<i>/mcp of T tools each; prints {"port":N}. */
async function serveHttp(backends: number, tools: number): Promise<void> {
  const server = createServer(async (req, res) => {
    const b = Number(/^\/b(\d+)\/mcp/.exec(req.url ?? '')?.[1] ?? Number.NaN);
    if (!(b >= 0 && b < backends)) {
      res.writeHead(404).end();
      return;
    }
    const mcp = new McpServer({ name: `b${b}`, version: '1' });
    registerTools(mcp, b, tools, false);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    res.on('close', () => {
      void transport.close();
      void mcp.close();
    });
    await mcp.connect(transport);
    await transport.handleRequest(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
}

/** `--serve-stdio B T`: one stdio server listing every backend's tools under their exposed names (B*T tools). */
async function serveStdio(backends: number, tools: number): Promise<void> {
  const mcp = new McpServer({ name: 'straight', version: '1' });
  for (let b = 0; b < backends; b++) registerTools(mcp, b, tools, true);
  await mcp.connect(new StdioServerTransport());
}

// ---- processes: every one registered, every one killed ---------------------------------------------------------

/** The processes this run started, each the leader of its own process group (it and what it started). */
export class Processes {
  private readonly live = new Set<ChildProcess>();

  add = (proc: ChildProcess): void => {
    this.live.add(proc);
    proc.once('exit', () => this.live.delete(proc));
  };

  /** At once and synchronously (deadline, signal, process exit). */
  killAll(): void {
    for (const proc of this.live) {
      try {
        process.kill(-(proc.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }

  /** SIGTERM each group, SIGKILL after 10 s (stopProc). */
  async stopAll(): Promise<void> {
    await Promise.all([...this.live].map((p) => stopProc(p, true)));
  }
}

/** A child of this file (`--serve-http`), ready once it printed its port. */
export async function startHttpBackends(procs: Processes, backends: number, tools: number): Promise<number> {
  // spawns: node (this file, as the benchmark's HTTP MCP servers)
  const proc = spawn(NODE, [SERVERS, '--serve-http', String(backends), String(tools)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    detached: true,
  });
  procs.add(proc);
  return new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the HTTP backends did not print their port in 30 s')), 30_000);
    let buf = '';
    proc.stdout?.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      const m = /"port":(\d+)/.exec(buf);
      if (!m) return;
      clearTimeout(timer);
      proc.stdout?.resume();
      resolve(Number(m[1]));
    });
    proc.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the HTTP backends exited (${signal ?? code}) before they listened`));
    });
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [mode, b, t] = process.argv.slice(2);
  if (mode === '--serve-http') await serveHttp(Number(b), Number(t));
  else if (mode === '--serve-stdio') await serveStdio(Number(b), Number(t));
  else throw new Error('usage: node bench/virtual-servers.ts --serve-http|--serve-stdio BACKENDS TOOLS');
}
