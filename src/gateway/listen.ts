/** Binding a port, with a message that names the setting and the fix when it cannot be bound. */
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Resolves with the bound port. `setting`: the flag and variable that chose the port. */
export function listen(server: HttpServer, port: number, host: string, setting: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE') {
        reject(
          new Error(
            `port ${port} on ${host} is already in use (${setting}): stop what holds it or choose another port`,
          ),
        );
      } else if (err.code === 'EACCES') {
        reject(
          new Error(
            `port ${port} on ${host} needs privileges this process lacks (${setting}): choose a port above 1023`,
          ),
        );
      } else reject(new Error(`cannot listen on ${host}:${port} (${setting}): ${err.message}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
