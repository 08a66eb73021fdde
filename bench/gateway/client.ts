/**
 * A minimal MCP client used for every target of the benchmark, so the client's own cost is identical: the
 * same JSON-RPC code over stdio (direct) or over keep-alive HTTP (Streamable HTTP, JSON or event-stream
 * answers). It does the 2025 handshake and then tools/call.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { Agent, request } from 'node:http';

export interface BenchClient {
  call(name: string, args: Record<string, unknown>): Promise<unknown>;
  close(): Promise<void>;
}

const INIT = {
  protocolVersion: '2025-11-25',
  capabilities: {},
  clientInfo: { name: 'bench', version: '1.0.0' },
};

/** One stdio connection; concurrent calls are multiplexed by id over the one pipe. */
export async function stdioClient(command: string[]): Promise<BenchClient & { pid: number }> {
  const [cmd = '', ...args] = command;
  // spawns: node (the bench runs the servers under the project's Node)
  const child: ChildProcessWithoutNullStreams = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.resume();
  const pending = new Map<number, (m: { result?: unknown; error?: unknown }) => void>();
  let buf = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    buf += chunk;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      nl = buf.indexOf('\n');
      if (!line.trim()) continue;
      const msg = JSON.parse(line) as { id?: number; result?: unknown; error?: unknown; method?: string };
      if (msg.id !== undefined && msg.method === undefined) {
        const done = pending.get(msg.id);
        pending.delete(msg.id);
        done?.(msg);
      }
    }
  });
  let seq = 0;
  const rpc = (method: string, params: unknown) =>
    new Promise<{ result?: unknown; error?: unknown }>((resolve) => {
      const id = ++seq;
      pending.set(id, resolve);
      child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    });
  await rpc('initialize', INIT);
  child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
  return {
    pid: child.pid as number,
    async call(name, args) {
      const r = await rpc('tools/call', { name, arguments: args });
      if (r.error) throw new Error(JSON.stringify(r.error));
      return r.result;
    },
    async close() {
      child.stdin.end();
      child.kill();
      await new Promise((r) => child.once('exit', r));
    },
  };
}

interface HttpAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * POST on the keep-alive agent. A server may close an idle keep-alive connection just as the client reuses it
 * (Node's default keepAliveTimeout is 5 s, and a client idles while other targets take their round): the request
 * then never reached the server, and is sent again on a fresh connection, as Node's documentation advises
 * (`request.reusedSocket`).
 */
function post(agent: Agent, url: URL, body: string, headers: Record<string, string>): Promise<HttpAnswer> {
  return postOnce(agent, url, body, headers).catch((err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
    if (err.reusedSocket && err.code === 'ECONNRESET') return postOnce(agent, url, body, headers);
    throw err;
  });
}

function postOnce(agent: Agent, url: URL, body: string, headers: Record<string, string>): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        agent,
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'application/json, text/event-stream',
          'content-length': Buffer.byteLength(body),
          ...headers,
        },
      },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          data += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: data }));
        res.on('error', reject);
      },
    );
    req.on('error', (err: NodeJS.ErrnoException & { reusedSocket?: boolean }) => {
      err.reusedSocket = req.reusedSocket;
      reject(err);
    });
    req.end(body);
  });
}

/** The JSON-RPC response with this id, from a JSON body or an event stream. */
function responseFrom(answer: HttpAnswer, id: number): { result?: unknown; error?: unknown } {
  const type = String(answer.headers['content-type'] ?? '');
  if (type.includes('text/event-stream')) {
    for (const line of answer.body.split('\n')) {
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (!data) continue;
      const msg = JSON.parse(data) as { id?: number; result?: unknown; error?: unknown };
      if (msg.id === id) return msg;
    }
    throw new Error(`no response in event stream: ${answer.body.slice(0, 200)}`);
  }
  return JSON.parse(answer.body) as { result?: unknown; error?: unknown };
}

/** One Streamable HTTP session over one keep-alive connection. */
export async function httpClient(
  endpoint: string,
): Promise<
  BenchClient & { sessionId: string; rpc(method: string, params: Record<string, unknown>): Promise<unknown> }
> {
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  let seq = 0;
  const init = await post(
    agent,
    url,
    JSON.stringify({ jsonrpc: '2.0', id: ++seq, method: 'initialize', params: INIT }),
    {},
  );
  if (init.status !== 200) throw new Error(`initialize: HTTP ${init.status} ${init.body}`);
  const sessionId = String(init.headers['mcp-session-id'] ?? '');
  const headers: Record<string, string> = { 'mcp-protocol-version': '2025-11-25' };
  if (sessionId) headers['mcp-session-id'] = sessionId;
  await post(agent, url, JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }), headers);
  /** Any request in the session (tools/call, tools/list, ...): its result, or a thrown JSON-RPC error. */
  const rpc = async (method: string, params: Record<string, unknown>) => {
    const id = ++seq;
    const answer = await post(agent, url, JSON.stringify({ jsonrpc: '2.0', id, method, params }), headers);
    if (answer.status !== 200) throw new Error(`HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
    const r = responseFrom(answer, id);
    if (r.error) throw new Error(JSON.stringify(r.error));
    return r.result;
  };
  return {
    sessionId,
    rpc,
    call: (name, args) => rpc('tools/call', { name, arguments: args }),
    async close() {
      if (sessionId) {
        await new Promise<void>((resolve) => {
          const req = request(
            { agent, host: url.hostname, port: url.port, path: url.pathname, method: 'DELETE', headers },
            (res) => {
              res.resume();
              res.on('end', () => resolve());
            },
          );
          req.on('error', () => resolve());
          req.end();
        });
      }
      agent.destroy();
    },
  };
}

/** An idle session as SDK clients leave it: handshake done and the GET stream open. */
export async function idleSession(endpoint: string): Promise<{ close(): void }> {
  const client = await httpClient(endpoint);
  const url = new URL(endpoint);
  const agent = new Agent({ keepAlive: false });
  const req = request({
    agent,
    host: url.hostname,
    port: url.port,
    path: url.pathname,
    method: 'GET',
    headers: { accept: 'text/event-stream', 'mcp-session-id': client.sessionId, 'mcp-protocol-version': '2025-11-25' },
  });
  req.on('response', (res) => res.resume());
  req.on('error', () => {});
  req.end();
  return {
    close() {
      req.destroy();
      void client.close();
    },
  };
}
