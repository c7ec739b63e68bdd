/**
 * FNV-1a over UTF-16 code units (no encoding step, no allocation), seeded, then murmur3's fmix32
 * finaliser so that short keys differing in one character still spread over every bit — the
 * session table indexes by the low bits. Not cryptographic: keys come from clients, but a
 * collision only costs affinity, never correctness.
 *
 * Returns an unsigned 32-bit value, never 0 (0 marks an empty slot in the shared tables).
 */
export function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) | 0;
  for (let i = 0; i < s.length; i++) {
    h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h >>>= 0;
  return h === 0 ? 1 : h;
}
