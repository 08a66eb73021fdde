/**
 * Copy-paste client configuration for a catalog entry: the page shows these and `mcp-operator connect` prints
 * them. Pure. A token is never in a snippet: bearer auth becomes a reference the client resolves (an
 * environment variable, a VS Code input prompt); OIDC needs no header (clients follow the gateway's RFC 9728
 * metadata to the issuer).
 */
import { type CatalogEntry, preferredEndpoint } from './entry.ts';

export const CLIENTS = ['claude-code', 'claude-desktop', 'vscode', 'cursor', 'sdk'] as const;
export type ClientKind = (typeof CLIENTS)[number];

export interface Snippet {
  client: ClientKind;
  label: string;
  /** Where it goes, when it is a file. */
  file?: string;
  language: 'shell' | 'json' | 'typescript';
  text: string;
}

/** MCP_TOKEN_GITHUB for github: one variable per server, never a real token. */
export function tokenVariable(entry: Pick<CatalogEntry, 'name'>): string {
  return `MCP_TOKEN_${entry.name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

const shellQuote = (s: string) => (/^[A-Za-z0-9_.:/@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;

export interface SnippetTarget {
  name: string;
  url: string;
  type: 'streamable-http' | 'sse';
  bearer: boolean;
}

/** The endpoint a snippet uses: the external one when there is one (people connect from outside). */
export function snippetTarget(entry: CatalogEntry): SnippetTarget | undefined {
  const endpoint = preferredEndpoint(entry);
  if (!endpoint) return undefined;
  return { name: entry.name, url: endpoint.url, type: endpoint.type, bearer: entry.auth === 'bearer' };
}

export function claudeCode(t: SnippetTarget): string {
  const transport = t.type === 'sse' ? 'sse' : 'http';
  const header = t.bearer ? ` --header "Authorization: Bearer $${tokenVariable(t)}"` : '';
  return `claude mcp add --transport ${transport} ${shellQuote(t.name)} ${shellQuote(t.url)}${header}\n`;
}

/** Claude Desktop's config file starts local processes only: mcp-remote bridges to the HTTP endpoint. */
export function claudeDesktop(t: SnippetTarget): unknown {
  const args = ['-y', 'mcp-remote', t.url];
  // mcp-remote refuses plain HTTP to anything but localhost unless told (in-cluster URLs are plain HTTP).
  if (/^http:\/\//.test(t.url) && !/^http:\/\/(localhost|127\.0\.0\.1)(:|\/)/.test(t.url)) args.push('--allow-http');
  if (t.type === 'sse') args.push('--transport', 'sse-only');
  // "Authorization:${AUTH_HEADER}" without a space: mcp-remote's advice, since some shells split on it.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: mcp-remote expands ${AUTH_HEADER} from env itself.
  if (t.bearer) args.push('--header', 'Authorization:${AUTH_HEADER}');
  const server: Record<string, unknown> = { command: 'npx', args };
  if (t.bearer) server.env = { AUTH_HEADER: `Bearer <the token in ${tokenVariable(t)}>` };
  return { mcpServers: { [t.name]: server } };
}

export function vscode(t: SnippetTarget): unknown {
  const inputId = `${t.name}-token`;
  const server: Record<string, unknown> = { type: t.type === 'sse' ? 'sse' : 'http', url: t.url };
  if (t.bearer) server.headers = { Authorization: `Bearer \${input:${inputId}}` };
  const config: Record<string, unknown> = {};
  if (t.bearer)
    config.inputs = [
      { type: 'promptString', id: inputId, description: `Bearer token for the MCP server ${t.name}`, password: true },
    ];
  config.servers = { [t.name]: server };
  return config;
}

export function cursor(t: SnippetTarget): unknown {
  const server: Record<string, unknown> = { url: t.url };
  if (t.bearer) server.headers = { Authorization: `Bearer \${env:${tokenVariable(t)}}` };
  return { mcpServers: { [t.name]: server } };
}

export function sdk(t: SnippetTarget): string {
  const sse = t.type === 'sse';
  const transportClass = sse ? 'SSEClientTransport' : 'StreamableHTTPClientTransport';
  const options = t.bearer
    ? `, {\n  requestInit: { headers: { Authorization: \`Bearer \${process.env.${tokenVariable(t)}}\` } },\n}`
    : '';
  return [
    `import { Client, ${transportClass} } from '@modelcontextprotocol/client';`,
    '',
    `const transport = new ${transportClass}(new URL(${JSON.stringify(t.url)})${options});`,
    "const client = new Client({ name: 'my-agent', version: '1.0.0' });",
    'await client.connect(transport);',
    'console.log((await client.listTools()).tools.map((tool) => tool.name));',
    'await client.close();',
    '',
  ].join('\n');
}

export function snippet(client: ClientKind, t: SnippetTarget): Snippet {
  switch (client) {
    case 'claude-code':
      return { client, label: 'Claude Code', language: 'shell', text: claudeCode(t) };
    case 'claude-desktop':
      return {
        client,
        label: 'Claude Desktop',
        file: 'claude_desktop_config.json',
        language: 'json',
        text: json(claudeDesktop(t)),
      };
    case 'vscode':
      return { client, label: 'VS Code', file: '.vscode/mcp.json', language: 'json', text: json(vscode(t)) };
    case 'cursor':
      return { client, label: 'Cursor', file: '.cursor/mcp.json', language: 'json', text: json(cursor(t)) };
    case 'sdk':
      return { client, label: 'TypeScript SDK', language: 'typescript', text: sdk(t) };
  }
}

export function snippets(entry: CatalogEntry): Snippet[] {
  const target = snippetTarget(entry);
  return target ? CLIENTS.map((c) => snippet(c, target)) : [];
}
