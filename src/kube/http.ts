/**
 * The HTTP under KubeClient: node:http(s) with one keep-alive agent, so responses are parsed by Node's own HTTP
 * parser. client-node's transport is undici, which a controller pays for twice: its JavaScript and a
 * WebAssembly HTTP parser (about 25 MiB of a 1,000-McpServer controller's memory, bench/RESULTS.md).
 * Credentials come from client-node's KubeConfig (tokens, certificates, exec plugins, in-cluster); a kubeconfig
 * proxy-url goes through client-node's proxy agent.
 */
import http from 'node:http';
import https from 'node:https';
import tls from 'node:tls';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';

export interface Connection {
  headers: Record<string, string>;
  agent: http.Agent;
}

export interface HttpResponse {
  status: number;
  statusText: string;
  text: string;
}

/**
 * An idle pooled socket is closed after this long (undici's keepAliveTimeout), before a server or a load balancer
 * in between closes it under a request. A request in flight sets its own timeout.
 */
const IDLE_SOCKET_MS = 4_000;
/** No byte for this long: the request failed (undici's default body and headers timeouts). */
const REQUEST_IDLE_MS = 300_000;
/**
 * No answer (status line and headers) for this long: the API server is not there, or something in between holds
 * the connection. Longer than the API server's own bound on admission webhooks (30 s each).
 */
export const ANSWER_TIMEOUT_MS = 60_000;
/** A watch with no byte for this long is dead: client-node's Watch gives up after the same (its requestTimeoutMs). */
const WATCH_IDLE_MS = 30_000;

type TlsOptions = Pick<https.AgentOptions, 'ca' | 'cert' | 'key' | 'pfx' | 'passphrase'>;

/**
 * Headers (Authorization, impersonation) and the agent for the current context. The agent is made once, keep-alive,
 * with the kubeconfig's TLS material; headers are asked for again on every call (tokens rotate).
 */
export async function connection(kubeConfig: KubeConfig, agent?: http.Agent): Promise<Connection> {
  const opts: https.RequestOptions & { headers: Record<string, string> } = { headers: {} };
  await kubeConfig.applyToHTTPSOptions(opts);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
  if (agent) return { headers, agent };
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  // A proxy: client-node's agent for it (hpagent, socks), which applyToHTTPSOptions just made.
  if (kubeConfig.getCurrentCluster()?.proxyUrl && opts.agent) return { headers, agent: opts.agent as http.Agent };
  const material: TlsOptions = {};
  for (const k of ['ca', 'cert', 'key', 'pfx', 'passphrase'] as const) {
    if (opts[k] !== undefined) (material as Record<string, unknown>)[k] = opts[k];
  }
  // One TLS context for every connection: given only ca/cert/key, Node parses them into a new one per socket
  // (about 0.1 MiB each, and a controller opens dozens: a watch per resource, a pool for requests).
  const verify = {
    ...(opts.rejectUnauthorized !== undefined ? { rejectUnauthorized: opts.rejectUnauthorized } : {}),
    ...(opts.servername !== undefined ? { servername: opts.servername } : {}),
  };
  const pool = { keepAlive: true, timeout: IDLE_SOCKET_MS };
  const made = server.startsWith('http:')
    ? new http.Agent(pool)
    : new https.Agent({ ...verify, secureContext: tls.createSecureContext(material), ...pool });
  return { headers, agent: made };
}

function start(url: URL, conn: Connection, method: string, headers: Record<string, string>): http.ClientRequest {
  const transport = url.protocol === 'http:' ? http : https;
  return transport.request(url, { method, agent: conn.agent, headers: { ...conn.headers, ...headers } });
}

/** One request, the whole body as text. */
export function send(
  url: URL,
  conn: Connection,
  init: { method: string; headers: Record<string, string>; body?: string | undefined },
  answerTimeoutMs = ANSWER_TIMEOUT_MS,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const headers =
      init.body === undefined ? init.headers : { ...init.headers, 'content-length': `${Buffer.byteLength(init.body)}` };
    const req = start(url, conn, init.method, headers);
    req.setTimeout(REQUEST_IDLE_MS, () => req.destroy(timeoutError(`${init.method} ${url.pathname}`)));
    const unanswered = setTimeout(() => {
      const err = new Error(
        `${init.method} ${url.origin}${url.pathname}: no answer within ${answerTimeoutMs / 1000} s (is the API server at ${url.origin} up and reachable?)`,
      );
      err.name = 'TimeoutError';
      req.destroy(err);
    }, answerTimeoutMs);
    req.on('error', (err) => {
      clearTimeout(unanswered);
      reject(err);
    });
    req.on('response', (res) => {
      clearTimeout(unanswered);
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('error', reject);
      res.on('end', () => resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', text }));
    });
    req.end(init.body);
  });
}

function timeoutError(what: string): Error {
  const err = new Error(`${what}: no response for too long`);
  err.name = 'TimeoutError';
  return err;
}

/**
 * A streaming GET of newline-delimited JSON (a watch): `onLine` for each line, `done` once when the stream ends
 * for any reason (null: it ended, or was stopped). A status other than 200 ends it with an error carrying
 * `statusCode`. Returns a function that stops it.
 */
export function streamLines(
  url: URL,
  conn: Connection,
  accept: string,
  onLine: (line: string) => void,
  done: (err: unknown) => void,
): () => void {
  let finished = false;
  const finish = (err: unknown) => {
    if (finished) return;
    finished = true;
    req.destroy();
    done(err);
  };
  const req = start(url, conn, 'GET', { accept });
  req.setTimeout(WATCH_IDLE_MS, () => finish(timeoutError(`watch ${url.pathname}`)));
  req.on('error', finish);
  req.on('response', (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      const err = new Error(res.statusMessage || http.STATUS_CODES[res.statusCode ?? 500] || 'watch failed');
      (err as Error & { statusCode?: number }).statusCode = res.statusCode;
      finish(err);
      return;
    }
    res.setEncoding('utf8');
    // One event per line; a line may span chunks, so the unfinished tail waits for the next one.
    let tail = '';
    res.on('data', (chunk: string) => {
      const lines = (tail + chunk).split('\n');
      tail = lines.pop() ?? '';
      for (const line of lines) if (line) onLine(line);
    });
    res.on('error', finish);
    res.on('end', () => finish(null));
    res.on('close', () => finish(null));
  });
  req.end();
  return () => finish(null);
}
