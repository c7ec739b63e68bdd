/**
 * What the load coordinator did, for /metrics: model loads, load failures and evictions per
 * (endpoint, model), and load durations per endpoint as a histogram. Loads happen only in the
 * primary, which also answers every scrape, so these live in the primary's memory rather than in
 * the shared segment (no worker ever writes them).
 */

/**
 * Upper bounds (seconds) of the load-duration buckets: a runner already on its way to memory is
 * ready in a tenth of a second, a 7B model from a warm page cache in one or two, a 70B one from
 * disk in a minute or more.
 */
export const LOAD_BUCKETS_S: readonly number[] = [0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120];

/** The label a model name beyond the cap becomes: a backend listing thousands of names cannot grow /metrics without bound. */
export const OTHER_MODEL = 'other';

class PairCounts {
  loads = 0;
  failures = 0;
  evictions = 0;
}

/** One endpoint's load durations: non-cumulative buckets (the last is +Inf), their sum and count. */
export class LoadDurations {
  readonly buckets = new Float64Array(LOAD_BUCKETS_S.length + 1);
  sumSeconds = 0;
  count = 0;

  observe(seconds: number): void {
    let b = 0;
    while (b < LOAD_BUCKETS_S.length && seconds > LOAD_BUCKETS_S[b]!) b++;
    this.buckets[b]! += 1;
    this.sumSeconds += seconds;
    this.count++;
  }
}

export interface PairRow {
  readonly endpoint: string;
  readonly model: string;
  readonly loads: number;
  readonly failures: number;
  readonly evictions: number;
}

export class LoadMetrics {
  readonly #pairs = new Map<string, PairCounts>();
  readonly #keys = new Map<string, { endpoint: string; model: string }>();
  readonly #durations = new Map<string, LoadDurations>();
  readonly #models = new Set<string>();
  readonly #maxModels: number;

  /** `maxModels`: distinct model labels kept (state.max_models); later names count as `other`. */
  constructor(maxModels: number) {
    this.#maxModels = maxModels;
  }

  loaded(endpoint: string, model: string, seconds: number): void {
    this.#pair(endpoint, model).loads++;
    let d = this.#durations.get(endpoint);
    if (d === undefined) this.#durations.set(endpoint, (d = new LoadDurations()));
    d.observe(seconds);
  }

  failed(endpoint: string, model: string): void {
    this.#pair(endpoint, model).failures++;
  }

  evicted(endpoint: string, model: string): void {
    this.#pair(endpoint, model).evictions++;
  }

  /** Every (endpoint, model) pair with a load, failure or eviction, in the order first seen. */
  pairs(): PairRow[] {
    const out: PairRow[] = [];
    for (const [key, c] of this.#pairs) {
      const k = this.#keys.get(key)!;
      out.push({ endpoint: k.endpoint, model: k.model, loads: c.loads, failures: c.failures, evictions: c.evictions });
    }
    return out;
  }

  /** Load durations by endpoint name. */
  durations(): ReadonlyMap<string, LoadDurations> {
    return this.#durations;
  }

  #pair(endpoint: string, model: string): PairCounts {
    let label = model;
    if (!this.#models.has(model)) {
      if (this.#models.size < this.#maxModels) this.#models.add(model);
      else label = OTHER_MODEL;
    }
    const key = `${endpoint}\u0000${label}`;
    let c = this.#pairs.get(key);
    if (c === undefined) {
      this.#pairs.set(key, (c = new PairCounts()));
      this.#keys.set(key, { endpoint, model: label });
    }
    return c;
  }
}
