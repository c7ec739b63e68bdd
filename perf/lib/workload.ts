/**
 * Seeded workloads for the benchmarks: a small PRNG (the same seed gives the same request
 * sequence in every scenario of a run, and in every run), Zipf popularity, shuffles, exponential
 * gaps, and percentiles over recorded latencies.
 */

/** mulberry32: a 32-bit PRNG, good enough to draw workloads; returns floats in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi] (both included). */
export function intBetween(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** An exponentially distributed gap with the given mean (Poisson arrivals). */
export function expGap(rand: () => number, mean: number): number {
  return -Math.log(1 - rand()) * mean;
}

/** Fisher–Yates over a copy. */
export function shuffled<T>(rand: () => number, items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Zipf probabilities of ranks 0..n-1: p(k) ∝ 1 / (k + 1)^s. */
export function zipfProbabilities(n: number, s: number): number[] {
  const w = Array.from({ length: n }, (_, k) => 1 / (k + 1) ** s);
  const sum = w.reduce((a, b) => a + b, 0);
  return w.map((x) => x / sum);
}

/** A sampler of ranks 0..n-1 with Zipf(s) popularity (inverse CDF over the cumulative sums). */
export function zipfSampler(rand: () => number, n: number, s: number): () => number {
  const p = zipfProbabilities(n, s);
  const cdf: number[] = [];
  let acc = 0;
  for (const x of p) cdf.push((acc += x));
  return () => {
    const u = rand();
    for (let k = 0; k < n; k++) if (u < cdf[k]!) return k;
    return n - 1;
  };
}

/** Nearest-rank percentile (q in 0..100) of the values; null when there are none. Sorts a copy. */
export function percentile(values: ArrayLike<number>, q: number): number | null {
  if (values.length === 0) return null;
  const v = Float64Array.from(values).sort();
  const rank = Math.max(1, Math.ceil((q / 100) * v.length));
  return v[Math.min(v.length, rank) - 1]!;
}
