import { finalPromptEvalCount } from '../protocol/final-chunk.js';
import { calibratedRatio, MIN_SAMPLE_CHARS } from '../protocol/token-estimate.js';
import type { Exchange } from './exchange.js';

/**
 * Learns the model's characters per token from a response chunk, when the chunk ends with
 * Ollama's final object (protocol/final-chunk.ts: its tail is looked at, nothing parsed). Called
 * for each chunk that leaves for the client from a try corral sized (ClientRequest.numCtx set:
 * Ollama chat/generate); only prompts long enough to sample go further, and the chunk is only
 * read. The final object comes once, last, so a request gives one sample at most. The ratio lives
 * in the segment: a sample any worker takes serves every worker's next estimate.
 */
export function noteFinalChunk(ex: Exchange, chunk: Buffer): void {
  if (ex.facts.promptChars < MIN_SAMPLE_CHARS || ex.upstreamStatus !== 200) return;
  const tokens = finalPromptEvalCount(chunk);
  if (tokens <= 0) return;
  const info = ex.proxy.segment.modelInfo;
  const m = ex.model.index;
  const current = info.charsPerTokenMilli(m) || ex.proxy.charsPerTokenMilli;
  const next = calibratedRatio(current, ex.facts.promptChars, tokens);
  if (next > 0) info.learnCharsPerToken(m, next);
}
