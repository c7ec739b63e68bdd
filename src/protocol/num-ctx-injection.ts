const OPTIONS_PREFIX = Buffer.from('{"options":{"num_ctx":');

/**
 * The number in the insertion is right-aligned in ten characters (JSON allows the spaces; every
 * i32 fits): the insertion's length, and so the request's Content-Length, does not depend on the
 * size chosen, so the request head's header block is made once per request, before any endpoint
 * is chosen (INSERTION_LENGTH; proxy/context-check.ts, contentLengthLine).
 */
const NUMBER_WIDTH = 10;
const PAD = ' '.repeat(NUMBER_WIDTH);
/** The length of every numCtxInsertion(). */
export const INSERTION_LENGTH = '{"options":{"num_ctx":},'.length + NUMBER_WIDTH;

/** `{"options":{"num_ctx":N},` by N: the few bucket sizes, made once each. */
const insertions = new Map<number, string>();

/**
 * What replaces a JSON body's opening `{` to set `options.num_ctx` when the body has no `options`:
 * `{"options":{"num_ctx":      4096},` (UpstreamRequest.bodySkip: the body itself is not copied).
 */
let lastNumCtx = 0;
let lastInsertion = '';
export function numCtxInsertion(numCtx: number): string {
  if (numCtx === lastNumCtx) return lastInsertion;
  let s = insertions.get(numCtx);
  if (s === undefined) {
    const digits = String(numCtx);
    s = `{"options":{"num_ctx":${PAD.slice(digits.length)}${digits}},`;
    if (insertions.size < 64) insertions.set(numCtx, s);
  }
  lastNumCtx = numCtx;
  lastInsertion = s;
  return s;
}

/**
 * The request body with `options.num_ctx` set to `numCtx`. A body without `options` (the common
 * case) gets them inserted at the front of its object, its other bytes untouched; one that has an
 * `options` object is re-serialised with the value set there (JSON allows no second `options`).
 * `hasOptions`: the parsed body has an `options` object (request-body.ts).
 */
export function withNumCtx(body: Buffer, numCtx: number, hasOptions: boolean): Buffer {
  if (hasOptions) {
    const o = JSON.parse(body.toString('utf8')) as { options: Record<string, unknown> };
    o.options.num_ctx = numCtx;
    return Buffer.from(JSON.stringify(o));
  }
  let start = 0;
  while (start < body.length && body[start] !== 0x7b) start++; // the object's '{', after any whitespace
  const value = `${numCtx}},`;
  const out = Buffer.allocUnsafe(OPTIONS_PREFIX.length + value.length + body.length - start - 1);
  let at = OPTIONS_PREFIX.copy(out, 0);
  at += out.write(value, at, 'latin1');
  body.copy(out, at, start + 1);
  return out;
}
