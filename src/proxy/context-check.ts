import { ContextLengthError } from '../core/errors.js';
import { Dialect } from '../protocol/dialect.js';
import type { RequestFacts } from '../protocol/request-body.js';
import type { Route } from '../protocol/routes.js';
import { INSERTION_LENGTH } from '../protocol/num-ctx-injection.js';
import { estimateTokens } from '../protocol/token-estimate.js';
import type { ModelRoute } from '../routing/routing-table.js';
import type { Proxy } from './proxy.js';

/** The prompt's tokens: its characters at the model's learned ratio (protocol/token-estimate.ts), else the configured one. */
export function promptTokens(proxy: Proxy, facts: RequestFacts, model: number): number {
  return estimateTokens(facts.promptChars, proxy.segment.modelInfo.charsPerTokenMilli(model) || proxy.charsPerTokenMilli);
}

/**
 * The up-front refusal of a prompt that no endpoint serving the model can take: the model's
 * context (segment model info, the most any of its endpoints takes: primary/served-context.ts) is
 * 0 while unknown, and then nothing is refused. For the OpenAI dialect
 * the reply's `max_tokens` must fit too (vLLM refuses prompt + max_tokens > max_model_len, and
 * llama-server stops at its n_ctx); Ollama shifts its context to go on generating, so there only
 * the prompt must fit.
 */
export function checkContext(proxy: Proxy, facts: RequestFacts, model: ModelRoute, dialect: Dialect): void {
  const max = proxy.segment.modelInfo.maxContext(model.index);
  if (max === 0) return;
  const chars = facts.promptChars;
  const tokens = promptTokens(proxy, facts, model.index);
  const reply = dialect === Dialect.OpenAI ? facts.numPredict : 0;
  if (tokens + reply <= max) return;
  throw new ContextLengthError(reply === 0
    ? `prompt: about ${tokens} tokens (estimated from ${chars} characters), more than the ${max} that "${model.name}" takes`
    : `prompt: about ${tokens} tokens (estimated from ${chars} characters) and max_tokens ${reply}: ${tokens + reply}, more than the ${max} that "${model.name}" takes`);
}

/**
 * The Content-Length line (and the blank line) of the request's shared header block. Every try
 * of an Ollama chat/generate body without `options` gets num_ctx put in front of the body
 * (outgoing-request.ts), and that insertion has a fixed length (num-ctx-injection.ts), so the
 * block counts it and is made once, here, not per try; `facts.insertsNumCtx` records the decision
 * for the tries. (One expression, not a helper: called once per request, and TurboFan left the
 * helper uninlined.)
 */
export function contentLengthLine(proxy: Proxy, route: Route, facts: RequestFacts, body: Buffer | null): string {
  const length = body === null ? 0 : body.length;
  const inserts = proxy.sizeContext && route.sizesContext && !facts.hasOptions && length > 0 && body![0] === 0x7b;
  facts.insertsNumCtx = inserts;
  return `content-length: ${inserts ? length - 1 + INSERTION_LENGTH : length}\r\n\r\n`;
}
