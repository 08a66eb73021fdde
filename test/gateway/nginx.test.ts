/**
 * End to end through a real nginx (Debian's), configured the way the operator's Ingress annotations configure
 * ingress-nginx (buffering off, hour-long timeouts, HTTP/1.1 upstream, prefix stripped with
 * X-Forwarded-Prefix), plus a hostile location with buffering ON (the F5 NGINX controller's default) and gzip
 * on event streams, where only the gateway's X-Accel-Buffering header keeps streams flowing. Progress notifications must reach the client while
 * the tool call is still running on the server: checked causally, by asking the gateway at the first progress
 * whether the call has completed yet.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ingressLocation, type RunningNginx, STREAMING_DIRECTIVES, startNginx } from '../support/nginx.ts';
import {
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  metricValue,
  postInitialize,
  type RunningGateway,
  sseEvents,
  startGateway,
  stopAll,
  until,
} from './helpers.ts';

let gw: RunningGateway;
let nginx: RunningNginx;
let front: string;

beforeAll(async () => {
  gw = await startGateway(['stdio', '--base-path', '/direct', '--', ...EVERYTHING], {
    env: { MCP_GATEWAY_KEEPALIVE_INTERVAL: '500ms' },
  });
  const upstream = `127.0.0.1:${gw.port}`;
  nginx = await startNginx(`
    # ingress-nginx style: prefix stripped, X-Forwarded-Prefix set, buffering off.
    ${ingressLocation('/github', upstream).trim()}
    # the gateway's own base path, prefix kept.
    location /direct/ {
      proxy_pass http://${upstream};
      proxy_buffering off;${STREAMING_DIRECTIVES}
    }
    # A hostile hop: buffering ON (the F5 NGINX controller's default) and gzip on event streams. nginx holds
    # the whole stream until the response ends here unless the gateway sends X-Accel-Buffering: no (checked by
    # hand: without the header the four progress events arrive together with the result).
    location /buffered/ {
      proxy_pass http://${upstream}/;
      proxy_set_header X-Forwarded-Prefix /buffered;
      gzip on;
      gzip_types text/event-stream;
      proxy_buffering on;${STREAMING_DIRECTIVES}
    }`);
  front = nginx.url;
  await until(
    async () => (await fetch(`${front}/github/.well-known/oauth-protected-resource`)).status === 404,
    15_000,
    'nginx to listen',
  );
});

afterAll(async () => {
  await nginx?.stop();
  await stopAll();
});

/** Calls a long tool and records, at the first progress event, whether the gateway had already finished it. */
async function progressWhileRunning(call: (onprogress: () => void) => Promise<unknown>) {
  const before = await metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'trigger-long-running-operation' });
  let completedAtFirstProgress: number | undefined;
  let firstProgress: Promise<void> | undefined;
  let progressCount = 0;
  await call(() => {
    progressCount++;
    firstProgress ??= metricValue(gw, 'mcp_gateway_tool_calls_total', { tool: 'trigger-long-running-operation' }).then(
      (v) => {
        completedAtFirstProgress = v;
      },
    );
  });
  await firstProgress;
  return { before, completedAtFirstProgress, progressCount };
}

const LONG = { name: 'trigger-long-running-operation', arguments: { duration: 2, steps: 4 } };

describe('through real nginx', () => {
  for (const prefix of ['/github', '/direct', '/buffered']) {
    test(`${prefix}: 2025 client sees progress while the call still runs`, async () => {
      const { client } = await client2025(`${front}${prefix}`);
      const r = await progressWhileRunning((onprogress) => client.callTool(LONG, undefined, { onprogress }));
      expect(r.progressCount).toBe(4);
      expect(r.completedAtFirstProgress).toBe(r.before);
      await client.close();
    });
  }

  test('2026-07-28 client sees progress while the call still runs', async () => {
    const { client } = await client2026(`${front}/github`);
    const r = await progressWhileRunning((onprogress) => client.callTool(LONG, { onprogress }));
    expect(r.progressCount).toBe(4);
    expect(r.completedAtFirstProgress).toBe(r.before);
    await client.close();
  });

  test('legacy SSE behind a stripped prefix: the endpoint URL keeps /github, progress streams', async () => {
    const controller = new AbortController();
    const res = await fetch(`${front}/github/sse`, { signal: controller.signal });
    let endpoint = '';
    for await (const ev of sseEvents(res.body as ReadableStream<Uint8Array>)) {
      if (ev.event === 'endpoint') {
        endpoint = ev.data;
        break;
      }
    }
    controller.abort();
    expect(endpoint).toMatch(/^\/github\/messages\?sessionId=/);
    const { client } = await clientSse(`${front}/github/sse`);
    const r = await progressWhileRunning((onprogress) => client.callTool(LONG, undefined, { onprogress }));
    expect(r.progressCount).toBe(4);
    expect(r.completedAtFirstProgress).toBe(r.before);
    await client.close();
  });

  test('keep-alive comments pass through nginx on an idle GET stream, even with buffering on', async () => {
    const init = await postInitialize(`${front}/github/mcp`, '2025-11-25');
    const sid = init.headers.get('mcp-session-id') as string;
    expect(sid).toMatch(/^[A-Za-z0-9_-]{24,}/);
    const stream = await fetch(`${front}/buffered/mcp`, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': sid },
    });
    expect(stream.status).toBe(200);
    expect(stream.headers.get('x-accel-buffering')).toBeNull(); // nginx consumes it
    let comments = 0;
    for await (const ev of sseEvents(stream.body as ReadableStream<Uint8Array>)) {
      if (ev.comment === 'keep-alive') comments++;
      if (comments === 2) break;
    }
    expect(comments).toBe(2);
  });
});
