import { completeLength, Framing, MAX_HELD_EVENT } from '../protocol/stream-framing.js';

/** Bytes of a boundary that can straddle two reads: `\r\n\r\n` less one. */
const OVERLAP = 3;

/**
 * Lets a streamed answer through in whole events (SSE) or whole lines (NDJSON): what follows the
 * last boundary of a chunk is held (copied: the chunk is a view of the connection's read buffer)
 * until the bytes that complete it arrive. Bytes are never changed or reordered, only where a send
 * ends. Backends write whole events, so the usual chunk passes with two byte reads
 * (protocol/stream-framing.ts says why this matters: a clean end when a backend dies mid-event).
 * A held event grows in one buffer (doubling) and only new bytes are searched for a boundary, so
 * an event arriving in many reads costs linear time. One per streamed exchange, made when the
 * first success head arrives.
 */
export class EventGate {
  readonly framing: Framing;
  /** Bytes after the last boundary, not forwarded yet: held[0, heldLength). */
  held: Buffer | null;
  heldLength: number;
  /**
   * The client has part of an event: one that outgrew MAX_HELD_EVENT was let through unfinished.
   * A cut now needs the event closed before corral's error can follow it.
   */
  midEvent: boolean;

  constructor(framing: Framing) {
    this.framing = framing;
    this.held = null;
    this.heldLength = 0;
    this.midEvent = false;
  }

  /** The part of `chunk` (with what was held before it) to forward now; may be empty. */
  admit(chunk: Buffer): Buffer {
    if (this.heldLength === 0) {
      const complete = completeLength(chunk, this.framing);
      if (complete === chunk.length) {
        this.midEvent = false;
        return chunk;
      }
      // Part of this event is already out: holding the rest protects nothing.
      if (this.midEvent && complete === 0) return chunk;
      if (chunk.length - complete > MAX_HELD_EVENT) {
        this.midEvent = true;
        return chunk;
      }
      this.midEvent = false;
      this.#hold(chunk, complete);
      return chunk.subarray(0, complete);
    }
    // Held bytes hold no boundary: the last one ends in this chunk, or straddles the join.
    const heldLength = this.heldLength;
    let end = completeLength(chunk, this.framing);
    if (end > 0) {
      end += heldLength;
    } else {
      const from = Math.max(0, heldLength - OVERLAP);
      const seam = Buffer.concat([this.held!.subarray(from, heldLength), chunk.subarray(0, Math.min(chunk.length, OVERLAP))]);
      const inSeam = completeLength(seam, this.framing);
      if (inSeam > heldLength - from) end = from + inSeam;
    }
    if (end === 0) {
      if (heldLength + chunk.length > MAX_HELD_EVENT) {
        // Too big to hold: the client gets it unfinished.
        const all = Buffer.concat([this.held!.subarray(0, heldLength), chunk]);
        this.heldLength = 0;
        this.held = null;
        this.midEvent = true;
        return all;
      }
      this.#append(chunk, 0);
      return EMPTY;
    }
    const total = heldLength + chunk.length;
    const out = Buffer.allocUnsafe(end);
    this.held!.copy(out, 0, 0, heldLength);
    chunk.copy(out, heldLength, 0, end - heldLength);
    this.heldLength = 0;
    if (end < total) this.#hold(chunk, end - heldLength);
    else this.held = null;
    return out;
  }

  /** Keeps chunk[from…] as the held bytes (none held now). */
  #hold(chunk: Buffer, from: number): void {
    this.heldLength = 0;
    this.#append(chunk, from);
  }

  #append(chunk: Buffer, from: number): void {
    const n = chunk.length - from;
    const need = this.heldLength + n;
    if (this.held === null || this.held.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, (this.held?.length ?? 0) * 2, 1024));
      if (this.held !== null && this.heldLength > 0) this.held.copy(grown, 0, 0, this.heldLength);
      this.held = grown;
    }
    chunk.copy(this.held, this.heldLength, from);
    this.heldLength = need;
  }

  /** What was held when the backend ended its body: forwarded as it is (its last bytes are its own business). */
  takeHeld(): Buffer | null {
    if (this.heldLength === 0) return null;
    const held = this.held!.subarray(0, this.heldLength);
    this.held = null;
    this.heldLength = 0;
    return held;
  }

  /** Forgets what was held (it never reached the client). */
  drop(): void {
    this.held = null;
    this.heldLength = 0;
  }
}

const EMPTY = Buffer.alloc(0);
