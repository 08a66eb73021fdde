/** The Kubernetes client's HTTP (src/kube/http.ts) against a real local HTTP server: bodies, and watch streams. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Connection, send, streamLines } from '../../src/kube/http.ts';

let server: http.Server;
let base: string;
const conn: Connection = { headers: { authorization: 'Bearer t' }, agent: new http.Agent({ keepAlive: true }) };

beforeAll(async () => {
  server = http.createServer((req, res) => {
    if (req.url?.startsWith('/echo')) {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => res.end(JSON.stringify({ method: req.method, auth: req.headers.authorization, body })));
    } else if (req.url?.startsWith('/gone')) {
      res.writeHead(410, 'Gone').end();
    } else if (req.url?.startsWith('/watch')) {
      // One event split across writes, then two in one write, then the end of the stream.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"type":"ADDED","object":{"n":');
      setTimeout(
        () => res.end('1}}\n{"type":"MODIFIED","object":{"n":2}}\n\n{"type":"DELETED","object":{"n":3}}\n'),
        20,
      );
    } else if (req.url?.startsWith('/forever')) {
      res.writeHead(200).write('{"type":"ADDED","object":{}}\n');
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  conn.agent.destroy();
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
});

const watch = (path: string) =>
  new Promise<{ lines: string[]; err: unknown; stop: () => void }>((resolve) => {
    const lines: string[] = [];
    let calls = 0;
    const stop = streamLines(
      new URL(base + path),
      conn,
      'application/json',
      (line) => {
        lines.push(line);
        if (path === '/forever') stop();
      },
      (err) => {
        calls++;
        expect(calls).toBe(1);
        setTimeout(() => resolve({ lines, err, stop }), 20);
      },
    );
  });

describe('kube http', () => {
  it('sends the body with the connection headers and returns the text', async () => {
    const res = await send(new URL(`${base}/echo`), conn, { method: 'PATCH', headers: {}, body: '{"a":"é"}' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text)).toEqual({ method: 'PATCH', auth: 'Bearer t', body: '{"a":"é"}' });
  });

  it('streams one line per event, whatever the chunks, and ends once', async () => {
    const { lines, err } = await watch('/watch');
    expect(lines.map((l) => JSON.parse(l).object.n)).toEqual([1, 2, 3]);
    expect(err).toBeNull();
  });

  it('ends a watch answered with another status with an error carrying statusCode', async () => {
    const { lines, err } = await watch('/gone');
    expect(lines).toEqual([]);
    expect((err as { statusCode?: number }).statusCode).toBe(410);
  });

  it('stops a stream that would never end, calling done once', async () => {
    const { lines, err, stop } = await watch('/forever');
    expect(lines).toHaveLength(1);
    expect(err).toBeNull();
    stop(); // again: nothing more
  });
});

describe('an API server that takes the connection and never answers', () => {
  it('fails the request after the answer timeout, naming the server, instead of hanging', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket)); // accepts, never answers
    await new Promise<void>((ok) => silent.listen(0, '127.0.0.1', ok));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const started = Date.now();
    try {
      await expect(
        send(new URL(`${url}/api/v1/namespaces`), conn, { method: 'GET', headers: {} }, 200),
      ).rejects.toThrow(
        `GET ${url}/api/v1/namespaces: no answer within 0.2 s (is the API server at ${url} up and reachable?)`,
      );
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((ok) => silent.close(ok));
    }
  });
});
