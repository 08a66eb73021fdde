// `npm run bench [-- controller|gateway|node ...]`: each benchmark side by side with its peer in the same run.
// Rewrites its own section of bench/RESULTS.md and keeps the others, so one can be rerun alone.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { runControllerBench } from './controller.ts';
import { listenRaceSection } from './gateway/listen-race.ts';
import { runGatewayBench } from './gateway/run.ts';
import { sessionMemorySection } from './gateway/session-memory.ts';
import { nodeSection } from './node.ts';
import { runUpBench } from './up.ts';
import { virtualSection } from './virtual.ts';

const BENCHES: Record<string, { about: string; run: () => Promise<string> }> = {
  controller: {
    about: '200 and 1000 McpServers; several minutes',
    run: () => runControllerBench({ sizes: [200, 1000] }),
  },
  gateway: { about: 'ours vs supergateway vs direct stdio; a few minutes', run: () => runGatewayBench() },
  sessions: {
    about: 'gateway memory per session, which sizes the session limits; under a minute',
    run: () => sessionMemorySection(),
  },
  'listen-race': {
    about: 'listen streams cut as they start, through Traefik and straight, all cores busy; a few minutes',
    run: () => listenRaceSection(),
  },
  virtual: {
    about: 'the aggregate gateway vs the McpServer straight; 20 backends x 50 tools; about 90 s',
    run: () => virtualSection(),
  },
  node: { about: 'figures of the last `npm run test:e2e` on a real node', run: () => nodeSection() },
  up: {
    about: 'npm start: time to the first working URL, first run and cached (root); minutes',
    run: () => runUpBench(),
  },
};

const asked = process.argv.slice(2);
const unknown = asked.filter((a) => !(a in BENCHES));
if (unknown.length) {
  console.error(`unknown benchmark ${unknown.join(', ')}: choose from ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}
const file = new URL('./RESULTS.md', import.meta.url);
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;

/** "## Title" → section text, in file order. */
const sections = new Map<string, string>();
if (existsSync(file)) {
  for (const part of readFileSync(file, 'utf8')
    .split(/\n(?=## )/)
    .slice(1)) {
    sections.set(part.slice(0, part.indexOf('\n')), part.trim());
  }
}
for (const name of asked.length ? asked : ['controller', 'gateway']) {
  const bench = BENCHES[name] as (typeof BENCHES)[string];
  console.log(`bench: ${name} (${bench.about}) on ${machine}`);
  const text = (await bench.run()).trim();
  sections.set(text.slice(0, text.indexOf('\n')), text);
}
const text = `# Benchmark results\n\nEach section was produced by the command it names, on ${machine}; \`npm run bench\` reruns the controller and gateway sections, \`npm run bench -- NAME\` one of them.\n\n${[...sections.values()].join('\n\n')}\n`;
writeFileSync(file, text);
console.log(text);
