/**
 * A real nginx (Debian's) on loopback, for tests that put the gateway behind a reverse proxy configured the way
 * the operator's Ingress annotations configure ingress-nginx.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/local-cluster/control-plane.ts';

/** What the Ingress annotations amount to in nginx: HTTP/1.1 upstream, no request buffering, hour-long timeouts. */
export const STREAMING_DIRECTIVES = `
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_request_buffering off;
      proxy_read_timeout 3600s;
      proxy_send_timeout 3600s;`;

/** An ingress-nginx style location: prefix stripped, X-Forwarded-Prefix set, response buffering off. */
export function ingressLocation(prefix: string, upstream: string): string {
  return `
    location ${prefix}/ {
      proxy_pass http://${upstream}/;
      proxy_set_header X-Forwarded-Prefix ${prefix};
      proxy_buffering off;${STREAMING_DIRECTIVES}
    }`;
}

/**
 * An F5 NGINX-style location: response buffering left at nginx's default (on), as the F5 NGINX Ingress
 * Controller has it unless nginx.org/proxy-buffering says otherwise. Streams flow only because the gateway sends
 * `X-Accel-Buffering: no`, which nginx honours per response.
 */
export function bufferedLocation(prefix: string, upstream: string): string {
  return `
    location ${prefix}/ {
      proxy_pass http://${upstream}/;
      proxy_set_header X-Forwarded-Prefix ${prefix};${STREAMING_DIRECTIVES}
    }`;
}

function findNginx(): string {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/local/sbin', '/sbin']) {
    const p = join(dir, 'nginx');
    if (dir && existsSync(p)) return p;
  }
  throw new Error('nginx is not installed (run .ci/install-deps.sh)');
}

export interface RunningNginx {
  /** http://127.0.0.1:PORT */
  url: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

/** Starts nginx in the foreground with the given `location` blocks; callers wait for it to answer. */
export async function startNginx(locations: string): Promise<RunningNginx> {
  const dir = mkdtempSync(join(tmpdir(), 'nginx-'));
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi', 'logs']) mkdirSync(join(dir, d));
  const port = await freePort();
  writeFileSync(
    join(dir, 'nginx.conf'),
    `
daemon off;
master_process off;
worker_processes 1;
error_log ${dir}/logs/error.log warn;
pid ${dir}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
${locations}
  }
}
`,
  );
  // spawns: nginx
  const child = spawn(findNginx(), ['-p', dir, '-c', join(dir, 'nginx.conf')], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGQUIT');
      await exited;
    },
  };
}
