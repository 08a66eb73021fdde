/**
 * Resource subscriptions, ref-counted over the sessions attached to the mux: the server sees one subscription
 * per URI while any session (or 2026 listen stream) holds it, and one unsubscribe when the last lets go. Each
 * session's own URIs are on the session (`subscriptions`), the count is over the attached sessions.
 */
import type { Logger } from '../../observability/log.ts';
import { clip } from '../clip.ts';
import type { JsonRpcNotification } from '../protocol/jsonrpc.ts';
import type { ClientSession } from './session.ts';
import type { MuxUpstream } from './upstream.ts';

/**
 * What one session may hold: each URI stays in the gateway's memory for the session's life and is sent again to
 * a restarted server, so neither their number nor their length is left to the client.
 */
export const MAX_SESSION_SUBSCRIPTIONS = 100;
export const MAX_SUBSCRIBED_URI_LENGTH = 2048;

/**
 * Why a resources/subscribe or unsubscribe is refused (-32602), or undefined. A URI that is not a string was
 * passed on untracked, so a server that took it kept the subscription after the session ended.
 */
export function subscribeProblem(session: ClientSession, uri: unknown, subscribe: boolean): string | undefined {
  if (typeof uri !== 'string') return 'Invalid params: params.uri must be a string, the URI of the resource';
  if (!subscribe) return undefined;
  if (uri.length > MAX_SUBSCRIBED_URI_LENGTH) {
    return `Invalid params: the resource URI is ${uri.length} characters, more than the ${MAX_SUBSCRIBED_URI_LENGTH} a subscription may hold`;
  }
  if (!session.subscriptions.has(uri) && session.subscriptions.size >= MAX_SESSION_SUBSCRIPTIONS) {
    return `Invalid params: this session already holds ${MAX_SESSION_SUBSCRIPTIONS} resource subscriptions (the gateway's limit); unsubscribe from one first`;
  }
  return undefined;
}

/** How long the gateway's own subscribe/unsubscribe requests wait for the server. */
const SUBSCRIBE_TIMEOUT_MS = 10_000;

export class Subscriptions {
  private readonly sessions: ReadonlySet<ClientSession>;
  private readonly log: Logger;
  private readonly owner: (uri: string) => MuxUpstream | undefined;

  /**
   * `sessions`: the mux's attached sessions (read, never changed here); `owner`: the server a URI belongs to
   * (the one server, or an aggregate's backend holding it).
   */
  constructor(sessions: ReadonlySet<ClientSession>, log: Logger, owner: (uri: string) => MuxUpstream | undefined) {
    this.sessions = sessions;
    this.log = log;
    this.owner = owner;
  }

  /** How many attached sessions other than `except` hold the URI. */
  holders(uri: string, except?: ClientSession): number {
    let n = 0;
    for (const s of this.sessions) if (s !== except && s.subscriptions.has(uri)) n++;
    return n;
  }

  /**
   * A client's resources/subscribe or resources/unsubscribe: records it on the session. True when another
   * session holds the URI, so the server's state does not change and the mux answers the client itself.
   */
  clientRequest(session: ClientSession, subscribe: boolean, uri: string): boolean {
    const othersHold = this.holders(uri, session) > 0;
    if (subscribe) session.subscriptions.add(uri);
    else session.subscriptions.delete(uri);
    return othersHold;
  }

  /** The server refused a subscribe the session asked for: it holds nothing. */
  refused(session: ClientSession, uri: string): void {
    session.subscriptions.delete(uri);
  }

  /** A 2026 listen stream's URIs: the first holder of each subscribes the server (unless it is down: replay). */
  watch(session: ClientSession, uris: readonly string[]): void {
    for (const uri of uris) {
      if (session.subscriptions.has(uri)) continue;
      const held = this.holders(uri) > 0;
      session.subscriptions.add(uri);
      const upstream = this.owner(uri);
      if (held || !upstream?.ready) continue;
      void upstream.request('resources/subscribe', { uri }, SUBSCRIBE_TIMEOUT_MS).then((answer) => {
        if (!answer.error) return;
        // Not subscribed after all: nothing to undo on detach, nothing to replay after a restart.
        session.subscriptions.delete(uri);
        this.log.warn({ error: clip(answer.error.message) }, 'the server refused a listen subscription');
      });
    }
  }

  /** A session that is no longer attached lets go of its URIs; the last holder unsubscribes the server. */
  release(session: ClientSession): void {
    for (const uri of session.subscriptions) {
      const upstream = this.owner(uri);
      if (this.holders(uri) === 0 && upstream?.ready) {
        void upstream.request('resources/unsubscribe', { uri }, SUBSCRIBE_TIMEOUT_MS);
      }
    }
    session.subscriptions.clear();
  }

  /** After a restart: the new server process is subscribed to every URI of its that a session holds, once. */
  replay(upstream: MuxUpstream): void {
    const uris = new Set<string>();
    for (const s of this.sessions) for (const uri of s.subscriptions) if (this.owner(uri) === upstream) uris.add(uri);
    for (const uri of uris) void upstream.request('resources/subscribe', { uri }, SUBSCRIBE_TIMEOUT_MS);
  }

  /** resources/updated goes to the sessions holding the URI, no one else. */
  /**
   * A server's resources/updated, to the sessions holding the URI; false (dropped) unless that server holds it:
   * one backend of an aggregate does not speak for another's resources.
   */
  deliverUpdated(from: MuxUpstream, note: JsonRpcNotification): boolean {
    const uri = note.params?.uri;
    if (typeof uri !== 'string') return true;
    if (this.owner(uri) !== from) return false;
    for (const s of this.sessions) if (s.subscriptions.has(uri)) s.deliver(note);
    return true;
  }
}
