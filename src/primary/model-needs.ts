import { canonicalModelName } from '../core/catalog.js';

/** Used for a model whose size nobody reported (a static `models:` list, a tag without `size`). */
export const UNKNOWN_MODEL_BYTES = 1024 ** 3;

/** How a need was arrived at, shown in /internal/status. */
export type NeedSource = 'learned' | 'estimate' | 'default';

export interface Need {
  readonly bytes: number;
  readonly source: NeedSource;
}

/** One learned fact, as the state snapshot keeps it: model, context length, bytes of vRAM. */
export type LearnedNeed = readonly [model: string, context: number, bytes: number];

/** Context lengths remembered per model; more are forgotten oldest first. */
const MAX_CONTEXTS_PER_MODEL = 16;
/** Models remembered; more are forgotten oldest first (the snapshot stays small). */
const MAX_MODELS = 4096;

/**
 * What each model really takes in vRAM, learned from `/api/ps` (`size_vram` at its
 * `context_length`) on any endpoint: the KV cache grows with the context, so the need is kept
 * per context length. A model never seen resident is estimated from its size on disk.
 */
export class ModelNeeds {
  /** canonical name → context length → bytes; insertion order = age (re-inserted on update). */
  readonly #learned = new Map<string, Map<number, number>>();
  /** canonical name → the last size_vram seen, whatever its context. */
  readonly #latest = new Map<string, number>();

  /** A model seen resident: `bytes` of vRAM at `context` (0 when the server did not say). */
  observe(model: string, context: number, bytes: number): void {
    if (!(bytes > 0)) return;
    const key = canonicalModelName(model);
    let byCtx = this.#learned.get(key);
    if (byCtx === undefined) {
      if (this.#learned.size >= MAX_MODELS) this.#forgetOldest();
      byCtx = new Map();
    }
    this.#learned.delete(key);
    this.#learned.set(key, byCtx);
    byCtx.delete(context);
    byCtx.set(context, bytes);
    if (byCtx.size > MAX_CONTEXTS_PER_MODEL) byCtx.delete(byCtx.keys().next().value!);
    this.#latest.set(key, bytes);
  }

  #forgetOldest(): void {
    const oldest = this.#learned.keys().next().value!;
    this.#learned.delete(oldest);
    this.#latest.delete(oldest);
  }

  /**
   * The vRAM `model` needs at `context` (0 = whatever the server loads it with): learned at that
   * context, else (no context asked) the last size seen, else its size on disk × `factor`, else
   * UNKNOWN_MODEL_BYTES. Never 0.
   */
  need(model: string, context: number, diskBytes: number, factor: number): Need {
    const key = canonicalModelName(model);
    const learned = context > 0 ? this.#learned.get(key)?.get(context) : this.#latest.get(key);
    if (learned !== undefined) return { bytes: learned, source: 'learned' };
    if (diskBytes > 0) return { bytes: Math.ceil(diskBytes * factor), source: 'estimate' };
    return { bytes: UNKNOWN_MODEL_BYTES, source: 'default' };
  }

  /** Everything learned, oldest first, for the state snapshot. */
  export(): LearnedNeed[] {
    const out: LearnedNeed[] = [];
    for (const [model, byCtx] of this.#learned) for (const [ctx, bytes] of byCtx) out.push([model, ctx, bytes]);
    return out;
  }

  /** Restores what export() gave (in its order, so the latest stays latest); returns how many. */
  import(list: readonly LearnedNeed[]): number {
    for (const [model, ctx, bytes] of list) this.observe(model, ctx, bytes);
    return list.length;
  }
}
