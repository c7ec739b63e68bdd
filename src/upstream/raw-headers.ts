/**
 * Upstream response header names, classified where they lie in the latin1 text of the head the
 * response parser holds (one char per byte), without slicing them out: compared case-insensitively
 * (RFC 9110 §5.1).
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
  readonly lower: string;
  /** Each word capitalised ("Content-Length"): how Go's net/http and nginx send them. */
  readonly canonical: string;
  readonly kind: HeaderKind;
}

function canonicalCase(lower: string): string {
  return lower.split('-').map((w) => w.charAt(0).toUpperCase() + w.slice(1)).join('-');
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
  if (TABLE[i] !== undefined) throw new Error(`raw-headers: ${name} and ${TABLE[i]!.lower} share a slot`);
  TABLE[i] = { lower: name, canonical: canonicalCase(name), kind };
}

/** text[start, end) equals the lower-case `lower`, ignoring ASCII case. */
export function equalsLowerText(text: string, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = text.charCodeAt(start + i);
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** What to do with the header named text[start, end) (the whole string by default). */
export function classifyHeader(text: string, start = 0, end = text.length): HeaderKind {
  const length = end - start;
  if (length > LONGEST) return HeaderKind.Forward;
  // Case does not change the low five bits of a letter; a non-letter sharing them fails the compare.
  const known = TABLE[slot(length, text.charCodeAt(start))];
  if (known === undefined) return HeaderKind.Forward;
  // The usual spellings first, each one string compare (a builtin, where a loop costs ~35
  // instructions a character); any other mix of case character by character. The table slot
  // fixed the length, so a prefix match is a match.
  if (text.startsWith(known.canonical, start) || text.startsWith(known.lower, start)
    || equalsLowerText(text, start, end, known.lower)) return known.kind;
  return HeaderKind.Forward;
}
