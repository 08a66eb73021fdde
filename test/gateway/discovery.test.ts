/**
 * The controller's tool discovery (src/controller/discovery.ts) against a real server behind the real gateway:
 * what `status.serverInfo` and `status.tools` will say, including the gateway's tool filter.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { discoverServer } from '../../src/controller/discovery.ts';
import { EVERYTHING, startGateway, stopAll } from './helpers.ts';

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
    await expect(discoverServer('http://127.0.0.1:9/mcp', 2_000)).rejects.toThrow();
  });
});
