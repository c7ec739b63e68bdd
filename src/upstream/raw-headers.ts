/**
 * Upstream response header names, read without turning them into strings: compared
 * case-insensitively byte by byte (RFC 9110 §5.1) in the response parser's own buffer. Kept
 * headers are handed to uWS as the Buffers they arrived in.
 */

/** What the response parser does with a header line. */
export const enum HeaderKind {
  /** Copied to the client. */
  Forward,
  /** Not copied, not read: hop-by-hop (RFC 9110 §7.6.1) or written by uWS itself (Date, uWebSockets). */
  Skip,
  // Read by the parser and not copied: framing corral redoes itself, and connection management.
  ContentLength,
  TransferEncoding,
  Connection,
  KeepAlive,
}

const KNOWN: readonly (readonly [string, HeaderKind])[] = [
  ['content-length', HeaderKind.ContentLength],
  ['transfer-encoding', HeaderKind.TransferEncoding],
  ['connection', HeaderKind.Connection],
  ['keep-alive', HeaderKind.KeepAlive],
  ['proxy-connection', HeaderKind.Skip],
  ['te', HeaderKind.Skip],
  ['trailer', HeaderKind.Skip],
  ['upgrade', HeaderKind.Skip],
  ['date', HeaderKind.Skip],
  ['server', HeaderKind.Skip],
  ['uwebsockets', HeaderKind.Skip],
];

interface Known {
  readonly name: Buffer;
  readonly kind: HeaderKind;
}

/**
 * The known names in one flat table indexed by length and the low five bits of the first
 * letter: a name is compared in full with one candidate at most, and most lines are settled by
 * an array load. (Comparing every name against each list was a quarter of the parser's time.)
 */
const LONGEST = 17;
const TABLE: (Known | undefined)[] = new Array((LONGEST + 1) * 32).fill(undefined);
function slot(length: number, first: number): number {
  return length * 32 + (first & 31);
}
for (const [name, kind] of KNOWN) {
  if (name.length > LONGEST) throw new Error(`raw-headers: ${name} is longer than ${LONGEST}`);
  const i = slot(name.length, name.charCodeAt(0));
  if (TABLE[i] !== undefined) throw new Error(`raw-headers: ${name} and ${TABLE[i]!.name.toString('latin1')} share a slot`);
  TABLE[i] = { name: Buffer.from(name, 'latin1'), kind };
}

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

/** What to do with the header named buf[start, end) (the whole Buffer by default). */
export function classifyHeader(buf: Buffer, start = 0, end = buf.length): HeaderKind {
  const length = end - start;
  if (length > LONGEST) return HeaderKind.Forward;
  // Case does not change the low five bits of a letter; a non-letter sharing them fails the compare.
  const known = TABLE[slot(length, buf[start]!)];
  return known !== undefined && equalsLowerAt(buf, start, end, known.name) ? known.kind : HeaderKind.Forward;
}
