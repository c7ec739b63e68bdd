import { ContextLengthError } from '../core/errors.js';
import { Dialect } from '../protocol/dialect.js';
import type { RequestFacts } from '../protocol/request-body.js';
import { estimateTokens, MIN_SAMPLE_CHARS } from '../protocol/token-estimate.js';
import type { ModelRoute } from '../routing/routing-table.js';
import type { Proxy } from './proxy.js';

/**
 * The prompt's token estimate (characters at the model's learned ratio: protocol/token-estimate.ts),
 * kept in `facts.promptTokens` for the num_ctx choice, and the up-front refusal of a prompt that no
 * endpoint serving the model can take: the model's context (segment model info, the most any of
 * its endpoints takes) is 0 while unknown, and then nothing is refused. For the OpenAI dialect
 * the reply's `max_tokens` must fit too (vLLM refuses prompt + max_tokens > max_model_len, and
 * llama-server stops at its n_ctx); Ollama shifts its context to go on generating, so there only
 * the prompt must fit.
 */
export function checkContext(proxy: Proxy, facts: RequestFacts, model: ModelRoute, dialect: Dialect): void {
  const info = proxy.segment.modelInfo;
  const m = model.index;
  const chars = facts.promptChars;
  const tokens = estimateTokens(chars, info.charsPerTokenMilli(m) || proxy.charsPerTokenMilli);
  facts.promptTokens = tokens;
  // Long enough a prompt to learn the model's ratio from what Ollama reports prefilling (calibration.ts).
  facts.samplesTokens = dialect === Dialect.Ollama && chars >= MIN_SAMPLE_CHARS;
  const max = info.maxContext(m);
  if (max === 0) return;
  const reply = dialect === Dialect.OpenAI ? facts.numPredict : 0;
  if (tokens + reply <= max) return;
  throw new ContextLengthError(reply === 0
    ? `prompt: about ${tokens} tokens (estimated from ${chars} characters), more than the ${max} that "${model.name}" takes`
    : `prompt: about ${tokens} tokens (estimated from ${chars} characters) and max_tokens ${reply}: ${tokens + reply}, more than the ${max} that "${model.name}" takes`);
}
