import { watchDeadlines, unwatchDeadlines, type DeadlineOwner } from '../core/deadline-sweeper.js';
import type { ClientRequest } from './client-request.js';
import { closeLingering, LINGER_MIN_DISCARD_BYTES } from './response.js';

/**
 * `server.body_timeout` for uploads that do not arrive in one read. Two clocks run on such a
 * request: corral's (the whole body within body_timeout, else 408) and uWebSockets.js's own idle
 * timeout, which closes a connection without a response when an upload brings less than 16 KiB
 * per 10 s (HTTP_IDLE_TIMEOUT_S, HTTP_RECEIVE_THROUGHPUT_BYTES in uWS 20.30): a slow or stalled
 * body was dropped after 8-12 s whatever body_timeout said. uWS restarts that clock on resume(),
 * so every tick of the shared sweeper pauses and resumes each upload still under way; what is
 * left is corral's deadline, checked on the same tick, and the end of a refusal's linger
 * (response.ts, sendJsonLingering). Bodies that arrive with their head (nearly all) never get
 * here. One set, no timer per request.
 */
export class BodyDeadlines implements DeadlineOwner {
  readonly #uploads: Set<ClientRequest>;
  readonly #timeoutMs: number;
  /** Bytes a refused upload may still bring before it is closed: max(max_body_size, 16 MiB). */
  readonly #discardBytes: number;
  readonly #expired: (r: ClientRequest) => void;

  constructor(timeoutMs: number, maxBodySize: number, expired: (r: ClientRequest) => void) {
    this.#uploads = new Set();
    this.#timeoutMs = timeoutMs;
    this.#discardBytes = Math.max(maxBodySize, LINGER_MIN_DISCARD_BYTES);
    this.#expired = expired;
  }

  /**
   * After a refusal (413, 408) that the handler answered with sendJsonLingering: what the client
   * still sends is read and dropped up to the discard allowance, then the connection is closed —
   * at once when the upload has already ended. Nothing to do when it was not answered that way
   * (the client had gone).
   */
  lingerAfter(r: ClientRequest, uploadEnded: boolean): void {
    if (!r.lingering) return;
    r.discardLimit = r.bodyReceived + this.#discardBytes;
    if (uploadEnded) closeLingering(r);
    else this.add(r);
  }

  /** A body that did not arrive whole with the head, or a refusal lingering over an upload. */
  add(r: ClientRequest): void {
    if (this.#uploads.size === 0) {
      // uWS's idle clock must be restarted well within its 10 s (4 s granularity): a tick of 1 s at most.
      watchDeadlines(this, Math.min(this.#timeoutMs, 4000));
    }
    this.#uploads.add(r);
  }

  delete(r: ClientRequest): void {
    if (this.#uploads.delete(r) && this.#uploads.size === 0) unwatchDeadlines(this);
  }

  sweep(now: number): void {
    for (const r of this.#uploads) {
      if (r.lingering) {
        // Refused (response.ts, sendJsonLingering): closed when its time is up; uWS's idle clock
        // is left to run.
        if (now > r.lingerUntil || now > r.lingerEnd) {
          this.delete(r);
          closeLingering(r);
        }
      } else if (r.aborted || r.ended) {
        this.delete(r);
      } else if (now - r.receivedAt > this.#timeoutMs) {
        this.#expired(r);
        // 408, lingering: stays in the set until its linger ends.
        if (r.lingering) this.lingerAfter(r, false);
        else this.delete(r);
      } else {
        r.res.pause();
        r.res.resume();
      }
    }
  }
}
