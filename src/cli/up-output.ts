/** What `up` prints, as pure functions: the URL of a Ready server, the lines that follow it, the skipped examples. */
import type { ExamplePlan } from './up-examples.ts';

/** A word for a POSIX shell: quoted only when it needs to be. */
export function shellWord(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", "'\\''")}'`;
}

export const shellLine = (words: string[]) => words.map(shellWord).join(' ');

/** The URL a client on this machine calls: loopback only, the gateway's Streamable HTTP path. */
export function loopbackUrl(port: number, path = '/mcp'): string {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`port ${port} is not a TCP port`);
  return `http://127.0.0.1:${port}${path.startsWith('/') ? path : `/${path}`}`;
}

export interface ReadyServer {
  name: string;
  url: string;
  tools: string[];
  /** a note after the tools (e.g. that a credential is a placeholder) */
  note?: string;
}

/**
 * For one Ready server: a heading, the URL alone on its line (a script or a person copies it as it is), the
 * `claude mcp add` line and the MCP Inspector CLI listing its tools (`inspector`: how to run the Inspector).
 */
export function readyServerLines(server: ReadyServer, inspector: string[]): string[] {
  const tools = server.tools.length > 0 ? `tools: ${server.tools.join(', ')}` : 'tools: (not listed yet)';
  return [
    `${server.name}  (${tools}${server.note ? `; ${server.note}` : ''})`,
    server.url,
    `  ${shellLine(['claude', 'mcp', 'add', '--transport', 'http', server.name, server.url])}`,
    `  ${shellLine([...inspector, '--cli', server.url, '--transport', 'http', '--method', 'tools/list'])}`,
  ];
}

/** One line per example that does not run on the node, with the command that would make its image local. */
export function skippedLines(plans: ExamplePlan[]): string[] {
  const lines: string[] = [];
  for (const p of plans) {
    if (p.source.kind !== 'not-local') continue;
    lines.push(
      `  ${p.name}: image ${p.image} is not local (the node never pulls); make it local, then run up again:`,
      `      ${shellLine(p.source.command)}`,
    );
    if (p.credentials.length > 0) {
      lines.push(`      and it needs a real credential: Secret ${p.credentials.join(', ')}`);
    }
  }
  return lines;
}

/** Examples that run, but with placeholder credentials: their tools that reach the external service fail. */
export function credentialLines(plans: ExamplePlan[]): string[] {
  return plans
    .filter((p) => p.source.kind !== 'not-local' && p.credentials.length > 0)
    .map(
      (p) =>
        `  ${p.name}: needs a real credential (Secret ${p.credentials.join(', ')}); it runs with a placeholder until you replace it`,
    );
}

/** "about 4 min the first time, 5 s cached" */
export interface Usual {
  first: string;
  cached: string;
}

/** A progress line: `up: [3/7] building images (usually 4 min the first run, 5 s cached)`. */
export function stepLine(index: number, total: number, title: string, usual: Usual): string {
  return `up: [${index}/${total}] ${title} (usually ${usual.first} the first run, ${usual.cached} cached)`;
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return s < 60 ? `${s.toFixed(1)} s` : `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}
