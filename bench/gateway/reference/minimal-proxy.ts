/**
 * Benchmark reference, not a gateway: the least a Node stdio-to-HTTP bridge can do. One child; each POST's
 * JSON-RPC id is rewritten, the line goes to the child's stdin, and the child's answer comes back as JSON. No
 * sessions, event streams, auth, limits, logs or metrics. Our gateway's distance from it is the cost of those.
 *
 *   node bench/gateway/reference/minimal-proxy.ts PORT -- COMMAND ARGS...
 */
import { spawn } from 'node:child_process';
import { serveJsonRpc } from './http.ts';

const port = Number(process.argv[2]);
const [command = '', ...args] = process.argv.slice(process.argv.indexOf('--') + 1);
// spawns: * (the server command after `--`: bench/gateway/run.ts passes node)
const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'ignore'] });
const pending = new Map<number, (message: Record<string, unknown>) => void>();
let buffered = '';
child.stdout.setEncoding('utf8');
child.stdout.on('data', (chunk: string) => {
  buffered += chunk;
  for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (!line.trim()) continue;
    const message = JSON.parse(line) as Record<string, unknown>;
    const answer = typeof message.id === 'number' ? pending.get(message.id) : undefined;
    if (answer && message.method === undefined) {
      pending.delete(message.id as number);
      answer(message);
    }
  }
});
child.on('exit', () => process.exit(1));

let nextId = 0;
serveJsonRpc(
  port,
  (message, reply) => {
    const clientId = message.id;
    const id = ++nextId;
    pending.set(id, (answer) => reply({ ...answer, id: clientId }));
    child.stdin.write(`${JSON.stringify({ ...message, id })}\n`);
  },
  (body) => child.stdin.write(`${body}\n`),
);
process.on('SIGTERM', () => {
  child.kill();
  process.exit(0);
});
