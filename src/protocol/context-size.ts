/**
 * Choosing Ollama's `num_ctx` (ARCHITECTURE.md §6): a request whose runner options differ from the
 * loaded runner's makes Ollama reload the whole model, so corral picks the context from a few
 * buckets and prefers the size the resident runner already has. The prompt's tokens are estimated
 * in token-estimate.ts.
 */

/** The smallest bucket holding `tokens`, capped at `maxContext` (0 = unknown); `tokens` itself above every bucket. */
function bucketFor(tokens: number, buckets: readonly number[], maxContext: number): number {
  let size = tokens;
  for (let i = 0; i < buckets.length; i++) {
    if (buckets[i]! >= tokens) {
      size = buckets[i]!;
      break;
    }
  }
  return maxContext > 0 && size > maxContext ? maxContext : size;
}

/**
 * The `num_ctx` to send.
 * @param needed prompt tokens plus the reply budget
 * @param explicit the request's own `options.num_ctx`, 0 when it set none
 * @param resident the context of the runner resident where the request goes, 0 when none is
 * @param maxContext the model's maximum (0 = unknown)
 *
 * - A request that fits the resident runner gets the runner's size: no reload, whatever it asked
 *   for below that (Ollama issue #12783: the reload thrash of clients that each send their own).
 * - Otherwise the smallest bucket that holds what it needs — or what it asked for, when more.
 */
export function chooseNumCtx(needed: number, explicit: number, resident: number, buckets: readonly number[], maxContext: number): number {
  const wanted = Math.max(needed, explicit);
  if (resident > 0 && wanted <= resident) return resident;
  return bucketFor(wanted, buckets, maxContext);
}
