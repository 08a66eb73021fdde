/**
 * The catalog's SDK snippet is a working program: written to a file and run with Node against a real gateway in
 * front of server-everything (Streamable HTTP, and with bearer auth the token from the variable the snippet
 * names), it connects and lists the tools. The other clients (Claude Code, Claude Desktop, VS Code, Cursor)
 * are not runnable here: test/unit/catalog-snippets.test.ts checks their exact text and config shapes.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryOf } from '../../src/catalog/entry.ts';
import { snippet, snippetTarget, tokenVariable } from '../../src/catalog/snippets.ts';
import { EVERYTHING, NODE, ROOT, type RunningGateway, startGateway, stopAll } from './helpers.ts';

let dir: string;
let open: RunningGateway;
let guarded: RunningGateway;
const TOKEN = 'sdk-snippet-token';

beforeAll(async () => {
  // Inside the checkout, so the snippet's import resolves to this project's @modelcontextprotocol/client.
  mkdirSync(join(ROOT, '.scratch'), { recursive: true });
  dir = mkdtempSync(join(ROOT, '.scratch', 'sdk-snippet-'));
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, `${TOKEN}\n`);
  open = await startGateway(['stdio', '--', ...EVERYTHING]);
  guarded = await startGateway(['stdio', '--', ...EVERYTHING], { env: { MCP_GATEWAY_AUTH_TOKEN_FILE: tokenFile } });
});

afterAll(async () => {
  await stopAll();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(code: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const file = join(dir, `snippet-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, code);
  return new Promise((ok) =>
    // spawns: node
    execFile(NODE, [file], { env: { ...process.env, ...env }, timeout: 60_000 }, (err, stdout, stderr) =>
      ok({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

const sdkFor = (url: string, bearer: boolean) => {
  const entry = entryOf({
    kind: 'McpServer',
    metadata: { name: 'everything', namespace: 'default' },
    spec: { gateway: { enabled: true }, ...(bearer ? { auth: { bearer: {} } } : {}) },
    status: { url: `${url}/mcp` },
  });
  return snippet('sdk', snippetTarget(entry) ?? expect.unreachable()).text;
};

describe('the SDK snippet', () => {
  it('connects and lists the tools of a real gateway', async () => {
    const result = await run(sdkFor(open.url, false), {});
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('echo');
  });

  it('with bearer auth, sends the token from the variable it names, and fails without it', async () => {
    const code = sdkFor(guarded.url, true);
    const variable = tokenVariable({ name: 'everything' });
    const withToken = await run(code, { [variable]: TOKEN });
    expect(withToken.stderr).toBe('');
    expect(withToken.stdout).toContain('echo');
    const without = await run(code, { [variable]: 'wrong' });
    expect(without.code).not.toBe(0);
  });
});
