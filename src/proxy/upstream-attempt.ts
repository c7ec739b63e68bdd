import type { ForwardedHeaders } from '../upstream/forwarded-headers.js';
import type { UpstreamConnection } from '../upstream/upstream-connection.js';
import type { UpstreamRequest } from '../upstream/upstream-request.js';
import type { Exchange } from './exchange.js';

/**
 * One try of an exchange against one endpoint: the request the upstream pool sends and the
 * receiver of its response. A separate object per try (not the exchange itself) so that only
 * identity tells a live try's events from an abandoned one's.
 */
export class UpstreamAttempt implements UpstreamRequest {
  readonly exchange: Exchange;
  readonly requestHead: string;
  readonly body: Buffer;
  readonly bodySkip: number;
  connection: UpstreamConnection | null;
  abandoned: boolean;

  constructor(exchange: Exchange, requestHead: string, body: Buffer, bodySkip: number) {
    this.exchange = exchange;
    this.requestHead = requestHead;
    this.body = body;
    this.bodySkip = bodySkip;
    this.connection = null;
    this.abandoned = false;
  }

  /** Stops this try: out of the pool's queue, or its connection closed (the backend stops generating). */
  abandon(): void {
    this.abandoned = true;
    this.connection?.abort(this);
  }

  resume(): void {
    this.connection?.resume(this);
  }

  onUpstreamHead(status: number, headers: ForwardedHeaders, contentLength: number): void {
    if (this.exchange.current === this) this.exchange.onUpstreamHead(status, headers, contentLength);
  }

  /** false pauses the upstream connection until resume(). */
  onUpstreamData(chunk: Buffer): boolean {
    return this.exchange.current === this ? this.exchange.onUpstreamData(chunk) : true;
  }

  onUpstreamEnd(): void {
    if (this.exchange.current === this) this.exchange.onUpstreamEnd();
  }

  onUpstreamError(err: Error): void {
    if (this.exchange.current === this) this.exchange.onUpstreamError(err);
  }
}
