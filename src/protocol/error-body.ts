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
 * protocol understands, so it surfaces an error instead of a silent truncation. The stream before
 * it ends on an event or line boundary (proxy/event-gate.ts), so this is parsed on its own.
 * SSE: a `data:` event whose JSON has `error` (the `openai` client throws APIError with its
 * message and `code`). NDJSON: a final line `{"error": …}`: the `ollama` client throws
 * `new Error(error)` and keeps nothing else, so the code rides in the message too.
 */
export function midStreamErrorChunk(sse: boolean, err: CorralError): string {
  if (sse) {
    return `data: ${JSON.stringify({ error: { message: err.message, type: err.type, code: err.code } })}\n\n`;
  }
  return `${JSON.stringify({ error: `${err.message} (${err.code})`, code: err.code })}\n`;
}
