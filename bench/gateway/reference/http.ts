/**
 * The HTTP side both Node reference bridges share, kept to what any Node HTTP gateway must do: read a POST body,
 * answer a notification with 202, write a request's JSON answer on the keep-alive connection, and hold a
 * session's GET stream open. Malformed JSON gets 400; the references serve only the bench client.
 */
import { createServer } from 'node:http';

export type JsonRpc = Record<string, unknown> & { id?: unknown; method?: string };

/** Serves POST /mcp on loopback; `onRequest` gets each request and a function that sends its answer. */
export function serveJsonRpc(
  port: number,
  onRequest: (message: JsonRpc, reply: (answer: JsonRpc) => void) => void,
  onNotification: (body: string) => void = () => {},
): void {
  createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => {
      body += chunk;
    });
    req.on('end', () => {
      // A session's GET stream, answered and held open: the two connections every idle 2025 session holds are
      // then the same here as in a gateway (the memory rows compare them). Nothing is ever sent on it.
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }).flushHeaders();
        return;
      }
      if (req.method !== 'POST' || !body) {
        res.writeHead(req.method === 'DELETE' ? 200 : 405).end();
        return;
      }
      let message: JsonRpc;
      try {
        message = JSON.parse(body) as JsonRpc;
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (message.id === undefined) {
        onNotification(body);
        res.writeHead(202, { 'mcp-session-id': 'reference' }).end();
        return;
      }
      onRequest(message, (answer) => {
        const text = JSON.stringify(answer);
        res
          .writeHead(200, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(text),
            'mcp-session-id': 'reference',
          })
          .end(text);
      });
    });
  }).listen(port, '127.0.0.1');
}
