/**
 * Benchmark reference, not a gateway: a Node HTTP server that answers every POST with a canned tools/call result
 * and has no MCP server behind it. It does only what every Node HTTP gateway must do (parse the request, write a
 * JSON answer on a keep-alive connection), so its calls/s is the most any Node HTTP gateway can reach with the
 * bench client on this machine.
 *
 *   node bench/gateway/reference/canned.ts PORT
 */
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
createServer((req, res) => {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (chunk: string) => {
    body += chunk;
  });
  req.on('end', () => {
    if (req.method !== 'POST' || !body) {
      res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
      return;
    }
    const id = (JSON.parse(body) as { id?: unknown }).id;
    if (id === undefined) {
      res.writeHead(202, { 'mcp-session-id': 'reference' }).end();
      return;
    }
    const answer = JSON.stringify({ jsonrpc: '2.0', id, result: { content: [{ type: 'text', text: 'Echo' }] } });
    res
      .writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(answer),
        'mcp-session-id': 'reference',
      })
      .end(answer);
  });
}).listen(port, '127.0.0.1');
