import type { ApiServer } from '../server/api-server.js';
import type { Proxy } from './proxy.js';

/**
 * A graceful stop of one serving process (a cluster worker, or the primary in inline mode): stop
 * accepting, tell keep-alive clients `Connection: close`, let in-flight responses finish until
 * nothing has been in flight for `quietMs` (bounded by `timeoutMs`), then close what is left.
 */
export async function drainAndClose(server: ApiServer, proxy: Proxy, timeoutMs: number, quietMs: number): Promise<void> {
  server.stopListening();
  proxy.startDraining();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([proxy.whenQuiet(quietMs), timeout]);
  clearTimeout(timer);
  server.closeAll();
  await proxy.close();
}
