import type { Config, PrewarmConfig } from '../config/types.js';
import { canonicalModelName } from '../core/catalog.js';
import { ModelLoadError, NoCapacityError, UpstreamTimeoutError } from '../core/errors.js';
import type { LoadDone } from '../core/ipc.js';
import type { Logger } from '../observe/logger.js';
import { LoadMetrics } from '../observe/load-metrics.js';
import { CircuitBreaker } from '../routing/circuit-breaker.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_PINNED } from '../state/model-info.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import type { Segment } from '../state/segment.js';
import type { CatalogBuilder } from './catalog-builder.js';
import type { EndpointRegistry } from './endpoint-registry.js';
import { ProbeError, postJson } from './probe-client.js';
import type { VramAccountant } from './vram-accounting.js';
import { formatBytes } from '../core/format-bytes.js';
import { isZeroKeepAlive } from '../protocol/keep-alive.js';

/** How often a load waiting for busy models to go idle looks again. */
const BUSY_RECHECK_MS = 100;
/**
 * A model corral loaded this recently is not evicted yet, idle or not: the requests its load
 * woke need a moment to reach it (their in-flight counts are not up yet).
 */
const JUST_LOADED_MS = 2000;
/** Between clearing a victim's LOADED flag and looking at its in-flight count once more. */
const UNLOAD_GRACE_MS = 50;
/** An unload is quick (Ollama stops a runner); one that takes longer is a failure. */
const UNLOAD_TIMEOUT_MS = 30_000;
const UNLOAD_SETTLE_TRIES = 20;

export type LoadOrigin = 'request' | 'prewarm' | 'prefetch' | 'orphan';

/** One model load, queued per endpoint. */
class LoadJob {
  readonly endpoint: number;
  readonly model: number;
  readonly numCtx: number;
  readonly keepAlive: string | number | null;
  readonly origin: LoadOrigin;
  /** Prewarm and prefetch wait for their own load; requests are woken by the broadcast. */
  readonly settle: ((done: LoadDone) => void) | null;
  constructor(endpoint: number, model: number, numCtx: number, keepAlive: string | number | null, origin: LoadOrigin,
    settle: ((done: LoadDone) => void) | null) {
    this.endpoint = endpoint;
    this.model = model;
    this.numCtx = numCtx;
    this.keepAlive = keepAlive;
    this.origin = origin;
    this.settle = settle;
  }
}

/** A load that cannot go ahead, with the error class its waiting requests receive. */
class LoadRefused extends Error {
  readonly code: string;
  readonly status: number;
  /** The endpoint itself failed (no answer, or none in time): counts against its circuit breaker. */
  readonly endpointFault: boolean;
  constructor(code: string, status: number, message: string, endpointFault = false) {
    super(message);
    this.code = code;
    this.status = status;
    this.endpointFault = endpointFault;
  }
}

/** Counters shown in /internal/status (`placement`). */
export class LoadCounters {
  loads = 0;
  loadFailures = 0;
  evictions = 0;
  /** Loads skipped because the model was already resident when the job ran. */
  alreadyLoaded = 0;
  /** Recent load durations in ms (newest last, at most 64) for the operator's view. */
  readonly recentLoadMs: number[] = [];
}

/**
 * The load coordinator (primary): performs every model load and eviction corral decides on.
 * Workers claim a cold model's load in the segment (ModelInfoTable.claimLoad: only one claim per
 * model can exist) and ask here over IPC; prewarm and prefetch ask directly. Loads run one at a
 * time per endpoint (Ollama's scheduler serialises them anyway), each evicting only idle,
 * unpinned models, least recently used first, when the model does not fit; the outcome is
 * written to the segment before it is broadcast, so a woken request routes on fresh flags.
 */
export class LoadCoordinator {
  readonly counters = new LoadCounters();
  /** The same events by endpoint and model, with load durations, for /metrics. */
  readonly metrics: LoadMetrics;
  readonly #segment: Segment;
  readonly #registry: EndpointRegistry;
  readonly #catalog: CatalogBuilder;
  readonly #accountant: VramAccountant;
  readonly #log: Logger;
  readonly #publish: (done: LoadDone) => void;
  readonly #queues = new Map<number, LoadJob[]>();
  readonly #running = new Set<number>();
  /** Models with a job queued or running (a claim without one is an orphan: see adoptOrphans). */
  readonly #jobModels = new Set<number>();
  /** Prewarm and prefetch waiting for a load of a model that someone else claimed, by model. */
  readonly #afterLoad = new Map<number, (() => void)[]>();
  /** `endpoint:model` → performance.now() when corral's load of it ended (JUST_LOADED_MS). */
  readonly #loadedAt = new Map<string, number>();
  /** Claims seen without a job at the last check. */
  #suspectClaims = new Set<number>();
  #config: Config;
  #breaker: CircuitBreaker;
  #stopped = false;

  constructor(config: Config, segment: Segment, registry: EndpointRegistry, catalog: CatalogBuilder, accountant: VramAccountant,
    log: Logger, publish: (done: LoadDone) => void) {
    this.#config = config;
    this.#segment = segment;
    this.#registry = registry;
    this.#catalog = catalog;
    this.#accountant = accountant;
    this.#log = log;
    this.#publish = publish;
    this.#breaker = new CircuitBreaker(segment.endpoints, config.circuit_breaker);
    this.metrics = new LoadMetrics(config.state.max_models);
  }

  reconfigure(config: Config): void {
    this.#config = config;
    this.#breaker = new CircuitBreaker(this.#segment.endpoints, config.circuit_breaker);
  }

  stop(): void {
    this.#stopped = true;
    for (const list of this.#afterLoad.values()) for (const resolve of list) resolve();
    this.#afterLoad.clear();
  }

  /** A worker claimed the load of `model` on `endpoint` and asks for it (IPC `load`). */
  request(endpoint: number, model: number, numCtx: number, keepAlive: string | number | null): void {
    this.#enqueue(new LoadJob(endpoint, model, numCtx, keepAlive, 'request', null));
  }

  /** Queued loads per endpoint (for /internal/status). */
  queued(endpoint: number): number {
    return this.#queues.get(endpoint)?.length ?? 0;
  }

  /**
   * Loads `model` on `endpoint` for corral itself (prewarm, prefetch): claims it first, so requests
   * arriving meanwhile join this load. Resolves with the outcome; null when another load of the
   * model was already claimed (it will happen anyway).
   */
  async loadFor(origin: LoadOrigin, endpoint: number, model: number, keepAlive: string | number | null): Promise<LoadDone | null> {
    // One load of a model at a time, anywhere: while another endpoint loads it (a prewarm of the
    // same model elsewhere, a request's load), wait for that one to end, then claim this one.
    for (let tries = 0; tries < 8; tries++) {
      if (this.#stopped) return null;
      if ((this.#segment.models.flags(endpoint, model) & MODEL_LOADED) !== 0) return null;
      if (this.#segment.modelInfo.claimLoad(model, endpoint) < 0) {
        return new Promise((resolve) => this.#enqueue(new LoadJob(endpoint, model, 0, keepAlive, origin, resolve)));
      }
      await new Promise<void>((resolve) => {
        let list = this.#afterLoad.get(model);
        if (list === undefined) this.#afterLoad.set(model, (list = []));
        list.push(resolve);
      });
    }
    return null;
  }

  #enqueue(job: LoadJob): void {
    let q = this.#queues.get(job.endpoint);
    if (q === undefined) this.#queues.set(job.endpoint, (q = []));
    q.push(job);
    this.#jobModels.add(job.model);
    if (!this.#running.has(job.endpoint)) void this.#drain(job.endpoint);
  }

  async #drain(endpoint: number): Promise<void> {
    this.#running.add(endpoint);
    try {
      for (;;) {
        const job = this.#queues.get(endpoint)?.shift();
        if (job === undefined) break;
        const done = await this.#run(job);
        this.#jobModels.delete(job.model);
        try {
          job.settle?.(done);
          this.#publish({ ...done, epoch: this.#segment.modelInfo.loadsEnded(job.model), sentAtMs: performance.timeOrigin + performance.now() });
        } catch (err) {
          this.#log.error({ err }, 'announcing the end of a model load failed');
        }
        const waiting = this.#afterLoad.get(job.model);
        if (waiting !== undefined) {
          this.#afterLoad.delete(job.model);
          for (const resolve of waiting) resolve();
        }
      }
    } finally {
      this.#running.delete(endpoint);
      this.#queues.delete(endpoint);
    }
  }

  async #run(job: LoadJob): Promise<LoadDone> {
    const seg = this.#segment;
    const e = job.endpoint;
    const m = job.model;
    const startedAt = performance.now();
    const cfg = this.#registry.get(e);
    const model = this.#catalog.snapshot.models.find((x) => x.index === m);
    const endpointName = cfg?.name ?? `#${e}`;
    const modelName = model?.name ?? `#${m}`;
    seg.endpoints.setLoadingModel(e, m);
    try {
      if (this.#stopped) throw new LoadRefused(ModelLoadError.code, 502, `corral is shutting down; "${modelName}" was not loaded`);
      if (cfg === null || model === undefined || this.#catalog.type(e) !== 'ollama') {
        throw new LoadRefused(ModelLoadError.code, 502, `endpoint ${endpointName} cannot load "${modelName}" (not an Ollama endpoint of the current configuration)`);
      }
      if ((seg.models.flags(e, m) & MODEL_AVAILABLE) === 0) {
        throw new LoadRefused(ModelLoadError.code, 502, `endpoint ${endpointName} no longer lists "${modelName}"`);
      }
      if (seg.endpoints.state(e) !== EndpointState.Healthy) {
        throw new LoadRefused(ModelLoadError.code, 502, `endpoint ${endpointName} is not healthy; "${modelName}" was not loaded`);
      }
      const listed = model.listedAs?.[model.endpoints.indexOf(e)] ?? model.name;
      await this.#accountant.refresh(e);
      if ((seg.models.flags(e, m) & MODEL_LOADED) !== 0 && (job.numCtx === 0 || seg.models.context(e, m) === job.numCtx)) {
        this.counters.alreadyLoaded++;
        seg.models.touch(e, m, seg.header.nowSec());
        return { model: m, endpoint: e, ok: true, code: '', status: 200, message: '', epoch: 0, sentAtMs: 0 };
      }
      await this.#makeRoom(e, m, modelName, endpointName, job.numCtx, job.origin === 'prefetch');
      await this.#load(cfg.url, listed, job, endpointName);
      seg.models.touch(e, m, seg.header.nowSec());
      this.#loadedAt.set(`${e}:${m}`, performance.now());
      await this.#accountant.refresh(e);
      const ms = Math.round(performance.now() - startedAt);
      this.counters.loads++;
      // The whole job, evictions included: how long the requests that asked for the model waited.
      this.metrics.loaded(endpointName, modelName, (performance.now() - startedAt) / 1000);
      this.counters.recentLoadMs.push(ms);
      if (this.counters.recentLoadMs.length > 64) this.counters.recentLoadMs.shift();
      this.#log.info({ endpoint: endpointName, model: modelName, ms, origin: job.origin }, 'model loaded');
      return { model: m, endpoint: e, ok: true, code: '', status: 200, message: '', epoch: 0, sentAtMs: 0 };
    } catch (err) {
      this.counters.loadFailures++;
      this.metrics.failed(endpointName, modelName);
      const refused = err instanceof LoadRefused ? err
        : new LoadRefused(ModelLoadError.code, 502, `loading "${modelName}" on endpoint ${endpointName} failed: ${(err as Error).message}`, true);
      // Only the endpoint's own failures feed its breaker: not corral's refusals, nor a model
      // Ollama answered it cannot load (the endpoint serves its other models fine).
      if (refused.endpointFault && !this.#stopped) this.#breaker.onFailure(e);
      this.#log.warn({ endpoint: endpointName, model: modelName, origin: job.origin, code: refused.code, err: refused.message }, 'model load failed');
      return { model: m, endpoint: e, ok: false, code: refused.code, status: refused.status, message: refused.message, epoch: 0, sentAtMs: 0 };
    } finally {
      seg.endpoints.setLoadingModel(e, -1);
      seg.modelInfo.releaseLoad(m, e);
    }
  }

  /**
   * Unloads idle, unpinned models on `e`, least recently used first, until `m` fits. A victim's
   * LOADED flag is cleared before its in-flight count is checked, so no worker starts a new
   * request on it past that point; one that turned out busy keeps its flag and is spared. When
   * only busy (or just used) models stand in the way, the load waits for them to go idle, as
   * Ollama's scheduler does, until models.load_timeout; when pinned ones do, it fails at once.
   */
  async #makeRoom(e: number, m: number, modelName: string, endpointName: string, numCtx: number, neverEvict: boolean): Promise<void> {
    const seg = this.#segment;
    const deadline = performance.now() + this.#config.models.load_timeout;
    for (let round = 0; ; round++) {
      const space = this.#accountant.space(e);
      if (space.capacity === null) return; // unknown total: Ollama evicts on its own
      const estimate = this.#accountant.need(modelName, numCtx);
      // An estimate from the disk size may overshoot a GPU it would fit: try, capped at the whole.
      const need = estimate.source === 'learned' ? estimate.bytes : Math.min(estimate.bytes, space.capacity);
      let free = space.capacity - space.used;
      if (need <= free) return;
      if (need > space.capacity) {
        throw new LoadRefused(NoCapacityError.code, 503, `model "${modelName}" needs about ${formatBytes(need)} of vRAM; endpoint ${endpointName} has ${formatBytes(space.capacity)} in all (vram less vram_reserve)`);
      }
      if (neverEvict) {
        throw new LoadRefused(NoCapacityError.code, 503, `prefetch of "${modelName}" dropped: it no longer fits on endpoint ${endpointName} without evicting`);
      }
      const residents = this.#residents(e, m);
      let idle = 0;
      let waitable = 0;
      for (const r of residents) {
        if (r.pinned) continue;
        if (r.idle) idle += r.bytes;
        else waitable += r.bytes;
      }
      if (free + idle + waitable < need) {
        throw new LoadRefused(NoCapacityError.code, 503, `model "${modelName}" needs about ${formatBytes(need)} of vRAM; endpoint ${endpointName} has ${formatBytes(Math.max(0, free))} free, and its other resident models are pinned or too small to make room`);
      }
      if (free + idle >= need) {
        for (const v of residents) {
          if (free >= need) break;
          if (!v.idle || v.pinned || !seg.models.clearLoaded(e, v.column)) continue;
          // A worker that read LOADED just before the clear may be a few instructions from
          // counting its request: give it a moment, then look again.
          await new Promise((resolve) => setTimeout(resolve, UNLOAD_GRACE_MS));
          if (seg.models.inflight(e, v.column) > 0) {
            seg.models.setFlags(e, v.column, seg.models.flags(e, v.column) | MODEL_LOADED); // became busy: keep it
            continue;
          }
          if (await this.#unload(e, v.name, endpointName, modelName)) free += v.bytes;
          else seg.models.setFlags(e, v.column, seg.models.flags(e, v.column) | MODEL_LOADED); // still resident
        }
        await this.#settled(e, residents.filter((r) => (seg.models.flags(e, r.column) & MODEL_LOADED) === 0).map((r) => r.column));
        const after = this.#accountant.space(e);
        if (after.capacity !== null && need <= after.capacity - after.used) return;
      }
      // What stands in the way is busy: wait for it, as Ollama would hold the request.
      if (performance.now() > deadline) {
        throw new LoadRefused(NoCapacityError.code, 503, `model "${modelName}" needs about ${formatBytes(need)} of vRAM; endpoint ${endpointName}'s other models stayed busy for models.load_timeout`);
      }
      if (round === 0) this.#log.info({ endpoint: endpointName, model: modelName }, 'load waits for busy models to go idle');
      await new Promise((resolve) => setTimeout(resolve, BUSY_RECHECK_MS));
      await this.#accountant.refresh(e);
    }
  }

  /**
   * Re-reads `/api/ps` until the unloaded models are gone from it (Ollama expires a runner a
   * moment after `keep_alive: 0` is answered), at most UNLOAD_SETTLE_TRIES times.
   */
  async #settled(e: number, gone: readonly number[]): Promise<void> {
    for (let i = 0; i < UNLOAD_SETTLE_TRIES; i++) {
      await this.#accountant.refresh(e);
      if (gone.every((c) => this.#segment.models.vramMiB(e, c) === 0)) return;
      await new Promise((resolve) => setTimeout(resolve, BUSY_RECHECK_MS));
    }
  }

  /** `keep_alive: 0` for one model; true when Ollama took it. */
  async #unload(e: number, model: string, endpointName: string, forModel: string): Promise<boolean> {
    const cfg = this.#registry.get(e)!;
    try {
      const answer = await postJson(cfg.url, '/api/generate', { model, keep_alive: 0 }, UNLOAD_TIMEOUT_MS);
      if (answer.status !== 200) throw new Error(`HTTP ${answer.status}${ollamaError(answer.doc)}`);
    } catch (err) {
      this.#log.warn({ endpoint: endpointName, model, err: (err as Error).message }, 'unloading a model failed');
      return false;
    }
    this.#accountant.forget(e, model);
    this.counters.evictions++;
    // Labelled by the catalog's name, as every other model metric is, not the backend's spelling.
    const column = this.#catalog.columnOf(model);
    this.metrics.evicted(endpointName, this.#catalog.snapshot.models.find((x) => x.index === column)?.name ?? model);
    this.#log.info({ endpoint: endpointName, model, for: forModel }, 'model evicted');
    return true;
  }

  /**
   * Models resident on `e` other than `m`, least recently used first: whether corral may evict
   * them now (idle: nothing in flight, not loaded by corral within JUST_LOADED_MS, not being
   * loaded) and whether they are pinned.
   */
  #residents(e: number, m: number): { column: number; name: string; bytes: number; idle: boolean; pinned: boolean; lastUsed: number }[] {
    const seg = this.#segment;
    const now = performance.now();
    const out: { column: number; name: string; bytes: number; idle: boolean; pinned: boolean; lastUsed: number }[] = [];
    for (const model of this.#catalog.snapshot.models) {
      const c = model.index;
      if (c === m || (seg.models.flags(e, c) & MODEL_LOADED) === 0) continue;
      const lastUsed = seg.models.lastUsedSec(e, c);
      const loadedAt = this.#loadedAt.get(`${e}:${c}`);
      if (loadedAt !== undefined && now - loadedAt >= JUST_LOADED_MS) this.#loadedAt.delete(`${e}:${c}`);
      const justLoaded = loadedAt !== undefined && now - loadedAt < JUST_LOADED_MS;
      const idle = seg.models.inflight(e, c) === 0 && !justLoaded && seg.modelInfo.loadingOn(c) !== e;
      const listed = model.listedAs?.[model.endpoints.indexOf(e)] ?? model.name;
      out.push({ column: c, name: listed, bytes: seg.models.vramMiB(e, c) * 1024 * 1024, idle, pinned: (seg.modelInfo.flags(c) & MODEL_PINNED) !== 0, lastUsed });
    }
    out.sort((a, b) => a.lastUsed - b.lastUsed);
    return out;
  }

  /** `POST /api/generate` with only the model (and keep_alive, and num_ctx when the request set one): Ollama's documented load. */
  async #load(url: string, model: string, job: LoadJob, endpointName: string): Promise<void> {
    const body: Record<string, unknown> = { model };
    // keep_alive 0 with only the model would be Ollama's unload: the request sets its own after.
    if (job.keepAlive !== null && !isZeroKeepAlive(job.keepAlive)) body.keep_alive = job.keepAlive;
    // A runner loaded at another context length would be reloaded by the request that follows.
    if (job.numCtx > 0) body.options = { num_ctx: job.numCtx };
    const timeout = this.#config.models.load_timeout;
    let answer;
    try {
      answer = await postJson(url, '/api/generate', body, timeout);
    } catch (err) {
      if (err instanceof ProbeError && /no answer within/.test(err.message)) {
        throw new LoadRefused(UpstreamTimeoutError.code, 504, `loading "${model}" on endpoint ${endpointName} did not finish within models.load_timeout (${timeout} ms)`, true);
      }
      throw err;
    }
    if (answer.status !== 200) {
      throw new LoadRefused(ModelLoadError.code, 502, `loading "${model}" on endpoint ${endpointName} failed: HTTP ${answer.status}${ollamaError(answer.doc)}`);
    }
  }

  /**
   * Loads every `models.prewarm` entry on its endpoints (all Ollama endpoints listing the model
   * when none are named), or only on `onlyEndpoint` (it just came back: a restarted backend has
   * an empty GPU). Sequential: one model after another, never racing requests for vRAM.
   */
  async prewarm(onlyEndpoint = -1): Promise<void> {
    for (const w of this.#config.models.prewarm) {
      for (const e of this.#prewarmTargets(w)) {
        if (onlyEndpoint >= 0 && e !== onlyEndpoint) continue;
        if (this.#stopped) return;
        const m = this.#catalog.columnOf(w.model);
        if (m < 0 || (this.#segment.models.flags(e, m) & MODEL_LOADED) !== 0) continue;
        const done = await this.loadFor('prewarm', e, m, w.keep_alive);
        if (done !== null && !done.ok) this.#log.warn({ model: w.model, endpoint: this.#registry.get(e)?.name, err: done.message }, 'prewarm failed');
      }
    }
  }

  #prewarmTargets(w: PrewarmConfig): number[] {
    const key = canonicalModelName(w.model);
    const out: number[] = [];
    for (const i of this.#registry.indices()) {
      const cfg = this.#registry.get(i)!;
      if (w.endpoints !== null && !w.endpoints.includes(cfg.name)) continue;
      if (this.#catalog.type(i) !== 'ollama' || this.#segment.endpoints.state(i) !== EndpointState.Healthy) continue;
      const m = this.#catalog.columnOf(key);
      if (m >= 0 && (this.#segment.models.flags(i, m) & MODEL_AVAILABLE) !== 0) out.push(i);
    }
    return out;
  }

  /**
   * A claim with no job behind it (its worker died between the claim and the message) would
   * hold every request for that model until its deadline: seen twice in a row, it is adopted
   * as a load of its own.
   */
  adoptOrphans(): void {
    const info = this.#segment.modelInfo;
    const next = new Set<number>();
    for (const model of this.#catalog.snapshot.models) {
      const e = info.loadingOn(model.index);
      if (e < 0 || this.#jobModels.has(model.index)) continue;
      if (this.#suspectClaims.has(model.index)) {
        this.#log.warn({ model: model.name, endpoint: this.#registry.get(e)?.name }, 'adopting a model load claimed by a worker that never asked for it');
        this.#enqueue(new LoadJob(e, model.index, 0, null, 'orphan', null));
      } else {
        next.add(model.index);
      }
    }
    this.#suspectClaims = next;
  }
}

/** Ollama's `{"error": "…"}` as `: …`, or ''. */
function ollamaError(doc: unknown): string {
  const e = (doc as { error?: unknown } | null)?.error;
  return typeof e === 'string' && e !== '' ? `: ${e.slice(0, 300)}` : '';
}
