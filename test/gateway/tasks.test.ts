/**
 * MCP tasks (2025-11-25) through a shared server, against the real gateway and server-everything (its
 * simulate-research-query tool runs as a task): the server sees one client, so without the gateway's own
 * bookkeeping any session could list another's tasks and read their results.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EVERYTHING, type RunningGateway, startGateway, stopAll, until } from './helpers.ts';
import { confirmedSession, JSON_POST, openStream, raw } from './raw-http.ts';

afterAll(stopAll);

describe('a task another session created', () => {
  let gw: RunningGateway;
  beforeAll(async () => {
    gw = await startGateway(['stdio', '--', ...EVERYTHING]);
  });

  const post = (sid: string, from: string, id: string, method: string, params: object) =>
    raw(gw.port, {
      headers: { ...JSON_POST, 'mcp-session-id': sid },
      body: JSON.stringify({ jsonrpc: '2.0', id, method, params }),
      from,
    });

  test('is neither listed, nor readable, nor cancellable by it; its creator gets it all, status included', async () => {
    const a = await confirmedSession(gw.port, '127.0.0.2');
    const b = await confirmedSession(gw.port, '127.0.0.3');
    const streamA = await openStream(gw.port, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': a },
      from: '127.0.0.2',
    });
    const streamB = await openStream(gw.port, {
      headers: { accept: 'text/event-stream', 'mcp-session-id': b },
      from: '127.0.0.3',
    });
    const created = await post(a, '127.0.0.2', 'make', 'tools/call', {
      name: 'simulate-research-query',
      arguments: { topic: 'the plans of A' },
      task: { ttl: 60_000 },
    });
    const taskId = /"taskId":"([^"]+)"/.exec(created.text)?.[1] as string;
    expect(taskId).toBeDefined();

    // B: the server's list holds A's task, and would hand over its result ("# Research Report: the plans of A").
    const listed = await post(b, '127.0.0.3', 'list', 'tasks/list', {});
    expect(listed.json).toMatchObject({ id: 'list', result: { tasks: [] } });
    for (const method of ['tasks/get', 'tasks/result', 'tasks/cancel']) {
      const answer = await post(b, '127.0.0.3', method, method, { taskId });
      expect(answer.json, method).toMatchObject({ id: method, error: { code: -32602 } });
      expect(answer.json?.error?.message).toContain('visible only to the client that created it');
      expect(answer.text).not.toContain('plans of A');
    }

    // A: its own task, listed, and its result once done.
    const mine = await post(a, '127.0.0.2', 'mine', 'tasks/list', {});
    expect(JSON.stringify(mine.json)).toContain(taskId);
    expect((await post(a, '127.0.0.2', 'get', 'tasks/get', { taskId })).json).toMatchObject({ result: { taskId } });
    const result = await post(a, '127.0.0.2', 'result', 'tasks/result', { taskId });
    expect(result.text).toContain('Research Report: the plans of A');
    // Status notifications sent after the creating call was answered went to A's stream, none to B's.
    await until(() => streamA.received().includes('notifications/tasks/status'), 5_000, "A's task status");
    expect(streamB.received()).not.toContain('notifications/tasks/status');
    streamA.close();
    streamB.close();
  });
});
