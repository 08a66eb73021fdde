/**
 * Benchmark reference, not a gateway: a Node HTTP server that answers every POST with a canned tools/call result
 * and has no MCP server behind it. It does only what every Node HTTP gateway must do (parse the request, write a
 * JSON answer on a keep-alive connection), so its calls/s is the most any Node HTTP gateway can reach with the
 * bench client on this machine.
 *
 *   node bench/gateway/reference/canned.ts PORT
 */
import { serveJsonRpc } from './http.ts';

serveJsonRpc(Number(process.argv[2]), (message, reply) => {
  reply({ jsonrpc: '2.0', id: message.id, result: { content: [{ type: 'text', text: 'Echo' }] } });
});
