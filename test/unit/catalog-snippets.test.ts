/**
 * Client snippets (pure): the exact text for each client, with and without bearer auth, and each accepted by
 * its client's config shape. None of these clients publishes a JSON schema file: VS Code builds its mcp.json
 * schema in code (the HTTP-server branch of mcpServerSchema in microsoft/vscode
 * src/vs/workbench/contrib/mcp/common/mcpConfiguration.ts, transcribed below: url required, type http|sse,
 * url ^https?://, headers a string map, nothing else); Claude Desktop and Cursor document theirs in prose, so
 * their shapes below are transcribed from that documentation and checked with ajv.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the snippets hold the clients' own ${...} references
import { execFileSync } from 'node:child_process';
import { Ajv } from 'ajv';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type CatalogEntry, entryOf } from '../../src/catalog/entry.ts';
import { snippet, snippets, snippetTarget, tokenVariable } from '../../src/catalog/snippets.ts';

const URL_ = 'https://mcp.example.com/github/mcp';

function entry(auth: 'none' | 'bearer' | 'oidc', externalURL: string | null = URL_): CatalogEntry {
  return entryOf({
    kind: 'McpServer',
    metadata: { name: 'github', namespace: 'team-a' },
    spec: {
      gateway: { enabled: true },
      ...(auth === 'bearer' ? { auth: { bearer: {} } } : auth === 'oidc' ? { auth: { oidc: {} } } : {}),
    },
    status: { url: 'http://github.team-a.svc:8080/mcp', ...(externalURL ? { externalURL } : {}) },
  });
}
const target = (auth: 'none' | 'bearer' | 'oidc') => snippetTarget(entry(auth)) ?? expect.unreachable();
const text = (client: Parameters<typeof snippet>[0], auth: 'none' | 'bearer' | 'oidc') =>
  snippet(client, target(auth)).text;

const ajv = new Ajv({ allErrors: true, strict: true });
const stringMap = { type: 'object', additionalProperties: { type: 'string' } };
const VSCODE = ajv.compile({
  type: 'object',
  additionalProperties: false,
  properties: {
    inputs: {
      type: 'array',
      items: {
        type: 'object',
        required: ['type', 'id', 'description'],
        additionalProperties: false,
        properties: {
          type: { enum: ['promptString'] },
          id: { type: 'string' },
          description: { type: 'string' },
          password: { type: 'boolean' },
        },
      },
    },
    servers: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['url'],
        additionalProperties: false,
        properties: {
          type: { type: 'string', enum: ['http', 'sse'] },
          url: { type: 'string', pattern: '^https?:\\/\\/.+' },
          headers: stringMap,
        },
      },
    },
  },
  required: ['servers'],
});
const CLAUDE_DESKTOP = ajv.compile({
  type: 'object',
  required: ['mcpServers'],
  additionalProperties: false,
  properties: {
    mcpServers: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['command'],
        additionalProperties: false,
        properties: { command: { type: 'string' }, args: { type: 'array', items: { type: 'string' } }, env: stringMap },
      },
    },
  },
});
const CURSOR = ajv.compile({
  type: 'object',
  required: ['mcpServers'],
  additionalProperties: false,
  properties: {
    mcpServers: {
      type: 'object',
      additionalProperties: {
        type: 'object',
        required: ['url'],
        additionalProperties: false,
        properties: { url: { type: 'string' }, headers: stringMap },
      },
    },
  },
});

describe('client snippets', () => {
  it('Claude Code: claude mcp add --transport http NAME URL, --header only with bearer auth', () => {
    expect(text('claude-code', 'none')).toBe(`claude mcp add --transport http github ${URL_}\n`);
    expect(text('claude-code', 'oidc')).toBe(`claude mcp add --transport http github ${URL_}\n`);
    expect(text('claude-code', 'bearer')).toBe(
      `claude mcp add --transport http github ${URL_} --header "Authorization: Bearer $MCP_TOKEN_GITHUB"\n`,
    );
  });

  it('VS Code: .vscode/mcp.json with a password input for the token', () => {
    const s = snippet('vscode', target('bearer'));
    expect(s.file).toBe('.vscode/mcp.json');
    const config = JSON.parse(s.text);
    expect(VSCODE(config), JSON.stringify(VSCODE.errors)).toBe(true);
    expect(config).toEqual({
      inputs: [
        {
          type: 'promptString',
          id: 'github-token',
          description: 'Bearer token for the MCP server github',
          password: true,
        },
      ],
      servers: { github: { type: 'http', url: URL_, headers: { Authorization: 'Bearer ${input:github-token}' } } },
    });
    const open = JSON.parse(text('vscode', 'none'));
    expect(VSCODE(open)).toBe(true);
    expect(open).toEqual({ servers: { github: { type: 'http', url: URL_ } } });
  });

  it('Cursor: mcp.json with the token from the environment', () => {
    const config = JSON.parse(text('cursor', 'bearer'));
    expect(CURSOR(config), JSON.stringify(CURSOR.errors)).toBe(true);
    expect(config).toEqual({
      mcpServers: { github: { url: URL_, headers: { Authorization: 'Bearer ${env:MCP_TOKEN_GITHUB}' } } },
    });
    expect(JSON.parse(text('cursor', 'none'))).toEqual({ mcpServers: { github: { url: URL_ } } });
  });

  it('Claude Desktop: a local mcp-remote process bridging to the URL', () => {
    const config = JSON.parse(text('claude-desktop', 'bearer'));
    expect(CLAUDE_DESKTOP(config), JSON.stringify(CLAUDE_DESKTOP.errors)).toBe(true);
    expect(config).toEqual({
      mcpServers: {
        github: {
          command: 'npx',
          args: ['-y', 'mcp-remote', URL_, '--header', 'Authorization:${AUTH_HEADER}'],
          env: { AUTH_HEADER: 'Bearer <the token in MCP_TOKEN_GITHUB>' },
        },
      },
    });
    expect(JSON.parse(text('claude-desktop', 'none'))).toEqual({
      mcpServers: { github: { command: 'npx', args: ['-y', 'mcp-remote', URL_] } },
    });
    const inCluster = snippetTarget(entry('none', null)) ?? expect.unreachable();
    expect(JSON.parse(snippet('claude-desktop', inCluster).text)).toEqual({
      mcpServers: {
        github: { command: 'npx', args: ['-y', 'mcp-remote', 'http://github.team-a.svc:8080/mcp', '--allow-http'] },
      },
    });
  });

  it('the SDK snippet connects with the official TypeScript client', () => {
    expect(text('sdk', 'bearer')).toBe(
      [
        "import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';",
        '',
        `const transport = new StreamableHTTPClientTransport(new URL("${URL_}"), {`,
        '  requestInit: { headers: { Authorization: `Bearer ${process.env.MCP_TOKEN_GITHUB}` } },',
        '});',
        "const client = new Client({ name: 'my-agent', version: '1.0.0' });",
        'await client.connect(transport);',
        'console.log((await client.listTools()).tools.map((tool) => tool.name));',
        'await client.close();',
        '',
      ].join('\n'),
    );
  });

  it('uses the external URL when there is one, else the in-cluster one; none without a URL', () => {
    expect(snippetTarget(entry('none'))?.url).toBe(URL_);
    expect(snippetTarget(entry('none', null))?.url).toBe('http://github.team-a.svc:8080/mcp');
    const noUrl = { ...entry('none'), endpoints: [] };
    expect(snippets(noUrl)).toEqual([]);
  });

  it('never carries a token value: only references', () => {
    for (const s of snippets(entry('bearer'))) expect(s.text).toMatch(/MCP_TOKEN_GITHUB|\$\{input:github-token\}/);
    expect(tokenVariable({ name: 'my-server.2' })).toBe('MCP_TOKEN_MY_SERVER_2');
  });

  it('quotes a URL the shell would split', () => {
    const t = { ...target('none'), url: 'https://h.example.com/a b/mcp' };
    expect(snippet('claude-code', t).text).toBe(
      "claude mcp add --transport http github 'https://h.example.com/a b/mcp'\n",
    );
  });
});

describe('snippets for a hostile URL (property, the real bash)', () => {
  // Whoever can write an McpServer's status chooses the URL: pasted into a shell, it must stay one argument
  // and run nothing. `claude` is a bash function here that prints its arguments.
  it('the Claude Code line gives bash exactly NAME and the URL as arguments, whatever the URL holds', () => {
    const url = fc.oneof(
      fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }).filter((u) => !u.includes('\0')),
      fc.constantFrom("https://x/'; claude pwned; '", 'https://x/$(id)`id`', 'https://x/\n id', 'https://x/"$HOME"'),
    );
    const lines = fc.sample(url, { numRuns: 150, seed: 14 }).map((u) => ({
      url: u,
      line: snippet('claude-code', { name: 'github', url: u, type: 'streamable-http', bearer: true }).text,
    }));
    const script = ['claude() { printf "%s\\0" "$#" "$@"; }', ...lines.map(({ line }) => line.trimEnd())].join('\n');
    const out = execFileSync('bash', ['--noprofile', '--norc', '-c', script], {
      env: { PATH: process.env.PATH ?? '', MCP_TOKEN_GITHUB: 't0ken' },
      encoding: 'utf8',
    });
    // Each call: its argument count, then its arguments, NUL-terminated (an argument may hold any other byte).
    const fields = out.split('\0');
    const calls: string[][] = [];
    for (let i = 0; i < fields.length - 1; ) {
      const n = Number(fields[i]);
      calls.push(fields.slice(i + 1, i + 1 + n));
      i += n + 1;
    }
    expect(calls).toEqual(
      lines.map(({ url: u }) => [
        'mcp',
        'add',
        '--transport',
        'http',
        'github',
        u,
        '--header',
        'Authorization: Bearer t0ken',
      ]),
    );
  });
});
