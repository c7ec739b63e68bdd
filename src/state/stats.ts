import { HISTOGRAM_BUCKETS as LAYOUT_BUCKETS, STATS_SLOT_BYTES, type Layout } from './layout.js';

export const enum Counter {
  Requests = 0, Responses2xx, Responses4xx, Responses5xx, Retries, UpstreamErrors, ClientAborts, BytesOut, COUNT,
}
export const enum Histogram { Latency = 0, FirstByte, QueueWait, COUNT }

/** Log2 buckets of microseconds: bucket b counts values < 2^b µs (and ≥ 2^(b-1)); the last is +Inf. */
export const HISTOGRAM_BUCKETS: number = LAYOUT_BUCKETS;

const SLOT_F64 = STATS_SLOT_BYTES / 8;
const HIST_BASE = Counter.COUNT;
const SUM_BASE = HIST_BASE + Histogram.COUNT * LAYOUT_BUCKETS;
const LAST_BUCKET = LAYOUT_BUCKETS - 1;

/**
 * Per-worker stats slots of f64 (layout.ts). Each slot has exactly one writer (its worker; slot 0
 * the primary / inline server), so writes are plain read-modify-write with no Atomics. Readers in
 * other processes sum every slot; an aligned f64 store is a single 8-byte move on x86-64 and arm64,
 * so a concurrent read sees the value before or after one update, never a torn mix. f64 counts are
 * exact to 2^53.
 */
export class StatsTable {
  readonly slots: number;
  readonly #f64: Float64Array;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.slots = layout.sizes.maxWorkers;
    this.#f64 = new Float64Array(sab, layout.statsOffset, layout.statsBytes / 8);
  }

  add(slot: number, c: Counter, n: number): void {
    this.#f64[slot * SLOT_F64 + c] += n;
  }

  sum(c: Counter): number {
    let s = 0;
    for (let w = 0; w < this.slots; w++) s += this.#f64[w * SLOT_F64 + c];
    return s;
  }

  observe(slot: number, h: Histogram, us: number): void {
    // value v in [2^(b-1), 2^b) → bucket b = bit length of v; clamp before clz32 (it takes u32).
    const b = us < 1 ? 0 : us >= 2147483648 ? LAST_BUCKET : Math.min(32 - Math.clz32(us), LAST_BUCKET);
    const base = slot * SLOT_F64;
    this.#f64[base + HIST_BASE + h * LAYOUT_BUCKETS + b] += 1;
    this.#f64[base + SUM_BASE + h] += us;
  }

  bucketsSum(h: Histogram, out: Float64Array): void {
    out.fill(0, 0, LAYOUT_BUCKETS);
    const off = HIST_BASE + h * LAYOUT_BUCKETS;
    for (let w = 0; w < this.slots; w++) {
      const base = w * SLOT_F64 + off;
      for (let b = 0; b < LAYOUT_BUCKETS; b++) out[b] += this.#f64[base + b];
    }
  }

  /** Sum of every observed value (µs) across slots: the Prometheus histogram `_sum`. */
  observedSum(h: Histogram): number {
    let s = 0;
    for (let w = 0; w < this.slots; w++) s += this.#f64[w * SLOT_F64 + SUM_BASE + h];
    return s;
  }
}
