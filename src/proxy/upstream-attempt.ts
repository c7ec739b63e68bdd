import type { IncomingHttpHeaders } from 'node:http';
import type { Dispatcher } from 'undici';
import type { Exchange } from './exchange.js';

type DispatchController = Dispatcher.DispatchController;

/**
 * One try of an exchange against one endpoint, as undici's dispatch handler. A separate object
 * per try (not the exchange itself) because undici may report on a try after corral abandoned it
 * — and may report a connect failure before onRequestStart ever named a controller — so only
 * identity tells a live try's events from a stale one's.
 */
export class UpstreamAttempt implements Dispatcher.DispatchHandler {
  readonly exchange: Exchange;
  controller: DispatchController | null;
  /** Abandoned before undici handed over a controller: abort as soon as it does. */
  abandonedWith: Error | null;

  constructor(exchange: Exchange) {
    this.exchange = exchange;
    this.controller = null;
    this.abandonedWith = null;
  }

  /** Stops this try; undici's later callbacks for it are ignored (it is no longer `current`). */
  abandon(reason: Error): void {
    const c = this.controller;
    if (c === null) this.abandonedWith = reason;
    else if (!c.aborted) c.abort(reason);
  }

  onRequestStart(controller: DispatchController, _context: unknown): void {
    this.controller = controller;
    if (this.abandonedWith !== null) controller.abort(this.abandonedWith);
  }

  onResponseStart(controller: DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.controller = controller;
    if (this.exchange.current === this) this.exchange.onUpstreamHead(statusCode, headers);
  }

  onResponseData(_controller: DispatchController, chunk: Buffer): void {
    if (this.exchange.current === this) this.exchange.onUpstreamData(chunk);
  }

  onResponseEnd(_controller: DispatchController, _trailers: IncomingHttpHeaders): void {
    if (this.exchange.current === this) this.exchange.onUpstreamEnd();
  }

  onResponseError(_controller: DispatchController, err: Error): void {
    if (this.exchange.current === this) this.exchange.onUpstreamError(err);
  }
}
