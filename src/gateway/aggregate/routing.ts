/**
 * How the aggregate's mux routes: a tool or prompt by its exposed name, a resource by its URI (a listed one, then
 * the templates in priority order), a completion by its reference; lists are answered from the merged view.
 * Refusals are distinct and name what to do: a denied name is a refusal naming the policy (never "not found"),
 * an unknown name says so, a name whose backend is down names that backend.
 */
import type { ItemKind, Resolution } from '../../contract/virtual-names.ts';
import type { MuxRouting, Refusal, Route } from '../mux/routing.ts';
import {
  INVALID_PARAMS,
  isObject,
  type JsonRpcNotification,
  type JsonRpcRequest,
  METHOD_NOT_FOUND,
  type Params,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import type { Backend } from './backend.ts';
import { type AggregateView, listResult } from './view.ts';

/** MCP's code for a resource no server has (2025-11-25, "Error Handling" of resources). */
export const RESOURCE_NOT_FOUND = -32002;

const LIST_KINDS: Readonly<Record<string, ItemKind>> = {
  'tools/list': 'tool',
  'prompts/list': 'prompt',
  'resources/list': 'resource',
  'resources/templates/list': 'resourceTemplate',
};

export interface AggregateRoutingOptions {
  view: () => AggregateView;
  backend: (name: string) => Backend | undefined;
  /** Every backend (logging/setLevel goes to all). */
  backends: () => Iterable<Backend>;
}

const refuse = (r: Refusal): Route => ({ refuse: r });

export class AggregateRouting implements MuxRouting {
  private readonly o: AggregateRoutingOptions;

  constructor(options: AggregateRoutingOptions) {
    this.o = options;
  }

  route(request: JsonRpcRequest): Route {
    const params = request.params ?? {};
    const listed = LIST_KINDS[request.method];
    if (listed) return { answer: listResult(this.o.view(), listed) };
    switch (request.method) {
      case 'tools/call':
        return this.byName('tool', params, (original) => ({ ...params, name: original }));
      case 'prompts/get':
        return this.byName('prompt', params, (original) => ({ ...params, name: original }));
      case 'resources/read':
      case 'resources/subscribe':
      case 'resources/unsubscribe':
        return this.byUri(params.uri);
      case 'completion/complete':
        return this.completion(params);
      case 'logging/setLevel':
        for (const b of this.o.backends()) if (b.ready) void b.request('logging/setLevel', params, 10_000);
        return { answer: {} };
      default:
        return refuse({
          code: METHOD_NOT_FOUND,
          message: `Method not found: ${request.method} is not served by this aggregate gateway`,
          outcome: 'invalid',
        });
    }
  }

  toolBackend(name: string): string | undefined {
    const r = this.o.view().catalog.resolve('tool', name);
    return r.verdict === 'unknown' ? undefined : r.backend;
  }

  uriOwner(uri: string): Backend | undefined {
    const route = this.byUri(uri);
    return 'to' in route ? (route.to as Backend) : undefined;
  }

  /** A backend's list_changed: its lists are read again; the aggregate tells clients what changed. */
  serverNotification(upstream: Backend, _note: JsonRpcNotification): boolean {
    upstream.refreshLists();
    return true;
  }

  private byName(kind: 'tool' | 'prompt', params: Params, rewrite: (original: string) => Params): Route {
    const name = params.name;
    if (typeof name !== 'string') {
      return refuse({
        code: INVALID_PARAMS,
        message: `Invalid params: params.name must be a string`,
        outcome: 'invalid',
      });
    }
    return this.resolved(this.o.view().catalog.resolve(kind, name), rewrite);
  }

  private resolved(r: Resolution, rewrite?: (original: string) => Params): Route {
    const what =
      r.kind === 'resource' || r.kind === 'resourceTemplate' ? 'Resource' : r.kind === 'tool' ? 'Tool' : 'Prompt';
    if (r.verdict === 'unknown') {
      if (what === 'Resource') {
        return refuse({ code: RESOURCE_NOT_FOUND, message: `Resource not found: ${r.exposed}`, outcome: 'unknown' });
      }
      return refuse({
        code: INVALID_PARAMS,
        message: `Unknown ${r.kind}: ${r.exposed} (no backend of this virtual server offers it; list the ${r.kind}s for the names)`,
        outcome: 'unknown_tool',
      });
    }
    if (r.verdict === 'denied') {
      const by = r.by === 'server' ? `the tools policy of backend ${r.backend}` : 'the virtual server’s tools policy';
      return refuse({
        code: INVALID_PARAMS,
        message: `${what} ${r.exposed} is denied by ${by}`,
        outcome: 'denied',
        backend: r.backend,
        data: { reason: 'denied', backend: r.backend },
      });
    }
    const backend = this.o.backend(r.backend);
    if (!backend?.ready) {
      return refuse({
        code: UPSTREAM_UNAVAILABLE,
        message: `${what} ${r.exposed} belongs to backend ${r.backend}, which is unavailable${backend ? `: ${backend.whyUnavailable()}` : ''}`,
        outcome: 'upstream_failed',
        backend: r.backend,
        data: { reason: 'backend_unavailable', backend: r.backend },
      });
    }
    // Only a backend that authenticates the aggregate (its gateway, with auth on) is told the end client.
    const onBehalfOf = backend.spec.tokenFile !== undefined;
    return rewrite && r.original !== r.exposed
      ? { to: backend, params: rewrite(r.original), backend: r.backend, onBehalfOf }
      : { to: backend, backend: r.backend, onBehalfOf };
  }

  private byUri(uri: unknown): Route {
    if (typeof uri !== 'string') {
      return refuse({
        code: INVALID_PARAMS,
        message: 'Invalid params: params.uri must be a string',
        outcome: 'invalid',
      });
    }
    const view = this.o.view();
    const listed = view.catalog.resolve('resource', uri);
    if (listed.verdict !== 'unknown') return this.resolved(listed);
    const template = view.templates.find((t) => t.match.test(uri));
    if (!template) return this.resolved(listed);
    const backend = this.o.backend(template.backend);
    if (backend?.ready) return { to: backend, backend: template.backend };
    return this.resolved({
      verdict: 'exposed',
      kind: 'resource',
      backend: template.backend,
      original: uri,
      exposed: uri,
    });
  }

  private completion(params: Params): Route {
    const ref = params.ref;
    if (isObject(ref) && ref.type === 'ref/prompt' && typeof ref.name === 'string') {
      return this.byName('prompt', { name: ref.name }, (original) => ({ ...params, ref: { ...ref, name: original } }));
    }
    if (isObject(ref) && ref.type === 'ref/resource' && typeof ref.uri === 'string') {
      const r = this.o.view().catalog.resolve('resourceTemplate', ref.uri);
      return r.verdict === 'unknown' ? this.byUri(ref.uri) : this.resolved(r);
    }
    return refuse({
      code: INVALID_PARAMS,
      message: 'Invalid params: params.ref must be a ref/prompt with a name or a ref/resource with a uri',
      outcome: 'invalid',
    });
  }
}
