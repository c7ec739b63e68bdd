/**
 * Prompt tokens estimated from characters, with a chars-per-token ratio learned per model from
 * what Ollama reports it actually prefilled (`prompt_eval_count` in the final chunk).
 *
 * Ratios are kept ×1000 as integers: one whole-word store in the segment's model info
 * (model-info.ts), so workers racing to learn lose a sample at worst, never tear a value.
 *
 * Which samples are believed. `prompt_eval_count` counts only the tokens Ollama prefilled: a
 * prefix still in the runner's KV cache (the earlier turns of a conversation, a shared system
 * prompt) is not counted, and a prompt cut to fit `num_ctx` counts only what was kept. Both make
 * a sample show *more* characters per token than the tokeniser gives. What makes a sample show
 * fewer — the chat template's own tokens, a Modelfile's SYSTEM prompt — is small next to a long
 * prompt, so only prompts of MIN_SAMPLE_CHARS or more are sampled. The true ratio is therefore the
 * lower envelope of the samples, and the estimate follows it: down at once (half the gap per
 * sample: under-estimating tokens picks a runner too small and Ollama silently truncates the
 * prompt), up only slowly (1/32 of the gap) and only toward samples within a quarter of it (a
 * larger one is a cached prefix, ignored). Staying a little low costs at worst a larger bucket.
 */

/** Fewer than one character a token (or more than eight) is no tokeniser: a cached prefix, an image, a broken count. */
export const MIN_CHARS_PER_TOKEN_MILLI = 1000;
export const MAX_CHARS_PER_TOKEN_MILLI = 8000;
/** Shorter prompts are not sampled: template tokens (~10–30, more with a Modelfile SYSTEM) would dominate them. */
export const MIN_SAMPLE_CHARS = 2048;

/** Tokens a prompt of `chars` characters takes at `charsPerTokenMilli` (chars per token × 1000). */
export function estimateTokens(chars: number, charsPerTokenMilli: number): number {
  return Math.ceil((chars * 1000) / charsPerTokenMilli);
}

/**
 * The ratio after one sample: `chars` characters of prompt that Ollama prefilled as `tokens`.
 * Returns 0 when the sample is not believed (see above).
 */
export function calibratedRatio(current: number, chars: number, tokens: number): number {
  if (chars < MIN_SAMPLE_CHARS || tokens <= 0) return 0;
  const sample = Math.round((chars * 1000) / tokens);
  if (sample < MIN_CHARS_PER_TOKEN_MILLI || sample > MAX_CHARS_PER_TOKEN_MILLI) return 0;
  if (sample <= current) return current - ((current - sample) >> 1);
  if (sample * 4 > current * 5) return 0;
  return current + ((sample - current) >> 5);
}
