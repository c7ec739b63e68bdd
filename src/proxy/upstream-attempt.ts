import type { Dispatcher } from 'undici';
import type { Exchange } from './exchange.js';

/**
 * One try of an exchange against one endpoint, as undici's dispatch handler. It uses undici's
 * original handler interface (onConnect/onHeaders/onData/onComplete/onError), which undici 7 still
 * calls natively: a handler with the newer onRequestStart interface is wrapped in an adapter that
 * parses every response's headers into an object on every request (measured: perf/RESULTS.md).
 *
 * undici 7 marks that interface deprecated in its types; undici 8 needs Node ≥ 22.19 anyway
 * (ARCHITECTURE.md §7), so moving to 8 means revisiting this file.
 *
 * A separate object per try (not the exchange itself) because undici may report on a try after
 * corral abandoned it — and may report a connect failure before onConnect — so only identity
 * tells a live try's events from a stale one's.
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  readonly exchange: Exchange;
  /** undici's abort for this request, once it has been handed over. */
  abortFn: ((err: Error) => void) | null;
  /** undici's resume for a paused body (onData returned false). */
  resumeFn: (() => void) | null;
  /** Abandoned before undici handed over its abort: abort as soon as it does. */
  abandonedWith: Error | null;

  constructor(exchange: Exchange) {
    this.exchange = exchange;
    this.abortFn = null;
    this.resumeFn = null;
    this.abandonedWith = null;
  }

  /** Stops this try; undici's later callbacks for it are ignored (it is no longer `current`). */
  abandon(reason: Error): void {
    if (this.abortFn === null) this.abandonedWith = reason;
    else this.abortFn(reason);
  }

  resume(): void {
    this.resumeFn?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort as (err: Error) => void;
    if (this.abandonedWith !== null) abort(this.abandonedWith);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    this.resumeFn = resume;
    // 1xx informational heads (100 Continue, 103 Early Hints) precede the real one.
    if (statusCode >= 200 && this.exchange.current === this) this.exchange.onUpstreamHead(statusCode, rawHeaders);
    return true;
  }

  /** false pauses the upstream socket until resume(). */
  onData(chunk: Buffer): boolean {
    return this.exchange.current === this ? this.exchange.onUpstreamData(chunk) : true;
  }

  onComplete(_trailers: string[] | null): void {
    if (this.exchange.current === this) this.exchange.onUpstreamEnd();
  }

  onError(err: Error): void {
    if (this.exchange.current === this) this.exchange.onUpstreamError(err);
  }
}
