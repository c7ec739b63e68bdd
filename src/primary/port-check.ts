import { createServer } from 'node:net';
import { ListenError } from '../core/errors.js';

/**
 * Refuses a port another process already listens on. uWebSockets.js listens with SO_REUSEPORT,
 * so a second corral started on a taken API port would bind "successfully" beside the first, and
 * the kernel would split connections between two gateways with different configurations. A plain
 * bind (node:net sets no SO_REUSEPORT) fails on any port with a listener, SO_REUSEPORT or not:
 * checked once, by the primary, before anything of this corral listens. Its own workers share the
 * port afterwards, and a reload's replacements join them.
 */
export function assertPortFree(host: string, port: number, setting: string): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ListenError(err.code === 'EADDRINUSE'
        ? `${setting}: ${host}:${port} is already in use by another process (another corral?); refusing to share it`
        : `${setting}: cannot listen on ${host}:${port} (${err.code ?? err.message})`));
    });
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
