import type { PrefetchConfig } from '../config/types.js';
import type { Logger } from '../observe/logger.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import type { Segment } from '../state/segment.js';
import type { CatalogBuilder } from './catalog-builder.js';
import type { LoadCoordinator } from './load-coordinator.js';
import { ModelSequence } from './model-sequence.js';
import type { VramAccountant } from './vram-accounting.js';

/** Transitions out of a model seen before its prediction is trusted. */
const MIN_SAMPLES = 4;
/** A prefetched model that no request asks for within this long is a miss. */
const HIT_WINDOW_MS = 5 * 60_000;

/** Prefetch figures for /internal/status. */
export interface PrefetchSummary {
  readonly enabled: boolean;
  readonly issued: number;
  readonly hits: number;
  readonly misses: number;
  /** hits / (hits + misses), null before any prefetch was decided. */
  readonly hit_rate: number | null;
}

/**
 * Predictive prefetch (`models.prefetch`): learns which model tends to follow which from the
 * sequence of requested models the workers report, and after a request for A loads the likely
 * next model B where it fits in free vRAM — never evicting anything, never where vRAM is unknown,
 * one prefetch at a time. A prefetched model that a request then asks for is a hit.
 */
export class Prefetcher {
  readonly #sequence: ModelSequence;
  readonly #config: PrefetchConfig;
  readonly #segment: Segment;
  readonly #catalog: CatalogBuilder;
  readonly #accountant: VramAccountant;
  readonly #loads: LoadCoordinator;
  readonly #log: Logger;
  /** Prefetched model → when it was loaded, until a request asks for it or the window passes. */
  readonly #pending = new Map<number, number>();
  #busy = false;
  /** The model last asked for while a prefetch ran (-1 = none): its prediction is made when that one ends, not dropped. */
  #deferred = -1;
  #issued = 0;
  #hits = 0;
  #misses = 0;

  constructor(config: PrefetchConfig, segment: Segment, catalog: CatalogBuilder, accountant: VramAccountant, loads: LoadCoordinator, log: Logger) {
    this.#config = config;
    this.#sequence = new ModelSequence(config.window);
    this.#segment = segment;
    this.#catalog = catalog;
    this.#accountant = accountant;
    this.#loads = loads;
    this.#log = log;
  }

  /** Requested models, in the order a worker saw them (IPC `models-seen`, batched). */
  observe(models: readonly number[]): void {
    const now = Date.now();
    for (const [m, at] of this.#pending) {
      if (now - at > HIT_WINDOW_MS) {
        this.#pending.delete(m);
        this.#misses++;
      }
    }
    for (const m of models) {
      if (this.#pending.delete(m)) this.#hits++;
      this.#sequence.observe(m);
    }
    const last = models[models.length - 1];
    if (last !== undefined) this.#maybePrefetch(last);
  }

  #maybePrefetch(current: number): void {
    if (this.#busy) {
      this.#deferred = current;
      return;
    }
    const p = this.#sequence.predict(current, this.#config.confidence, MIN_SAMPLES);
    if (p === null) return;
    const seg = this.#segment;
    const model = this.#catalog.snapshot.models.find((x) => x.index === p.model);
    if (model === undefined || seg.modelInfo.loadingOn(p.model) >= 0) return;
    if (model.endpoints.some((e) => (seg.models.flags(e, p.model) & MODEL_LOADED) !== 0)) return;
    // Prefetched before and gone again before anyone asked for it: that one was a miss.
    if (this.#pending.delete(p.model)) this.#misses++;
    const need = this.#accountant.need(model.name, 0).bytes;
    let best = -1;
    let bestSlack = Infinity;
    for (const e of model.endpoints) {
      if (this.#catalog.type(e) !== 'ollama' || seg.endpoints.state(e) !== EndpointState.Healthy) continue;
      if ((seg.models.flags(e, p.model) & MODEL_AVAILABLE) === 0 || seg.endpoints.loadingModel(e) >= 0) continue;
      const space = this.#accountant.space(e);
      if (space.capacity === null) continue; // unknown vRAM: a load there might evict something
      const slack = space.capacity - space.used - need;
      if (slack >= 0 && slack < bestSlack) {
        best = e;
        bestSlack = slack;
      }
    }
    if (best < 0) return;
    this.#busy = true;
    this.#issued++;
    this.#log.info({ model: model.name, after: this.#catalog.snapshot.models.find((x) => x.index === current)?.name, probability: Math.round(p.probability * 100) / 100 }, 'prefetching a model');
    void this.#loads.loadFor('prefetch', best, p.model, null).then((done) => {
      if (done?.ok === true) this.#pending.set(p.model, Date.now());
    }).finally(() => {
      this.#busy = false;
      const deferred = this.#deferred;
      this.#deferred = -1;
      if (deferred >= 0) this.#maybePrefetch(deferred);
    });
  }

  summary(): PrefetchSummary {
    const decided = this.#hits + this.#misses;
    return { enabled: true, issued: this.#issued, hits: this.#hits, misses: this.#misses, hit_rate: decided === 0 ? null : this.#hits / decided };
  }
}
