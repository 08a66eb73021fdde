/**
 * One MCP server connection with its lifecycle: start the channel, run the `initialize` handshake once (the
 * result is cached and served to every client session), restart with exponential backoff when it dies, and run
 * the gateway's own requests (ping probes, re-subscriptions) on reserved ids.
 */
import type { Logger } from '../../observability/log.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { type JsonRpcMessage, type JsonRpcResponse, kindOf, type Params, serverAnswer } from '../protocol/jsonrpc.ts';
import { LATEST_SESSION_PROTOCOL_VERSION } from '../protocol/versions.ts';
import type { Channel, ChannelCloseInfo } from './channel.ts';

export type UpstreamState = 'idle' | 'starting' | 'ready' | 'restarting' | 'stopped';

export interface InitializeResult {
  protocolVersion: string;
  capabilities: Params;
  serverInfo: { name: string; version: string; [k: string]: unknown };
  instructions?: string;
  [k: string]: unknown;
}

export interface UpstreamOptions {
  name: string;
  createChannel: () => Channel;
  log: Logger;
  metrics: GatewayMetrics;
  initTimeoutMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  /** A run this long resets the backoff. */
  stableAfterMs?: number;
}

/** The prefix of ids the gateway uses for its own requests; client ids are rewritten to numbers. */
const INTERNAL_PREFIX = '__gw:';

interface InternalPending {
  resolve: (r: JsonRpcResponse) => void;
  timer: NodeJS.Timeout;
}

export class UpstreamError extends Error {}

export class Upstream {
  state: UpstreamState = 'idle';
  initResult?: InitializeResult;
  /** Why the last channel ended, for error messages. */
  lastExit?: ChannelCloseInfo;
  restarts = 0;
  /** Messages that are not answers to the gateway's own requests. */
  onmessage?: (message: JsonRpcMessage) => void;
  /** Every state change; `down` carries the reason when a serving channel died. */
  onstate?: (state: UpstreamState, info?: ChannelCloseInfo) => void;
  readonly name: string;
  private readonly options: UpstreamOptions;
  private channel?: Channel;
  private spare?: { channel: Channel; started: Promise<void> };
  private initParams?: Params;
  private internalSeq = 0;
  private readonly internal = new Map<string, InternalPending>();
  private readyWaiters: Array<{ resolve: () => void; reject: (e: Error) => void; timer?: NodeJS.Timeout }> = [];
  private backoffMs: number;
  private restartTimer?: NodeJS.Timeout;
  /** When the scheduled restart runs (Date.now() time), while restartTimer is set. */
  private restartAt = 0;
  private readySince = 0;
  private readonly log: Logger;
  private startedOnce = false;
  /** Why recycle() closed the channel: the reason the restart reports. */
  private recycleReason?: string;

  constructor(options: UpstreamOptions) {
    this.options = options;
    this.name = options.name;
    this.log = options.log;
    this.backoffMs = options.backoffInitialMs ?? 250;
  }

  /** Starts the server process (or connection) ahead of time, without the handshake: a warm spare. */
  prespawn(): void {
    if (this.spare || this.channel) return;
    const channel = this.options.createChannel();
    this.spare = { channel, started: channel.start() };
    this.spare.started.catch(() => {});
  }

  /**
   * Starts and initializes with these client parameters (the gateway's own in shared mode, the client's in
   * per-session mode). Resolves when ready; later crashes restart on their own.
   */
  start(initParams: Params): Promise<void> {
    this.initParams = initParams;
    this.startedOnce = true;
    const ready = this.whenReady();
    void this.launch();
    return ready;
  }

  private isStopped(): boolean {
    return this.state === 'stopped';
  }

  get ready(): boolean {
    return this.state === 'ready';
  }

  backlog(): number {
    return this.channel?.backlog() ?? 0;
  }

  /** Resolves when the server is initialized; rejects after `timeoutMs` or when stopped. */
  whenReady(timeoutMs?: number): Promise<void> {
    if (this.state === 'ready') return Promise.resolve();
    if (this.state === 'stopped') return Promise.reject(new UpstreamError('the MCP server is stopped'));
    // Backing off past the wait (a server that keeps failing): waiting cannot help, so the caller hears it now.
    if (timeoutMs !== undefined && this.restartTimer && this.restartAt - Date.now() >= timeoutMs) {
      return Promise.reject(new UpstreamError(this.unavailableReason()));
    }
    return new Promise((resolve, reject) => {
      const waiter: { resolve: () => void; reject: (e: Error) => void; timer?: NodeJS.Timeout } = { resolve, reject };
      if (timeoutMs !== undefined) {
        waiter.timer = setTimeout(() => {
          this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
          reject(new UpstreamError(this.unavailableReason()));
        }, timeoutMs);
      }
      this.readyWaiters.push(waiter);
    });
  }

  unavailableReason(): string {
    if (this.state === 'restarting') {
      const exit = this.lastExit;
      const how = exit?.signal ? `signal ${exit.signal}` : exit?.code != null ? `exit code ${exit.code}` : exit?.reason;
      const next = this.restartTimer
        ? `; next try in ${Math.max(1, Math.ceil((this.restartAt - Date.now()) / 1000))} s`
        : '';
      return `the MCP server is restarting (it stopped: ${how ?? 'unknown'}${next})`;
    }
    if (this.state === 'stopped') return 'the MCP server is stopped';
    return 'the MCP server is starting';
  }

  private setState(state: UpstreamState, info?: ChannelCloseInfo): void {
    if (this.state === state) return;
    const wasReady = this.state === 'ready';
    this.state = state;
    if (state === 'ready') this.options.metrics.childUp.inc();
    else if (wasReady) this.options.metrics.childUp.dec();
    if (state === 'ready') {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) {
        if (w.timer) clearTimeout(w.timer);
        w.resolve();
      }
    } else if (state === 'stopped') {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) {
        if (w.timer) clearTimeout(w.timer);
        w.reject(new UpstreamError('the MCP server is stopped'));
      }
    }
    this.onstate?.(state, info);
  }

  private async launch(): Promise<void> {
    if (this.isStopped()) return;
    this.setState(this.state === 'idle' ? 'starting' : 'restarting');
    let channel: Channel;
    let started: Promise<void>;
    if (this.spare) {
      ({ channel, started } = this.spare);
      this.spare = undefined;
    } else {
      channel = this.options.createChannel();
      started = channel.start();
    }
    this.channel = channel;
    let closed = false;
    channel.onmessage = (m) => this.handle(m);
    channel.onclose = (info) => {
      closed = true;
      this.channelClosed(channel, info);
    };
    try {
      await started;
      if (closed || this.isStopped()) return;
      const params = this.initParams ?? {};
      const response = await this.request('initialize', params, this.options.initTimeoutMs ?? 30_000);
      if (closed || this.isStopped()) return;
      if (response.error) throw new UpstreamError(`initialize failed: ${response.error.message}`);
      const result = response.result as InitializeResult;
      if (typeof result?.protocolVersion !== 'string')
        throw new UpstreamError('initialize returned no protocolVersion');
      this.initResult = result;
      channel.setProtocolVersion?.(result.protocolVersion);
      channel.send({ jsonrpc: '2.0', method: 'notifications/initialized' });
      this.readySince = Date.now();
      this.log.info(
        {
          upstream: this.name,
          server: result.serverInfo,
          protocolVersion: result.protocolVersion,
          restarts: this.restarts,
        },
        'MCP server ready',
      );
      this.setState('ready');
    } catch (err) {
      if (this.isStopped()) return;
      const message = err instanceof Error ? err.message : String(err);
      this.log.error({ upstream: this.name, err: message, command: channel.description }, 'MCP server failed to start');
      if (!closed) {
        this.lastExit = { reason: message };
        await channel.close(2000).catch(() => {});
      } else this.scheduleRestart();
    }
  }

  /**
   * The connection is dead though it never said so (a failed health check, an unreachable HTTP server): close it,
   * and the usual restart with backoff follows.
   */
  recycle(reason: string): void {
    const channel = this.channel;
    if (!channel || this.state !== 'ready') return;
    this.recycleReason = reason;
    void channel.close(1000).catch(() => {});
  }

  private channelClosed(channel: Channel, closeInfo: ChannelCloseInfo): void {
    if (channel !== this.channel) return;
    const info = this.recycleReason === undefined ? closeInfo : { reason: this.recycleReason };
    this.recycleReason = undefined;
    this.channel = undefined;
    this.lastExit = info;
    this.settleInternal('the MCP server stopped');
    if (this.state === 'stopped') return;
    this.log.warn({ upstream: this.name, ...info }, 'MCP server stopped; restarting');
    if (Date.now() - this.readySince > (this.options.stableAfterMs ?? 60_000) && this.readySince > 0) {
      this.backoffMs = this.options.backoffInitialMs ?? 250;
    }
    this.readySince = 0;
    this.setState('restarting', info);
    this.scheduleRestart();
  }

  private scheduleRestart(): void {
    if (this.state === 'stopped' || this.restartTimer) return;
    if (this.state !== 'restarting') this.setState('restarting', this.lastExit);
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.backoffMaxMs ?? 30_000);
    this.restartAt = Date.now() + delay;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.restarts++;
      this.options.metrics.childRestarts.inc();
      void this.launch();
    }, delay);
    this.restartTimer.unref();
  }

  private handle(raw: unknown): void {
    const kind = kindOf(raw);
    const answer = kind === 'request' || kind === 'notification' ? undefined : serverAnswer(raw);
    if (answer === undefined && kind === 'invalid') {
      this.log.warn({ upstream: this.name }, 'server sent an invalid JSON-RPC message; skipped');
      return;
    }
    // The problem only, never the answer: it may hold tool results.
    if (answer !== undefined && answer !== raw) {
      this.log.warn(
        { upstream: this.name, problem: answer.error?.message },
        'server sent an invalid answer; the call fails',
      );
    }
    const message = answer ?? (raw as JsonRpcMessage);
    if (kind === 'response') {
      const id = (message as JsonRpcResponse).id;
      if (typeof id === 'string' && id.startsWith(INTERNAL_PREFIX)) {
        const p = this.internal.get(id);
        if (p) {
          clearTimeout(p.timer);
          this.internal.delete(id);
          p.resolve(message as JsonRpcResponse);
        }
        return;
      }
    }
    this.onmessage?.(message);
  }

  /** Sends a client message; false when the server is not connected. */
  send(message: JsonRpcMessage): boolean {
    if (this.state !== 'ready') return false;
    return this.channel?.send(message) ?? false;
  }

  /** The gateway's own request to the server (never visible to clients). */
  request(method: string, params: Params | undefined, timeoutMs: number): Promise<JsonRpcResponse> {
    const channel = this.channel;
    const id = `${INTERNAL_PREFIX}${++this.internalSeq}`;
    return new Promise((resolve) => {
      if (!channel) {
        resolve({ jsonrpc: '2.0', id, error: { code: -32603, message: this.unavailableReason() } });
        return;
      }
      const timer = setTimeout(() => {
        this.internal.delete(id);
        resolve({ jsonrpc: '2.0', id, error: { code: -32603, message: `${method} timed out after ${timeoutMs} ms` } });
      }, timeoutMs);
      this.internal.set(id, { resolve, timer });
      const msg: JsonRpcMessage = params ? { jsonrpc: '2.0', id, method, params } : { jsonrpc: '2.0', id, method };
      if (!channel.send(msg)) {
        clearTimeout(timer);
        this.internal.delete(id);
        resolve({ jsonrpc: '2.0', id, error: { code: -32603, message: 'the MCP server is not connected' } });
      }
    });
  }

  /** Answers the gateway's own pending requests (initialize, ping) with an error and clears their timers. */
  private settleInternal(message: string): void {
    for (const [id, p] of this.internal) {
      clearTimeout(p.timer);
      this.internal.delete(id);
      p.resolve({ jsonrpc: '2.0', id, error: { code: -32603, message } });
    }
  }

  /** Stops for good (drain, session end). */
  async stop(graceMs = 5000): Promise<void> {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.setState('stopped');
    // The closed channel is no longer this.channel, so channelClosed will not settle these: a pending
    // initialize's 30 s timer would otherwise keep a stopped gateway's process alive.
    this.settleInternal('the MCP server is stopped');
    const closing: Promise<void>[] = [];
    if (this.channel) closing.push(this.channel.close(graceMs));
    if (this.spare) {
      const spare = this.spare.channel;
      closing.push(this.spare.started.then(() => spare.close(graceMs)).catch(() => {}));
      this.spare = undefined;
    }
    this.channel = undefined;
    await Promise.all(closing);
  }

  get everStarted(): boolean {
    return this.startedOnce;
  }
}

export function gatewayInitParams(version: string, capabilities: Params): Params {
  return {
    protocolVersion: LATEST_SESSION_PROTOCOL_VERSION,
    capabilities,
    clientInfo: { name: 'mcp-operator-gateway', version },
  };
}
