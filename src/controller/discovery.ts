/**
 * What a server says about itself. Once an McpServer is Ready, the controller connects through its Service like
 * any client (initialize, then tools/list) and reports `status.serverInfo`, `status.tools` and their descriptions. The gateway
 * applies the tool filter, so the list is what clients see. Once per spec generation and rollout; a failure
 * never affects readiness and is retried later.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { McpServerStatus } from '../api/types.generated.ts';

export type Discovery = Required<Pick<McpServerStatus, 'serverInfo' | 'tools' | 'toolDescriptions'>>;

/** The schema's limits on status.tools. */
const MAX_TOOLS = 1024;
const MAX_NAME = 256;
const MAX_DESCRIPTION = 512;
const clip = (s: string | undefined, max = 253) => (s ?? '').slice(0, max);

export async function discoverServer(
  url: string,
  options: { token?: string; timeoutMs?: number } = {},
): Promise<Discovery> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = new Client({ name: 'mcp-operator-discovery', version: '1' }, { capabilities: {} });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    ...(options.token ? { requestInit: { headers: { authorization: `Bearer ${options.token}` } } } : {}),
  });
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    await client.connect(transport, { signal, timeout: timeoutMs });
    const info = client.getServerVersion();
    const tools: string[] = [];
    const toolDescriptions: Record<string, string> = {};
    let cursor: string | undefined;
    do {
      const page = await client.listTools(cursor ? { cursor } : {}, { signal, timeout: timeoutMs });
      for (const tool of page.tools) {
        const name = clip(tool.name, MAX_NAME);
        tools.push(name);
        if (tool.description && tools.length <= MAX_TOOLS)
          toolDescriptions[name] = clip(tool.description, MAX_DESCRIPTION);
      }
      cursor = page.nextCursor;
    } while (cursor && tools.length < MAX_TOOLS);
    return {
      serverInfo: {
        name: clip(info?.name),
        version: clip(info?.version),
        protocolVersion: clip(transport.protocolVersion ?? ''),
      },
      tools: [...new Set(tools)].slice(0, MAX_TOOLS),
      toolDescriptions,
    };
  } finally {
    await transport.terminateSession().catch(() => undefined); // free the gateway's session now
    await client.close().catch(() => undefined);
  }
}
