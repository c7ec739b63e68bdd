// A real nginx (Debian's package, /usr/sbin/nginx; `.ci/run` installs it when missing) in front of
// corral, run as the current user under a temp prefix: `daemon off`, its pid, logs and temp files
// in that prefix. Its proxy config is nginx's defaults unless `directives` adds to it: no
// `proxy_http_version` line, so nginx speaks HTTP/1.0 to corral.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export const NGINX = '/usr/sbin/nginx';

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface NginxProcess {
  readonly port: number;
  readonly url: string;
  /** nginx's error log so far (for assertion messages). */
  errorLog(): string;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/**
 * Starts nginx proxying `location /` to 127.0.0.1:`upstreamPort` with `proxy_pass` and nothing
 * else but `directives` (e.g. `proxy_read_timeout 2s;`). Stopped at teardown.
 */
export async function startNginx(t: Teardown, upstreamPort: number, directives = ''): Promise<NginxProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-nginx-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const errorLog = join(dir, 'error.log');
  writeFileSync(join(dir, 'nginx.conf'), `daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${errorLog} info;
events { worker_connections 512; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://127.0.0.1:${upstreamPort};
      ${directives}
    }
  }
}
`);
  const child = spawn(NGINX, ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', errorLog], { stdio: ['ignore', 'ignore', 'pipe'] });
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGQUIT'); // graceful stop
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
  });
  // nginx says nothing when it is ready: poll its port, bounded.
  const deadline = Date.now() + 10_000;
  while (!(await accepts(port))) {
    if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr.join('')}`);
    if (Date.now() > deadline) throw new Error(`nginx not listening on ${port} after 10 s: ${stderr.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    errorLog: () => {
      try {
        return readFileSync(errorLog, 'utf8');
      } catch {
        return '';
      }
    },
  };
}
