import { EventEmitter } from 'node:events';
import type { ServerResponse } from 'node:http';
import { describe, expect, test } from 'vitest';
import { ListenLimit } from '../../src/gateway/http/listen-limit.ts';

/** Only 'close' is used: a response is counted until it closes. */
const response = () => new EventEmitter() as unknown as ServerResponse;

describe('ListenLimit', () => {
  test('a client at its own limit is refused, and the message names the limit', () => {
    const limit = new ListenLimit({ perClient: 2, total: 10 });
    limit.add('a', response());
    limit.add('a', response());
    const refused = limit.admit('a');
    expect(refused.admitted).toBe(false);
    expect(refused.admitted === false && refused.message).toMatch(/holds 2 listen streams .*per-client limit/);
    expect(limit.admit('b')).toEqual({ admitted: true });
  });

  test('at the total, the oldest stream of the client holding the most is given up, and no longer counted', () => {
    const limit = new ListenLimit({ perClient: 5, total: 4 });
    const [a1, a2, a3, b1] = [response(), response(), response(), response()];
    limit.add('a', a1);
    limit.add('b', b1);
    limit.add('a', a2);
    limit.add('a', a3);
    const admission = limit.admit('c');
    expect(admission).toEqual({ admitted: true, evict: a1 });
    expect(limit.size).toBe(3);
    // Its close, when it comes, changes nothing more.
    (a1 as unknown as EventEmitter).emit('close');
    expect(limit.size).toBe(3);
  });

  test('a closed stream frees its place, for its client and for the total', () => {
    const limit = new ListenLimit({ perClient: 1, total: 1 });
    const first = response();
    limit.add('a', first);
    expect(limit.admit('a').admitted).toBe(false);
    (first as unknown as EventEmitter).emit('close');
    expect(limit.size).toBe(0);
    expect(limit.admit('a')).toEqual({ admitted: true });
  });
});
