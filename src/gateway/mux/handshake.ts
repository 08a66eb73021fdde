/**
 * `initialize` as the mux answers it: from the server's cached handshake (shared mode, with the client's own
 * session revision when the gateway serves it), or passed through to a per-session server the client's own
 * handshake starts.
 */
import {
  errorResponse,
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

export function answerInitialize(
  o: HandshakeOptions,
  session: ClientSession,
  request: JsonRpcRequest,
  sink: Sink,
): void {
  const params = request.params ?? {};
  session.capabilities = isObject(params.capabilities) ? params.capabilities : {};
  session.clientInfo = params.clientInfo;
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
