/** Loopback helpers: free ports and "wait until it answers". */
import { createServer, type Server } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from 'undici';

/**
 * A port the kernel just handed out and released. Programs that cannot report the port they
 * bound (nginx, HAProxy, corral at log level warn) get one of these; the window in which another
 * process could take it is a few ms.
 */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

/**
 * `n` distinct free ports: each is held open until all are picked (two freePort() calls in a row
 * can return the same port, which corral then refuses as port and management port alike).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const srv = createServer();
      servers.push(srv);
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen(0, '127.0.0.1', () => resolve());
      });
    }
    return servers.map((srv) => {
      const addr = srv.address();
      return typeof addr === 'object' && addr !== null ? addr.port : 0;
    });
  } finally {
    await Promise.all(servers.map((srv) => new Promise<void>((resolve) => srv.close(() => resolve()))));
  }
}

/** GET url → status and body text; never throws (status 0 on a transport error). */
export async function httpGet(url: string, timeoutMs = 2_000): Promise<{ status: number; body: string }> {
  try {
    const res = await request(url, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    return { status: res.statusCode, body: await res.body.text() };
  } catch (err) {
    return { status: 0, body: String((err as Error).message) };
  }
}

/**
 * Polls until `url` answers `status` (default 200), or throws after `timeoutMs`. `alive` lets the
 * caller stop early when the process that should answer has died.
 */
export async function waitForHttp(url: string, what: string, timeoutMs: number, alive: () => boolean = () => true,
  status = 200): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const r = await httpGet(url, 1_000);
    if (r.status === status) return;
    last = `${r.status} ${r.body.slice(0, 200)}`;
    if (!alive()) throw new Error(`${what} exited before ${url} answered ${status} (last: ${last})`);
    if (Date.now() >= deadline) throw new Error(`${what}: ${url} did not answer ${status} within ${timeoutMs} ms (last: ${last})`);
    await sleep(50);
  }
}
