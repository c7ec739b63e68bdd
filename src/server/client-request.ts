import type { ResponseWriter } from './response-writer.js';

/**
 * Everything corral needs from one client request, copied synchronously out of uWS's
 * stack-allocated HttpRequest (which is invalid after the handler returns), plus the response
 * metadata the proxy fills in. Every field is set in the constructor: one stable shape.
 */
export class ClientRequest {
  /** uWS's HttpResponse, or node-response.ts's adapter under `server.engine: node`. */
  readonly res: ResponseWriter;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentLength: number;   // -1 when absent (chunked)
  readonly clientRequestId: string; // the caller's X-Request-ID, '' when absent
  readonly sessionKey: string;      // the session header, '' when absent
  readonly traceparent: string;
  readonly accept: string;
  /** X-Corral-Priority as sent ('' when absent): the request's class in an admission queue. */
  readonly priority: string;
  readonly receivedAt: number;      // performance.now() at accept

  body: Buffer | null;
  bodyReceived: number;
  /**
   * Refused while the client may still be sending its body (413, 408): the answer is out, the
   * rest of the upload is read and dropped up to `discardLimit` bytes received, while bytes
   * keep coming before `lingerUntil` and `lingerEnd` has not passed (performance.now() ms), then
   * the connection is closed (response.ts).
   */
  lingering: boolean;
  discardLimit: number;
  lingerUntil: number;
  lingerEnd: number;
  /** The client went away; `res` must not be touched again. */
  aborted: boolean;
  /** The response was ended (or the connection closed) by corral. */
  ended: boolean;
  /** Status and first body bytes have been written: nothing can be retried any more. */
  headSent: boolean;
  status: number;
  /** Tell the client to close the connection after this response (corral is draining). */
  closeAfter: boolean;

  // Response metadata, written as X-Corral-* headers with the head.
  requestId: string;
  endpointName: string;
  routeLabel: string;
  retries: number;
  /** The `num_ctx` corral sent (X-Corral-Num-Ctx), 0 when it chose none. */
  numCtx: number;
  /** X-Corral-Queue-Wait: ms the request waited in an admission queue; -1 when it did not wait. */
  queueWaitMs: number;
  /** Per-request state owned by whoever handles the request (the proxy's Exchange). */
  exchange: unknown;

  constructor(res: ResponseWriter, method: string, path: string, query: string, contentLength: number,
    clientRequestId: string, sessionKey: string, traceparent: string, accept: string, priority: string, receivedAt: number) {
    this.res = res;
    this.method = method;
    this.path = path;
    this.query = query;
    this.contentLength = contentLength;
    this.clientRequestId = clientRequestId;
    this.sessionKey = sessionKey;
    this.traceparent = traceparent;
    this.accept = accept;
    this.priority = priority;
    this.receivedAt = receivedAt;
    this.body = null;
    this.bodyReceived = 0;
    this.lingering = false;
    this.discardLimit = 0;
    this.lingerUntil = 0;
    this.lingerEnd = 0;
    this.aborted = false;
    this.ended = false;
    this.headSent = false;
    this.status = 0;
    this.closeAfter = false;
    this.requestId = clientRequestId;
    this.endpointName = '';
    this.routeLabel = '';
    this.retries = 0;
    this.numCtx = 0;
    this.queueWaitMs = -1;
    this.exchange = null;
  }
}
