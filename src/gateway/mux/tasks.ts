/**
 * Tasks (MCP 2025-11-25) on a shared server, kept to the client that created them. The server sees one client,
 * the gateway, so it lists every session's tasks to anyone who asks (tasks/list) and serves any taskId
 * (tasks/get, tasks/result, tasks/cancel): through the gateway, session B listed session A's task and read its
 * result. The gateway notes who created each task its calls create (the CreateTaskResult a call is answered
 * with), answers the task methods for a task the asker did not create as if it did not exist, lists only the
 * asker's own, and sends a task's status notifications to its creator alone.
 *
 * A 2025 session or legacy SSE connection owns its tasks, as the SDK's HTTP servers scope tasks by session; a
 * 2026-07-28 or sessionless client has no session and owns them by its identity (token fingerprint, OIDC
 * subject or address).
 */
import { clip } from '../clip.ts';
import {
  errorResponse,
  INVALID_PARAMS,
  isObject,
  type JsonRpcNotification,
  type JsonRpcRequest,
} from '../protocol/jsonrpc.ts';
import type { ClientSession, Sink } from './session.ts';

/**
 * Task owners remembered; past this the oldest task of the owner holding the most is forgotten (it then looks
 * unknown to everyone). Per owner at most MAX_TASKS_PER_OWNER: one client creating tasks in a loop had pushed
 * every other client's tasks out of the table.
 */
export const MAX_OWNED_TASKS = 10_000;
export const MAX_TASKS_PER_OWNER = 1_000;

/** The methods that name one task by `params.taskId`. */
const ONE_TASK = new Set(['tasks/get', 'tasks/result', 'tasks/cancel', 'tasks/update']);

function ownerOf(session: ClientSession): string {
  return session.kind === 'streamable' || session.kind === 'sse'
    ? `session ${session.id}`
    : `client ${session.identity}`;
}

export class TaskOwners {
  private readonly owners = new Map<string, string>();
  /** Each owner's task ids, oldest first. */
  private readonly byOwner = new Map<string, Set<string>>();

  /** A request about one task the session did not create: answered here (true), as the server answers no task. */
  refuse(session: ClientSession, request: JsonRpcRequest, sink: Sink): boolean {
    if (!ONE_TASK.has(request.method)) return false;
    const taskId = request.params?.taskId;
    if (typeof taskId === 'string' && this.owners.get(taskId) === ownerOf(session)) return false;
    const shown = clip(JSON.stringify(taskId ?? null), 80);
    const message = `Invalid params: task ${shown} not found (a task is visible only to the client that created it)`;
    sink.respond(errorResponse(request.id, INVALID_PARAMS, message));
    return true;
  }

  /** A result on its way to `session`: a task it creates is the session's; tasks/list shows the session's own. */
  result(session: ClientSession, method: string, result: unknown): unknown {
    if (!isObject(result)) return result;
    if (method === 'tasks/list') {
      if (!Array.isArray(result.tasks)) return result;
      const owner = ownerOf(session);
      const own = (t: unknown) => isObject(t) && typeof t.taskId === 'string' && this.owners.get(t.taskId) === owner;
      return { ...result, tasks: result.tasks.filter(own) };
    }
    const task = result.task;
    if (!isObject(task) || typeof task.taskId !== 'string') return result;
    this.remember(task.taskId, ownerOf(session));
    return result;
  }

  private remember(taskId: string, owner: string): void {
    this.forget(taskId);
    this.owners.set(taskId, owner);
    const mine = this.byOwner.get(owner) ?? new Set<string>();
    this.byOwner.set(owner, mine.add(taskId));
    if (mine.size > MAX_TASKS_PER_OWNER) this.forget(mine.values().next().value as string);
    if (this.owners.size <= MAX_OWNED_TASKS) return;
    let most = mine;
    for (const tasks of this.byOwner.values()) if (tasks.size > most.size) most = tasks;
    this.forget(most.values().next().value as string);
  }

  private forget(taskId: string): void {
    const owner = this.owners.get(taskId);
    if (owner === undefined) return;
    this.owners.delete(taskId);
    const mine = this.byOwner.get(owner);
    mine?.delete(taskId);
    if (mine?.size === 0) this.byOwner.delete(owner);
  }

  /**
   * A server's notifications/tasks/status: delivered to its owner's sessions only (true). False for a task whose
   * owner is not known yet (its creating call is still in flight): the caller attributes it as usual.
   */
  status(note: JsonRpcNotification, sessions: Iterable<ClientSession>): boolean {
    if (note.method !== 'notifications/tasks/status') return false;
    const taskId = note.params?.taskId;
    const owner = typeof taskId === 'string' ? this.owners.get(taskId) : undefined;
    if (owner === undefined) return false;
    for (const s of sessions) if (ownerOf(s) === owner) s.deliver(note);
    return true;
  }
}
