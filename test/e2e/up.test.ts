/**
 * `npm start` as a user runs it: `mcp-operator up` in a child process with no kubeconfig, as root, brings up its own
 * node and prints a URL per Ready server. A client calls tools through a printed URL with the SDK and with the
 * Inspector CLI (the printed command), the Python servers' tools answer through the gateway, a second `up` says
 * one runs, and after SIGINT nothing is left: processes, mounts, network namespaces, bridge, iptables and nftables.
 * Its own vitest project (e2e-up): the e2e project's shared cluster would be a second node on this host.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { NODE_LOCK } from '../../src/cli/up.ts';
import { detectNodeIP } from '../../src/local-cluster/node-host.ts';
import { BRIDGE } from '../../src/local-cluster/node-layout.ts';
import { ACTIVE, mountsUnder, nftTables, ownProcesses } from '../../src/local-cluster/node-teardown.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const NODE_DIR = process.env.MCP_E2E_UP_DIR ?? '/var/lib/mcp-operator-up-e2e';
const PORT = 18800;
const BIN = join(ROOT, 'node_modules/.bin');
const { KUBECONFIG: _none, ...inherited } = process.env;
const env = { ...inherited, PATH: `${BIN}:${process.env.PATH ?? ''}` };
const exec = promisify(execFile);

let up: ChildProcess;
let output = '';
let exited: Promise<number | null>;
const nftBefore: string[] = [];

/** The URL printed under each server's heading: `NAME  (tools: ...)` then the URL alone on its line. */
function printedUrls(text: string): Map<string, string> {
  const lines = text.split('\n');
  const urls = new Map<string, string>();
  lines.forEach((line, i) => {
    if (/^http:\/\/127\.0\.0\.1:\d+\/mcp$/.test(line)) urls.set((lines[i - 1] ?? '').split(/\s+/)[0] ?? '', line);
  });
  return urls;
}

function waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ${pattern} in ${timeoutMs} ms; output:\n${output}`)), timeoutMs);
    const check = () => {
      if (pattern.test(output)) {
        clearTimeout(timer);
        up.stdout?.off('data', check);
        ok();
      }
    };
    up.stdout?.on('data', check);
    up.once('exit', (code) => {
      clearTimeout(timer);
      if (!pattern.test(output)) fail(new Error(`up exited (${code}) before ${pattern}; output:\n${output}`));
    });
    check();
  });
}

async function connect(url: string): Promise<Client> {
  const client = new Client({ name: 'e2e-up', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url)));
  return client;
}

const text = (result: unknown) =>
  ((result as { content?: Array<{ type: string; text?: string }> }).content ?? []).map((c) => c.text ?? '').join('');

describe('npm start (mcp-operator up) on a real local node', () => {
  beforeAll(async () => {
    nftBefore.push(...(await nftTables()));
    up = spawn(
      join(BIN, 'node'),
      [join(ROOT, 'src/cli/main.ts'), 'up', '--local', '--node-dir', NODE_DIR, '--port', String(PORT)],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    exited = new Promise((ok) => up.once('exit', (code) => ok(code)));
    up.stdout?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    up.stderr?.setEncoding('utf8').on('data', (d: string) => {
      output += d;
    });
    // the first run on a machine builds the images (minutes); a cached one takes well under a minute
    await waitForOutput(/Press Ctrl-C/, 1_500_000);
  }, 1_600_000);

  afterAll(async () => {
    if (up.exitCode === null) {
      up.kill('SIGINT');
      await exited;
    }
  });

  test('prints progress with usual durations, and a loopback URL per Ready server', () => {
    expect(output).toMatch(/^up: \[1\/7\] .+ \(usually .+ the first run, .+ cached\)$/m);
    const urls = printedUrls(output);
    expect([...urls.keys()].sort()).toEqual(['python-fastmcp', 'python-time']);
    const fastmcp = urls.get('python-fastmcp') as string;
    // by name, whatever order they became Ready in
    expect(fastmcp).toBe(`http://127.0.0.1:${PORT}/mcp`);
    expect(urls.get('python-time')).toBe(`http://127.0.0.1:${PORT + 1}/mcp`);
    expect(output).toContain(`  claude mcp add --transport http python-fastmcp ${fastmcp}\n`);
    expect(output).toMatch(/github: image ghcr\.io\/github\/github-mcp-server:v0\.20\.0 is not local/);
    expect(output).toMatch(/\n {6}buildah pull ghcr\.io\/github\/github-mcp-server:v0\.20\.0\n/);
    expect(output).toMatch(/needs a real credential: Secret github-token\/token/);
  });

  test('the Python FastMCP server: tools, progress, a resource and a prompt through the printed URL (SDK)', async () => {
    const client = await connect(printedUrls(output).get('python-fastmcp') as string);
    try {
      const tools = (await client.listTools()).tools.map((t) => t.name).sort();
      expect(tools).toEqual(['add', 'count', 'greet']);
      expect(text(await client.callTool({ name: 'add', arguments: { a: 2, b: 3 } }))).toBe('5');
      const progress: number[] = [];
      const counted = await client.callTool({ name: 'count', arguments: { steps: 4 } }, undefined, {
        onprogress: (p) => progress.push(p.progress),
      });
      expect(text(counted)).toBe('counted to 4');
      expect(progress).toEqual([1, 2, 3, 4]);
      const resource = await client.readResource({ uri: 'notes://welcome' });
      expect(JSON.stringify(resource.contents)).toContain('Welcome to the Python FastMCP example');
      const prompt = await client.getPrompt({ name: 'review', arguments: { code: 'x = 1' } });
      expect(JSON.stringify(prompt.messages)).toContain('x = 1');
    } finally {
      await client.close();
    }
  });

  test('the uvx server from PyPI (mcp-server-time) answers through the gateway', async () => {
    const client = await connect(printedUrls(output).get('python-time') as string);
    try {
      const result = await client.callTool({ name: 'get_current_time', arguments: { timezone: 'UTC' } });
      expect(text(result)).toContain('"timezone": "UTC"');
    } finally {
      await client.close();
    }
  });

  test('the printed Inspector CLI command works, turned into a tool call', async () => {
    const url = printedUrls(output).get('python-fastmcp') as string;
    const line = output.split('\n').find((l) => l.includes('@modelcontextprotocol/inspector --cli') && l.includes(url));
    const words = (line ?? '').trim().split(/\s+/);
    expect(words.slice(-2)).toEqual(['--method', 'tools/list']);
    const [cmd = '', ...args] = words;
    // spawns: npx (the Inspector command up printed)
    const listed = await exec(cmd, args, { cwd: ROOT, env, timeout: 120_000 });
    expect(listed.stdout).toContain('"greet"');
    const call = [...args.slice(0, -1), 'tools/call', '--tool-name', 'greet', '--tool-arg', 'name=up'];
    // spawns: npx (the Inspector command up printed)
    const called = await exec(cmd, call, { cwd: ROOT, env, timeout: 120_000 });
    expect(called.stdout).toContain('Hello, up!');
  });

  test('the URLs listen on 127.0.0.1 only', async () => {
    const port = Number(new URL(printedUrls(output).get('python-fastmcp') as string).port);
    const hex = port.toString(16).toUpperCase().padStart(4, '0');
    const listening = readFileSync('/proc/net/tcp', 'utf8')
      .split('\n')
      .filter((l) => l.includes(`:${hex} `) && / 0A /.test(l))
      .map((l) => l.trim().split(/\s+/)[1]);
    expect(listening).toEqual([`0100007F:${hex}`]);
    const nodeIP = await detectNodeIP();
    await expect(fetch(`http://${nodeIP}:${port}/mcp`, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
  });

  test('a second up while one runs says so and leaves the first alone', async () => {
    const second = await exec(join(BIN, 'node'), [join(ROOT, 'src/cli/main.ts'), 'up', '--local'], {
      cwd: ROOT,
      env,
      timeout: 60_000,
    }).then(
      () => ({ code: 0, stderr: '' }),
      (err: { code: number; stderr: string }) => err,
    );
    expect(second.code).toBe(3);
    expect(second.stderr).toMatch(/another mcp-operator up is running \(pid \d+, node mode/);
    expect(second.stderr).toContain(printedUrls(output).get('python-fastmcp'));
    const client = await connect(printedUrls(output).get('python-fastmcp') as string);
    expect(text(await client.callTool({ name: 'add', arguments: { a: 1, b: 1 } }))).toBe('2');
    await client.close();
  });

  test('SIGINT tears down everything it made', async () => {
    const urls = [...printedUrls(output).values()];
    up.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(output).toContain('nothing left running');
    expect(ownProcesses(NODE_DIR)).toEqual([]);
    expect(mountsUnder(NODE_DIR)).toEqual([]);
    expect(existsSync(join(NODE_DIR, 'state.json'))).toBe(false);
    expect(existsSync(ACTIVE)).toBe(false);
    const links = await exec('ip', ['-json', 'link', 'show']);
    expect((JSON.parse(links.stdout) as Array<{ ifname: string }>).map((l) => l.ifname)).not.toContain(BRIDGE);
    for (const table of ['filter', 'nat']) {
      const rules = await exec('iptables', ['-w', '5', '-t', table, '-S']);
      expect(rules.stdout.split('\n').filter((l) => /KUBE-|mcp-e2e/.test(l))).toEqual([]);
    }
    expect((await nftTables()).sort()).toEqual([...nftBefore].sort());
    for (const url of urls) {
      await expect(fetch(url, { signal: AbortSignal.timeout(3000) })).rejects.toThrow();
    }
    expect(existsSync(NODE_LOCK)).toBe(false);
  });
});

describe('a stop while up is still starting', () => {
  test('SIGTERM while the node starts: up tears down the node it was starting and exits 0', async () => {
    const nft = await nftTables();
    const child = spawn(
      join(BIN, 'node'),
      [join(ROOT, 'src/cli/main.ts'), 'up', '--local', '--node-dir', NODE_DIR, '--port', String(PORT)],
      { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let log = '';
    const done = new Promise<number | null>((ok) => child.once('exit', ok));
    const starting = new Promise<void>((ok) => {
      const onData = (d: string) => {
        log += d;
        // inside step 4: the node's processes are being started
        if (/^up: {7}kubelet$/m.test(log)) ok();
      };
      child.stdout?.setEncoding('utf8').on('data', onData);
      child.stderr?.setEncoding('utf8').on('data', onData);
    });
    await Promise.race([starting, done]);
    child.kill('SIGTERM');
    expect(await done, log).toBe(0);
    expect(log).toContain('nothing left running');
    expect(log).not.toContain('no servers will run'); // a stop, not the fallback to a control plane
    expect(ownProcesses(NODE_DIR)).toEqual([]);
    expect(mountsUnder(NODE_DIR)).toEqual([]);
    expect(existsSync(ACTIVE)).toBe(false);
    expect((await nftTables()).sort()).toEqual([...nft].sort());
    expect(existsSync(NODE_LOCK)).toBe(false);
  });
});
