/**
 * tools/call and tools/list as the mux treats them: the gates a call passes before it reaches the server (a
 * name the server could have, the allow/deny policy, the per-tool rate limit), the filtered list, the audit
 * line and metrics of every call, and the server's tool names read at each start.
 */
import type { AuditWriter } from '../audit.ts';
import { clip } from '../clip.ts';
import type { GatewayMetrics } from '../metrics.ts';
import { errorResponse, INVALID_PARAMS, isObject, type JsonRpcRequest, RATE_LIMITED } from '../protocol/jsonrpc.ts';
import { toolNameProblem } from '../tool-names.ts';
import { type Call, onBehalfOf } from './call.ts';
import type { ClientSession, Sink } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

const NAME_NOT_A_STRING = 'Invalid params: a tools/call needs params.name, a string naming the tool to call';

/**
 * A key of a tools/call's params other than `name` that is `name` regardless of case (`NAME`, `Name`). The
 * policy judges `name`, and the params go to the server as sent: Go's encoding/json (mcp-go servers) matches
 * keys without regard to case and keeps the last, so {"name":"echo","NAME":"get-env"} passed a deny list of
 * get-env and called it.
 */
function nameVariant(params: Record<string, unknown> | undefined): string | undefined {
  if (params === undefined) return undefined;
  for (const k in params) if (k !== 'name' && k.toLowerCase() === 'name') return k;
  return undefined;
}

export interface MuxPolicy {
  toolAllowed(name: string): boolean;
  /** Whether tools/list results need filtering. */
  readonly filtersTools: boolean;
  /** 0 when allowed, else milliseconds until the client may call this tool again. */
  toolRetryAfterMs(identity: string, tool: string): number;
}

export interface ToolCallsOptions {
  policy: MuxPolicy;
  metrics: GatewayMetrics;
  audit: AuditWriter;
}

export class ToolCalls {
  private readonly policy: MuxPolicy;
  private readonly metrics: GatewayMetrics;
  private readonly audit: AuditWriter;

  constructor(options: ToolCallsOptions) {
    this.policy = options.policy;
    this.metrics = options.metrics;
    this.audit = options.audit;
  }

  /**
   * The gates of a tools/call naming `name` (its `params.name`); true when it was refused (answered and audited
   * here, with the aggregate's backend the name belongs to).
   */
  refuse(
    session: ClientSession,
    request: JsonRpcRequest,
    name: unknown,
    sink: Sink,
    backendOf?: (name: string) => string | undefined,
  ): boolean {
    if (typeof name !== 'string') {
      // No policy can judge it, so it goes no further: a server that looks tools up by property (`tools[name]`)
      // reads ["get-env"] as get-env, and a denied tool ran unaudited by name.
      this.refused(session, request, 'invalid');
      sink.respond(errorResponse(request.id, INVALID_PARAMS, NAME_NOT_A_STRING));
      return true;
    }
    const variant = nameVariant(request.params);
    if (variant !== undefined) {
      this.refused(session, request, 'invalid');
      const shown = clip(JSON.stringify(variant), 64);
      const message = `Invalid params: params holds ${shown} beside "name"; a server that matches keys regardless of case (Go's encoding/json) calls the tool it names instead: send only "name"`;
      sink.respond(errorResponse(request.id, INVALID_PARAMS, message));
      return true;
    }
    if (!this.metrics.tools.accepts(name)) {
      this.refused(session, request, 'invalid');
      sink.respond(errorResponse(request.id, INVALID_PARAMS, toolNameProblem(name)));
      return true;
    }
    if (!this.policy.toolAllowed(name)) {
      this.refused(session, request, 'denied', backendOf?.(name));
      sink.respond(errorResponse(request.id, INVALID_PARAMS, `Tool ${name} is not available through this gateway`));
      return true;
    }
    const wait = this.policy.toolRetryAfterMs(session.identity, name);
    if (wait <= 0) return false;
    this.refused(session, request, 'rate_limited', backendOf?.(name));
    this.metrics.rateLimited.inc({ scope: 'tool' });
    const retryAfterSeconds = Math.ceil(wait / 1000);
    sink.respond(
      errorResponse(
        request.id,
        RATE_LIMITED,
        `Rate limit for tool ${name} exceeded; retry after ${retryAfterSeconds} s`,
        {
          retryAfterSeconds,
        },
      ),
    );
    return true;
  }

  /** The metric and audit line of a tools/call that never reached the server. */
  refused(session: ClientSession, request: JsonRpcRequest, outcome: string, backend?: string): void {
    if (request.method !== 'tools/call') return;
    const params = request.params;
    const now = performance.now();
    this.write(
      session,
      typeof params?.name === 'string' ? params.name : undefined,
      isObject(params?.arguments) ? Object.keys(params.arguments) : [],
      outcome,
      undefined,
      now,
      now,
      backend,
      onBehalfOf(session, params),
    );
  }

  /** The metric and audit line of a tools/call that ended (no-op for other methods). */
  record(call: Call, outcome: string, errorCode?: number, ended = performance.now()): void {
    if (call.method !== 'tools/call') return;
    this.write(
      call.session,
      call.tool,
      call.argKeys,
      outcome,
      errorCode,
      call.started,
      ended,
      call.backend,
      call.onBehalfOf,
    );
  }

  /** A tools/list result without the tools the policy hides; the result itself when nothing is filtered. */
  filterResult(method: string, result: unknown): unknown {
    if (method !== 'tools/list' || !this.policy.filtersTools || !isObject(result) || !Array.isArray(result.tools)) {
      return result;
    }
    return {
      ...result,
      tools: result.tools.filter(
        (t: unknown) => isObject(t) && typeof t.name === 'string' && this.policy.toolAllowed(t.name),
      ),
    };
  }

  private write(
    session: ClientSession,
    tool: string | undefined,
    argumentKeys: string[] | undefined,
    outcome: string,
    errorCode: number | undefined,
    started: number,
    ended: number,
    backend?: string,
    client?: string,
  ): void {
    const seconds = (ended - started) / 1000;
    this.metrics.recordToolCall(tool ?? '_unknown', outcome, seconds);
    if (backend !== undefined) this.metrics.recordBackendCall(backend, outcome);
    // One literal, no spread: one object shape on every call. An undefined backend is left out of the line,
    // as JSON leaves out every undefined value.
    this.audit({
      event: 'tool_call',
      tool,
      backend,
      argumentKeys,
      client: session.identity,
      ...(client === undefined ? {} : { onBehalfOf: client }),
      session: session.logId,
      durationMs: Math.round(seconds * 1e5) / 100,
      outcome,
      errorCode,
    });
  }
}

/**
 * One server's tool names (every page, bounded), at each start and after list_changed: metric labels and the
 * tools/call name check know the server's tools even when no client lists them. One read at a time; changes
 * announced meanwhile get one more.
 */
export class ToolDiscovery {
  private readonly upstream: MuxUpstream;
  private readonly metrics: GatewayMetrics;
  private reading?: Promise<void>;
  private changed = false;

  constructor(upstream: MuxUpstream, metrics: GatewayMetrics) {
    this.upstream = upstream;
    this.metrics = metrics;
  }

  refresh(): void {
    if (this.reading) {
      this.changed = true;
      return;
    }
    this.reading = this.read().finally(() => {
      this.reading = undefined;
      if (!this.changed) return;
      this.changed = false;
      this.refresh();
    });
  }

  private async read(): Promise<void> {
    if (!isObject(this.upstream.initResult?.capabilities?.tools)) return;
    let cursor: unknown;
    for (let page = 0; page < 50; page++) {
      const answer = await this.upstream.request('tools/list', cursor === undefined ? {} : { cursor }, 10_000);
      if (answer.error || !isObject(answer.result)) return;
      this.metrics.tools.declareList(answer.result);
      cursor = answer.result.nextCursor;
      if (typeof cursor !== 'string' || cursor === '') return;
    }
  }
}
