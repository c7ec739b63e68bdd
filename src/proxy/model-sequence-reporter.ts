import type { Control } from '../core/control.js';

/** How often a worker reports the models it was asked for, when prefetch is on. */
const FLUSH_MS = 200;
const MAX_BATCH = 512;

/**
 * Collects the model (column) of each inference request this process serves and reports them to
 * the primary in batches (`models.prefetch` only: with prefetch off nothing is created, and the
 * request path pays nothing). Batches from different workers interleave in the primary, so the
 * sequence it learns from is exact within a worker and approximate across them.
 */
export class ModelSequenceReporter {
  readonly #control: Control;
  #batch: number[] = [];
  #timer: NodeJS.Timeout | null = null;

  constructor(control: Control) {
    this.#control = control;
  }

  note(model: number): void {
    this.#batch.push(model);
    if (this.#batch.length >= MAX_BATCH) this.flush();
    else if (this.#timer === null) {
      this.#timer = setTimeout(() => this.flush(), FLUSH_MS);
      this.#timer.unref();
    }
  }

  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#batch.length === 0) return;
    const batch = this.#batch;
    this.#batch = [];
    this.#control.reportModels(batch);
  }
}
