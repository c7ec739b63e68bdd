/**
 * What RFC 9112 allows in a response head, for the response parser: the one-pass check of a
 * whole head (status line after its code, then every field line), and, only once that check has
 * failed, the diagnosis that names the defect. docs/HTTP-CONFORMANCE.md lists every case.
 *
 *   status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF     (§4; the second SP
 *                 may be missing, as most parsers allow)
 *   field-line  = field-name ":" OWS field-value OWS CRLF                    (§5)
 *   field-name  = token = 1*tchar                                            (RFC 9110 §5.1, §5.6.2)
 *   field-value, reason-phrase: HTAB, SP, VCHAR, obs-text (0x80-0xFF)        (RFC 9110 §5.5)
 *
 * Refused with them: bare LF or bare CR line endings, obs-fold (a line starting with SP or HTAB,
 * §5.2), whitespace before the colon (§5.1), NUL, DEL and every other control byte.
 */

const TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** One byte per latin1 char: 1 for a tchar. A flat table: one load per char. */
export const TOKEN_CHAR = new Uint8Array(256);
for (let i = 0; i < TCHARS.length; i++) TOKEN_CHAR[TCHARS.charCodeAt(i)] = 1;

/** A char a field value or reason phrase may hold: HTAB, SP, VCHAR, obs-text. */
export function isFieldValueChar(c: number): boolean {
  return c === 9 || (c >= 0x20 && c !== 0x7f && c <= 0xff);
}

const VALUE_CLASS = '\\t\\x20-\\x7e\\x80-\\xff';
const TOKEN_CLASS = "!#$%&'*+\\-.^_`|~0-9A-Za-z";

/**
 * The rest of the status line after its code, then every field line, each ending in CRLF. One
 * sticky match from offset 12 over the latin1 text of the head: irregexp's compiled loop over
 * the characters, with neither a capture nor an allocation. It stops at the empty line that
 * ends the head (CR is no tchar), or before the first byte it refuses: the head is valid when
 * it stops exactly at the end of the last field line.
 *
 * Why a regular expression and not a loop over a flat table (TOKEN_CHAR, which the diagnosis
 * uses): measured under callgrind on a 135-byte head, the match costs ~2,000 instructions, ~13 a
 * character; the same check as a JavaScript loop over the text's chars or the Buffer's bytes
 * with Uint8Array tables cost 4,300-5,300 (~32-40 a character).
 */
const AFTER_STATUS_CODE = new RegExp(`(?: [${VALUE_CLASS}]*)?\\r\\n(?:[${TOKEN_CLASS}]+:[${VALUE_CLASS}]*\\r\\n)*`, 'y');

/** The same through the empty line that ends the head. */
const AFTER_STATUS_CODE_TO_END = new RegExp(`${AFTER_STATUS_CODE.source}\\r\\n`, 'y');

/**
 * Where the head at the start of `text` ends (after its empty line) when all of it is there and
 * valid from offset 12 on; -1 otherwise (incomplete, or a defect: the caller looks again).
 */
export function validHeadEnd(text: string): number {
  AFTER_STATUS_CODE_TO_END.lastIndex = 12;
  return AFTER_STATUS_CODE_TO_END.test(text) ? AFTER_STATUS_CODE_TO_END.lastIndex : -1;
}

/**
 * text[0, length) is a status line and field lines, each ending in CRLF (the head but for its
 * final empty line; `text` may run on past it). The first 12 chars, version and status code,
 * are the caller's to check.
 */
export function isValidHead(text: string, length: number): boolean {
  AFTER_STATUS_CODE.lastIndex = 12;
  return AFTER_STATUS_CODE.test(text) && AFTER_STATUS_CODE.lastIndex === length;
}

/** A value for an error message: quoted, escaped, shortened. */
export function quoted(s: string, max = 60): string {
  return JSON.stringify(s.length > max ? `${s.slice(0, max)}…` : s);
}

function hex(c: number): string {
  return `0x${c.toString(16).padStart(2, '0')}`;
}

/**
 * Why the status line `line` (without its line end) is not `HTTP/1.0|1.1 SP 3DIGIT [SP reason]`
 * with a code in 100-599; '' when it is.
 */
export function statusLineDefect(line: string): string {
  if (!line.startsWith('HTTP/')) return `not an HTTP/1.x status line: ${quoted(line)}`;
  const v = line.slice(0, 8);
  if ((v === 'HTTP/1.1' || v === 'HTTP/1.0') && line.length > 8 && line.charCodeAt(8) !== 32) {
    return `invalid status line ${quoted(line)} (SP must follow the version)`;
  }
  const sp = line.indexOf(' ');
  const version = sp < 0 ? line : line.slice(0, sp);
  if (version !== 'HTTP/1.1' && version !== 'HTTP/1.0') return `unsupported HTTP version ${quoted(version, 20)} (HTTP/1.0 and HTTP/1.1 only)`;
  if (sp < 0) return `no status code: ${quoted(line)}`;
  const codeEnd = line.indexOf(' ', sp + 1);
  const code = line.slice(sp + 1, codeEnd < 0 ? line.length : codeEnd);
  if (!/^[0-9]{3}$/.test(code)) return `invalid status code ${quoted(code, 20)}`;
  const status = Number(code);
  if (status < 100 || status > 599) return `status code ${code} outside 100-599`;
  for (let k = sp + 4; k < line.length; k++) {
    const c = line.charCodeAt(k);
    if (!isFieldValueChar(c)) return `control character ${hex(c)} in the reason phrase`;
  }
  return '';
}

/** Where the first line of text[0, end) ends (its LF), or -1; a bare LF counts. */
function lineEndOf(text: string, from: number, end: number): number {
  const lf = text.indexOf('\n', from);
  return lf < 0 || lf >= end ? -1 : lf;
}

/**
 * The first defect of a head isValidHead refused (text[0, length) as there; the status line's
 * version and code already checked), named for the error the client receives. The slow path.
 */
export function headDefect(text: string, length: number): string {
  for (let k = 0; k < length; k++) {
    const c = text.charCodeAt(k);
    if (c === 10 && (k === 0 || text.charCodeAt(k - 1) !== 13)) return 'bare LF line ending in the head (CRLF required)';
    if (c === 13 && text.charCodeAt(k + 1) !== 10) return 'bare CR in the head';
  }
  let lf = lineEndOf(text, 0, length);
  const status = statusLineDefect(text.slice(0, lf - 1));
  if (status !== '') return status;
  while (lf + 1 < length) {
    const start = lf + 1;
    lf = lineEndOf(text, start, length);
    const line = text.slice(start, lf - 1);
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) return `obsolete line folding (a line starting with whitespace): ${quoted(line)}`;
    const colon = line.indexOf(':');
    if (colon < 0) return `header line without a colon: ${quoted(line)}`;
    const name = line.slice(0, colon);
    if (name === '') return `header line with an empty name: ${quoted(line)}`;
    for (let k = 0; k < name.length; k++) {
      if (TOKEN_CHAR[name.charCodeAt(k)] !== 1) return `invalid header name ${quoted(name)} (${hex(name.charCodeAt(k))} is not a token character)`;
    }
    for (let k = colon + 1; k < line.length; k++) {
      const c = line.charCodeAt(k);
      if (!isFieldValueChar(c)) return `control character ${hex(c)} in the value of header ${quoted(name)}`;
    }
  }
  return 'malformed head';
}

/**
 * What is wrong with the start of a head still incomplete in buf[start, end): a bare LF (the
 * head can never be valid, so the wait for its end is cut short), or a complete status line that
 * is not one; '' when nothing yet.
 */
export function partialHeadDefect(buf: Buffer, start: number, end: number): string {
  const bytes = buf.subarray(start, end);
  let lf = bytes.indexOf(10);
  const firstLf = lf;
  while (lf >= 0) {
    if (lf === 0 || bytes[lf - 1] !== 13) return 'bare LF line ending in the head (CRLF required)';
    lf = bytes.indexOf(10, lf + 1);
  }
  if (firstLf < 0) return '';
  return statusLineDefect(bytes.toString('latin1', 0, firstLf - 1));
}
