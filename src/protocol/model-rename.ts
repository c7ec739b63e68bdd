/**
 * Replaces the model name in a request body that analyseBody (request-body.ts) has accepted,
 * touching nothing else: the bytes before and after the top-level `model` value (or, for Ollama's
 * /api/show, `name` when `model` is absent or null) are copied as they are, so numbers, escapes and
 * key order reach the backend unchanged. Used only when an endpoint lists a model under another
 * spelling than the client's and may not resolve the client's (routing-table.ts, ModelRoute.forwardAs);
 * never on the common path.
 *
 * The scan is over bytes: every JSON structural character is ASCII, and no byte of a multi-byte
 * UTF-8 sequence is below 0x80, so a byte scan cannot mistake part of a character for structure.
 * It is iterative (nesting is counted, not recursed into).
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COLON = 0x3a;
const COMMA = 0x2c;

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

function skipSpace(buf: Buffer, i: number): number {
  while (i < buf.length && isSpace(buf[i])) i++;
  return i;
}

/** Index just past the string that opens at `i`, or -1. */
function endOfString(buf: Buffer, i: number): number {
  for (i++; i < buf.length; i++) {
    const b = buf[i];
    if (b === BACKSLASH) i++;
    else if (b === QUOTE) return i + 1;
  }
  return -1;
}

/** Index just past the value that starts at `i`, or -1. */
function endOfValue(buf: Buffer, i: number): number {
  const first = buf[i];
  if (first === QUOTE) return endOfString(buf, i);
  if (first === OPEN_OBJECT || first === OPEN_ARRAY) {
    let depth = 0;
    while (i < buf.length) {
      const b = buf[i];
      if (b === QUOTE) {
        i = endOfString(buf, i);
        if (i < 0) return -1;
        continue;
      }
      if (b === OPEN_OBJECT || b === OPEN_ARRAY) depth++;
      else if (b === CLOSE_OBJECT || b === CLOSE_ARRAY) {
        if (--depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // A number or a literal (true, false, null).
  while (i < buf.length) {
    const b = buf[i];
    if (b === COMMA || b === CLOSE_OBJECT || b === CLOSE_ARRAY || isSpace(b)) break;
    i++;
  }
  return i;
}

/** Whether the key string buf[start, end) (quotes included) is `key`, escapes decoded as JSON.parse would. */
function keyIs(buf: Buffer, start: number, end: number, key: string): boolean {
  for (let i = start + 1; i < end - 1; i++) {
    if (buf[i] === BACKSLASH) return JSON.parse(buf.toString('utf8', start, end)) === key; // `"mod\u0065l"`: rare
  }
  if (end - start - 2 !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (buf[start + 1 + i] !== key.charCodeAt(i)) return false;
  return true;
}

/**
 * `body` with its top-level `model` string (else its `name` string) replaced by `name`, or null
 * when there is none to replace. JSON.parse keeps the last of duplicate keys, and so does this.
 */
export function withModelName(body: Buffer, name: string): Buffer | null {
  let i = skipSpace(body, 0);
  if (body[i] !== OPEN_OBJECT) return null;
  i++;
  let modelStart = -1;
  let modelEnd = -1;
  let nameStart = -1;
  let nameEnd = -1;
  for (;;) {
    i = skipSpace(body, i);
    if (body[i] === CLOSE_OBJECT) break;
    if (body[i] !== QUOTE) return null;
    const keyStart = i;
    const keyEnd = endOfString(body, i);
    if (keyEnd < 0) return null;
    i = skipSpace(body, keyEnd);
    if (body[i] !== COLON) return null;
    const valueStart = skipSpace(body, i + 1);
    const valueEnd = endOfValue(body, valueStart);
    if (valueEnd < 0) return null;
    const isString = body[valueStart] === QUOTE;
    if (keyIs(body, keyStart, keyEnd, 'model')) {
      modelStart = isString ? valueStart : -1;
      modelEnd = valueEnd;
    } else if (keyIs(body, keyStart, keyEnd, 'name')) {
      nameStart = isString ? valueStart : -1;
      nameEnd = valueEnd;
    }
    i = skipSpace(body, valueEnd);
    if (body[i] === COMMA) {
      i++;
      continue;
    }
    if (body[i] === CLOSE_OBJECT) break;
    return null;
  }
  const start = modelStart >= 0 ? modelStart : nameStart;
  const end = modelStart >= 0 ? modelEnd : nameEnd;
  if (start < 0) return null;
  return Buffer.concat([body.subarray(0, start), Buffer.from(JSON.stringify(name)), body.subarray(end)]);
}
