/**
 * The 2026-07-28 multi-round-trip input flow. That revision has no server-to-client request channel: a server
 * request attributed to one of a 2026 client's calls (tools/call, prompts/get, resources/read) becomes an
 * `input_required` result. The server's request and its call stay in flight (a flow); the client's retry
 * carries the `inputResponses` and the signed `requestState`, the responses go to the server's pending
 * requests, and the retry's exchange takes over the original call: it gets the final result, or the next
 * round. The call is never re-sent.
 */
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import { type RequestStateCodec, requestStateProblem } from '../input.ts';
import {
  errorResponse,
  INTERNAL_ERROR,
  INVALID_PARAMS,
  type JsonRpcId,
  type JsonRpcRequest,
  progressTokenOf,
  resultResponse,
} from '../protocol/jsonrpc.ts';
import { targetOf } from '../protocol/methods.ts';
import type { Call, InputFlow } from './call.ts';
import type { PendingTable } from './pending.ts';
import type { ClientSession, Sink } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

/** How long an input_required round waits for more server requests before it goes out. */
const INPUT_GATHER_MS = 5;

export interface InputFlowsOptions {
  calls: PendingTable<Call>;
  /** Signs the requestState; without it no flow starts and every retry is refused. */
  codec: RequestStateCodec | undefined;
  /** How long a parked flow waits for the client's retry. */
  inputTimeoutMs: number;
  /** The call's timeout again once a retry takes it over. */
  requestTimeoutMs: number;
  log: Logger;
}

export class InputFlows {
  private readonly flows = new Map<string, InputFlow>();
  private readonly o: InputFlowsOptions;

  constructor(options: InputFlowsOptions) {
    this.o = options;
  }

  get enabled(): boolean {
    return this.o.codec !== undefined;
  }

  get size(): number {
    return this.flows.size;
  }

  /** A server request during a 2026 call (routeServerRequest said 'input'): it joins the call's next round. */
  ask(call: Call, request: JsonRpcRequest): void {
    const codec = this.o.codec;
    if (!codec) return;
    let flow = call.flow;
    if (!flow) {
      flow = {
        id: codec.newFlowId(),
        call,
        identity: call.session.identity,
        method: call.method,
        target: call.target,
        round: 0,
        seq: 0,
        open: new Map(),
        parked: false,
        asking: false,
        deadline: 0,
      };
      call.flow = flow;
      this.flows.set(flow.id, flow);
    }
    const slash = request.method.indexOf('/');
    const key = `${slash > 0 ? request.method.slice(0, slash) : 'input'}-${++flow.seq}`;
    flow.open.set(key, { serverId: request.id, method: request.method, params: request.params });
    if (!flow.parked && !flow.asking) {
      // Server requests written together (Promise.all on the server) usually travel in one round: the round
      // waits a few milliseconds for the rest. One that misses it goes out in the next round.
      flow.asking = true;
      const f = flow;
      setTimeout(() => {
        f.asking = false;
        this.askClient(f);
      }, INPUT_GATHER_MS);
    }
  }

  /** Answers the client's exchange with an input_required result and parks the call until the retry. */
  private askClient(flow: InputFlow): void {
    const call = flow.call;
    const codec = this.o.codec;
    if (flow.parked || flow.open.size === 0 || !codec || !this.o.calls.isOpen(call)) return;
    const inputRequests: Record<string, unknown> = {};
    for (const [key, r] of flow.open) {
      inputRequests[key] = r.params === undefined ? { method: r.method } : { method: r.method, params: r.params };
    }
    const timeout = this.o.inputTimeoutMs;
    flow.round++;
    flow.parked = true;
    flow.deadline = performance.now() + timeout;
    // The call now waits on the client: the input timeout governs it, not the request timeout.
    call.deadline = Number.POSITIVE_INFINITY;
    const requestState = codec.mint(flow.id, flow.round, Date.now() + timeout, flow.identity);
    const sink = call.sink;
    call.sink = {
      // Nobody listens while the client fulfils the requests: progress and log lines have no stream (server
      // requests of the call join its next round instead, never reaching here).
      related: () => true,
      respond: (response) => {
        flow.final = response;
      },
    };
    this.o.log.debug(
      {
        session: call.session.logId,
        method: call.method,
        tool: call.tool === undefined ? undefined : clip(call.tool),
        round: flow.round,
        inputs: Object.keys(inputRequests),
      },
      'input_required',
    );
    sink.respond(resultResponse(call.clientId, { resultType: 'input_required', inputRequests, requestState }));
  }

  /**
   * A retry with `requestState` (and `inputResponses`): the responses go to the server's pending requests and
   * this exchange takes over the original call.
   */
  continue(
    session: ClientSession,
    request: JsonRpcRequest,
    state: unknown,
    responses: Record<string, unknown> | undefined,
    sink: Sink,
  ): void {
    const problem = this.problem(session, request, state);
    if (typeof problem === 'string') {
      sink.respond(
        errorResponse(request.id, INVALID_PARAMS, requestStateProblem(problem, this.o.inputTimeoutMs), {
          reason: 'invalid_request_state',
        }),
      );
      return;
    }
    const flow = problem;
    flow.parked = false;
    if (flow.final) {
      // The server answered while the client was busy: that answer ends the flow.
      this.flows.delete(flow.id);
      sink.respond({ ...flow.final, id: request.id });
      return;
    }
    const call = flow.call;
    for (const [key, value] of Object.entries(responses ?? {})) {
      const r = flow.open.get(key);
      if (!r) continue;
      flow.open.delete(key);
      call.upstream.send({ jsonrpc: '2.0', id: r.serverId, result: value });
    }
    // This exchange takes over the call: cancellation, progress and the answer follow the new request id.
    this.o.calls.retarget(call, session, request.id, sink, performance.now() + this.o.requestTimeoutMs);
    const token = progressTokenOf(request.params);
    if (token === undefined) call.clientToken = undefined;
    else if (call.gatewayToken !== undefined) call.clientToken = token;
    // Requests the retry left unanswered, or that the server sent meanwhile, go out in the next round now.
    if (flow.open.size > 0) this.askClient(flow);
  }

  /** The flow a retry continues, or why it cannot (a requestStateProblem reason). */
  private problem(session: ClientSession, request: JsonRpcRequest, state: unknown): InputFlow | string {
    if (typeof state !== 'string') return state === undefined ? 'missing' : 'type';
    const codec = this.o.codec;
    if (!codec) return 'unknown';
    const verified = codec.verify(state, session.identity);
    if (!verified.ok) return verified.reason;
    const flow = this.flows.get(verified.claims.flow);
    if (!flow) return 'unknown';
    if (flow.identity !== session.identity) return 'identity';
    if (verified.claims.round !== flow.round) return 'stale';
    if (!flow.parked) return 'busy';
    if (request.method !== flow.method || targetOf(request) !== flow.target) return 'method';
    return flow;
  }

  /** The call ended: its server requests are moot. A parked flow keeps the final answer for the retry. */
  callEnded(flow: InputFlow): void {
    this.refuseOpen(flow, 'the client request ended');
    if (!flow.parked) this.flows.delete(flow.id);
  }

  /** The server cancelled one of its requests: no round asks for it any more (ids are per server). */
  serverCancelled(upstream: MuxUpstream, serverId: JsonRpcId): void {
    for (const flow of this.flows.values()) {
      if (flow.call.upstream !== upstream) continue;
      for (const [key, r] of flow.open) if (r.serverId === serverId) flow.open.delete(key);
    }
  }

  /** Parked flows past their deadline give up: the client never came back. */
  sweep(now: number): void {
    if (this.flows.size === 0) return;
    for (const flow of this.flows.values()) if (flow.parked && flow.deadline <= now) this.expire(flow);
  }

  private expire(flow: InputFlow): void {
    this.flows.delete(flow.id);
    flow.parked = false;
    const seconds = Math.round(this.o.inputTimeoutMs / 1000);
    this.refuseOpen(flow, `mcp-operator gateway: the client did not answer the input request within ${seconds} s`);
    const call = flow.call;
    if (flow.final !== undefined || !this.o.calls.end(call, 'input_timeout')) return;
    const tool = call.tool === undefined ? undefined : clip(call.tool);
    this.o.log.info({ session: call.session.logId, method: call.method, tool }, 'input_required flow timed out');
  }

  private refuseOpen(flow: InputFlow, message: string): void {
    const upstream = flow.call.upstream;
    for (const r of flow.open.values()) upstream.send(errorResponse(r.serverId, INTERNAL_ERROR, message));
    flow.open.clear();
  }
}
