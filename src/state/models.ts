import {
  M_CONTEXT, M_EXPIRES_SEC, M_FLAGS, M_INFLIGHT, M_LAST_USED_SEC, M_VRAM_MIB, MODEL_STRIDE, type Layout,
} from './layout.js';

/** The endpoint lists the model (it may serve it). */
export const MODEL_AVAILABLE = 1;
/**
 * The model is resident: in vRAM on an Ollama endpoint (its `/api/ps`), always on an
 * OpenAI-compatible one (one model per server, nothing to load).
 */
export const MODEL_LOADED = 2;

const NO_MODELS = new Int32Array(0);


/**
 * One cell per (endpoint, model) pair, row-major by endpoint, so one endpoint's row is contiguous
 * (clearEndpoint, discovery updates). Flags and residency (vRAM, context, expiry) are written by
 * the primary; in-flight count and last use by the workers that serve the pair. Read by every
 * worker when it routes.
 */
export class ModelTable {
  readonly #i32: Int32Array;
  readonly #maxModels: number;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.#i32 = new Int32Array(sab, layout.modelsOffset, layout.modelsBytes / 4);
    this.#maxModels = layout.sizes.maxModels;
  }

  #cell(endpoint: number, model: number): number {
    return (endpoint * this.#maxModels + model) * MODEL_STRIDE;
  }

  /** A plain read, read by the router for every request: why that is safe is in endpoints.ts (EndpointTable). */
  flags(endpoint: number, model: number): number {
    return this.#i32[(endpoint * this.#maxModels + model) * MODEL_STRIDE]!;
  }

  setFlags(endpoint: number, model: number, f: number): void {
    Atomics.store(this.#i32, this.#cell(endpoint, model) + M_FLAGS, f);
  }

  /** Clears LOADED if it is set; true when this call cleared it (the primary, before it unloads a model). */
  clearLoaded(endpoint: number, model: number): boolean {
    const i = this.#cell(endpoint, model) + M_FLAGS;
    for (;;) {
      const cur = Atomics.load(this.#i32, i);
      if ((cur & MODEL_LOADED) === 0) return false;
      if (Atomics.compareExchange(this.#i32, i, cur, cur & ~MODEL_LOADED) === cur) return true;
    }
  }

  /**
   * Replaces one endpoint's flags row with `row` (flags by model column), writing only the cells
   * that change. Each cell goes straight from its old value to its new one: a worker reading while
   * the primary rebuilds never sees a model that stays available flicker to unavailable (clearing
   * the row first and setting it again did that, and answered such a request 503).
   */
  writeEndpoint(endpoint: number, row: Int32Array): void {
    const base = endpoint * this.#maxModels;
    for (let m = 0; m < this.#maxModels; m++) {
      const next = m < row.length ? row[m]! : 0;
      const i = (base + m) * MODEL_STRIDE + M_FLAGS;
      if (Atomics.load(this.#i32, i) !== next) Atomics.store(this.#i32, i, next);
    }
  }

  /** No model on this endpoint any more (it was removed): flags and residency cleared, counts kept. */
  clearEndpoint(endpoint: number): void {
    this.writeEndpoint(endpoint, NO_MODELS);
    for (let m = 0; m < this.#maxModels; m++) this.setResidency(endpoint, m, 0, 0, 0);
  }

  /** What `/api/ps` says of the pair: vRAM (MiB), loaded context length, expiry (segment seconds); zeros when not resident. */
  setResidency(endpoint: number, model: number, vramMiB: number, context: number, expiresSec: number): void {
    const i = this.#cell(endpoint, model);
    Atomics.store(this.#i32, i + M_VRAM_MIB, vramMiB);
    Atomics.store(this.#i32, i + M_CONTEXT, context);
    Atomics.store(this.#i32, i + M_EXPIRES_SEC, expiresSec);
  }

  /**
   * The runner's context as a request is about to make it (a worker sending a num_ctx the resident
   * runner does not have: Ollama reloads it at that size). The primary's next `/api/ps` read
   * confirms it; meanwhile the next requests size themselves to it instead of flapping back.
   */
  setContext(endpoint: number, model: number, context: number): void {
    Atomics.store(this.#i32, this.#cell(endpoint, model) + M_CONTEXT, context);
  }

  vramMiB(endpoint: number, model: number): number {
    return Atomics.load(this.#i32, this.#cell(endpoint, model) + M_VRAM_MIB);
  }

  /** A plain read, like flags(): requests size their context from it. */
  context(endpoint: number, model: number): number {
    return this.#i32[(endpoint * this.#maxModels + model) * MODEL_STRIDE + M_CONTEXT]!;
  }

  expiresSec(endpoint: number, model: number): number {
    return Atomics.load(this.#i32, this.#cell(endpoint, model) + M_EXPIRES_SEC);
  }

  /**
   * A request for the model starts on the endpoint (a worker, after it reserved the endpoint):
   * one atomic add, and the last-use stamp written only when the second changed (most requests
   * read it and leave the cache line alone).
   */
  begin(endpoint: number, model: number, nowSec: number): void {
    const i = (endpoint * this.#maxModels + model) * MODEL_STRIDE;
    Atomics.add(this.#i32, i + M_INFLIGHT, 1);
    if (this.#i32[i + M_LAST_USED_SEC] !== nowSec) Atomics.store(this.#i32, i + M_LAST_USED_SEC, nowSec);
  }

  end(endpoint: number, model: number): void {
    Atomics.sub(this.#i32, (endpoint * this.#maxModels + model) * MODEL_STRIDE + M_INFLIGHT, 1);
  }

  /** Requests in flight for the model on the endpoint (never below 0: see resetInflight). */
  inflight(endpoint: number, model: number): number {
    return Math.max(0, Atomics.load(this.#i32, this.#cell(endpoint, model) + M_INFLIGHT));
  }

  lastUsedSec(endpoint: number, model: number): number {
    return Atomics.load(this.#i32, this.#cell(endpoint, model) + M_LAST_USED_SEC);
  }

  /** Stamps a use without a request (a load corral made counts as a use: it is not the LRU victim next). */
  touch(endpoint: number, model: number, nowSec: number): void {
    Atomics.store(this.#i32, this.#cell(endpoint, model) + M_LAST_USED_SEC, nowSec);
  }

  /**
   * Zeroes an endpoint's per-model in-flight counts. The primary does it only when the endpoint's
   * own count (which it reconciles exactly when a worker dies) is 0: a dead worker's requests
   * would otherwise keep its models looking busy, so never evictable.
   */
  resetInflight(endpoint: number): number {
    let cleared = 0;
    for (let m = 0; m < this.#maxModels; m++) {
      const i = this.#cell(endpoint, m) + M_INFLIGHT;
      const v = Atomics.load(this.#i32, i);
      if (v !== 0 && Atomics.compareExchange(this.#i32, i, v, 0) === v) cleared += v;
    }
    return cleared;
  }
}
