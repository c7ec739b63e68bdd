import type { HttpResponse } from './uws.js';

/**
 * Everything corral needs from one client request, copied synchronously out of uWS's
 * stack-allocated HttpRequest (which is invalid after the handler returns), plus the response
 * metadata the proxy fills in. Every field is set in the constructor: one stable shape.
 */
export class ClientRequest {
  readonly res: HttpResponse;
  readonly method: string;
  readonly path: string;
  readonly query: string;
  readonly contentLength: number;   // -1 when absent (chunked)
  readonly clientRequestId: string; // the caller's X-Request-ID, '' when absent
  readonly sessionKey: string;      // the session header, '' when absent
  readonly traceparent: string;
  readonly accept: string;
  readonly receivedAt: number;      // performance.now() at accept

  body: Buffer | null;
  bodyReceived: number;
  /** The body passed max_body_size: the rest of the upload is read and dropped, then 413. */
  bodyRejected: boolean;
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
  /** Per-request state owned by whoever handles the request (the proxy's Exchange). */
  exchange: unknown;

  constructor(res: HttpResponse, method: string, path: string, query: string, contentLength: number,
    clientRequestId: string, sessionKey: string, traceparent: string, accept: string, receivedAt: number) {
    this.res = res;
    this.method = method;
    this.path = path;
    this.query = query;
    this.contentLength = contentLength;
    this.clientRequestId = clientRequestId;
    this.sessionKey = sessionKey;
    this.traceparent = traceparent;
    this.accept = accept;
    this.receivedAt = receivedAt;
    this.body = null;
    this.bodyReceived = 0;
    this.bodyRejected = false;
    this.aborted = false;
    this.ended = false;
    this.headSent = false;
    this.status = 0;
    this.closeAfter = false;
    this.requestId = clientRequestId;
    this.endpointName = '';
    this.routeLabel = '';
    this.retries = 0;
    this.exchange = null;
  }
}
