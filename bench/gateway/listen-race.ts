/**
 * Listen streams cut as they start: 2026-07-28 `subscriptions/listen` streams opened one after another (SDK 2.x
 * client, beside a 2025 session and a legacy SSE client, a few held at once), through a real Traefik (file
 * provider, loopback) and, side by side in the same run, straight to the gateway. A busy loop on every core meanwhile:
 * the race (README, "Troubleshooting streams behind proxies") needs Traefik's goroutines to wait for a CPU.
 * A stream counts as cut when it ends within `holdMs` of its acknowledgement.
 *
 *   npm run bench -- listen-race      (Traefik from scripts/traefik.sh: built the first time, cached after)
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local-cluster/control-plane.ts';
import {
  client2025,
  client2026,
  clientSse,
  EVERYTHING,
  ROOT,
  startGateway,
  stopAll,
} from '../../test/gateway/helpers.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function countCuts(front: string, listens: number, holdMs: number): Promise<number> {
  let cut = 0;
  const held: Array<() => Promise<void>> = [];
  for (let i = 0; i < listens; i++) {
    const session = await client2025(front);
    const sse = await clientSse(`${front}/sse`);
    const modern = await client2026(front);
    const stream = await modern.client.listen({ resourcesListChanged: true });
    let ended = false;
    void stream.closed.then(() => {
      ended = true;
    });
    await sleep(holdMs);
    if (ended) cut++;
    held.push(async () => {
      await stream.close();
      await Promise.all([modern.client.close(), session.client.close(), sse.client.close()]);
    });
    while (held.length > 4) await held.shift()?.();
  }
  for (const close of held) await close();
  return cut;
}

async function traefikInFront(gatewayPort: number): Promise<{ url: string; proc: ChildProcess }> {
  const binary = execFileSync('bash', [join(ROOT, 'scripts/traefik.sh'), 'binary'], { encoding: 'utf8' }).trim();
  const dir = mkdtempSync(join(tmpdir(), 'listen-race-'));
  const config = join(dir, 'dynamic.yml');
  writeFileSync(
    config,
    `http:\n  routers:\n    gw:\n      rule: "PathPrefix(\`/\`)"\n      service: gw\n  services:\n    gw:\n      loadBalancer:\n        servers:\n          - url: "http://127.0.0.1:${gatewayPort}"\n`,
  );
  const port = await freePort();
  // spawns: traefik
  const proc = spawn(
    binary,
    [`--entrypoints.web.address=127.0.0.1:${port}`, `--providers.file.filename=${config}`, '--log.level=ERROR'],
    { stdio: 'ignore' },
  );
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 150; i++) {
    const status = await fetch(`${url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' } })
      .then((r) => r.status)
      .catch(() => 0);
    if (status !== 0 && status !== 404 && status !== 502) return { url, proc };
    await sleep(200);
  }
  proc.kill();
  throw new Error('Traefik did not route to the gateway within 30 s');
}

export async function listenRaceSection(listens = 200, holdMs = 300): Promise<string> {
  const gateway = await startGateway(['stdio', '--', ...EVERYTHING]);
  const traefik = await traefikInFront(gateway.port);
  // spawns: node (a busy loop per core, for the run's length)
  const busy = cpus().map(() => spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
  try {
    const throughTraefik = await countCuts(traefik.url, listens, holdMs);
    const straight = await countCuts(gateway.url, listens, holdMs);
    return [
      '## Gateway: listen streams cut as they start, behind Traefik',
      '',
      `Command: \`npm run bench -- listen-race\` (bench/gateway/listen-race.ts), ${new Date().toISOString().slice(0, 10)}. ${listens} listen streams each way, one after another, each beside a 2025 session and a legacy SSE client, four held at once; a busy loop on each of the ${cpus().length} cores; cut = ended within ${holdMs} ms of its acknowledgement.`,
      '',
      '| path | listens | cut as they started |',
      '| --- | ---: | ---: |',
      `| SDK 2.x client → Traefik v3.6.12 → gateway | ${listens} | ${throughTraefik} |`,
      `| SDK 2.x client → gateway (reference) | ${listens} | ${straight} |`,
      '',
      "Before the gateway held a listen's start back 50 ms (598ac63), the same loop cut 10 of 600 through Traefik (four runs) and none of 150 straight.",
      '',
    ].join('\n');
  } finally {
    for (const b of busy) b.kill();
    traefik.proc.kill();
    await stopAll();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) console.log(await listenRaceSection());
