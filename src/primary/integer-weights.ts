/**
 * The segment holds integer weights (Int32, read with Atomics); config weights may be fractional
 * (0.5, 1.5). Scale them to the smallest integers with the same ratios (to 3 decimal places),
 * so that the weighted strategy's rotation cycle (Σ weights) stays as short as possible.
 */
export function integerWeights(weights: readonly number[]): number[] {
  const scaled = weights.map((w) => Math.max(1, Math.round(w * 1000)));
  let g = 0;
  for (const w of scaled) g = gcd(g, w);
  return scaled.map((w) => w / (g || 1));
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
