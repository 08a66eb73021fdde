/**
 * The controller's tool discovery (src/controller/discovery.ts) against a real server behind the real gateway:
 * what `status.serverInfo` and `status.tools` will say, including the gateway's tool filter.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { credentialExpiry, mintCredential } from '../../src/contract/aggregate-credential.ts';
import { discoverServer } from '../../src/controller/discovery.ts';
import { client2025, EVERYTHING, startGateway, stopAll, waitForAudit } from './helpers.ts';

afterAll(stopAll);

describe('tool discovery', () => {
  test('reports the server info and the tools clients may use, after the tool filter', async () => {
    const gw = await startGateway(['stdio', '--tools-deny', 'echo', '--', ...EVERYTHING]);
    const found = await discoverServer(`${gw.url}/mcp`);
    expect(found.serverInfo.name).toMatch(/everything/i);
    expect(found.serverInfo.version).not.toBe('');
    expect(found.serverInfo.protocolVersion).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(found.tools).toContain('get-sum');
    expect(found.tools).not.toContain('echo');
    expect(new Set(found.tools).size).toBe(found.tools.length);
  });

  test('fails with an error, not a hang, when nothing answers', async () => {
    await expect(discoverServer('http://127.0.0.1:9/mcp', { timeoutMs: 2_000 })).rejects.toThrow();
  });

  test('a gateway with auth on: discovery with a credential minted from its session key, not a user token', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-discovery-'));
    const key = randomBytes(32);
    writeFileSync(join(dir, 'tokens'), 'a-user-token-0123456789\n');
    writeFileSync(join(dir, 'session-key'), key);
    const gw = await startGateway(['stdio', '--', ...EVERYTHING], {
      env: {
        MCP_GATEWAY_AUTH_TOKEN_FILE: join(dir, 'tokens'),
        MCP_GATEWAY_SESSION_SECRET_FILE: join(dir, 'session-key'),
        MCP_GATEWAY_ADVERTISE_ADDRESS: '127.0.0.1',
      },
    });
    await expect(discoverServer(`${gw.url}/mcp`, { timeoutMs: 5_000 })).rejects.toThrow(/401|Unauthorized/);
    const token = mintCredential(key, {
      role: 'discovery',
      namespace: 'team',
      aggregate: 'mcp-operator',
      backend: 'everything',
      expiresAt: credentialExpiry(Math.floor(Date.now() / 1000)),
    });
    const found = await discoverServer(`${gw.url}/mcp`, { token });
    expect(found.tools).toContain('echo');
    // Its identity is the operator's own; it cannot act for anyone (no on-behalf-of from it).
    const { client } = await client2025(gw.url, { headers: { authorization: `Bearer ${token}` } });
    await client.callTool({
      name: 'echo',
      arguments: { message: 'x' },
      _meta: { 'io.mcpoperator/on-behalf-of': 'someone' },
    });
    await client.close();
    const audit = await waitForAudit(gw, (a) => a.tool === 'echo');
    expect(audit.client).toBe('operator:discovery');
    expect(audit.onBehalfOf).toBeUndefined();
  });
});
