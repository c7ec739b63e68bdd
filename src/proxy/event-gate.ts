import { completeLength, Framing, MAX_HELD_EVENT } from '../protocol/stream-framing.js';

/**
 * Lets a streamed answer through in whole events (SSE) or whole lines (NDJSON): what follows the
 * last boundary of a chunk is held (copied: the chunk is a view of the connection's read buffer)
 * until the bytes that complete it arrive. Bytes are never changed or reordered, only where a send
 * ends. Backends write whole events, so the usual chunk passes with two byte reads
 * (protocol/stream-framing.ts says why this matters: a clean end when a backend dies mid-event).
 * One per streamed exchange, made when the first success head arrives; reset for each try.
 */
export class EventGate {
  readonly framing: Framing;
  /** Bytes after the last boundary, not forwarded yet. */
  held: Buffer | null;
  /**
   * The client has part of an event: one that outgrew MAX_HELD_EVENT was let through unfinished.
   * A cut now needs the event closed before corral's error can follow it.
   */
  midEvent: boolean;

  constructor(framing: Framing) {
    this.framing = framing;
    this.held = null;
    this.midEvent = false;
  }

  /** The part of `chunk` (with what was held before it) to forward now; may be empty. */
  admit(chunk: Buffer): Buffer {
    let data = chunk;
    if (this.held !== null) {
      data = Buffer.concat([this.held, chunk]);
      this.held = null;
    }
    const complete = completeLength(data, this.framing);
    if (complete === data.length) {
      this.midEvent = false;
      return data;
    }
    // Part of this event is already out: holding the rest protects nothing.
    if (this.midEvent && complete === 0) return data;
    if (data.length - complete > MAX_HELD_EVENT) {
      this.midEvent = true;
      return data;
    }
    const rest = data.subarray(complete);
    this.held = data === chunk ? Buffer.from(rest) : rest;
    this.midEvent = false;
    return data.subarray(0, complete);
  }

  /** What was held when the backend ended its body: forwarded as it is (its last bytes are its own business). */
  takeHeld(): Buffer | null {
    const held = this.held;
    this.held = null;
    return held;
  }

  reset(): void {
    this.held = null;
    this.midEvent = false;
  }
}
