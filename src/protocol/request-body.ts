import { isAscii } from 'node:buffer';
import { InvalidJsonError, InvalidRequestError, MissingModelError } from '../core/errors.js';

/** Longest model name accepted; real ones are far shorter (`hf.co/org/repo:Q4_K_M`). */
export const MAX_MODEL_NAME_LENGTH = 256;

const CONTROL_CHARS = /[\u0000-\u001f\u007f]/;
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** What routing needs from a request body. One instance per request, every field set here. */
export class RequestFacts {
  model: string;
  stream: boolean;
  /** Ollama `options.num_ctx` when the request sets a positive integer, else 0 (the server's choice). */
  numCtx: number;
  /** Ollama `keep_alive` as sent (seconds or a duration string), else null: a load corral makes for the request uses it. */
  keepAlive: string | number | null;
  /** Characters of prompt text (messages' text, prompt, system), counted only when asked (countPrompt). */
  promptChars: number;
  /** Ollama `options.num_predict` / OpenAI `max_tokens` when a positive integer, else 0. */
  numPredict: number;
  /** The body has an `options` object (where num_ctx goes). */
  hasOptions: boolean;
  /**
   * Every try gets `options.num_ctx` put in front of the body, and the shared header block counts
   * it (proxy/context-check.ts, contentLengthLine): decided once, so no try reads the body again.
   */
  insertsNumCtx: boolean;
  constructor() {
    this.model = '';
    this.stream = false;
    this.numCtx = 0;
    this.keepAlive = null;
    this.promptChars = 0;
    this.numPredict = 0;
    this.hasOptions = false;
    this.insertsNumCtx = false;
  }
}

/** Characters of text in a chat's messages: string contents, and the text parts of part lists. */
function messagesChars(messages: unknown): number {
  if (!Array.isArray(messages)) return 0;
  let n = 0;
  for (let i = 0; i < messages.length; i++) {
    const content = (messages[i] as { content?: unknown } | null)?.content;
    if (typeof content === 'string') n += content.length;
    else if (Array.isArray(content)) {
      for (const part of content) {
        const text = (part as { text?: unknown } | null)?.text;
        if (typeof text === 'string') n += text.length;
      }
    }
  }
  return n;
}

function positiveInt(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= 0x7fffffff ? v : 0;
}

/**
 * Parses an inference request body and extracts the model and stream flag, validating them with
 * messages that name the field. The raw bytes are forwarded unchanged; this only reads.
 * `streamsByDefault`: Ollama's chat/generate stream unless `"stream": false`; OpenAI's do not.
 */
export function analyseBody(body: Buffer | null, streamsByDefault: boolean, out: RequestFacts, acceptNameForModel = false, countPrompt = false): void {
  if (body === null || body.length === 0) throw new InvalidJsonError('request body is empty; expected a JSON object');
  // JSON is UTF-8 (RFC 8259 §8.1). A lenient decode would silently turn bad bytes into U+FFFD
  // while the raw bytes went upstream unchanged, so the backend would see something else than
  // corral checked; the fatal decoder checks and decodes in one pass over the body. An ASCII body
  // (English prompts; Python's json escapes everything else by default) needs no check: a SIMD
  // scan and the plain decode cost less than the fatal decoder (perf/RESULTS.md, Optimisation 9).
  let text: string;
  if (isAscii(body)) {
    text = body.toString();
  } else {
    try {
      text = UTF8.decode(body);
    } catch {
      throw new InvalidJsonError('request body is not valid UTF-8');
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new InvalidJsonError(`request body is not valid JSON: ${(err as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new InvalidRequestError('request body must be a JSON object');
  }
  const o = parsed as { model?: unknown; stream?: unknown; name?: unknown; options?: unknown; keep_alive?: unknown;
    messages?: unknown; prompt?: unknown; system?: unknown; max_tokens?: unknown; max_completion_tokens?: unknown };
  // Ollama's /api/show still accepts the older `name` field for the model.
  const model = acceptNameForModel && (o.model === undefined || o.model === null) ? o.name : o.model;
  if (model === undefined || model === null || model === '') throw new MissingModelError('model: is required');
  if (typeof model !== 'string') throw new InvalidRequestError('model: must be a string');
  if (model.length > MAX_MODEL_NAME_LENGTH) throw new InvalidRequestError(`model: must be at most ${MAX_MODEL_NAME_LENGTH} characters`);
  if (CONTROL_CHARS.test(model)) throw new InvalidRequestError('model: must not contain control characters');
  const stream = o.stream;
  if (stream !== undefined && stream !== null && typeof stream !== 'boolean') throw new InvalidRequestError('stream: must be a boolean');
  out.model = model;
  out.stream = typeof stream === 'boolean' ? stream : streamsByDefault;
  // Read, not validated: the backend judges them (and answers in its own words).
  const options = o.options as { num_ctx?: unknown; num_predict?: unknown } | null | undefined;
  out.hasOptions = options !== null && typeof options === 'object' && !Array.isArray(options);
  out.numCtx = out.hasOptions ? positiveInt(options!.num_ctx) : 0;
  if (countPrompt) {
    out.promptChars = messagesChars(o.messages) + (typeof o.prompt === 'string' ? o.prompt.length : 0) + (typeof o.system === 'string' ? o.system.length : 0);
    out.numPredict = (out.hasOptions ? positiveInt(options!.num_predict) : 0) || positiveInt(o.max_tokens) || positiveInt(o.max_completion_tokens);
  }
  const keepAlive = o.keep_alive;
  out.keepAlive = typeof keepAlive === 'number' || (typeof keepAlive === 'string' && keepAlive.length <= 32) ? keepAlive : null;
}
