/**
 * Cluster worker entry: attaches to the primary's shared segment, serves HTTP on the shared port
 * (uWS: SO_REUSEPORT; `server.engine: node`: node:cluster's handle sharing), and drains gracefully
 * when told to stop. Only wiring lives here.
 */
import { attachSegment } from '../src/state/segment.js';
import { createLogger } from '../src/observe/logger.js';
import { Proxy } from '../src/proxy/proxy.js';
import { createApiServer, type ApiServer } from '../src/server/api-server.js';
import { WorkerControl } from '../src/proxy/worker-control.js';
import { drainAndClose } from '../src/proxy/drain.js';
import type { PrimaryMessage, WorkerMessage } from '../src/core/ipc.js';
import type { Config } from '../src/config/types.js';

let proxy: Proxy | null = null;
let server: ApiServer | null = null;
let control: WorkerControl | null = null;
let config: Config | null = null;
let draining = false;
/** After the last in-flight response, how long a draining worker keeps its connections for stragglers. */
const DRAIN_QUIET_MS = 500;

function send(m: WorkerMessage): void {
  if (process.connected) process.send!(m);
}

async function init(m: Extract<PrimaryMessage, { kind: 'init' }>): Promise<void> {
  config = m.config;
  const log = createLogger(config.logging, `worker-${m.slot}`);
  const segment = attachSegment(m.segment);
  control = new WorkerControl(m.slot, send);
  proxy = new Proxy(config, segment, control, log);
  proxy.setCatalog(m.catalog);
  server = createApiServer(config, proxy, m.port);
  const port = await server.listen(m.port);
  log.debug({ port }, 'worker listening');
  send({ kind: 'listening', port });
}

/** Stop accepting, let in-flight responses finish (bounded by server.shutdown_timeout), exit. */
async function drain(): Promise<void> {
  if (draining) return;
  draining = true;
  if (server !== null && proxy !== null && config !== null) await drainAndClose(server, proxy, config.server.shutdown_timeout, DRAIN_QUIET_MS);
  else server?.stopListening();
  process.exit(0);
}

process.on('message', (m: PrimaryMessage) => {
  switch (m.kind) {
    case 'init':
      init(m).catch((err: Error) => {
        console.error(`corral worker failed to start: ${err.stack ?? err.message}`);
        process.exit(1);
      });
      return;
    case 'catalog':
      proxy?.setCatalog(m.catalog);
      return;
    case 'status-reply':
      control?.resolveStatus(m.seq, m.doc);
      return;
    case 'load-done':
      proxy?.loadDone(m);
      return;
    case 'queue-wake':
      proxy?.queueWake(m.model, m.hops, m.sentAtMs);
      return;
    case 'queue-wake-all':
      proxy?.wakeQueues();
      return;
    case 'shutdown':
      void drain();
      return;
  }
});

// A terminal's Ctrl-C (or pm2's tree kill) signals the whole process group: drain like the primary
// asks, rather than dying with streams in flight.
process.on('SIGINT', () => void drain());
process.on('SIGTERM', () => void drain());
// SIGHUP means "reload" to the primary, which replaces workers itself; a worker ignores it
// (its default action would kill it).
process.on('SIGHUP', () => {});
// The primary is gone: nobody will supervise or tell us to stop.
process.on('disconnect', () => void drain());
send({ kind: 'hello' });
