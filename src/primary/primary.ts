import type { Config } from '../config/types.js';
import type { Control } from '../core/control.js';
import { ConfigError } from '../core/errors.js';
import { loadConfigFile } from '../config/load.js';
import { createSegment, releaseSegment, segmentName, sweepStaleSegments, type Segment } from '../state/segment.js';
import { createLogger, type Logger } from '../observe/logger.js';
import { buildStatus, type PlacementSource } from '../observe/status.js';
import { ManagementServer } from '../server/management-server.js';
import { SampleHistory } from '../observe/sample-history.js';
import { dashboardView } from '../observe/dashboard-view.js';
import { CatalogBuilder } from './catalog-builder.js';
import { HealthProber } from './health-prober.js';
import { Supervisor } from './supervisor.js';
import { SessionSweeper } from './session-sweeper.js';
import { EndpointRegistry } from './endpoint-registry.js';
import { keepRestartOnlySettings } from './reload-policy.js';
import { assertPortFree } from './port-check.js';
import type { InlineServer } from './inline-server.js';
import { ModelNeeds } from './model-needs.js';
import { VramAccountant } from './vram-accounting.js';
import { LoadCoordinator } from './load-coordinator.js';
import { Prefetcher } from './prefetcher.js';
import type { LoadDone } from '../core/ipc.js';

export interface RunningCorral {
  readonly port: number;
  readonly managementPort: number | null;
  readonly segment: Segment;
  readonly log: Logger;
  /** Re-reads the config file; an invalid one is refused (logged) and the running one kept. */
  reload(): Promise<boolean>;
  /** Graceful stop: drain workers, release the segment. Resolves when everything is closed. */
  shutdown(): Promise<void>;
}

/**
 * The primary process: owns the shared segment, the catalog, health probing and the workers
 * (or, with `server.workers: 0`, serves HTTP itself — the mode clinic profiles).
 */
class Primary implements RunningCorral {
  config: Config;
  readonly log: Logger;
  readonly segment: Segment;
  readonly segmentName: string | null;
  readonly inline: boolean;
  readonly startedAt: number;
  readonly registry: EndpointRegistry;
  readonly catalog: CatalogBuilder;
  readonly prober: HealthProber;
  readonly needs: ModelNeeds;
  readonly accountant: VramAccountant;
  readonly loads: LoadCoordinator;
  /** models.prefetch at start (a reload does not switch it on or off). */
  readonly prefetcher: Prefetcher | null;
  /** The dashboard's sparklines: samples of the segment every 2 s, five minutes of them. */
  readonly history: SampleHistory;
  sweeper: SessionSweeper;
  supervisor: Supervisor | null;
  inlineServer: InlineServer | null;
  management: ManagementServer | null;
  port: number;
  #reloading: Promise<boolean> | null;
  #stopping: Promise<void> | null;

  constructor(config: Config, log: Logger) {
    this.config = config;
    this.log = log;
    this.startedAt = Date.now();
    this.inline = config.server.workers === 0;
    const swept = sweepStaleSegments();
    if (swept.length > 0) log.warn({ segments: swept }, 'removed shared-memory segments left by a crashed primary');
    const sizes = {
      maxEndpoints: config.state.max_endpoints,
      maxModels: config.state.max_models,
      sessionSlots: config.routing.session_slots,
      // Spare slots let a rolling reload run old and new workers side by side.
      maxWorkers: config.server.workers * 2 + 1,
    };
    this.segmentName = this.inline ? null : segmentName(process.pid);
    // A segment already named after our pid is a dead predecessor's that had the same pid (a
    // restarted container's PID 1, say): it cannot be ours yet, and creation would fail on it.
    if (this.segmentName !== null) releaseSegment(this.segmentName);
    this.segment = createSegment(sizes, this.segmentName);
    log.info({ segment: this.segmentName ?? '(in-process)', bytes: this.segment.sab.byteLength }, 'shared segment ready');
    this.registry = new EndpointRegistry(this.segment, config.endpoints);
    this.needs = new ModelNeeds();
    if (config.state.file !== null) {
      // Session pins and latency history from the last run: KV caches still warm on the backends
      // keep being hit after a restart or upgrade.
      try {
        const { restoreSnapshot } = loadSnapshotModule();
        const restored = restoreSnapshot(config.state.file, this.segment, this.#endpointNames(), config.routing.session_ttl, this.needs);
        log.info({ file: config.state.file, ...restored }, 'routing state restored');
      } catch (err) {
        log.warn({ file: config.state.file, err: (err as Error).message }, 'state file ignored; starting fresh');
      }
    }
    this.catalog = new CatalogBuilder(config, this.registry, this.segment, log);
    this.accountant = new VramAccountant(config, this.registry, this.catalog, this.segment, this.needs, log, () => this.publishCatalog());
    this.loads = new LoadCoordinator(config, this.segment, this.registry, this.catalog, this.accountant, log, (done) => this.#publishLoad(done));
    this.prefetcher = config.models.prefetch.enabled && config.routing.placement === 'warm-first'
      ? new Prefetcher(config.models.prefetch, this.segment, this.catalog, this.accountant, this.loads, log) : null;
    this.prober = new HealthProber(this.registry, config.routing.discovery_interval, this.segment, this.catalog, log, () => this.publishCatalog(),
      (i) => void this.#endpointRecovered(i));
    this.sweeper = new SessionSweeper(this.segment, config.routing.session_ttl, log);
    this.history = new SampleHistory(this.segment, () => this.catalog.snapshot);
    this.supervisor = null;
    this.inlineServer = null;
    this.management = null;
    this.port = 0;
    this.#reloading = null;
    this.#stopping = null;
  }

  get managementPort(): number | null {
    return this.management?.port ?? null;
  }

  async start(): Promise<void> {
    const config = this.config;
    await this.prober.start();
    await this.accountant.refreshAll();
    void this.accountant.learnFacts();
    this.accountant.start(() => this.#accountingTick());
    this.history.start();
    if (this.inline) {
      const control: Control = {
        statsSlot: 0, reportSuspect: (i) => void this.prober.probeNow(i), status: () => this.status(), metrics: (open) => this.metrics(open),
        requestLoad: (e, m, numCtx, keepAlive) => this.loads.request(e, m, numCtx, keepAlive),
        reportModels: (models) => this.prefetcher?.observe(models),
        // Inline, every queued request is this process's: the head is always here.
        wakeQueue: (_slot, model, hops, sentAtMs) => this.inlineServer?.queueWake(model, hops, sentAtMs),
      };
      // Loaded lazily: a cluster primary never needs uWS or the proxy in memory.
      const { startInlineServer } = await import('./inline-server.js');
      this.inlineServer = await startInlineServer(config, this.segment, control, this.log, this.catalog.snapshot);
      this.port = this.inlineServer.port;
    } else {
      this.supervisor = new Supervisor(config, this.segmentName!, this.segment.sizes.maxWorkers, this.log, {
        catalog: () => this.catalog.snapshot,
        onSuspect: (i) => void this.prober.probeNow(i),
        onLoad: (e, m, numCtx, keepAlive) => this.loads.request(e, m, numCtx, keepAlive),
        onModelsSeen: (models) => this.prefetcher?.observe(models),
        onWorkerGone: (slot) => {
          // Requests the worker never finished would otherwise count as load forever.
          const released = this.segment.holds.reconcile(slot, this.segment.endpoints);
          if (released > 0) this.accountant.workerGone();
          if (released > 0) this.log.warn({ slot, released }, 'released in-flight counts held by a gone worker');
          // Its queued requests went with it (their places go), and its slots are free again.
          const dequeued = this.segment.queues.dropSlot(slot);
          if (released > 0 || dequeued.length > 0) this.#wakeQueues();
        },
        status: () => this.status(),
        metrics: (open) => this.metrics(open),
      });
      this.port = await this.supervisor.start();
    }
    if (config.server.management_port !== null) {
      this.management = new ManagementServer({
        healthyEndpoints: () => this.healthyEndpoints(), status: () => this.status(), metrics: (open) => this.metrics(open),
        dashboard: async () => dashboardView(await this.status(), this.history.view()),
      });
      await this.management.listen(config.server.host, config.server.management_port);
    }
    const url = `http://${config.server.host}:${this.port}`;
    this.log.info({ port: this.port, managementPort: this.managementPort, url, workers: config.server.workers, mode: this.inline ? 'inline' : 'cluster' },
      `corral listening on ${url}`);
  }

  /** Slots may have freed wholesale: every worker wakes the heads of the queues it holds waiters of. */
  #wakeQueues(): void {
    if (this.segment.queues.total() === 0) return;
    this.supervisor?.broadcast({ kind: 'queue-wake-all' });
    this.inlineServer?.wakeQueues();
  }

  /** A load ended: every serving process hears it (requests waiting for the model go on). */
  #publishLoad(done: LoadDone): void {
    this.supervisor?.broadcast({ kind: 'load-done', ...done });
    this.inlineServer?.loadDone(done);
  }

  /** After each accounting pass: adopt orphaned load claims, learn model facts. */
  #accountingTick(): void {
    this.loads.adoptOrphans();
    void this.accountant.learnFacts();
  }

  /** An endpoint became healthy: read its GPU now (a restarted backend's is empty), then prewarm it. */
  async #endpointRecovered(i: number): Promise<void> {
    if (this.#stopping !== null) return;
    this.#wakeQueues();
    await this.accountant.refresh(i);
    this.accountant.publishModelInfo();
    await this.loads.prewarm(i);
  }

  publishCatalog(): void {
    const snapshot = this.catalog.snapshot;
    // Contexts OpenAI-compatible servers publish come with their model lists: checked from now on.
    this.accountant.publishModelInfo();
    this.log.info({ generation: snapshot.generation, models: snapshot.models.map((m) => m.name) }, 'catalog updated');
    this.supervisor?.broadcast({ kind: 'catalog', catalog: snapshot });
    this.inlineServer?.setCatalog(snapshot);
  }

  healthyEndpoints(): number {
    return this.segment.endpoints.healthyCount(this.registry.span());
  }

  status(): Promise<unknown> {
    const lastErrors: (string | null)[] = [];
    for (const i of this.registry.indices()) lastErrors[i] = this.prober.lastError(i);
    return Promise.resolve(buildStatus(this.segment, this.catalog.snapshot, this.supervisor?.workers() ?? [],
      lastErrors, this.inline ? 'inline' : 'cluster', this.startedAt, this.#placementStatus));
  }

  /** The placement part of /internal/status: accounting and load coordinator facts. */
  readonly #placementStatus: PlacementSource = {
    mode: () => this.config.routing.placement,
    vram: (i) => this.accountant.vram(i),
    model: (name) => {
      const need = this.accountant.need(name, 0);
      const facts = this.accountant.facts(name);
      return {
        need_bytes: need.bytes, need_source: need.source, pinned: this.accountant.isPinned(name),
        max_context: facts?.max_context ?? null, family: facts?.family ?? null, parameter_size: facts?.parameter_size ?? null,
      };
    },
    summary: () => {
      const c = this.loads.counters;
      return {
        loads: c.loads, load_failures: c.loadFailures, evictions: c.evictions, already_loaded: c.alreadyLoaded, recent_load_ms: [...c.recentLoadMs],
        prefetch: this.prefetcher?.summary() ?? { enabled: false },
      };
    },
    queued: (i) => this.loads.queued(i),
  };

  /** The /metrics exposition; observe/metrics.js (and prom-client) load on the first scrape. */
  async metrics(openMetrics: boolean): Promise<string> {
    const { renderMetrics } = await import('../observe/metrics.js');
    return renderMetrics({
      segment: this.segment, catalog: this.catalog.snapshot, workers: this.supervisor?.workers() ?? [],
      placement: { vram: (i) => this.accountant.vram(i), loads: this.loads.metrics },
    }, openMetrics);
  }

  reload(): Promise<boolean> {
    this.#reloading ??= this.#reload().finally(() => {
      this.#reloading = null;
    });
    return this.#reloading;
  }

  async #reload(): Promise<boolean> {
    const source = this.config.source;
    if (source === null || this.#stopping !== null) {
      this.log.warn({ source }, 'reload ignored: no config file to re-read, or shutting down');
      return false;
    }
    let next: Config;
    try {
      next = loadConfigFile(source);
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      this.log.error({ source, problems: err.problems }, 'reload refused: the configuration is invalid; the running one is kept');
      return false;
    }
    const { config, kept } = keepRestartOnlySettings(this.config, next);
    if (kept.length > 0) this.log.warn({ settings: kept }, 'these settings change only on restart; the running values are kept');
    this.log.info({ source }, 'reloading');
    this.config = config;
    const changes = this.registry.apply(config.endpoints);
    this.catalog.endpointsChanged(changes);
    if (this.catalog.rebuild()) this.publishCatalog();
    this.sweeper.stop();
    this.sweeper = new SessionSweeper(this.segment, config.routing.session_ttl, this.log);
    this.accountant.reconfigure(config);
    this.loads.reconfigure(config);
    this.accountant.publishModelInfo();
    await this.prober.endpointsChanged(changes, config.routing.discovery_interval);
    if (this.supervisor !== null) await this.supervisor.roll(config);
    if (this.inlineServer !== null) this.inlineServer.reconfigure(config);
    // `changed` counts every endpoint whose settings differ; `reprobed` those that are a new backend.
    this.log.info({
      added: changes.added.length, removed: changes.removed.length,
      changed: changes.changed.length + changes.retuned.length, reprobed: changes.changed.length,
    }, 'reloaded');
    return true;
  }

  /** Row i's endpoint name ('' for a row no endpoint uses), as the snapshot keys by name. */
  #endpointNames(): string[] {
    return Array.from({ length: this.registry.span() }, (_, i) => this.registry.get(i)?.name ?? '');
  }

  #saveState(): void {
    const file = this.config.state.file;
    if (file === null) return;
    try {
      const { writeSnapshot } = loadSnapshotModule();
      const saved = writeSnapshot(file, this.segment, this.#endpointNames(), this.config.routing.session_ttl, this.needs);
      this.log.info({ file, ...saved }, 'routing state saved');
    } catch (err) {
      this.log.error({ file, err: (err as Error).message }, 'could not save routing state');
    }
  }

  shutdown(): Promise<void> {
    this.#stopping ??= (async () => {
      const config = this.config;
      this.log.info({ timeoutMs: config.server.shutdown_timeout }, 'shutting down: draining in-flight requests');
      await this.#reloading?.catch(() => false);
      this.prober.stop();
      this.accountant.stop();
      this.loads.stop();
      this.sweeper.stop();
      this.history.stop();
      if (this.supervisor !== null) await this.supervisor.shutdown(config.server.shutdown_timeout);
      if (this.inlineServer !== null) await this.inlineServer.stop(config.server.shutdown_timeout);
      this.#saveState();
      await this.management?.close();
      if (this.segmentName !== null) releaseSegment(this.segmentName);
      this.log.info('stopped');
    })();
    return this.#stopping;
  }
}

/**
 * The snapshot module (and msgpackr, ~10 MB of RSS) is imported only when `state.file` is set,
 * before the Primary is built, so the constructor and shutdown can use it synchronously.
 */
let snapshotModule: typeof import('./snapshot.js') | null = null;
function loadSnapshotModule(): typeof import('./snapshot.js') {
  if (snapshotModule === null) throw new Error('snapshot module not loaded');
  return snapshotModule;
}

export async function startPrimary(config: Config, log: Logger = createLogger(config.logging, 'primary')): Promise<RunningCorral> {
  // Before anything is created: a taken port is refused, never shared (port-check.ts).
  await assertPortFree(config.server.host, config.server.port, 'server.port');
  if (config.server.management_port !== null) await assertPortFree(config.server.host, config.server.management_port, 'server.management_port');
  if (config.state.file !== null) snapshotModule = await import('./snapshot.js');
  const primary = new Primary(config, log);
  await primary.start();
  return primary;
}
