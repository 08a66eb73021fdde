/**
 * The catalog's event stream against a reader that stops reading: the real HTTP server on a real socket, fed by
 * an in-memory entry source (the watch's interface) so a test can emit changes faster than any API server.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { CatalogEntry } from '../../src/catalog/entry.ts';
import { CatalogServer } from '../../src/catalog/server.ts';
import { createLogger } from '../../src/observability/log.ts';
import { MemorySource } from '../support/memory-source.ts';

/** An entry of about `bytes` bytes of JSON: many tools with long descriptions. */
function bigEntry(name: string, bytes: number): CatalogEntry {
  const tools = Array.from({ length: Math.ceil(bytes / 10_000) }, (_, i) => ({
    name: `tool_${i}`,
    description: 'x'.repeat(10_000),
  }));
  return {
    kind: 'McpServer',
    namespace: 'team-a',
    name,
    ready: { status: 'True', reason: 'Ready', message: 'ok' },
    transport: 'stdio',
    auth: 'none',
    endpoints: [{ type: 'streamable-http', url: `http://${name}.team-a.svc:8080/mcp`, scope: 'cluster' }],
    tools,
  };
}

const log = createLogger({ name: 'catalog-test', level: 'silent' });
let server: CatalogServer | undefined;
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await server?.close();
});

/** Opens /api/events and never reads past the first bytes. */
function stalledReader(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('GET /api/events HTTP/1.1\r\nhost: 127.0.0.1\r\naccept: text/event-stream\r\n\r\n');
    });
    sockets.push(socket);
    socket.once('data', () => {
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

describe('the event stream and a client that stops reading', () => {
  it('drops the stream once its unsent backlog passes the limit, freeing its slot and listener', async () => {
    const source = new MemorySource();
    source.entries = [bigEntry('small', 1000)];
    server = new CatalogServer({
      source,
      registry: { namePrefix: 'local.cluster' },
      log,
      maxStreams: 1,
      maxStreamBacklog: 1024 * 1024,
    });
    const { port } = await server.listen(0, '127.0.0.1');
    const reader = await stalledReader(port);
    expect(source.listeners.size).toBe(1);
    const closed = new Promise<void>((resolve) => reader.once('close', () => resolve()));
    // 64 changes of ~1 MB: far more than the kernel's socket buffers hold, so the rest queues in the process.
    for (let i = 0; i < 64 && source.listeners.size > 0; i++) {
      source.emit(bigEntry(`big-${i}`, 1024 * 1024));
      await new Promise((r) => setImmediate(r));
    }
    expect(source.listeners.size).toBe(0);
    reader.resume();
    await closed;
    // The slot is free again: a reading client gets its snapshot, not 503.
    const res = await fetch(`http://127.0.0.1:${port}/api/events`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe('a snapshot of thousands of servers, larger than the backlog limit', () => {
  it('is not taken for a stalled client: a change while it is still in flight keeps the stream', async () => {
    const source = new MemorySource();
    // About 16 MB of snapshot (5000 typical servers give as much) against a 1 MiB limit: more than the kernel buffers.
    source.entries = Array.from({ length: 16 }, (_, i) => bigEntry(`big-${i}`, 1024 * 1024));
    server = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log, maxStreamBacklog: 1 << 20 });
    const { port } = await server.listen(0, '127.0.0.1');
    const reader = await stalledReader(port);
    source.emit(bigEntry('changed', 1000));
    await new Promise((r) => setImmediate(r));
    expect(source.listeners.size).toBe(1);
    // Read on: the whole snapshot arrives, then the change.
    let received = '';
    reader.setEncoding('utf8');
    reader.on('data', (d: string) => {
      received += d;
    });
    reader.resume();
    const outcome = await new Promise<string>((resolve) => {
      reader.once('close', () => resolve('closed'));
      const check = setInterval(() => {
        if (received.includes('event: upsert') && received.includes('"name":"changed"')) {
          clearInterval(check);
          resolve('received');
        }
      }, 20);
    });
    expect(outcome).toBe('received');
  });
});

describe('many streams that never read', () => {
  /** An entry whose tools array counts how often it is serialized (JSON.stringify reads an array's length). */
  function countedEntry(name: string, counter: { reads: number }): CatalogEntry {
    const tools = new Proxy(bigEntry(name, 1000).tools, {
      get(target, key, receiver) {
        if (key === 'length') counter.reads++;
        return Reflect.get(target, key, receiver);
      },
    });
    return { ...bigEntry(name, 1000), tools };
  }

  it('share one encoded snapshot and one encoded change, not a copy per stream', async () => {
    const source = new MemorySource();
    const listed = { reads: 0 };
    source.entries = [countedEntry('listed', listed)];
    server = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log });
    const { port } = await server.listen(0, '127.0.0.1');
    for (let i = 0; i < 20; i++) await stalledReader(port);
    expect(listed.reads).toBe(1);
    const changed = { reads: 0 };
    source.emit(countedEntry('changed', changed));
    expect(changed.reads).toBe(1);
  });
});

describe('HEAD on the event stream', () => {
  it('answers the headers and ends, holding no stream slot', async () => {
    const source = new MemorySource();
    server = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log, maxStreams: 1 });
    const { port } = await server.listen(0, '127.0.0.1');
    // A second request on the same connection is answered only once the HEAD response has ended.
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () =>
        socket.write(
          'HEAD /api/events HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n',
        ),
      );
      sockets.push(socket);
      let received = '';
      socket.on('data', (d) => {
        received += d;
        if (received.includes('{"status":"ok"}')) resolve(received);
      });
      socket.on('error', reject);
    });
    const [head] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toMatch(/content-type: text\/event-stream/i);
    expect(text).not.toContain('event: snapshot');
    expect(source.listeners.size).toBe(0);
    const res = await fetch(`http://127.0.0.1:${port}/api/events`);
    expect(res.status).toBe(200);
    await res.body?.cancel();
  });
});

describe('many open streams and one change', () => {
  it('builds the page entry (snippets and all) once per change, not once per stream', async () => {
    const source = new MemorySource();
    server = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log });
    const { port } = await server.listen(0, '127.0.0.1');
    const streams = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/events`);
        const reader = res.body?.getReader();
        await reader?.read(); // the snapshot
        return reader;
      }),
    );
    // Counts how often the entry is read whole (the spread into a page entry enumerates its keys).
    let spreads = 0;
    const entry = new Proxy(bigEntry('counted', 1000), {
      ownKeys(target) {
        spreads++;
        return Reflect.ownKeys(target);
      },
    });
    source.emit(entry);
    for (const reader of streams) {
      let text = '';
      while (!text.includes('"name":"counted"')) {
        const { value, done } = (await reader?.read()) ?? { done: true };
        if (done) throw new Error('the stream ended before the change');
        text += new TextDecoder().decode(value);
      }
      await reader?.cancel();
    }
    expect(spreads).toBe(1);
  });
});

describe('closing while a client holds a connection mid-request', () => {
  it('cuts the connection after a short grace instead of waiting for the client', async () => {
    const source = new MemorySource();
    const closing = new CatalogServer({ source, registry: { namePrefix: 'local.cluster' }, log });
    const { port } = await closing.listen(0, '127.0.0.1');
    const socket = connect(port, '127.0.0.1');
    sockets.push(socket);
    const cut = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    // Headers never finished: the connection is busy, not idle, so server.close() alone waits for the client.
    await new Promise<void>((resolve) =>
      socket.write('GET /api/catalog HTTP/1.1\r\nhost: 127.0.0.1\r\n', () => resolve()),
    );
    await new Promise((r) => setTimeout(r, 50));
    const outcome = await Promise.race([
      closing.close().then(() => 'closed'),
      new Promise((r) => setTimeout(() => r('still waiting'), 10_000)),
    ]);
    expect(outcome).toBe('closed');
    await cut;
  }, 15_000);
});
