import type { Config } from '../config/types.js';
import type { Control } from '../core/control.js';
import { createSegment, releaseSegment, segmentName, sweepStaleSegments, type Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { buildStatus } from '../observe/status.js';
import { ManagementServer } from '../server/management-server.js';
import { CatalogBuilder } from './catalog-builder.js';
import { HealthProber } from './health-prober.js';
import { Supervisor } from './supervisor.js';
import { SessionSweeper } from './session-sweeper.js';
import { integerWeights } from './integer-weights.js';

import type { InlineServer } from './inline-server.js';

export interface RunningCorral {
  readonly port: number;
  readonly managementPort: number | null;
  readonly segment: Segment;
  readonly log: Logger;
  /** Graceful stop: drain workers, release the segment. Resolves when everything is closed. */
  shutdown(): Promise<void>;
}

/**
 * The primary process: owns the shared segment, the catalog, health probing and the workers
 * (or, with `server.workers: 0`, serves HTTP itself — the mode clinic profiles).
 */
export async function startPrimary(config: Config, log: Logger = createLogger(config.logging, 'primary')): Promise<RunningCorral> {
  const startedAt = Date.now();
  const inline = config.server.workers === 0;
  const swept = sweepStaleSegments();
  if (swept.length > 0) log.warn({ segments: swept }, 'removed shared-memory segments left by a crashed primary');

  const sizes = {
    maxEndpoints: config.state.max_endpoints,
    maxModels: config.state.max_models,
    sessionSlots: config.routing.session_slots,
    // Spare slots let a rolling reload run old and new workers side by side.
    maxWorkers: config.server.workers * 2 + 1,
  };
  const name = inline ? null : segmentName(process.pid);
  const segment = createSegment(sizes, name);
  log.info({ segment: name ?? '(in-process)', bytes: segment.sab.byteLength }, 'shared segment ready');
  const weights = integerWeights(config.endpoints.map((e) => e.weight));
  config.endpoints.forEach((e, i) => {
    segment.endpoints.reset(i);
    segment.endpoints.setMaxConcurrency(i, e.max_concurrency);
    segment.endpoints.setPriority(i, e.priority);
    segment.endpoints.setWeight(i, weights[i]!);
    segment.endpoints.setState(i, EndpointState.Unknown);
  });
  segment.header.setEndpointCount(config.endpoints.length);

  const catalog = new CatalogBuilder(config, segment, log);
  let supervisor: Supervisor | null = null;
  let inlineServer: InlineServer | null = null;
  const publishCatalog = (): void => {
    const snapshot = catalog.snapshot;
    log.info({ generation: snapshot.generation, models: snapshot.models.map((m) => m.name) }, 'catalog updated');
    supervisor?.broadcast({ kind: 'catalog', catalog: snapshot });
    inlineServer?.setCatalog(snapshot);
  };
  const prober = new HealthProber(config, segment, catalog, log, publishCatalog);
  const status = (): Promise<unknown> => Promise.resolve(buildStatus(segment, catalog.snapshot, supervisor?.workers() ?? [],
    config.endpoints.map((_, i) => prober.lastError(i)), inline ? 'inline' : 'cluster', startedAt));

  await prober.start();
  const sweeper = new SessionSweeper(segment, config.routing.session_ttl, log);

  let port: number;
  if (inline) {
    const control: Control = { statsSlot: 0, reportSuspect: (i) => void prober.probeNow(i), status };
    // Loaded lazily: a cluster primary never needs uWS or the proxy in memory.
    const { startInlineServer } = await import('./inline-server.js');
    inlineServer = await startInlineServer(config, segment, control, log, catalog.snapshot);
    port = inlineServer.port;
  } else {
    supervisor = new Supervisor(config, name!, log, {
      catalog: () => catalog.snapshot,
      onSuspect: (i) => void prober.probeNow(i),
      onWorkerGone: (slot) => {
        // The dead worker's in-flight requests will never be released by it: least-connections
        // would otherwise see phantom load on those endpoints forever.
        const released = segment.holds.reconcile(slot, segment.endpoints);
        if (released > 0) log.warn({ slot, released }, 'released in-flight counts held by a dead worker');
      },
      status,
    });
    port = await supervisor.start();
  }

  let management: ManagementServer | null = null;
  if (config.server.management_port !== null) {
    management = new ManagementServer({ healthyEndpoints: () => countHealthy(segment, config.endpoints.length), status });
    await management.listen(config.server.host, config.server.management_port);
  }

  const url = `http://${config.server.host}:${port}`;
  log.info({ port, managementPort: management?.port ?? null, url, workers: config.server.workers, mode: inline ? 'inline' : 'cluster' },
    `corral listening on ${url}`);

  let stopping: Promise<void> | null = null;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      log.info({ timeoutMs: config.server.shutdown_timeout }, 'shutting down: draining in-flight requests');
      prober.stop();
      sweeper.stop();
      if (supervisor !== null) await supervisor.shutdown(config.server.shutdown_timeout);
      if (inlineServer !== null) await inlineServer.stop(config.server.shutdown_timeout);
      await management?.close();
      if (name !== null) releaseSegment(name);
      log.info('stopped');
    })();
    return stopping;
  };
  return { port, managementPort: management?.port ?? null, segment, log, shutdown };
}

function countHealthy(segment: Segment, n: number): number {
  let healthy = 0;
  for (let i = 0; i < n; i++) if (segment.endpoints.state(i) === EndpointState.Healthy) healthy++;
  return healthy;
}
