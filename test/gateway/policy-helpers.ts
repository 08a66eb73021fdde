/**
 * What the policy suites (policy*.test.ts) share: one gateway in front of server-everything with bearer tokens
 * from a file, a tool deny list, per-client and per-tool rate limits, a body limit and an Origin allow-list.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { client2025, EVERYTHING, type RunningGateway, startGateway, textOf } from './helpers.ts';

export const TOKENS = {
  main: 'tok-main-0123456789abcdef',
  flood: 'tok-flood-0123456789abcdef',
  perTool: 'tok-pertool-0123456789abcdef',
  rotated: 'tok-old-0123456789abcdef',
};
export const auth = (t: string) => ({ authorization: `Bearer ${t}` });

/** The gateway every policy test talks to, and the token file it reads (a test rotates it). */
export async function startPolicyGateway(): Promise<{ gw: RunningGateway; tokenFile: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gw-policy-'));
  const tokenFile = join(dir, 'tokens');
  writeFileSync(tokenFile, `# one token per line\n${Object.values(TOKENS).join('\n')}\n`);
  const gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    env: {
      MCP_GATEWAY_AUTH_TOKEN_FILE: tokenFile,
      MCP_GATEWAY_TOOLS_DENY: 'get-env,gzip-file-as-resource',
      MCP_GATEWAY_RATE_LIMIT_RPM: '40',
      MCP_GATEWAY_RATE_LIMIT_PER_TOOL: 'get-sum=3',
      MCP_GATEWAY_MAX_BODY_BYTES: '65536',
      MCP_GATEWAY_ALLOWED_ORIGINS: 'https://app.example',
    },
  });
  return { gw, tokenFile };
}

export function postTo(gw: RunningGateway, body: string, headers: Record<string, string>) {
  return fetch(`${gw.url}/mcp`, {
    method: 'POST',
    headers: { accept: 'application/json, text/event-stream', ...headers },
    body,
  });
}

/** A well-behaved client is served: after every refusal, the gateway still works. */
export async function stillServed(gw: RunningGateway) {
  const { client } = await client2025(gw.url, { headers: auth(TOKENS.main) });
  const r = await client.callTool({ name: 'echo', arguments: { message: 'still here' } });
  expect(textOf(r)).toBe('Echo: still here');
  await client.close();
}
