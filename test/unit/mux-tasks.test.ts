/**
 * Task ownership (src/gateway/mux/tasks.ts): a task is visible only to the client that created it, and one
 * client creating tasks without end cannot push the other clients' tasks out of the table.
 */
import { describe, expect, it } from 'vitest';
import { MAX_OWNED_TASKS, MAX_TASKS_PER_OWNER, TaskOwners } from '../../src/gateway/mux/tasks.ts';
import { RecordingSink, session } from './mux-helpers.ts';

const created = (owners: TaskOwners, s: ReturnType<typeof session>, taskId: string) =>
  owners.result(s, 'tools/call', { task: { taskId, status: 'working' } });

/** Whether `s` may ask about `taskId` (the mux then forwards the request to the server). */
function visible(owners: TaskOwners, s: ReturnType<typeof session>, taskId: string): boolean {
  const sink = new RecordingSink();
  return !owners.refuse(s, { jsonrpc: '2.0', id: 1, method: 'tasks/get', params: { taskId } }, sink);
}

describe('task owners', () => {
  it('shows a task to the session that created it only', () => {
    const owners = new TaskOwners();
    const [a, b] = [session('a'), session('b')];
    created(owners, a, 't-1');
    expect(visible(owners, a, 't-1')).toBe(true);
    expect(visible(owners, b, 't-1')).toBe(false);
    const listed = owners.result(b, 'tasks/list', { tasks: [{ taskId: 't-1' }] }) as { tasks: unknown[] };
    expect(listed.tasks).toEqual([]);
  });

  it('forgets the flooding client’s own oldest tasks past its share, never another client’s', () => {
    const owners = new TaskOwners();
    const [quiet, flood] = [session('quiet'), session('flood')];
    created(owners, quiet, 'mine');
    for (let i = 0; i < MAX_OWNED_TASKS + 500; i++) created(owners, flood, `f-${i}`);
    expect(visible(owners, quiet, 'mine')).toBe(true);
    expect(visible(owners, flood, 'f-0')).toBe(false);
    expect(visible(owners, flood, `f-${MAX_OWNED_TASKS + 500 - MAX_TASKS_PER_OWNER}`)).toBe(true);
    expect(visible(owners, flood, `f-${MAX_OWNED_TASKS + 500 - MAX_TASKS_PER_OWNER - 1}`)).toBe(false);
  });

  it('past the table’s size, forgets from the owner holding the most', () => {
    const owners = new TaskOwners();
    const many = Array.from({ length: MAX_OWNED_TASKS / MAX_TASKS_PER_OWNER }, (_, i) => session(`s${i}`));
    for (const s of many) for (let i = 0; i < MAX_TASKS_PER_OWNER; i++) created(owners, s, `${s.id}-${i}`);
    const late = session('late');
    created(owners, late, 'late-1');
    expect(visible(owners, late, 'late-1')).toBe(true);
    const forgotten = many.filter((s) => !visible(owners, s, `${s.id}-0`));
    expect(forgotten).toHaveLength(1);
  });

  it('a task re-announced moves to its newest owner', () => {
    const owners = new TaskOwners();
    const [a, b] = [session('a'), session('b')];
    created(owners, a, 't');
    created(owners, b, 't');
    expect(visible(owners, a, 't')).toBe(false);
    expect(visible(owners, b, 't')).toBe(true);
  });
});
