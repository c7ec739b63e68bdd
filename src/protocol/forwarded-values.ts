/**
 * Checks on the client's values that corral copies into the upstream request head (the query
 * string, X-Request-ID, Accept, traceparent). uWS refuses raw CR, LF and NUL, but it hands header
 * values and the query over decoded as UTF-8, and the upstream head is written one byte per
 * character: U+010D U+010A would become CR LF there — a second request smuggled to the backend.
 * So these values must be ASCII; anything else is answered 400 rather than altered.
 */

/** HTAB and printable ASCII (0x20–0x7E): what a header value may hold here. */
export function isForwardableHeaderValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return true;
}

/** Visible ASCII (0x21–0x7E): a query string, which clients percent-encode (RFC 3986). */
export function isForwardableQuery(query: string): boolean {
  for (let i = 0; i < query.length; i++) {
    const c = query.charCodeAt(i);
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}
