/**
 * Coalesces the lines sent to a busy server. A message sent while none of the gateway's requests is waiting on
 * the server goes out at once: one client calling in a loop pays nothing for this. A message sent while the server
 * still works on another request waits for the end of this turn of the event loop, with every other message that
 * the same turn sends: under load, the sockets that became readable together become one write to the server and
 * one read for it, instead of one each. The wait costs the server nothing, since it is busy with an earlier
 * request when the write lands; measured at 64 clients, 45% fewer write syscalls per call and 5-10% less gateway
 * CPU per call in two paired runs (bench/RESULTS.md).
 */
import { isObject, type JsonRpcMessage } from '../protocol/jsonrpc.ts';

type Id = string | number;

/**
 * The waiting set is only a hint of whether the server is busy. The mux ends every call (answer, cancellation,
 * the channel closing), but a server that answers with ids of its own making would leave entries behind: past this
 * many it is emptied, which at worst writes one line at once that could have waited.
 */
export const MAX_WAITING = 4096;

export class BusyBatch {
  /** Ids of the requests sent and not yet answered or cancelled. */
  private readonly waiting = new Set<Id>();
  private queued: string[] = [];
  private queuedBytes = 0;
  private readonly write: (text: string) => void;

  /** `write`: hands text to the server's stdin; called with one message's line, or several joined. */
  constructor(write: (text: string) => void) {
    this.write = write;
  }

  /** Sends `message`, already encoded as `line` (JSON and a newline). */
  send(message: JsonRpcMessage, line: string): void {
    const busy = this.queued.length > 0 || this.waiting.size > 0;
    if ('method' in message) {
      if ('id' in message) {
        if (this.waiting.size >= MAX_WAITING) this.waiting.clear();
        this.waiting.add(message.id);
      } else if (message.method === 'notifications/cancelled' && isObject(message.params)) {
        const id = message.params.requestId;
        if (typeof id === 'string' || typeof id === 'number') this.waiting.delete(id);
      }
    }
    if (!busy) {
      this.write(line);
      return;
    }
    if (this.queued.length === 0) setImmediate(flush, this);
    this.queued.push(line);
    this.queuedBytes += line.length;
  }

  /** A message from the server: an answer frees its request. */
  received(message: unknown): void {
    if (isObject(message) && !('method' in message)) {
      const id = message.id;
      if (typeof id === 'string' || typeof id === 'number') this.waiting.delete(id);
    }
  }

  /** Characters queued and not yet handed to `write` (backpressure counts them with the pipe's). */
  get pending(): number {
    return this.queuedBytes;
  }

  /** The channel closed: nothing queued is written, nothing is waited on. */
  clear(): void {
    this.queued = [];
    this.queuedBytes = 0;
    this.waiting.clear();
  }

  /** Writes what is queued now (the end of the turn, or the channel closing). */
  flushQueued(): void {
    const lines = this.queued;
    if (lines.length === 0) return;
    this.queued = [];
    this.queuedBytes = 0;
    this.write(lines.length === 1 ? (lines[0] as string) : lines.join(''));
  }
}

// A module function handed to setImmediate with its batch: no closure per turn.
function flush(batch: BusyBatch): void {
  batch.flushQueued();
}
