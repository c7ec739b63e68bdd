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
  constructor() {
    this.model = '';
    this.stream = false;
    this.numCtx = 0;
    this.keepAlive = null;
  }
}

/**
 * Parses an inference request body and extracts the model and stream flag, validating them with
 * messages that name the field. The raw bytes are forwarded unchanged; this only reads.
 * `streamsByDefault`: Ollama's chat/generate stream unless `"stream": false`; OpenAI's do not.
 */
export function analyseBody(body: Buffer | null, streamsByDefault: boolean, out: RequestFacts, acceptNameForModel = false): void {
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
  const o = parsed as { model?: unknown; stream?: unknown; name?: unknown; options?: unknown; keep_alive?: unknown };
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
  const options = o.options as { num_ctx?: unknown } | null | undefined;
  const numCtx = options !== null && typeof options === 'object' ? options.num_ctx : undefined;
  out.numCtx = typeof numCtx === 'number' && Number.isSafeInteger(numCtx) && numCtx > 0 && numCtx <= 0x7fffffff ? numCtx : 0;
  const keepAlive = o.keep_alive;
  out.keepAlive = typeof keepAlive === 'number' || (typeof keepAlive === 'string' && keepAlive.length <= 32) ? keepAlive : null;
}
