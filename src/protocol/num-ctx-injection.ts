const OPTIONS_PREFIX = Buffer.from('{"options":{"num_ctx":');

/** `{"options":{"num_ctx":N},` by N: the few bucket sizes, made once each. */
const insertions = new Map<number, string>();

/**
 * What replaces a JSON body's opening `{` to set `options.num_ctx` when the body has no `options`:
 * `{"options":{"num_ctx":N},` (UpstreamRequest.bodySkip: the body itself is not copied).
 */
let lastNumCtx = 0;
let lastInsertion = '';
export function numCtxInsertion(numCtx: number): string {
  if (numCtx === lastNumCtx) return lastInsertion;
  let s = insertions.get(numCtx);
  if (s === undefined) {
    s = `{"options":{"num_ctx":${numCtx}},`;
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
