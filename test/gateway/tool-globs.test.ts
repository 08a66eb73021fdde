/** tools.allow / tools.deny globs on a real gateway in front of the real "everything" server, through a real client. */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { client2025, client2026, EVERYTHING, type RunningGateway, startGateway, stopAll, textOf } from './helpers.ts';

let gw: RunningGateway;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--', ...EVERYTHING], {
    // What users write: get-* (a glob, once taken as an exact name that hid every tool), one ? and an exact name.
    env: { MCP_GATEWAY_TOOLS_ALLOW: 'get-*,echo', MCP_GATEWAY_TOOLS_DENY: 'get-e?v' },
  });
});

afterAll(async () => {
  await stopAll();
});

describe('tool globs', () => {
  test('tools/list shows what the globs allow and not what they deny; tools/call agrees, in both eras', async () => {
    for (const connect of [client2025, client2026]) {
      const { client } = await connect(gw.url);
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('echo');
      expect(names).toContain('get-sum');
      expect(names).not.toContain('get-env');
      expect(
        names.every((n) => n === 'echo' || n.startsWith('get-')),
        names.join(', '),
      ).toBe(true);
      expect(textOf(await client.callTool({ name: 'get-sum', arguments: { a: 2, b: 3 } }))).toContain('5');
      await expect(client.callTool({ name: 'get-env', arguments: {} })).rejects.toThrow(/not available/);
      await expect(client.callTool({ name: 'gzip-file-as-resource', arguments: {} })).rejects.toThrow(/not available/);
      await client.close();
    }
  });
});
