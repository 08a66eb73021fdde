/**
 * `initialize` as the mux answers it: from the server's cached handshake (shared mode, with the client's own
 * session revision when the gateway serves it), or passed through to a per-session server the client's own
 * handshake starts.
 */
import {
  errorResponse,
  INVALID_PARAMS,
  isObject,
  type JsonRpcRequest,
  resultResponse,
  UPSTREAM_UNAVAILABLE,
} from '../protocol/jsonrpc.ts';
import { isSessionProtocolVersion, LATEST_SESSION_PROTOCOL_VERSION } from '../protocol/versions.ts';
import type { ClientSession, Sink } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

export interface HandshakeOptions {
  upstream: MuxUpstream;
  perSession: boolean;
  /** How long the answer waits for a (re)starting server. */
  readyWaitMs: number;
}

/**
 * The most characters of JSON an initialize's `capabilities` and `clientInfo` may take together. A session keeps
 * its capabilities for its life (a per-session server keeps the whole handshake, for its restarts), so without a
 * bound one client's 100 sessions of 4 MiB handshakes held 400 MB; real handshakes take a few hundred bytes, and
 * an icon sent inline as a data: URI still fits.
 */
export const MAX_HANDSHAKE_CHARS = 64 * 1024;

/** Why an initialize is refused (-32602), or undefined: its capabilities and clientInfo over MAX_HANDSHAKE_CHARS. */
export function handshakeProblem(params: Record<string, unknown>): string | undefined {
  const chars = (JSON.stringify(params.capabilities) ?? '').length + (JSON.stringify(params.clientInfo) ?? '').length;
  if (chars <= MAX_HANDSHAKE_CHARS) return undefined;
  return (
    `Invalid params: the initialize request's capabilities and clientInfo take ${chars} characters of JSON, more ` +
    `than the ${MAX_HANDSHAKE_CHARS} the gateway keeps for a session; send a shorter clientInfo (icons by URL)`
  );
}

export function answerInitialize(
  o: HandshakeOptions,
  session: ClientSession,
  request: JsonRpcRequest,
  sink: Sink,
): void {
  const params = request.params ?? {};
  const problem = handshakeProblem(params);
  if (problem !== undefined) {
    sink.respond(
      errorResponse(request.id, INVALID_PARAMS, problem, {
        reason: 'handshake_too_large',
        maxChars: MAX_HANDSHAKE_CHARS,
      }),
    );
    return;
  }
  // clientInfo is not kept: nothing reads it (a per-session server gets it in its own handshake, below).
  session.capabilities = isObject(params.capabilities) ? params.capabilities : {};
  const requested = params.protocolVersion;
  const upstream = o.upstream;
  if (o.perSession && !upstream.everStarted) {
    // The session's own process is initialized with the client's own handshake.
    upstream
      .start({
        protocolVersion: typeof requested === 'string' ? requested : LATEST_SESSION_PROTOCOL_VERSION,
        capabilities: session.capabilities,
        clientInfo: isObject(params.clientInfo) ? params.clientInfo : { name: 'unknown', version: '0' },
      })
      .catch(() => {});
  }
  const answer = () => {
    const init = upstream.initResult;
    if (!init) {
      sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, upstream.unavailableReason()));
      return;
    }
    const version = !o.perSession && isSessionProtocolVersion(requested) ? requested : init.protocolVersion;
    session.protocolVersion = version;
    sink.respond(resultResponse(request.id, { ...init, protocolVersion: version }));
  };
  if (upstream.ready) answer();
  else
    upstream.whenReady(o.readyWaitMs).then(answer, (err: Error) => {
      sink.respond(errorResponse(request.id, UPSTREAM_UNAVAILABLE, err.message));
    });
}
