import type { Layout } from './layout.js';

export const MODEL_AVAILABLE = 1;
export const MODEL_LOADED = 2;
export const MODEL_LOADING = 4;

const NO_MODELS = new Int32Array(0);

/**
 * One i32 of flags per (endpoint, model) pair, row-major by endpoint, so one endpoint's row is
 * contiguous (clearEndpoint, discovery updates). Written by the primary, read by every worker.
 */
export class ModelTable {
  readonly #i32: Int32Array;
  readonly #maxModels: number;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.#i32 = new Int32Array(sab, layout.modelsOffset, layout.modelsBytes / 4);
    this.#maxModels = layout.sizes.maxModels;
  }

  /** A plain read, read by the router for every request: why that is safe is in endpoints.ts (EndpointTable). */
  flags(endpoint: number, model: number): number {
    return this.#i32[endpoint * this.#maxModels + model]!;
  }

  setFlags(endpoint: number, model: number, f: number): void {
    Atomics.store(this.#i32, endpoint * this.#maxModels + model, f);
  }

  /**
   * Replaces one endpoint's row with `row` (flags by model column), writing only the cells that
   * change. Each cell goes straight from its old value to its new one: a worker reading while the
   * primary rebuilds never sees a model that stays available flicker to unavailable (clearing the
   * row first and setting it again did that, and answered such a request 503).
   */
  writeEndpoint(endpoint: number, row: Int32Array): void {
    const base = endpoint * this.#maxModels;
    for (let m = 0; m < this.#maxModels; m++) {
      const next = m < row.length ? row[m]! : 0;
      if (Atomics.load(this.#i32, base + m) !== next) Atomics.store(this.#i32, base + m, next);
    }
  }

  /** No model on this endpoint any more (it was removed). */
  clearEndpoint(endpoint: number): void {
    this.writeEndpoint(endpoint, NO_MODELS);
  }
}
