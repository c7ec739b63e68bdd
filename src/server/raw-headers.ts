/**
 * Upstream response headers as undici's raw `[name, value, name, value, …]` Buffers, read without
 * turning them into strings: names are compared case-insensitively byte by byte (RFC 9110 §5.1),
 * and kept headers are handed to uWS as the Buffers they arrived in.
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

/** `name` equals the lower-case `lower`, ignoring ASCII case. */
export function equalsLower(name: Buffer, lower: Buffer): boolean {
  if (name.length !== lower.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = name[i]!;
    if (c >= 65 && c <= 90) c |= 0x20;
    if (c !== lower[i]) return false;
  }
  return true;
}

export function isSkippedHeader(name: Buffer): boolean {
  const candidates = SKIPPED_BY_LENGTH[name.length];
  if (candidates === undefined) return false;
  for (let i = 0; i < candidates.length; i++) if (equalsLower(name, candidates[i]!)) return true;
  return false;
}
