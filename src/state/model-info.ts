import {
  MI_CHARS_PER_TOKEN, MI_FLAGS, MI_LOADING_ON, MI_LOADS, MI_MAX_CONTEXT, MI_NEED_MIB, MI_TOKEN_SAMPLES, MODEL_INFO_STRIDE, type Layout,
} from './layout.js';

/** corral never evicts the model (`models.pinned`). */
export const MODEL_PINNED = 1;
/** Its need is an estimate from its size on disk, not a size seen in `/api/ps`: placement may try it where the estimate looks too big. */
export const MODEL_NEED_ESTIMATED = 2;

/**
 * One row per model (by catalog column): what placement needs that belongs to the model rather
 * than to an (endpoint, model) pair — how much vRAM it needs, where it is being loaded, whether it
 * is pinned. The load claim is the one cell workers write: it is how concurrent requests for a
 * cold model, in any worker, end up waiting for a single load (primary/load-coordinator.ts).
 */
export class ModelInfoTable {
  readonly #i32: Int32Array;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.#i32 = new Int32Array(sab, layout.modelInfoOffset, layout.modelInfoBytes / 4);
  }

  /** vRAM the model needs when loaded, in MiB: learned from `/api/ps`, else estimated; never 0 once known. */
  needMiB(model: number): number {
    return Atomics.load(this.#i32, model * MODEL_INFO_STRIDE + MI_NEED_MIB);
  }

  setNeedMiB(model: number, mib: number): void {
    Atomics.store(this.#i32, model * MODEL_INFO_STRIDE + MI_NEED_MIB, mib);
  }

  /** The endpoint a load of the model is claimed on or running on, or -1. */
  loadingOn(model: number): number {
    return Atomics.load(this.#i32, model * MODEL_INFO_STRIDE + MI_LOADING_ON) - 1;
  }

  /**
   * Claims the model's load for `endpoint`. Exactly one claimant wins while no load runs; the
   * others get the endpoint the winner chose (and wait for that load). Returns -1 when this call
   * won, else the endpoint already loading it.
   */
  claimLoad(model: number, endpoint: number): number {
    const prior = Atomics.compareExchange(this.#i32, model * MODEL_INFO_STRIDE + MI_LOADING_ON, 0, endpoint + 1);
    return prior === 0 ? -1 : prior - 1;
  }

  /**
   * The load on `endpoint` is over (done or failed): the claim goes, if it is still that one, and
   * the count of ended loads moves on either way (requests waiting compare it: load-waiters.ts).
   */
  releaseLoad(model: number, endpoint: number): boolean {
    const i = model * MODEL_INFO_STRIDE + MI_LOADING_ON;
    const released = Atomics.compareExchange(this.#i32, i, endpoint + 1, 0) === endpoint + 1;
    Atomics.add(this.#i32, model * MODEL_INFO_STRIDE + MI_LOADS, 1);
    return released;
  }

  /** Loads of the model that ended (successfully or not) since the segment was created. */
  loadsEnded(model: number): number {
    return Atomics.load(this.#i32, model * MODEL_INFO_STRIDE + MI_LOADS);
  }

  /**
   * The most context any endpoint serving the model takes, in tokens (`/api/show` for Ollama,
   * `/props` or `max_model_len` for OpenAI-compatible servers: primary/served-context.ts), 0 while
   * unknown. A plain read: requests check prompts against it.
   */
  maxContext(model: number): number {
    return this.#i32[model * MODEL_INFO_STRIDE + MI_MAX_CONTEXT]!;
  }

  setMaxContext(model: number, tokens: number): void {
    Atomics.store(this.#i32, model * MODEL_INFO_STRIDE + MI_MAX_CONTEXT, tokens);
  }

  flags(model: number): number {
    return Atomics.load(this.#i32, model * MODEL_INFO_STRIDE + MI_FLAGS);
  }

  setFlags(model: number, f: number): void {
    Atomics.store(this.#i32, model * MODEL_INFO_STRIDE + MI_FLAGS, f);
  }

  /** Characters per token × 1000 learned for the model (protocol/token-estimate.ts), 0 before any sample. A plain read, once per request. */
  charsPerTokenMilli(model: number): number {
    return this.#i32[model * MODEL_INFO_STRIDE + MI_CHARS_PER_TOKEN]!;
  }

  /**
   * One more sample learned: the new ratio, computed by the caller from the one it read. Workers
   * race here: a whole-word store each, so a racing sample is lost, never half-written.
   */
  learnCharsPerToken(model: number, milli: number): void {
    Atomics.store(this.#i32, model * MODEL_INFO_STRIDE + MI_CHARS_PER_TOKEN, milli);
    Atomics.add(this.#i32, model * MODEL_INFO_STRIDE + MI_TOKEN_SAMPLES, 1);
  }

  /** The primary's starting point for a model with no samples yet (primary/family-ratio.ts): not a sample. */
  seedCharsPerToken(model: number, milli: number): void {
    Atomics.store(this.#i32, model * MODEL_INFO_STRIDE + MI_CHARS_PER_TOKEN, milli);
  }

  /** Samples learned since the segment was created (a column is never reused for another model). */
  tokenSamples(model: number): number {
    return Atomics.load(this.#i32, model * MODEL_INFO_STRIDE + MI_TOKEN_SAMPLES);
  }
}
