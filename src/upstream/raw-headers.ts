/**
 * Upstream response header names, read without turning them into strings: compared
 * case-insensitively byte by byte (RFC 9110 §5.1) in the response parser's own buffer. Kept
 * headers are handed to uWS as the Buffers they arrived in.
 */

/**
 * Headers not copied to the client: hop-by-hop (RFC 9110 §7.6.1), framing corral redoes itself
 * (content-length, transfer-encoding), and the ones uWS always writes itself (Date, uWebSockets).
 */
const SKIPPED = [
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'content-length', 'date', 'server', 'uwebsockets',
].map((n) => Buffer.from(n, 'latin1'));

/** Skipped names indexed by length: one or two candidates to compare at most. */
const SKIPPED_BY_LENGTH: Buffer[][] = [];
for (const name of SKIPPED) (SKIPPED_BY_LENGTH[name.length] ??= []).push(name);

/** buf[start, end) equals the lower-case `lower`, ignoring ASCII case. */
export function equalsLowerAt(buf: Buffer, start: number, end: number, lower: Buffer): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = buf[start + i]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}

/** The header name buf[start, end) (the whole Buffer by default) is one corral does not copy to the client. */
export function isSkippedHeader(buf: Buffer, start = 0, end = buf.length): boolean {
  const candidates = SKIPPED_BY_LENGTH[end - start];
  if (candidates === undefined) return false;
  for (let i = 0; i < candidates.length; i++) if (equalsLowerAt(buf, start, end, candidates[i]!)) return true;
  return false;
}
