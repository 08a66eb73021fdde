/**
 * Proxy mode: the upstream is an MCP server that already speaks Streamable HTTP (2025 sessions) or legacy
 * HTTP+SSE. The official SDK client transports carry the messages; the gateway does the handshake itself, like
 * with a child process, so the same router, policy and health logic apply.
 */
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from '../../observability/log.ts';
import { errorResponse, type JsonRpcMessage, kindOf, SERVER_ERROR, UPSTREAM_UNAVAILABLE } from '../protocol/jsonrpc.ts';
import { type Channel, type ChannelCloseInfo, forwardable, REFUSED, UNREACHABLE } from './channel.ts';

export interface HttpChannelOptions {
  url: string;
  transport: 'streamable-http' | 'sse';
  log: Logger;
  /** Headers on every request to the upstream (an aggregate's credential for a backend's gateway), read per request. */
  headers?: () => Promise<Record<string, string>>;
}

/** Whether the SDK transport's send failed on the server's HTTP answer, not on the way there (404: the session). */
function answeredWithError(err: unknown): boolean {
  if (err instanceof StreamableHTTPError) return err.code !== undefined && err.code !== 404;
  return err instanceof Error && /^Error POSTing to endpoint \(HTTP (?!404\))\d{3}\)/.test(err.message);
}

/** The size of a message on the wire (the SDK transport sends it as one JSON body). */
export function messageBytes(message: JsonRpcMessage): number {
  return Buffer.byteLength(JSON.stringify(message));
}

export class HttpChannel implements Channel {
  onmessage?: (message: unknown) => void;
  onclose?: (info: ChannelCloseInfo) => void;
  readonly description: string;
  private readonly options: HttpChannelOptions;
  private transport?: StreamableHTTPClientTransport | SSEClientTransport;
  private closed = false;
  /**
   * Bytes of messages handed to the SDK transport that the upstream has not taken yet: their POST has no response
   * headers. A call the upstream is still working on does not count (the SDK's send() settles only when a JSON
   * answer's body is complete, which for a long call is long after the upstream took the message).
   */
  private pendingBytes = 0;
  /** The bodies behind pendingBytes; identical bodies share an entry. */
  private readonly untaken = new Map<string, number>();

  constructor(options: HttpChannelOptions) {
    this.options = options;
    this.description = `${options.transport} ${options.url}`;
  }

  async start(): Promise<void> {
    const url = new URL(this.options.url);
    // Response headers mean the upstream took the message: the backlog drops then, not when the call ends.
    const fetchTaking: typeof fetch = async (input, init) => {
      // Headers read again for each request: a renewed credential is used without reconnecting.
      const fresh = await this.options.headers?.();
      let sent = init;
      if (fresh && Object.keys(fresh).length) {
        const headers = new Headers(init?.headers);
        for (const [name, value] of Object.entries(fresh)) headers.set(name, value);
        sent = { ...init, headers };
      }
      try {
        return await fetch(input, sent);
      } finally {
        if (typeof init?.body === 'string') this.taken(init.body);
      }
    };
    const headers = (await this.options.headers?.()) ?? {};
    const requestInit = { headers };
    const transport =
      this.options.transport === 'sse'
        ? new SSEClientTransport(url, { fetch: fetchTaking, requestInit })
        : new StreamableHTTPClientTransport(url, { fetch: fetchTaking, requestInit });
    this.transport = transport;
    transport.onmessage = (message) => {
      const passed = forwardable(message);
      if (passed !== message) this.options.log.warn('the upstream sent a message nested too deep; not forwarded');
      if (passed !== undefined) this.onmessage?.(passed);
    };
    transport.onerror = (err) => {
      this.options.log.warn({ err: err.message }, 'upstream transport error');
      // A legacy SSE stream that ends is the end of the upstream session.
      if (this.options.transport === 'sse' && /SSE error|stream/i.test(err.message)) {
        void this.close().catch(() => {});
      }
    };
    transport.onclose = () => this.finish({ reason: 'upstream connection closed' });
    await transport.start();
  }

  setProtocolVersion(version: string): void {
    const t = this.transport;
    if (t instanceof StreamableHTTPClientTransport) t.setProtocolVersion(version);
  }

  send(message: JsonRpcMessage): boolean {
    const transport = this.transport;
    if (this.closed || !transport) return false;
    // The router compares backlog() with a byte threshold, as for a child's stdin: count bytes, not messages.
    const body = JSON.stringify(message);
    this.pendingBytes += Buffer.byteLength(body);
    this.untaken.set(body, (this.untaken.get(body) ?? 0) + 1);
    transport.send(message as JSONRPCMessage).then(
      () => this.taken(body),
      (err: unknown) => {
        this.taken(body);
        const text = err instanceof Error ? err.message : String(err);
        this.options.log.warn({ err: text }, 'sending to the upstream failed');
        if (kindOf(message) === 'request' && 'id' in message && message.id !== null) {
          // The server answered with an HTTP error (a 413, a 429): this request failed, the connection is fine.
          this.onmessage?.(
            answeredWithError(err)
              ? errorResponse(message.id, SERVER_ERROR, `${REFUSED}: ${text}`)
              : errorResponse(message.id, UPSTREAM_UNAVAILABLE, `${UNREACHABLE}: ${text}`),
          );
        }
        // The upstream forgot our session (it restarted): reconnect and initialize again.
        if (err instanceof StreamableHTTPError && err.code === 404) void this.close();
      },
    );
    return true;
  }

  /** Bytes accepted but not yet taken by the upstream (their POSTs have no response yet). */
  backlog(): number {
    return this.pendingBytes;
  }

  /** The upstream took this body (or its POST failed): once per body handed over, whichever comes first. */
  private taken(body: string): void {
    const count = this.untaken.get(body);
    if (count === undefined) return;
    if (count > 1) this.untaken.set(body, count - 1);
    else this.untaken.delete(body);
    this.pendingBytes -= Buffer.byteLength(body);
  }

  private finish(info: ChannelCloseInfo): void {
    if (this.closed) return;
    this.closed = true;
    this.onclose?.(info);
  }

  async close(): Promise<void> {
    const t = this.transport;
    if (t instanceof StreamableHTTPClientTransport && !this.closed) {
      await t.terminateSession().catch(() => {});
    }
    await t?.close().catch(() => {});
    this.finish({ reason: 'closed' });
  }
}
