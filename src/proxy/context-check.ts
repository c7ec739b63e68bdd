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
 * The up-front refusal of a prompt that no endpoint serving the model can take: the model's context (segment model info, the most any of
 * its endpoints takes) is 0 while unknown, and then nothing is refused. For the OpenAI dialect
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
 * Whether every try of the request gets num_ctx put in front of its body (outgoing-request.ts): an
 * Ollama chat/generate body without `options`. Its Content-Length then counts the insertion, whose
 * length is fixed (num-ctx-injection.ts), so the header block is made once, here, not per try.
 */
export function insertsNumCtx(proxy: Proxy, route: Route, facts: RequestFacts, body: Buffer | null): boolean {
  return proxy.sizeContext && route.sizesContext && !facts.hasOptions && body !== null && body.length > 0 && body[0] === 0x7b;
}

/**
 * The Content-Length line (and the blank line) of the request's shared header block; notes in
 * `facts.insertsNumCtx` whether it counts the num_ctx insertion (outgoing-request.ts relies on it).
 */
export function contentLengthLine(proxy: Proxy, route: Route, facts: RequestFacts, body: Buffer | null): string {
  const length = body === null ? 0 : body.length;
  const inserts = insertsNumCtx(proxy, route, facts, body);
  facts.insertsNumCtx = inserts;
  return `content-length: ${inserts ? length - 1 + INSERTION_LENGTH : length}\r\n\r\n`;
}
