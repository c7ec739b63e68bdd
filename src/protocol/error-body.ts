import { Dialect } from './dialect.js';
import type { CorralError } from '../core/errors.js';

/**
 * Error bodies in the caller's dialect.
 * OpenAI: `{"error":{"message","type","code"}}` (what the `openai` client parses into APIError).
 * Ollama: `{"error":"…"}` (what the `ollama` client throws with); corral adds `code` beside it.
 */
export function errorBody(dialect: Dialect, err: CorralError): string {
  if (dialect === Dialect.OpenAI) {
    return JSON.stringify({ error: { message: err.message, type: err.type, code: err.code } });
  }
  return JSON.stringify({ error: err.message, code: err.code });
}

/**
 * The last words of a stream that broke after bytes reached the client, in a form the client's
 * protocol understands, so it surfaces an error instead of a silent truncation.
 * SSE: a `data:` event whose JSON has `error` (the `openai` client throws APIError on it).
 * NDJSON: a final line `{"error": …}` (the `ollama` client throws on it).
 */
export function midStreamErrorChunk(sse: boolean, err: CorralError): string {
  if (sse) {
    return `data: ${JSON.stringify({ error: { message: err.message, type: err.type, code: err.code } })}\n\n`;
  }
  return `${JSON.stringify({ error: err.message, code: err.code })}\n`;
}
