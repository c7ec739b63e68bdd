import type { Segment } from '../state/segment.js';
import type { Logger } from '../observe/logger.js';

/** Sweeps sessions idle longer than `routing.session_ttl` out of the shared table, periodically. */
export class SessionSweeper {
  readonly #timer: NodeJS.Timeout;

  constructor(segment: Segment, ttlMs: number, log: Logger) {
    const ttlSec = Math.max(1, Math.round(ttlMs / 1000));
    // Often enough that a session outlives its TTL by at most a quarter of it (bounded to [1 s, 60 s]).
    const every = Math.min(60_000, Math.max(1000, Math.round(ttlMs / 4)));
    this.#timer = setInterval(() => {
      const removed = segment.sessions.sweep(segment.header.nowSec(), ttlSec);
      if (removed > 0) log.debug({ removed }, 'expired sessions swept');
    }, every);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
