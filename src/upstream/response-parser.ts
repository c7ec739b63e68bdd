import { viewOf } from './buffer-view.js';
import { ForwardedHeaders } from './forwarded-headers.js';
import { headDefect, isValidHead, partialHeadDefect, quoted, statusLineDefect, validHeadEnd } from './head-syntax.js';
import { classifyHeader, equalsLowerText, HeaderKind } from './raw-headers.js';

/**
 * An incremental HTTP/1.x response parser (RFC 9112) for corral's upstream connections: a head,
 * whose lines to pass on it keeps as text (forwarded-headers.ts), then a body framed by
 * Content-Length, chunked transfer coding, or the connection's end. Bytes are fed as they are
 * read; body bytes are handed on as views of the caller's buffer (valid only during the call —
 * the socket reuses its read buffer), never copied or coalesced, so a streamed token leaves
 * corral in the read that brought it.
 *
 * Why not undici's llhttp: per request its WebAssembly parser plus undici's bookkeeping cost
 * more CPU than everything else corral does (perf/RESULTS.md, "raw upstream client"). Responses
 * are all corral parses — it only ever sends POSTs — so no request-side or HEAD rules apply.
 *
 * Strict, as llhttp is without its lenient flags, and stricter where corral re-frames what it
 * passes on: anything it cannot pass on faithfully is a protocol error naming the defect (`error`)
 * and the connection is never reused. docs/HTTP-CONFORMANCE.md lists every case and its outcome.
 */

/** Receives what the parser finds, synchronously, from within execute(). */
export interface ResponseSink {
  /**
   * The final (non-1xx) head. `headers` holds only the lines a proxy passes on: hop-by-hop and
   * framing headers (which the parser itself consumes) and the ones uWS writes itself are left
   * out (raw-headers.ts). It is the parser's own copy, refilled when the parser reads its next
   * head: valid through the end of this response and whatever the caller does synchronously after
   * it (a next head needs a later read), never longer.
   */
  onResponseHead(status: number, headers: ForwardedHeaders, contentLength: number): void;
  /** Body bytes (chunked framing removed), a view valid only during this call. */
  onResponseData(chunk: Buffer): void;
  /** The response is complete. */
  onResponseEnd(): void;
}

const enum State {
  Head,
  Length,
  ChunkSize,
  /** Whitespace after the chunk size: only BWS before a `;` may follow (RFC 9112 §7.1.1). */
  ChunkSizeWs,
  ChunkExtension,
  ChunkSizeLf,
  ChunkData,
  ChunkDataCr,
  ChunkDataLf,
  TrailerLineStart,
  TrailerLine,
  TrailerLineLf,
  TrailerEndLf,
  UntilClose,
  Done,
}

const CR = 13;
const LF = 10;
const SP = 32;
const HT = 9;
const DEL = 0x7f;
const END_OF_HEAD = Buffer.from('\r\n\r\n', 'latin1');

/** How much of a read is turned into text to look for the end of the head; longer heads take a slower path. */
const HEAD_WINDOW_BYTES = 2048;
/** A response head larger than this is refused (undici and Node default to 16–64 KiB). */
export const MAX_HEAD_BYTES = 64 * 1024;
/** Chunk sizes beyond 2^48 (12 hex digits) are refused: no real chunk is that big. */
const MAX_CHUNK_SIZE_DIGITS = 12;

export class ResponseParser {
  readonly sink: ResponseSink;
  /** Why parsing failed, once it has (execute returned -1). */
  error: string;
  /** After a complete response: whether the connection may carry another request. */
  keepAlive: boolean;
  /** `Keep-Alive: timeout=N` of the last head, in ms (0 when absent). */
  keepAliveHintMs: number;
  /** A head has been received for the current response (timeouts switch from first byte to idle). */
  headReceived: boolean;
  #state: State;
  /** The start of a head split across reads, copied (null when none is pending). */
  #partialHead: Buffer | null;
  /** The last head's lines to pass on (ResponseSink.onResponseHead). */
  readonly #headers: ForwardedHeaders;
  #remaining: number;
  #chunkSizeDigits: number;

  constructor(sink: ResponseSink) {
    this.sink = sink;
    this.error = '';
    this.keepAlive = false;
    this.keepAliveHintMs = 0;
    this.headReceived = false;
    this.#state = State.Head;
    this.#partialHead = null;
    this.#headers = new ForwardedHeaders();
    this.#remaining = 0;
    this.#chunkSizeDigits = 0;
  }

  /**
   * Ready for the next response on the same connection. The last head's lines stay as they are:
   * the previous response's owner may still be writing them (its connection is released, and may
   * be reassigned, before it is told the response ended).
   */
  reset(): void {
    this.error = '';
    this.keepAlive = false;
    this.headReceived = false;
    this.#state = State.Head;
    this.#partialHead = null;
  }

  /**
   * Lets go of the last head's lines once their response is over: they are slices of the head's
   * text, and would keep it (up to the whole 2 KiB window read with it) alive on an idle connection.
   */
  releaseHeaders(): void {
    this.#headers.clear();
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  /** The body runs until the connection closes (no Content-Length, no chunked coding). */
  get readsUntilClose(): boolean {
    return this.#state === State.UntilClose;
  }

  /** Nothing of the current response has arrived yet. */
  get idle(): boolean {
    return this.#state === State.Head && this.#partialHead === null;
  }

  /** The connection ended: completes a body that runs until close. False when that cuts a response short. */
  finishAtEof(): boolean {
    if (this.#state !== State.UntilClose) return false;
    this.#state = State.Done;
    this.sink.onResponseEnd();
    return true;
  }

  /**
   * Parses buf[start, end). Returns the offset after the last byte consumed: `end`, or less when
   * the response completed before the bytes did (the rest is not this response's), or -1 on a
   * protocol error (see `error`).
   */
  execute(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      switch (this.#state) {
        case State.Head: {
          i = this.#readHead(buf, i, end);
          if (i < 0) return -1;
          break;
        }
        case State.Length: {
          i += this.#deliverCounted(buf, i, end);
          if (this.#remaining === 0) this.#complete();
          break;
        }
        case State.UntilClose: {
          this.sink.onResponseData(viewOf(buf, i, end));
          i = end;
          break;
        }
        case State.ChunkData: {
          i += this.#deliverCounted(buf, i, end);
          if (this.#remaining === 0) this.#state = State.ChunkDataCr;
          break;
        }
        case State.Done:
          return i;
        default:
          i = this.#readChunkFraming(buf, i, end);
          if (i < 0) return -1;
      }
      if (this.done) return i;
    }
    return i;
  }

  /**
   * Hands on what buf[i, end) holds of the `#remaining` bytes of a Content-Length body or a chunk
   * (a whole body in one read is one view of it); returns how many bytes that was.
   */
  #deliverCounted(buf: Buffer, i: number, end: number): number {
    const n = Math.min(this.#remaining, end - i);
    this.#remaining -= n;
    this.sink.onResponseData(viewOf(buf, i, i + n));
    return n;
  }

  #complete(): void {
    this.#state = State.Done;
    this.sink.onResponseEnd();
  }

  #fail(reason: string): number {
    this.error = reason;
    this.#state = State.Done;
    this.keepAlive = false;
    return -1;
  }

  /**
   * Chunk-size lines, the CRLF after each chunk, and the trailer section, byte by byte. Every line
   * ends in CRLF: a bare LF or CR is refused here as in the head.
   */
  #readChunkFraming(buf: Buffer, start: number, end: number): number {
    let i = start;
    while (i < end) {
      const c = buf[i]!;
      switch (this.#state) {
        case State.ChunkSize: {
          const digit = hexValue(c);
          if (digit >= 0) {
            if (++this.#chunkSizeDigits > MAX_CHUNK_SIZE_DIGITS) return this.#fail('chunk size too large');
            this.#remaining = this.#remaining * 16 + digit;
          } else if (this.#chunkSizeDigits === 0) {
            return this.#fail(`invalid chunk size (${byteName(c)} where a hex digit must be)`);
          } else if (c === CR) {
            this.#state = State.ChunkSizeLf;
          } else if (c === LF) {
            return this.#fail('chunk size line not ended by CRLF');
          } else if (c === 59 /* ; */) {
            this.#state = State.ChunkExtension;
          } else if (c === SP || c === HT) {
            this.#state = State.ChunkSizeWs;
          } else {
            return this.#fail(`invalid chunk size (${byteName(c)} after the hex digits)`);
          }
          break;
        }
        case State.ChunkSizeWs:
          if (c === 59 /* ; */) this.#state = State.ChunkExtension;
          else if (c !== SP && c !== HT) return this.#fail(`invalid chunk size line (${byteName(c)} after whitespace, where only ";" may follow)`);
          break;
        case State.ChunkExtension:
          // Extensions are ignored (RFC 9112 §7.1.1); skip to the end of the line.
          if (c === CR) this.#state = State.ChunkSizeLf;
          else if (c === LF) return this.#fail('chunk size line not ended by CRLF');
          else if (c < SP ? c !== HT : c === DEL) return this.#fail(`control character ${byteName(c)} in a chunk extension`);
          break;
        case State.ChunkSizeLf:
          if (c !== LF) return this.#fail('chunk size line not ended by CRLF');
          return this.#chunkSizeRead(i + 1);
        case State.ChunkDataCr:
          if (c === CR) this.#state = State.ChunkDataLf;
          else return this.#fail('chunk data not followed by CRLF');
          break;
        case State.ChunkDataLf:
          if (c !== LF) return this.#fail('chunk data not followed by CRLF');
          return this.#nextChunk(i + 1);
        case State.TrailerLineStart:
          if (c === CR) this.#state = State.TrailerEndLf;
          else if (c === LF) return this.#fail('trailer section not ended by CRLF');
          else this.#state = State.TrailerLine;
          break;
        case State.TrailerLine:
          // Trailer fields are dropped: corral has already sent its head.
          if (c === CR) this.#state = State.TrailerLineLf;
          else if (c === LF) return this.#fail('trailer line not ended by CRLF');
          break;
        case State.TrailerLineLf:
          if (c !== LF) return this.#fail('trailer line not ended by CRLF');
          this.#state = State.TrailerLineStart;
          break;
        case State.TrailerEndLf:
          if (c !== LF) return this.#fail('trailer section not ended by CRLF');
          this.#complete();
          return i + 1;
        default:
          return i;
      }
      i++;
    }
    return i;
  }

  #chunkSizeRead(next: number): number {
    this.#state = this.#remaining === 0 ? State.TrailerLineStart : State.ChunkData;
    return next;
  }

  #nextChunk(next: number): number {
    this.#state = State.ChunkSize;
    this.#remaining = 0;
    this.#chunkSizeDigits = 0;
    return next;
  }

  /** Finds the end of the head (across reads if need be), parses it, and sets up the body. */
  #readHead(buf: Buffer, start: number, end: number): number {
    const partial = this.#partialHead;
    if (partial === null) {
      // The head is looked for in a latin1 string of the first bytes (one char per byte), which
      // #parseHead needs anyway: one conversion instead of a Buffer search plus a conversion.
      const windowEnd = Math.min(end, start + HEAD_WINDOW_BYTES);
      let text = buf.toString('latin1', start, windowEnd);
      // The usual case, a whole valid head in the window: one match both checks it and finds its end.
      const headEnd = validHeadEnd(text);
      if (headEnd > 0) return this.#parseHead(buf, start, headEnd - 2, text, true) ? start + headEnd : -1;
      let at = text.indexOf('\r\n\r\n');
      if (at < 0 && windowEnd < end) {
        // A head longer than the window (rare): search the bytes, then convert the head.
        const found = buf.subarray(start, end).indexOf(END_OF_HEAD);
        if (found >= 0) {
          at = found;
          text = buf.toString('latin1', start, start + found + 2);
        }
      }
      if (at < 0) return this.#waitForEnd(buf, start, end);
      if (at + 4 > MAX_HEAD_BYTES) return this.#headTooLarge();
      // Keeps the first CRLF of the terminator so every line ends with one.
      return this.#parseHead(buf, start, at + 2, text, false) ? start + at + 4 : -1;
    }
    const joined = Buffer.concat([partial, buf.subarray(start, end)]);
    const at = joined.indexOf(END_OF_HEAD, Math.max(0, partial.length - 3));
    if (at < 0) {
      this.#partialHead = null;
      return this.#waitForEnd(joined, 0, joined.length) < 0 ? -1 : end;
    }
    if (at + 4 > MAX_HEAD_BYTES) return this.#headTooLarge();
    this.#partialHead = null;
    const ok = this.#parseHead(joined, 0, at + 2, joined.toString('latin1', 0, at + 2), false);
    return ok ? start + (at + 4 - partial.length) : -1;
  }

  #headTooLarge(): number {
    return this.#fail(`response head larger than ${MAX_HEAD_BYTES} bytes`);
  }

  /**
   * The head is not complete yet: keeps what came, unless it already shows a defect. A bare LF is
   * one: a head of LF-only lines would otherwise be waited on until the first-byte timeout.
   */
  #waitForEnd(buf: Buffer, start: number, end: number): number {
    const defect = partialHeadDefect(buf, start, end);
    if (defect !== '') return this.#fail(defect);
    return this.#keepPartial(buf, start, end);
  }

  #keepPartial(buf: Buffer, start: number, end: number): number {
    if (end - start > MAX_HEAD_BYTES) return this.#headTooLarge();
    this.#partialHead = Buffer.from(buf.subarray(start, end));
    return end;
  }

  /**
   * buf[base, base + length) holds the status line and header lines, each ending in CRLF; `text`
   * is the same bytes as a latin1 string from `base` on (it may run on past the head). Offsets
   * below are relative to `base`: the head is read where it lies, with no view made of it.
   */
  #parseHead(buf: Buffer, base: number, length: number, text: string, validated: boolean): boolean {
    // "HTTP/1.0 " or "HTTP/1.1 ", a status code in 100-599, then SP or CR (RFC 9112 §4).
    if (length < 14 || buf[base] !== 72 || buf[base + 1] !== 84 || buf[base + 2] !== 84 || buf[base + 3] !== 80
      || buf[base + 4] !== 47 || buf[base + 5] !== 49 || buf[base + 6] !== 46 || (buf[base + 7]! & 0xfe) !== 48
      || buf[base + 8] !== SP || buf[base + 9]! < 49 || buf[base + 9]! > 53 || !isDigit(buf[base + 10]!) || !isDigit(buf[base + 11]!)
      || (buf[base + 12] !== SP && buf[base + 12] !== CR)) {
      return this.#failHead(text, length);
    }
    // The rest of the status line and every header line: token names, values free of control
    // bytes, CRLF line ends, no obs-fold (head-syntax.ts). One pass; what follows relies on it.
    if (!validated && !isValidHead(text, length)) return this.#failHead(text, length);
    const http10 = buf[base + 7] === 48;
    const status = (buf[base + 9]! - 48) * 100 + (buf[base + 10]! - 48) * 10 + (buf[base + 11]! - 48);
    let i = text.indexOf('\n', 12) + 1;
    // Lines and colons are found with string searches on the latin1 text of the head (one char
    // per byte, so offsets are the Buffer's): V8's String indexOf is several times faster than a
    // byte loop over the Buffer. Every line is `token:value\r\n` (checked above), so the first
    // colon ends the name and the value ends before the CR.
    const headers = this.#headers;
    headers.clear();
    let contentLength = -1;
    let transferEncodings = 0;
    let chunked = false;
    let close = http10;
    let hintMs = 0;
    while (i < length) {
      const lineStart = i;
      const lf = text.indexOf('\n', i);
      const colon = text.indexOf(':', i);
      i = lf + 1;
      const kind = classifyHeader(text, lineStart, colon);
      if (kind === HeaderKind.Skip) continue;
      if (kind === HeaderKind.Forward) {
        // The line as it arrived: whitespace around the value is still valid HTTP.
        headers.append(text.slice(lineStart, lf - 1));
        continue;
      }
      let vs = colon + 1;
      let ve = lf - 1;
      while (vs < ve && (buf[base + vs] === SP || buf[base + vs] === HT)) vs++;
      while (ve > vs && (buf[base + ve - 1] === SP || buf[base + ve - 1] === HT)) ve--;
      switch (kind) {
        case HeaderKind.ContentLength: {
          // Several lines, or a list on one, are one value when they all agree (RFC 9110 §8.6).
          let n = decimal(buf, base + vs, base + ve);
          if (n < 0) n = decimalList(text, vs, ve);
          if (n === CONFLICTING) return this.#failWith(`conflicting Content-Length values ${quoted(text.slice(vs, ve))}`);
          if (n < 0) return this.#failWith(`invalid Content-Length ${quoted(text.slice(vs, ve))}`);
          if (contentLength >= 0 && n !== contentLength) return this.#failWith(`conflicting Content-Length values ${contentLength} and ${n}`);
          contentLength = n;
          break;
        }
        case HeaderKind.TransferEncoding:
          // Valid framing here is one line saying `chunked` and nothing else (checked below).
          transferEncodings++;
          chunked = equalsLowerText(text, vs, ve, 'chunked');
          break;
        case HeaderKind.Connection:
          if (hasToken(text, vs, ve, 'close')) close = true;
          else if (http10 && hasToken(text, vs, ve, 'keep-alive')) close = false;
          break;
        case HeaderKind.KeepAlive:
          hintMs = keepAliveTimeoutMs(text.slice(vs, ve));
          break;
      }
    }
    if (status < 200) {
      // 1xx informational heads (100 Continue, 103 Early Hints) precede the real one; 101 would
      // switch protocols, which corral never asks for.
      if (status === 101) return this.#failWith('unexpected 101 Switching Protocols');
      return true;
    }
    // 204 and 304 end at their head whatever their framing headers say (RFC 9112 §6.3). One
    // that announces content anyway (a 204 must not, RFC 9110 §8.6) might send it: its
    // connection is not reused.
    const bodyless = status === 204 || status === 304;
    if (!bodyless && transferEncodings > 0) {
      // corral re-frames what it passes on (chunked or Content-Length) and drops the backend's
      // Transfer-Encoding line: any coding but chunked alone would reach the client unlabelled.
      if (transferEncodings > 1 || !chunked) {
        return this.#failWith(`Transfer-Encoding ${quoted(fieldValues(text, length, 'transfer-encoding'))} is not "chunked" alone (corral cannot pass a transfer coding on)`);
      }
      // RFC 9112 §6.3: a possible smuggling attempt, "ought to be handled as an error"; and §6.1:
      // Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      if (contentLength >= 0) return this.#failWith('both Transfer-Encoding and Content-Length');
      if (http10) return this.#failWith('Transfer-Encoding in an HTTP/1.0 response');
    }
    this.headReceived = true;
    this.keepAliveHintMs = hintMs;
    const untilClose = !bodyless && !chunked && contentLength < 0;
    this.keepAlive = !close && !untilClose && !(bodyless && (transferEncodings > 0 || contentLength > 0));
    this.sink.onResponseHead(status, headers, bodyless ? 0 : chunked ? -1 : contentLength);
    if (bodyless || (!chunked && contentLength === 0)) this.#complete();
    else if (chunked) this.#nextChunk(0);
    else if (untilClose) this.#state = State.UntilClose;
    else {
      this.#state = State.Length;
      this.#remaining = contentLength;
    }
    return true;
  }

  /** The head in text[0, length) is refused: finds its defect (the slow path) and fails with it. */
  #failHead(text: string, length: number): boolean {
    const lf = text.indexOf('\n');
    const status = statusLineDefect(text.slice(0, lf > 0 && text.charCodeAt(lf - 1) === CR ? lf - 1 : Math.max(lf, 0)));
    return this.#failWith(status !== '' ? status : headDefect(text, length));
  }

  #failWith(reason: string): boolean {
    this.#fail(reason);
    return false;
  }
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const l = c | 0x20;
  if (l >= 97 && l <= 102) return l - 87;
  return -1;
}

/** buf[start, end) as a plain decimal number (at most 15 digits), or -1. */
function decimal(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (!isDigit(c)) return -1;
    n = n * 10 + (c - 48);
  }
  return n;
}

/** decimalList's answer for a list whose values differ. */
const CONFLICTING = -2;

/**
 * A Content-Length list of one value repeated (`5, 5`: RFC 9110 §8.6 lets a recipient take it as
 * one), CONFLICTING when its values differ, -1 when it is no list of decimals. Rare: not inlined.
 */
function decimalList(text: string, start: number, end: number): number {
  const comma = text.indexOf(',', start);
  if (comma < 0 || comma >= end) return -1;
  let n = -1;
  for (const part of text.slice(start, end).split(',')) {
    const digits = part.replace(/^[ \t]+|[ \t]+$/g, '');
    if (!/^[0-9]{1,15}$/.test(digits)) return -1;
    const value = Number(digits);
    if (n >= 0 && value !== n) return CONFLICTING;
    n = value;
  }
  return n;
}

/** The values of every `name` line in the head text[0, length), joined as one list: for error messages. */
function fieldValues(text: string, length: number, name: string): string {
  const values: string[] = [];
  for (const line of text.slice(0, length).split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).toLowerCase() === name) values.push(line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, ''));
  }
  return values.join(', ');
}

/** A byte for an error message: itself when printable, else its hex code. */
function byteName(c: number): string {
  return c > SP && c < DEL ? JSON.stringify(String.fromCharCode(c)) : `0x${c.toString(16).padStart(2, '0')}`;
}

/** The comma-separated list text[start, end) contains the lower-case `token`, ignoring case. */
function hasToken(text: string, start: number, end: number, token: string): boolean {
  if (equalsLowerText(text, start, end, token)) return true; // the usual single value
  const comma = text.indexOf(',', start);
  if (comma < 0 || comma >= end) return false;
  const parts = text.slice(start, end).toLowerCase().split(',');
  for (let i = 0; i < parts.length; i++) if (parts[i]!.trim() === token) return true;
  return false;
}

/** `Keep-Alive: timeout=5, max=100` → 5000; 0 when absent or malformed. */
function keepAliveTimeoutMs(v: string): number {
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(v);
  return m === null ? 0 : Number(m[1]) * 1000;
}
