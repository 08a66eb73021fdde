/**
 * `npm run bench -- up` (root; alone on the machine: it starts a node): the quick start's time to the first working
 * URL. `mcp-operator up` runs as a child process, as a user starts it; the clock stops when an MCP client has
 * listed the tools through the first URL it printed. Then SIGINT, and the teardown is timed too.
 *   first run: a new node directory (no image in its containerd), the examples' images and their Python base
 *              removed from buildah's storage, the operator image's input digest forgotten (scripts/images.sh runs,
 *              on buildah's layer cache). The Kubernetes binaries and the Node base stay cached: building those
 *              from scratch is timed by their own scripts (README: about 10 minutes on 2 cores).
 *   cached:    the same directory again, everything in place (what every later `npm start` does).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const ROOT = resolve(import.meta.dirname, '..');
const BIN = join(ROOT, 'node_modules/.bin');
const DIR = '/var/lib/mcp-operator-up-bench';
const EXAMPLE_IMAGES = [
  'localhost/python-fastmcp:1.30.0',
  'localhost/python-uvx-time:2026.10.19',
  'localhost/python:3-bookworm',
];

interface Run {
  firstUrlSeconds: number;
  allReadySeconds: number;
  teardownSeconds: number;
  exitCode: number | null;
}

async function listTools(url: string): Promise<number> {
  const client = new Client({ name: 'bench-up', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  try {
    return (await client.listTools()).tools.length;
  } finally {
    await client.close();
  }
}

async function once(): Promise<Run> {
  const started = Date.now();
  const child: ChildProcess = spawn(
    join(BIN, 'node'),
    [join(ROOT, 'src/cli/main.ts'), 'up', '--local', '--node-dir', DIR, '--port', '28800'],
    { cwd: ROOT, env: { ...process.env, PATH: `${BIN}:${process.env.PATH}` }, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const exited = new Promise<number | null>((ok) => child.once('exit', ok));
  let output = '';
  let firstUrl: Promise<number> | undefined;
  const allReady = new Promise<number>((ok, fail) => {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
      const url = /^(http:\/\/127\.0\.0\.1:\d+\/mcp)$/m.exec(output)?.[1];
      if (url && !firstUrl) {
        firstUrl = listTools(url).then((n) => {
          if (n === 0) throw new Error(`no tools at ${url}`);
          return (Date.now() - started) / 1000;
        });
      }
      if (output.includes('Press Ctrl-C')) ok((Date.now() - started) / 1000);
    });
    child.once('exit', (code) => fail(new Error(`up exited (${code}) before its servers were up:\n${output}`)));
  });
  const allReadySeconds = await allReady;
  const firstUrlSeconds = await (firstUrl ?? Promise.reject(new Error('no URL printed')));
  const stopping = Date.now();
  child.kill('SIGINT');
  const exitCode = await exited;
  if (!output.includes('nothing left running')) throw new Error(`teardown reported problems:\n${output}`);
  return { firstUrlSeconds, allReadySeconds, teardownSeconds: (Date.now() - stopping) / 1000, exitCode };
}

function forgetImages(): void {
  for (const image of EXAMPLE_IMAGES) {
    try {
      execFileSync('buildah', ['rmi', '--force', image], { stdio: 'ignore' });
    } catch {
      // not there: nothing to forget
    }
  }
  const cache = process.env.MCP_OPERATOR_CACHE ?? join(homedir(), '.cache', 'mcp-operator');
  rmSync(join(cache, 'images', 'operator-inputs.json'), { force: true });
}

export async function runUpBench(): Promise<string> {
  if (process.getuid?.() !== 0) throw new Error('bench up needs root (it starts a node, as `npm start` does as root)');
  rmSync(DIR, { recursive: true, force: true });
  forgetImages();
  const first = await once();
  const cached = [await once(), await once()];
  rmSync(DIR, { recursive: true, force: true });
  const row = (label: string, r: Run) =>
    `| ${label} | ${r.firstUrlSeconds.toFixed(1)} s | ${r.allReadySeconds.toFixed(1)} s | ${r.teardownSeconds.toFixed(1)} s |`;
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  return [
    '## Quick start: time to the first working URL (`mcp-operator up` on a real local node)',
    '',
    `Command: \`npm run bench -- up\` (root, nothing else starting a node; ${when} UTC). \`up\` runs as a child process; "first URL" stops when an MCP client has listed the tools through the first URL it printed, "all Ready" when every runnable example has its URL, "teardown" from SIGINT to exit with nothing left. First run: new node directory, the example images and their Python base removed from buildah's storage, the operator image rebuilt on buildah's layer cache; the Kubernetes binaries (about 10 minutes to build on 2 cores) and the Node base image stay cached. Target cached: 60 s or less.`,
    '',
    '| run | first URL | all Ready | teardown |',
    '| --- | ---: | ---: | ---: |',
    row('first run', first),
    ...cached.map((r, i) => row(`cached #${i + 1}`, r)),
  ].join('\n');
}
