/**
 * A first-order Markov model over the recent sequence of requested models (the seeds' prefetch
 * design): of the last `window` requests, how often model B came right after model A. Counts are
 * kept incrementally — each new request adds one transition and, once the window is full, the
 * oldest one leaves — so observing and predicting cost O(1) and O(models seen after A).
 */
export class ModelSequence {
  readonly #window: number;
  /** The last `window` models, a ring. */
  readonly #ring: Int32Array;
  #start = 0;
  #length = 0;
  /** from → (to → count) over the transitions inside the window. */
  readonly #counts = new Map<number, Map<number, number>>();
  /** from → transitions out of it inside the window. */
  readonly #totals = new Map<number, number>();

  constructor(window: number) {
    this.#window = Math.max(2, window);
    this.#ring = new Int32Array(this.#window);
  }

  /** Requests inside the window. */
  get length(): number {
    return this.#length;
  }

  observe(model: number): void {
    if (this.#length === this.#window) {
      // The oldest request leaves, and with it the transition from it to the next one.
      const oldest = this.#ring[this.#start]!;
      const next = this.#ring[(this.#start + 1) % this.#window]!;
      this.#add(oldest, next, -1);
      this.#start = (this.#start + 1) % this.#window;
      this.#length--;
    }
    if (this.#length > 0) this.#add(this.#ring[(this.#start + this.#length - 1) % this.#window]!, model, 1);
    this.#ring[(this.#start + this.#length) % this.#window] = model;
    this.#length++;
  }

  #add(from: number, to: number, delta: number): void {
    let row = this.#counts.get(from);
    if (row === undefined) this.#counts.set(from, (row = new Map()));
    const n = (row.get(to) ?? 0) + delta;
    if (n > 0) row.set(to, n);
    else row.delete(to);
    const total = (this.#totals.get(from) ?? 0) + delta;
    if (total > 0) this.#totals.set(from, total);
    else {
      this.#totals.delete(from);
      this.#counts.delete(from);
    }
  }

  /**
   * The model most likely to follow `model`, when another model follows it with probability at
   * least `confidence` over at least `minSamples` observed transitions; else null.
   */
  predict(model: number, confidence: number, minSamples: number): { model: number; probability: number } | null {
    const total = this.#totals.get(model) ?? 0;
    if (total < minSamples) return null;
    let best = -1;
    let bestCount = 0;
    for (const [to, n] of this.#counts.get(model)!) {
      if (n > bestCount) {
        best = to;
        bestCount = n;
      }
    }
    const probability = bestCount / total;
    if (best < 0 || best === model || probability < confidence) return null;
    return { model: best, probability };
  }
}
