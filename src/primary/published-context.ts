/**
 * The context an OpenAI-compatible server says it takes, read during discovery (not on any
 * request's path), so that a prompt it cannot take is refused up front (proxy/context-check.ts):
 *
 *   - vLLM: every `/v1/models` entry has `max_model_len` (prompt + max_tokens may not exceed it).
 *   - llama.cpp `llama-server`: `GET /props` → `default_generation_settings.n_ctx`, the context
 *     of one slot, which is what one request gets; versions without it list the slots at
 *     `GET /slots`, each with its `n_ctx` (llama.cpp tools/server/README.md). Its `/v1/models`
 *     `meta.n_ctx_train` is the model's training context, not what the server was started with.
 *
 * Only positive safe integers are believed; anything else is "not published" (0).
 */

function tokens(v: unknown): number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 && v <= 0x7fffffff ? v : 0;
}

function objectOf(v: unknown): Record<string, unknown> | null {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
}

/** `max_model_len` of each `/v1/models` entry that has one, by the entry's id (vLLM). */
export function readMaxModelLens(doc: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const data = objectOf(doc)?.data;
  if (!Array.isArray(data)) return out;
  const n = Math.min(data.length, 4096);
  for (let i = 0; i < n; i++) {
    const e = objectOf(data[i]);
    const len = tokens(e?.max_model_len);
    if (len > 0 && typeof e!.id === 'string') out.set(e!.id, len);
  }
  return out;
}

/** A slot's context from llama-server's `GET /props`, 0 when it says none. */
export function readPropsContext(doc: unknown): number {
  const o = objectOf(doc);
  if (o === null) return 0;
  return tokens(objectOf(o.default_generation_settings)?.n_ctx) || tokens(o.n_ctx);
}

/** The smallest slot context in llama-server's `GET /slots` (a request may get any slot), 0 when none. */
export function readSlotsContext(doc: unknown): number {
  if (!Array.isArray(doc)) return 0;
  let least = 0;
  const n = Math.min(doc.length, 1024);
  for (let i = 0; i < n; i++) {
    const c = tokens(objectOf(doc[i])?.n_ctx);
    if (c > 0 && (least === 0 || c < least)) least = c;
  }
  return least;
}
