/** What MCP methods mean to the mux: the client capability a server request needs, the 2026 input methods. */
import type { JsonRpcRequest } from './jsonrpc.ts';

/** The client capability each server-to-client request needs (absent: none). */
const CAPABILITY_OF: Readonly<Record<string, string>> = {
  'sampling/createMessage': 'sampling',
  'elicitation/create': 'elicitation',
  'roots/list': 'roots',
};

export function capabilityFor(serverMethod: string): string | undefined {
  return CAPABILITY_OF[serverMethod];
}

/** Methods whose 2026-07-28 results may be `input_required` (the server may ask the client for input). */
export const INPUT_METHODS: ReadonlySet<string> = new Set(['tools/call', 'prompts/get', 'resources/read']);

/** What a 2026 retry must repeat to continue a call: the tool or prompt name, or the resource URI. */
export function targetOf(request: JsonRpcRequest): unknown {
  return request.method === 'resources/read' ? request.params?.uri : request.params?.name;
}
