/** Reading a request body (src/gateway/http/body.ts) on a real node:http server: a trickle is cut, a body is read. */
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { type BodyResult, readBody } from '../../src/gateway/http/body.ts';

describe('readBody', () => {
  it('cuts a body that stops arriving, and reads one that arrives whole', async () => {
    const results: BodyResult[] = [];
    const server = createServer((req, res) => {
      void readBody(req, 1 << 20, 300).then((r) => {
        results.push(r);
        if (r.ok) res.end(String(r.body.length));
      });
    });
    await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
    const { port } = server.address() as AddressInfo;
    const head = (length: number) =>
      `POST /mcp HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${length}\r\n\r\n`;
    try {
      // Headers and 10 of 100 bytes, then silence: the gateway closes the connection within its sweep.
      const trickle = connect(port, '127.0.0.1');
      trickle.write(`${head(100)}{"jsonrpc"`);
      const started = Date.now();
      await new Promise((ok) => trickle.once('close', ok));
      expect(Date.now() - started).toBeLessThan(3_000);
      await new Promise((ok) => setTimeout(ok, 50)); // the request's close event follows the socket's
      expect(results).toEqual([{ ok: false, status: 'aborted' }]);

      const { request } = await import('node:http');
      const status = await new Promise<string>((ok, fail) => {
        const req = request({ host: '127.0.0.1', port, method: 'POST', path: '/mcp' }, (res) => {
          let text = '';
          res.on('data', (c) => {
            text += c;
          });
          res.on('end', () => ok(`${res.statusCode} ${text}`));
        });
        req.on('error', fail);
        req.end('{"a":1}');
      });
      expect(status).toBe('200 7');
    } finally {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    }
  });
});
