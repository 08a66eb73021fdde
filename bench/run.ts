// `npm run bench`: every benchmark, side by side with its peer in the same run; writes bench/RESULTS.md.
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { runControllerBench } from './controller.ts';
import { runGatewayBench } from './gateway/run.ts';

const sections: string[] = [];
const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
console.log(`bench: controller (200 and 1000 McpServers; several minutes) on ${machine}`);
sections.push(await runControllerBench([200, 1000]));

console.log('bench: gateway (ours vs supergateway vs direct stdio; a few minutes)');
sections.push(await runGatewayBench());

const text = `# Benchmark results\n\nProduced by \`npm run bench\` on ${machine}, ${new Date().toISOString().slice(0, 10)}.\n\n${sections.join('\n\n')}\n`;
writeFileSync(new URL('./RESULTS.md', import.meta.url), text);
console.log(text);
