import { finalPromptEvalCount } from '../protocol/final-chunk.js';
import { calibratedRatio } from '../protocol/token-estimate.js';
import type { Exchange } from './exchange.js';

/**
 * Learns the model's characters per token from a response chunk, when the chunk ends with
 * Ollama's final object (protocol/final-chunk.ts: its tail is looked at, nothing parsed). Called
 * only for requests long enough to sample (RequestFacts.samplesTokens), on each chunk that leaves
 * for the client; the chunk is only read. The ratio lives in the segment, so a sample any worker
 * takes serves every worker's next estimate.
 */
export function noteFinalChunk(ex: Exchange, chunk: Buffer): void {
  if (ex.upstreamStatus !== 200) return;
  const tokens = finalPromptEvalCount(chunk);
  if (tokens <= 0) return;
  ex.facts.samplesTokens = false; // one sample per request
  const info = ex.proxy.segment.modelInfo;
  const m = ex.model.index;
  const current = info.charsPerTokenMilli(m) || ex.proxy.charsPerTokenMilli;
  const next = calibratedRatio(current, ex.facts.promptChars, tokens);
  if (next > 0) info.learnCharsPerToken(m, next);
}
