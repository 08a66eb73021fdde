/**
 * Proxy mode: `/livez/upstream` on the health port is the server container's default liveness check behind the
 * gateway. The kubelet probes the pod IP, but an HTTP MCP server often listens on 127.0.0.1 only (FastMCP's
 * default); the gateway, in the same network namespace, reaches it there. The check is a TCP connect to the upstream,
 * here a real Streamable HTTP MCP server process bound to 127.0.0.1.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { HEALTH_PATHS } from '../../src/contract/gateway.ts';
import { UpstreamLiveness } from '../../src/gateway/health.ts';
import { createLogger } from '../../src/observability/log.ts';
import { type LogLine, NODE, ROOT, startGateway, stopAll, until } from './helpers.ts';

const FIXTURE = join(ROOT, 'test/gateway/fixtures/http-server.ts');

interface LoopbackServer {
  proc: ChildProcess;
  port: number;
  exited: Promise<unknown>;
}

const upstreams = new Set<LoopbackServer>();

async function loopbackServer(args: string[] = []): Promise<LoopbackServer> {
  const proc = spawn(NODE, [FIXTURE, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    proc.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString('utf8');
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    void exited.then(() => reject(new Error('the MCP server fixture exited before listening')));
  });
  const server = { proc, port, exited };
  upstreams.add(server);
  return server;
}

async function kill(server: LoopbackServer): Promise<void> {
  server.proc.kill('SIGCONT');
  server.proc.kill('SIGKILL');
  await server.exited;
  upstreams.delete(server);
}

afterAll(async () => {
  await stopAll();
  await Promise.all([...upstreams].map(kill));
});

async function probe(health: string): Promise<{ status: number; body: { status?: string; reason?: string } }> {
  const res = await fetch(`${health}${HEALTH_PATHS.upstreamLiveness}`);
  return { status: res.status, body: (await res.json()) as { status?: string; reason?: string } };
}

/** A connection that completes within `ms` (the kernel put it in the accept queue), or undefined. */
function tryConnect(port: number, ms: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(undefined);
    }, ms);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once('error', () => {
      clearTimeout(timer);
      resolve(undefined);
    });
  });
}

describe('/livez/upstream', () => {
  test('answers 200 while the upstream listens on 127.0.0.1 and 503 once its process is gone, logging nothing at info', async () => {
    const upstream = await loopbackServer();
    const where = `127.0.0.1:${upstream.port}`;
    // Debug level: the failed checks' lines are visible, so the test can see that none of them is at info or above.
    const gw = await startGateway(['proxy', '--upstream', `http://${where}/mcp`], { logLevel: 'debug' });
    expect(await probe(gw.health)).toEqual({ status: 200, body: { status: 'ok', upstream: where } });

    await kill(upstream);
    const failed = await Promise.all(Array.from({ length: 10 }, () => probe(gw.health)));
    for (let i = 0; i < 10; i++) failed.push(await probe(gw.health));
    for (const f of failed) {
      expect(f.status).toBe(503);
      expect(f.body.status).toBe('down');
      expect(f.body.reason).toContain(where);
      expect(f.body.reason).toContain('ECONNREFUSED');
    }
    // The gateway itself stays alive: its own liveness does not restart it for the server's fault.
    expect((await fetch(`${gw.health}${HEALTH_PATHS.liveness}`)).status).toBe(200);

    const aboutTheCheck = (l: LogLine) => JSON.stringify(l).includes('upstream liveness');
    await until(() => gw.logs.filter(aboutTheCheck).length > 0, 5000, 'a debug line for the failed checks');
    expect(gw.logs.filter((l) => aboutTheCheck(l) && l.level >= 30)).toEqual([]);

    // The kubelet restarts the server container: the check passes again on the same port.
    await loopbackServer(['--port', String(upstream.port)]);
    expect((await probe(gw.health)).status).toBe(200);
  });

  test('a hung upstream passes while the kernel still accepts connections for it, fails once its queue is full', async () => {
    const upstream = await loopbackServer(['--backlog', '1']);
    const gw = await startGateway(['proxy', '--upstream', `http://127.0.0.1:${upstream.port}/mcp`]);
    upstream.proc.kill('SIGSTOP');
    // Stopped, but its listening socket is open: the kernel completes the handshake. The known limit of a TCP check.
    expect((await probe(gw.health)).status).toBe(200);
    // Fill the accept queue the stopped process no longer drains: then a connect is never answered.
    const held: Socket[] = [];
    for (let s = await tryConnect(upstream.port, 500); s; s = await tryConnect(upstream.port, 500)) held.push(s);
    // (Under load a slow connect may end the loop early; the checks' own connections then fill the queue.)
    let hung = await probe(gw.health);
    await until(
      async () => {
        hung = await probe(gw.health);
        return hung.status === 503;
      },
      15_000,
      'a check that times out',
    );
    expect(hung.body.reason).toMatch(/no TCP connection to 127\.0\.0\.1:\d+ within 1000 ms/);
    for (const s of held) s.destroy();
    upstream.proc.kill('SIGCONT');
    await until(async () => (await probe(gw.health)).status === 200, 10_000, 'the resumed upstream to pass');
  });

  test('is not served in stdio mode, which has no TCP upstream', async () => {
    const gw = await startGateway(['stdio', '--', NODE, join(ROOT, 'test/gateway/fixtures/raw-server.ts')]);
    const res = await fetch(`${gw.health}${HEALTH_PATHS.upstreamLiveness}`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { endpoints: string[] }).endpoints).toEqual(['/healthz', '/readyz', '/metrics']);
  });

  test('concurrent checks share one TCP connect', async () => {
    const seen: number[] = [];
    const server = createServer((socket) => {
      seen.push(socket.remotePort ?? 0);
      socket.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    /** The connections the server accepted before a marker connection made now (accepts are in queue order). */
    const acceptedSoFar = async () => {
      const marker = await tryConnect(address.port, 5000);
      const markerPort = marker?.localPort ?? -1;
      await until(() => seen.includes(markerPort), 5000, 'the marker connection');
      marker?.destroy();
      return seen.splice(0).filter((p) => p !== markerPort).length;
    };
    const liveness = new UpstreamLiveness({
      target: { host: '127.0.0.1', port: address.port },
      log: createLogger({ name: 'test', level: 'silent' }),
    });
    const verdicts = await Promise.all(Array.from({ length: 10 }, () => liveness.check()));
    expect(verdicts.every((v) => v.alive)).toBe(true);
    expect(await acceptedSoFar()).toBe(1);
    // Nothing is cached once it settled: the next probe checks again.
    expect((await liveness.check()).alive).toBe(true);
    expect(await acceptedSoFar()).toBe(1);
    server.close();
  });
});
