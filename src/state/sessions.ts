import { S_ENDPOINT, S_HI, S_LAST_SEEN, S_LO, SESSION_STRIDE, type Layout } from './layout.js';

/**
 * Session-key → endpoint affinity, shared by every process: open addressing with linear probing
 * over slots of four i32 [hi, lo, endpoint, lastSeenSec]. The key is two 32-bit hashes.
 *
 * The `hi` word is the slot's claim word:
 *     0          EMPTY      never used. A slot never returns to EMPTY, so a probe may stop at one.
 *     -1         TOMBSTONE  removed; lo is 0. Reusable by an insert.
 *     -2         BUSY       being retired or taken over by one process; matches nothing.
 *     otherwise  the key's hi. lo == 0 means the claim is still being written ("in progress").
 * Keys are normalised so no real key uses -1, -2 or lo 0 (see #normHi/#normLo).
 *
 * Claiming an EMPTY or TOMBSTONE slot: CAS hi 0|-1 → key.hi, store endpoint, lastSeen, then lo last
 * (publication: once lo is visible, so is the endpoint — Atomics are sequentially consistent).
 * A reader that sees hi matching but lo still 0 treats the slot as a miss; an inserter of a
 * key with the same hi waits (bounded spin: the writer is two stores away) to learn whether it
 * is the same key. So two processes inserting one key race on one CAS and end in one slot.
 *
 * Because a tombstone (or, when the probe window is full, the stalest slot) may be reused ahead of
 * an empty slot another process is claiming, a new claim is followed by a dedupe pass over the
 * window: of two copies of a key the one nearer the probe start wins, the other is retired. Of
 * two racing claimers, the later CAS's dedupe pass sees both (sequential consistency).
 *
 * Retiring a slot: CAS hi key.hi → BUSY, check lo is still the key's, store lo 0, then
 * store TOMBSTONE (BUSY is exclusive). A process killed inside these few stores leaves one BUSY slot (skipped
 * forever) or an in-progress claim that never publishes (a miss for every reader; sweep leaves
 * in-progress claims alone, so that slot is lost too) — never a wrong answer.
 *
 * Probing is bounded (MAX_PROBES); when the window holds no free slot, pin() takes over the
 * slot with the oldest lastSeen. The table is an affinity cache: losing an entry costs a cold
 * prefill, never correctness.
 */

const EMPTY = 0;
const TOMBSTONE = -1;
const BUSY = -2;
const MAX_PROBES = 32;
/** Spin bound while waiting for another process to publish a claim's lo (normally a few ns). */
const SPIN_LIMIT = 1 << 16;
/** pin() restarts after losing a CAS on a reused slot; past this it gives up (best effort). */
const MAX_ATTEMPTS = 8;

export class SessionTable {
  readonly capacity: number;
  readonly #i32: Int32Array;
  readonly #mask: number;
  readonly #probes: number;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.capacity = layout.sizes.sessionSlots;
    this.#i32 = new Int32Array(sab, layout.sessionsOffset, layout.sessionsBytes / 4);
    this.#mask = this.capacity - 1;
    // A window larger than the table would visit a slot twice and see itself as a duplicate.
    this.#probes = Math.min(MAX_PROBES, this.capacity);
  }

  /** Endpoint index or -1; refreshes lastSeenSec on a hit. */
  lookup(hi: number, lo: number, nowSec: number): number {
    const H = normHi(hi);
    const L = normLo(lo);
    const a = this.#i32;
    const start = L & this.#mask;
    for (let p = 0; p < this.#probes; p++) {
      const base = ((start + p) & this.#mask) * SESSION_STRIDE;
      const h = Atomics.load(a, base + S_HI);
      if (h === EMPTY) return -1;
      if (h !== H || Atomics.load(a, base + S_LO) !== L) continue;
      const ep = Atomics.load(a, base + S_ENDPOINT);
      // Skip the store when already current: a hot session would otherwise bounce the cache line.
      if (Atomics.load(a, base + S_LAST_SEEN) !== nowSec) Atomics.store(a, base + S_LAST_SEEN, nowSec);
      return ep;
    }
    return -1;
  }

  /** Insert, or overwrite the endpoint of an existing entry. */
  pin(hi: number, lo: number, endpoint: number, nowSec: number): void {
    const H = normHi(hi);
    const L = normLo(lo);
    const a = this.#i32;
    const mask = this.#mask;
    const start = L & mask;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      let reuse = -1; // first tombstone's probe offset
      let stalest = -1; // live slot with the oldest lastSeen, if no free slot turns up
      let stalestSeen = 0;
      let p = 0;
      while (p < this.#probes) {
        const base = ((start + p) & mask) * SESSION_STRIDE;
        const h = Atomics.load(a, base + S_HI);
        if (h === H) {
          if (this.#waitLo(base) === L) {
            Atomics.store(a, base + S_ENDPOINT, endpoint);
            Atomics.store(a, base + S_LAST_SEEN, nowSec);
            return;
          }
        } else if (h === EMPTY) {
          if (reuse >= 0) break; // the key is absent: reuse the earlier tombstone
          if (Atomics.compareExchange(a, base + S_HI, EMPTY, H) === EMPTY) {
            this.#publish(base, L, endpoint, nowSec);
            this.#dedupe(start, p, H, L, endpoint, nowSec);
            return;
          }
          continue; // lost the race for this slot: look at it again (maybe it is our key now)
        } else if (h === TOMBSTONE) {
          if (reuse < 0) reuse = p;
        } else if (h !== BUSY && Atomics.load(a, base + S_LO) !== 0) {
          // Only published slots are takeover victims: an in-progress claim's writer is still storing.
          const seen = Atomics.load(a, base + S_LAST_SEEN);
          if (stalest < 0 || seen < stalestSeen) {
            stalest = p;
            stalestSeen = seen;
          }
        }
        p++;
      }
      if (reuse >= 0) {
        const base = ((start + reuse) & mask) * SESSION_STRIDE;
        if (Atomics.compareExchange(a, base + S_HI, TOMBSTONE, H) === TOMBSTONE) {
          this.#publish(base, L, endpoint, nowSec);
          this.#dedupe(start, reuse, H, L, endpoint, nowSec);
          return;
        }
        continue; // someone took the tombstone: rescan
      }
      if (stalest >= 0) {
        const base = ((start + stalest) & mask) * SESSION_STRIDE;
        const victim = Atomics.load(a, base + S_HI);
        const victimLo = Atomics.load(a, base + S_LO);
        if (victim !== EMPTY && victim !== TOMBSTONE && victim !== BUSY && victimLo !== 0 &&
            Atomics.compareExchange(a, base + S_HI, victim, BUSY) === victim) {
          if (Atomics.load(a, base + S_LO) !== victimLo) {
            Atomics.store(a, base + S_HI, victim); // changed under us: hand it back, try again
            continue;
          }
          // We own the slot exclusively: clear lo, then make it an in-progress claim of our key.
          // (A pin of the evicted key that matched it just before may still store its endpoint
          // here: a wrong affinity hint at worst, which routing re-checks.)
          Atomics.store(a, base + S_LO, 0);
          Atomics.store(a, base + S_HI, H);
          this.#publish(base, L, endpoint, nowSec);
          this.#dedupe(start, stalest, H, L, endpoint, nowSec);
          return;
        }
      }
    }
  }

  remove(hi: number, lo: number): boolean {
    const H = normHi(hi);
    const L = normLo(lo);
    const a = this.#i32;
    const start = L & this.#mask;
    let removed = false;
    // Whole window, not first match: a racing insert may briefly leave a second copy.
    for (let p = 0; p < this.#probes; p++) {
      const base = ((start + p) & this.#mask) * SESSION_STRIDE;
      const h = Atomics.load(a, base + S_HI);
      if (h === EMPTY) break;
      if (h === H && this.#retire(base, H, L)) removed = true;
    }
    return removed;
  }

  /** Removes entries idle longer than ttlSec; returns how many. */
  sweep(nowSec: number, ttlSec: number): number {
    const a = this.#i32;
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      const base = i * SESSION_STRIDE;
      const h = Atomics.load(a, base + S_HI);
      if (h === EMPTY || h === TOMBSTONE || h === BUSY) continue;
      // lo before lastSeen: lastSeen is written before lo, so a published lo vouches for it.
      // In-progress claims (lo 0) are left alone; their writer is a few stores from done.
      const l = Atomics.load(a, base + S_LO);
      if (l === 0 || nowSec - Atomics.load(a, base + S_LAST_SEEN) <= ttlSec) continue;
      if (this.#retire(base, h, l)) n++;
    }
    return n;
  }

  /** Live (published) entries; a full scan, for status pages. */
  count(): number {
    const a = this.#i32;
    let n = 0;
    for (let i = 0; i < this.capacity; i++) {
      const base = i * SESSION_STRIDE;
      const h = Atomics.load(a, base + S_HI);
      if (h !== EMPTY && h !== TOMBSTONE && h !== BUSY && Atomics.load(a, base + S_LO) !== 0) n++;
    }
    return n;
  }

  /** Snapshot of live entries (hi/lo as unsigned, like hash32). Not for the hot path. */
  entries(): Array<{ hi: number; lo: number; endpoint: number; lastSeenSec: number }> {
    const a = this.#i32;
    const out: Array<{ hi: number; lo: number; endpoint: number; lastSeenSec: number }> = [];
    for (let i = 0; i < this.capacity; i++) {
      const base = i * SESSION_STRIDE;
      const h = Atomics.load(a, base + S_HI);
      if (h === EMPTY || h === TOMBSTONE || h === BUSY) continue;
      const l = Atomics.load(a, base + S_LO);
      if (l === 0) continue;
      out.push({
        hi: h >>> 0,
        lo: l >>> 0,
        endpoint: Atomics.load(a, base + S_ENDPOINT),
        lastSeenSec: Atomics.load(a, base + S_LAST_SEEN),
      });
    }
    return out;
  }

  /** Second half of a claim: payload first, lo last (lo ≠ 0 is what makes the entry visible). */
  #publish(base: number, L: number, endpoint: number, nowSec: number): void {
    const a = this.#i32;
    Atomics.store(a, base + S_ENDPOINT, endpoint);
    Atomics.store(a, base + S_LAST_SEEN, nowSec);
    Atomics.store(a, base + S_LO, L);
  }

  /** lo of a slot whose hi matched, waiting out an in-progress claim; 0 if it never completes. */
  #waitLo(base: number): number {
    const a = this.#i32;
    for (let spin = 0; spin < SPIN_LIMIT; spin++) {
      const l = Atomics.load(a, base + S_LO);
      if (l !== 0 || Atomics.load(a, base + S_HI) === BUSY) return l;
    }
    return 0;
  }

  /** After a new claim at probe offset `own`: keep the copy nearest the probe start, retire others. */
  #dedupe(start: number, own: number, H: number, L: number, endpoint: number, nowSec: number): void {
    const a = this.#i32;
    const mask = this.#mask;
    const ownBase = ((start + own) & mask) * SESSION_STRIDE;
    for (let p = 0; p < this.#probes; p++) {
      if (p === own) continue;
      const base = ((start + p) & mask) * SESSION_STRIDE;
      const h = Atomics.load(a, base + S_HI);
      if (h === EMPTY) return;
      if (h !== H || this.#waitLo(base) !== L) continue;
      if (p < own) {
        // An earlier copy exists: it carries our endpoint from now on, and ours goes.
        Atomics.store(a, base + S_ENDPOINT, endpoint);
        Atomics.store(a, base + S_LAST_SEEN, nowSec);
        this.#retire(ownBase, H, L);
        return;
      }
      this.#retire(base, H, L);
    }
  }

  /** Slot (H, L) → TOMBSTONE; false if it no longer holds that key or another process got there first. */
  #retire(base: number, H: number, L: number): boolean {
    const a = this.#i32;
    if (Atomics.compareExchange(a, base + S_HI, H, BUSY) !== H) return false;
    if (Atomics.load(a, base + S_LO) !== L) {
      Atomics.store(a, base + S_HI, H); // same hi, another key: put it back untouched
      return false;
    }
    Atomics.store(a, base + S_LO, 0);
    Atomics.store(a, base + S_HI, TOMBSTONE);
    return true;
  }
}

/** Keys may not collide with the sentinels; remapping only merges hi values, lo still tells keys apart. */
function normHi(hi: number): number {
  const h = hi | 0;
  return h === EMPTY || h === TOMBSTONE || h === BUSY ? 0x7ffffffe : h;
}

function normLo(lo: number): number {
  const l = lo | 0;
  return l === 0 ? 1 : l;
}
