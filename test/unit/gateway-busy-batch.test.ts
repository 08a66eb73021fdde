import { setImmediate as nextTurn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { JsonRpcMessage } from '../../src/gateway/protocol/jsonrpc.ts';
import { BusyBatch, MAX_WAITING } from '../../src/gateway/upstream/busy-batch.ts';

const request = (id: number | string): JsonRpcMessage => ({ jsonrpc: '2.0', id, method: 'tools/call', params: {} });
const answer = (id: number | string) => ({ jsonrpc: '2.0', id, result: {} });
const note: JsonRpcMessage = { jsonrpc: '2.0', method: 'notifications/progress', params: {} };
const cancel = (id: number | string): JsonRpcMessage => ({
  jsonrpc: '2.0',
  method: 'notifications/cancelled',
  params: { requestId: id },
});
const line = (m: JsonRpcMessage) => `${JSON.stringify(m)}\n`;

function batch() {
  const writes: string[] = [];
  return { writes, b: new BusyBatch((text) => writes.push(text)) };
}

describe('BusyBatch: lines to an idle server go at once, to a busy one at the end of the turn', () => {
  it('one client calling in a loop: every call is written at once (nothing waits on the server)', async () => {
    const { writes, b } = batch();
    for (let id = 1; id <= 3; id++) {
      b.send(request(id), line(request(id)));
      expect(writes).toEqual([line(request(id))]);
      b.received(answer(id));
      writes.length = 0;
    }
    await nextTurn();
    expect(writes).toEqual([]);
  });

  it('calls sent while another is waiting are queued and written in order, as one write, next turn', async () => {
    const { writes, b } = batch();
    b.send(request(1), line(request(1)));
    b.send(request(2), line(request(2)));
    b.send(note, line(note));
    b.send(request('a'), line(request('a')));
    expect(writes).toEqual([line(request(1))]);
    expect(b.pending).toBe(line(request(2)).length + line(note).length + line(request('a')).length);
    await nextTurn();
    expect(writes).toEqual([line(request(1)), line(request(2)) + line(note) + line(request('a'))]);
    expect(b.pending).toBe(0);
  });

  it.each([
    { name: 'an answer', free: (b: BusyBatch) => b.received(answer(1)) },
    { name: 'an error answer', free: (b: BusyBatch) => b.received({ jsonrpc: '2.0', id: 1, error: { code: 1 } }) },
    { name: 'its cancellation', free: (b: BusyBatch) => b.send(cancel(1), line(cancel(1))) },
  ])('$name frees the request: the next call is written at once again', async ({ free }) => {
    const { writes, b } = batch();
    b.send(request(1), line(request(1)));
    free(b);
    await nextTurn();
    writes.length = 0;
    b.send(request(2), line(request(2)));
    expect(writes).toEqual([line(request(2))]);
  });

  it('a server request, a notification or an answer to the server from the gateway does not mark it busy', () => {
    const { writes, b } = batch();
    b.received({ jsonrpc: '2.0', id: 7, method: 'sampling/createMessage', params: {} });
    b.send(note, line(note));
    const reply = answer(7) as JsonRpcMessage;
    b.send(reply, line(reply));
    b.send(request(1), line(request(1)));
    expect(writes).toEqual([line(note), line(reply), line(request(1))]);
  });

  it('once something is queued, later lines queue behind it (order is kept) until the flush', async () => {
    const { writes, b } = batch();
    b.send(request(1), line(request(1)));
    b.send(request(2), line(request(2)));
    b.received(answer(1));
    b.received(answer(2));
    b.send(note, line(note)); // nothing waits now, but request 2 is still queued: behind it
    expect(writes).toEqual([line(request(1))]);
    await nextTurn();
    expect(writes).toEqual([line(request(1)), line(request(2)) + line(note)]);
  });

  it('clear (the channel closed) drops what is queued and forgets what waited', async () => {
    const { writes, b } = batch();
    b.send(request(1), line(request(1)));
    b.send(request(2), line(request(2)));
    b.clear();
    await nextTurn();
    expect(writes).toEqual([line(request(1))]);
    b.send(request(3), line(request(3)));
    expect(writes).toEqual([line(request(1)), line(request(3))]);
  });

  it('flushQueued writes what is queued at once (the channel closing), and the later flush has nothing left', async () => {
    const { writes, b } = batch();
    b.send(request(1), line(request(1)));
    b.send(request(2), line(request(2)));
    b.flushQueued();
    expect(writes).toEqual([line(request(1)), line(request(2))]);
    await nextTurn();
    expect(writes).toHaveLength(2);
  });

  it('a server that never answers cannot grow what is waited on without bound', async () => {
    const { writes, b } = batch();
    for (let id = 0; id < MAX_WAITING; id++) b.send(request(id), line(request(id)));
    await nextTurn();
    writes.length = 0;
    // The set is full: the next request empties it (it is only a hint), then counts as the one waiting.
    b.send(request('next'), line(request('next')));
    await nextTurn();
    b.received(answer('next'));
    b.send(request('after'), line(request('after')));
    expect(writes).toEqual([line(request('next')), line(request('after'))]);
  });
});
