import cluster, { type Worker } from 'node:cluster';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Config } from '../config/types.js';
import type { CatalogSnapshot } from '../core/catalog.js';
import { isWorkerMessage, type PrimaryMessage, type WorkerMessage } from '../core/ipc.js';
import type { Logger } from '../observe/logger.js';
import type { WorkerInfo } from '../observe/status.js';

/** What the supervisor needs from the rest of the primary. */
export interface SupervisorHooks {
  catalog(): CatalogSnapshot;
  /** A worker in `slot` died or retired: give back what it held in the shared tables. */
  onWorkerGone(slot: number): void;
  onSuspect(endpoint: number): void;
  /** A worker claimed a model load (IPC `load`). */
  onLoad(endpoint: number, model: number, numCtx: number, keepAlive: string | number | null): void;
  /** A worker's batch of requested models (models.prefetch). */
  onModelsSeen(models: readonly number[]): void;
  status(): Promise<unknown>;
  metrics(openMetrics: boolean): Promise<string>;
}

/**
 * Defined only in the bundled CLI (scripts/bundle.mjs): the bundled worker beside it. Run from
 * tsc's output (unit tests, --before builds), the primary forks tsc's worker instead.
 */
declare const CORRAL_BUNDLED_WORKER: string | undefined;
const WORKER_ENTRY = fileURLToPath(new URL(
  typeof CORRAL_BUNDLED_WORKER === 'string' ? CORRAL_BUNDLED_WORKER : '../../workers/http-worker.js',
  import.meta.url,
));
const RESPAWN_MIN_MS = 100;
const RESPAWN_MAX_MS = 5000;
/** A worker that lived this long is considered stable: its next crash restarts the backoff. */
const STABLE_AFTER_MS = 10_000;

type SeatState = 'starting' | 'listening' | 'respawning' | 'retiring' | 'stopped';

/** One worker seat: a stats slot that outlives the processes that occupy it (respawns reuse it). */
class Seat {
  readonly slot: number;
  worker: Worker | null = null;
  state: SeatState = 'starting';
  restarts = 0;
  backoff = RESPAWN_MIN_MS;
  startedAt = 0;
  onListening: ((port: number) => void) | null = null;
  onStartFailed: ((err: Error) => void) | null = null;
  onGone: (() => void) | null = null;
  constructor(slot: number) {
    this.slot = slot;
  }
}

/**
 * Forks `server.workers` HTTP workers, hands each its config, segment name and stats slot, relays
 * their IPC (suspect reports, status requests), respawns a crashed one with backoff, replaces them
 * one by one on reload (the new one listens before the old one drains), and stops them all
 * gracefully. Workers share one port through SO_REUSEPORT (uWS sets it).
 */
export class Supervisor {
  #config: Config;
  readonly #segment: string;
  readonly #log: Logger;
  readonly #hooks: SupervisorHooks;
  readonly #seats: Seat[];
  /** Stats slots not occupied by a seat (the segment has 2 × workers + 1: room for a roll). */
  readonly #freeSlots: number[];
  #port: number;
  #stopping = false;

  constructor(config: Config, segmentName: string, maxWorkers: number, log: Logger, hooks: SupervisorHooks) {
    this.#config = config;
    this.#segment = segmentName;
    this.#log = log;
    this.#hooks = hooks;
    this.#seats = [];
    this.#freeSlots = [];
    for (let slot = maxWorkers - 1; slot >= 1; slot--) this.#freeSlots.push(slot);
    this.#port = config.server.port;
    cluster.setupPrimary({ exec: WORKER_ENTRY, silent: false });
  }

  get port(): number {
    return this.#port;
  }

  /** Starts every worker; resolves with the port once all are listening. */
  async start(): Promise<number> {
    // Linux will not let a second SO_REUSEPORT socket join a port the kernel picked for the
    // first (bind to 0), so with `port: 0` the primary picks a free port for all of them.
    if (this.#port === 0) this.#port = await pickFreePort(this.#config.server.host);
    const seats: Seat[] = [];
    for (let i = 0; i < this.#config.server.workers; i++) seats.push(this.#newSeat());
    await Promise.all(seats.map((seat) => this.#fork(seat)));
    return this.#port;
  }

  broadcast(message: PrimaryMessage): void {
    for (const seat of this.#seats) {
      const w = seat.worker;
      if (w !== null && w.isConnected()) w.send(message);
    }
  }

  /** One message to the worker in stats slot `slot`, if it is alive (a gone one's waiters went with it). */
  sendToSlot(slot: number, message: PrimaryMessage): void {
    for (const seat of this.#seats) {
      if (seat.slot !== slot) continue;
      const w = seat.worker;
      if (w !== null && w.isConnected()) w.send(message);
      return;
    }
  }

  workers(): WorkerInfo[] {
    return this.#seats.map((s) => ({ id: s.worker?.id ?? 0, pid: s.worker?.process.pid ?? 0, slot: s.slot, state: s.state, restarts: s.restarts }));
  }

  /**
   * Replaces every worker with one running `config`, one at a time: the replacement listens on
   * the shared port before the old one stops accepting and drains, so no connection finds the
   * port closed and no in-flight response is cut.
   */
  async roll(config: Config): Promise<void> {
    this.#config = config;
    for (const old of [...this.#seats]) {
      if (this.#stopping) return;
      if (old.state !== 'listening') continue; // respawning seats come back with the new config anyway
      const fresh = this.#newSeat();
      await this.#fork(fresh);
      await this.#retire(old, config.server.shutdown_timeout);
    }
  }

  #newSeat(): Seat {
    const slot = this.#freeSlots.pop();
    if (slot === undefined) throw new Error('no free worker slot in the shared segment');
    const seat = new Seat(slot);
    this.#seats.push(seat);
    return seat;
  }

  /**
   * Drains one seat's worker and frees its slot; resolves once it has exited. A worker still
   * alive `timeoutMs` plus a grace second later is killed.
   */
  #retire(seat: Seat, timeoutMs: number): Promise<void> {
    const w = seat.worker;
    seat.state = 'retiring';
    if (w === null || w.isDead()) {
      this.#release(seat);
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      seat.onGone = resolve;
      const killer = setTimeout(() => w.process.kill('SIGKILL'), timeoutMs + 1000);
      w.once('exit', () => clearTimeout(killer));
      if (w.isConnected()) w.send({ kind: 'shutdown' } satisfies PrimaryMessage);
      else w.kill('SIGTERM');
    });
  }

  #release(seat: Seat): void {
    const i = this.#seats.indexOf(seat);
    if (i >= 0) this.#seats.splice(i, 1);
    this.#freeSlots.push(seat.slot);
  }

  #fork(seat: Seat): Promise<number> {
    return new Promise((resolve, reject) => {
      const worker = cluster.fork();
      seat.worker = worker;
      seat.state = 'starting';
      seat.startedAt = Date.now();
      seat.onListening = resolve;
      seat.onStartFailed = reject;
      worker.on('message', (m: unknown) => {
        if (isWorkerMessage(m)) this.#onMessage(seat, worker, m);
      });
      worker.on('exit', (code, signal) => this.#onExit(seat, worker, code, signal));
    });
  }

  #onMessage(seat: Seat, worker: Worker, m: WorkerMessage): void {
    switch (m.kind) {
      case 'hello': {
        const init: PrimaryMessage = { kind: 'init', config: this.#config, segment: this.#segment, slot: seat.slot, port: this.#port, catalog: this.#hooks.catalog() };
        worker.send(init);
        return;
      }
      case 'listening': {
        seat.state = 'listening';
        const done = seat.onListening;
        seat.onListening = null;
        seat.onStartFailed = null;
        done?.(m.port);
        return;
      }
      case 'suspect':
        this.#hooks.onSuspect(m.endpoint);
        return;
      case 'load':
        this.#hooks.onLoad(m.endpoint, m.model, m.numCtx, m.keepAlive);
        return;
      case 'models-seen':
        this.#hooks.onModelsSeen(m.models);
        return;
      case 'queue-wake':
        this.sendToSlot(m.slot, { kind: 'queue-wake', model: m.model, hops: m.hops, sentAtMs: m.sentAtMs });
        return;
      case 'status-request':
        (m.view === 'status' ? this.#hooks.status() : this.#hooks.metrics(m.view === 'openmetrics')).then((doc) => {
          if (worker.isConnected()) worker.send({ kind: 'status-reply', seq: m.seq, doc } satisfies PrimaryMessage);
        }, (err: Error) => this.#log.error({ err }, 'status failed'));
        return;
    }
  }

  #onExit(seat: Seat, worker: Worker, code: number | null, signal: string | null): void {
    if (seat.worker !== worker) return;
    seat.worker = null;
    // Whatever it still held (a crash, a drain cut short) goes back to the shared counters.
    this.#hooks.onWorkerGone(seat.slot);
    if (seat.state === 'retiring' || this.#stopping) {
      this.#release(seat);
      seat.state = 'stopped';
      const gone = seat.onGone;
      seat.onGone = null;
      gone?.();
      return;
    }
    const startFailed = seat.onStartFailed;
    if (startFailed !== null && seat.restarts === 0) {
      // A worker that cannot even start will not start on retry either: report it.
      seat.onListening = null;
      seat.onStartFailed = null;
      this.#release(seat);
      startFailed(new Error(`worker ${worker.id} exited during start-up (code ${code}, signal ${signal})`));
      return;
    }
    seat.restarts++;
    if (Date.now() - seat.startedAt > STABLE_AFTER_MS) seat.backoff = RESPAWN_MIN_MS;
    const delay = seat.backoff;
    seat.backoff = Math.min(seat.backoff * 2, RESPAWN_MAX_MS);
    seat.state = 'respawning';
    this.#log.error({ worker: worker.id, pid: worker.process.pid, slot: seat.slot, code, signal, respawnInMs: delay }, 'worker died; respawning');
    setTimeout(() => {
      if (this.#stopping) return;
      this.#fork(seat).catch((err: Error) => this.#log.error({ err: err.message }, 'respawn failed'));
    }, delay).unref();
  }

  /**
   * Asks every worker to drain (stop accepting, finish in-flight responses) and waits for them to
   * exit; any still alive after `timeoutMs` plus a grace second is killed.
   */
  async shutdown(timeoutMs: number): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#seats].map((seat) => this.#retire(seat, timeoutMs)));
  }
}

/** A port free on `host` right now (the OS picks it; the socket is closed again at once). */
function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, host, () => {
      const addr = probe.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      probe.close(() => resolve(port));
    });
  });
}
