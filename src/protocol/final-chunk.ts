/**
 * Reading `prompt_eval_count` from Ollama's final answer object without parsing any chunk
 * (Ollama's docs/api.md: the last NDJSON line of a stream, or the single JSON of a non-streamed
 * answer, has `"done": true` and the counts). Only the tail of a chunk is looked at first: every
 * other line of a stream ends `"done":false}` — the final one ends with its durations (`…
 * "eval_duration":123}`), or with `"context":[…]}` from /api/generate — so a chunk whose last
 * object ends in `false}` costs two byte reads; a final one, one backward search for the key.
 * The body bytes are never changed.
 */

const KEY = Buffer.from('"prompt_eval_count":');
const CLOSE_BRACE = 0x7d;
const NEWLINE = 0x0a;
const LETTER_E = 0x65;
const SPACE = 0x20;
const COMMA = 0x2c;
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
/** A count above this is no prompt (and keeps the sum below 2^53). */
const MAX_COUNT = 0x7fffffff;

/**
 * `prompt_eval_count` of the final object that ends `chunk`, or -1 when the chunk does not end
 * with one (a token line, an error, a count cut off by a chunk boundary).
 */
export function finalPromptEvalCount(chunk: Buffer): number {
  let end = chunk.length - 1;
  if (end >= 0 && chunk[end] === NEWLINE) end--;
  if (end < 1 || chunk[end] !== CLOSE_BRACE || chunk[end - 1] === LETTER_E) return -1; // not an object's end, or "done":false}
  const at = chunk.lastIndexOf(KEY, end);
  if (at < 0) return -1;
  let i = at + KEY.length;
  while (i < end && chunk[i] === SPACE) i++;
  let n = 0;
  const first = i;
  for (; i < end; i++) {
    const c = chunk[i]!;
    if (c < DIGIT_0 || c > DIGIT_9) break;
    n = n * 10 + (c - DIGIT_0);
    if (n > MAX_COUNT) return -1;
  }
  // The number must be whole: followed by the next member or the object's end, inside this chunk.
  if (i === first || (chunk[i] !== COMMA && chunk[i] !== CLOSE_BRACE && chunk[i] !== SPACE)) return -1;
  return n;
}
