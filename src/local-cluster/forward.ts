/**
 * A TCP forwarder on 127.0.0.1 to an address inside the cluster (a Service's ClusterIP, which this host reaches
 * through kube-proxy's rules): what makes a server's URL work at once from this machine, and from nowhere else.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface ForwardOptions {
  /** first loopback port to try; the next ones are tried while a port is taken */
  port: number;
  /** how many ports to try from `port` (default 50) */
  attempts?: number;
  target: { host: string; port: number };
}

export interface Forward {
  /** the loopback port that listens */
  port: number;
  close(): Promise<void>;
}

function listen(server: Server, port: number): Promise<boolean> {
  return new Promise((ok, fail) => {
    const onError = (err: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') ok(false);
      else fail(err);
    };
    const onListening = () => {
      server.off('error', onError);
      ok(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen({ port, host: '127.0.0.1', exclusive: true });
  });
}

export async function forward(options: ForwardOptions): Promise<Forward> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(options.target.port, options.target.host);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  const attempts = options.attempts ?? 50;
  for (let port = options.port; port < options.port + attempts && port <= 65535; port++) {
    if (await listen(server, port)) {
      return {
        port,
        close: () =>
          new Promise<void>((ok) => {
            for (const s of sockets) s.destroy();
            server.close(() => ok());
          }),
      };
    }
  }
  throw new Error(`no free loopback port in ${options.port}-${options.port + attempts - 1}`);
}
