import { performance } from 'node:perf_hooks';
import { loadUws, type HttpRequest, type HttpResponse, type TemplatedApp, type us_listen_socket } from './uws.js';
import { ClientRequest } from './client-request.js';
import type { Config } from '../config/types.js';
import { BodyDeadlines } from './body-deadlines.js';
import { closeLingering, LINGER_IDLE_MS } from './response.js';
import type { ApiServer } from './api-server.js';

/** What the server hands complete requests to. Implemented by the proxy. */
export interface RequestHandler {
  /** The head is copied and, for requests with a body, the whole body is in `r.body`. */
  onRequest(r: ClientRequest): void;
  /** The client disconnected before the response ended. */
  onAborted(r: ClientRequest): void;
  /**
   * A body over `max_body_size`: answer 413 in the caller's dialect with sendJsonLingering —
   * before reading a byte when Content-Length announced it, else as soon as the upload passes
   * the limit. The server reads and drops what the client still sends, then closes.
   */
  onBodyTooLarge(r: ClientRequest): void;
  /** A request head over `max_header_size`: answer 431 in the caller's dialect. */
  onHeadersTooLarge(r: ClientRequest): void;
  /** The body did not arrive within `body_timeout`: answer 408 with sendJsonLingering. */
  onBodyTimeout(r: ClientRequest): void;
  /**
   * The request's framing is invalid (`reason` says how): answer 400 and close the connection,
   * reading no body (RFC 9112 §6.3: the bytes after the head cannot be trusted to be this request's).
   */
  onInvalidFraming(r: ClientRequest, reason: string): void;
}

export interface HttpServerOptions {
  readonly host: string;
  readonly port: number;
  readonly maxBodySize: number;
  readonly maxHeaderSize: number;
  readonly bodyTimeoutMs: number;
  readonly sessionHeader: string;
  readonly requestIdHeader: string;
}

export function serverOptionsFrom(config: Config, port: number = config.server.port): HttpServerOptions {
  return {
    host: config.server.host, port, maxBodySize: config.server.max_body_size, maxHeaderSize: config.server.max_header_size,
    bodyTimeoutMs: config.server.body_timeout,
    sessionHeader: config.routing.session_header, requestIdHeader: config.server.request_id_header,
  };
}

// Every header is read in one req.forEach pass (one call into uWS, not one getHeader per name),
// through a module-level function and slots: no closure per request. The first occurrence of a
// header wins, as with getHeader — except Content-Length, whose repeats must agree with it.
let headerBytes = 0;
let contentLengthLines = 0;
/** The first Content-Length line after the first whose value differs from it (valid when conflicting). */
let conflictingContentLength = '';
let conflicting = false;
let wantedRequestId = '';
let wantedSession = '';
let seenContentLength = '';
let seenTransferEncoding = '';
let seenRequestId = '';
let seenSession = '';
let seenTraceparent = '';
let seenAccept = '';
let seenPriority = '';
function readHeader(key: string, value: string): void {
  headerBytes += key.length + value.length + 4; // ": " and CRLF
  switch (key) {
    case 'content-length':
      if (++contentLengthLines === 1) seenContentLength = value;
      else if (!conflicting && !sameLength(seenContentLength, value)) {
        conflicting = true;
        conflictingContentLength = value;
      }
      return;
    case 'transfer-encoding':
      if (seenTransferEncoding === '') seenTransferEncoding = value;
      return;
    case 'traceparent':
      if (seenTraceparent === '') seenTraceparent = value;
      return;
    case 'accept':
      if (seenAccept === '') seenAccept = value;
      return;
    case 'x-corral-priority':
      if (seenPriority === '') seenPriority = value;
      return;
  }
  if (key === wantedRequestId) {
    if (seenRequestId === '') seenRequestId = value;
  } else if (key === wantedSession) {
    if (seenSession === '') seenSession = value;
  }
}

const DIGITS = /^[0-9]+$/;

/**
 * A repeated Content-Length (another line; uWS 20.30 closes the connection itself on a list such
 * as `5, 5`, on a first value that is no number, and beside Transfer-Encoding) agrees with the
 * first when it is the same decimal number. uWS frames the body by the first line: a repeat
 * that disagrees is a request smuggling attempt or a broken client (RFC 9112 §6.3, item 5).
 */
function sameLength(first: string, repeat: string): boolean {
  return repeat === first || (DIGITS.test(repeat) && DIGITS.test(first) && Number(repeat) === Number(first));
}

/**
 * The uWS app: one catch-all handler that copies the request head synchronously, attaches
 * onAborted before anything asynchronous (uWS aborts the process otherwise), and reads the body
 * with a size cap (uWS has none of its own), then hands over to the RequestHandler.
 */
export class HttpServer implements ApiServer {
  readonly #app: TemplatedApp;
  readonly #options: HttpServerOptions;
  readonly #deadlines: BodyDeadlines;
  #handler: RequestHandler;
  #listenSocket: us_listen_socket | null;
  port: number;

  constructor(options: HttpServerOptions, handler: RequestHandler) {
    const uws = loadUws();
    this.#options = options;
    this.#handler = handler;
    this.#deadlines = new BodyDeadlines(options.bodyTimeoutMs, options.maxBodySize, (r) => this.#handler.onBodyTimeout(r));
    this.#listenSocket = null;
    this.port = 0;
    this.#app = uws.App();
    this.#app.any('/*', (res, req) => this.#accept(res, req));
  }

  listen(port: number = this.#options.port): Promise<number> {
    const uws = loadUws();
    return new Promise((resolve, reject) => {
      this.#app.listen(this.#options.host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${this.#options.host}:${port}`));
          return;
        }
        this.#listenSocket = socket;
        this.port = uws.us_socket_local_port(socket);
        resolve(this.port);
      });
    });
  }

  /** Requests accepted from now on go to `handler` (inline-mode reload); those in flight stay where they are. */
  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Stops accepting connections; requests in flight carry on. */
  stopListening(): void {
    if (this.#listenSocket === null) return;
    loadUws().us_listen_socket_close(this.#listenSocket);
    this.#listenSocket = null;
  }

  /** Closes every connection, in flight or idle (end of a graceful shutdown). */
  closeAll(): void {
    this.stopListening();
    (this.#app as unknown as { close?: () => void }).close?.();
  }

  #accept(res: HttpResponse, req: HttpRequest): void {
    const o = this.#options;
    const method = req.getMethod();
    const path = req.getUrl();
    const query = req.getQuery() ?? '';
    headerBytes = path.length + query.length;
    wantedRequestId = o.requestIdHeader;
    wantedSession = o.sessionHeader;
    seenContentLength = seenTransferEncoding = seenRequestId = seenSession = seenTraceparent = seenAccept = seenPriority = '';
    contentLengthLines = 0;
    conflicting = false;
    req.forEach(readHeader);
    const lengthHeader = seenContentLength;
    const contentLength = lengthHeader === '' ? -1 : Number(lengthHeader);
    const r = new ClientRequest(res, method, path, query, Number.isFinite(contentLength) ? contentLength : -1,
      seenRequestId, seenSession, seenTraceparent, seenAccept, seenPriority, performance.now());
    const handler = this.#handler;
    res.onAborted(() => {
      r.aborted = true;
      if (!r.ended) handler.onAborted(r);
    });
    if (headerBytes > o.maxHeaderSize) {
      handler.onHeadersTooLarge(r);
      return;
    }
    if (conflicting) {
      // Answered on the next turn of the event loop, not now: uWS 20.30 goes on to serve a
      // request pipelined behind one answered synchronously, even with `Connection: close` — and
      // the bytes uWS took for that request may be this one's body, smuggled. A request that
      // arrives while this answer is pending makes uWS close the connection, answering neither.
      const reason = `content-length: conflicting values ${JSON.stringify(lengthHeader)} and ${JSON.stringify(conflictingContentLength)} (RFC 9112 §6.3)`;
      setImmediate(() => {
        if (!r.aborted) handler.onInvalidFraming(r, reason);
      });
      return;
    }
    const hasBody = contentLength > 0 || (lengthHeader === '' && seenTransferEncoding !== '');
    if (!hasBody) {
      handler.onRequest(r);
      return;
    }
    const deadlines = this.#deadlines;
    if (contentLength > o.maxBodySize) {
      // Refused before reading a byte; what the client sends anyway is read and dropped.
      handler.onBodyTooLarge(r);
      deadlines.lingerAfter(r, false);
      res.onData((chunk, isLast) => readBody(r, new Uint8Array(chunk), isLast, 0, 0, handler, deadlines));
      return;
    }
    const max = o.maxBodySize;
    const timeout = o.bodyTimeoutMs;
    // A body announced up to UPFRONT_BODY_BYTES gets its whole buffer now (no copy as it grows);
    // a larger announcement is not trusted with its size before the bytes come.
    if (contentLength > 0) r.body = Buffer.allocUnsafe(Math.min(contentLength, UPFRONT_BODY_BYTES));
    res.onData((chunk, isLast) => readBody(r, new Uint8Array(chunk), isLast, max, timeout, handler, deadlines));
    // uWS calls onData at once for a Content-Length body, but for a chunked one only when chunk
    // data arrives: a chunked upload that stalls before its first byte is watched from now.
    if (contentLength < 0) deadlines.add(r);
  }
}

/**
 * The largest buffer taken for a request body on its announcement alone: a client announcing
 * 50 MiB and dribbling it holds only what it really sent (plus at most as much again), not 50 MiB
 * for body_timeout. Vision payloads above it are copied about twice as they grow.
 */
export const UPFRONT_BODY_BYTES = 1024 * 1024;

/**
 * Copies each chunk (uWS reuses the ArrayBuffer after the callback), enforcing the size cap and
 * the body deadline. A body that does not come whole with the head is watched by `deadlines`
 * (body-deadlines.ts) between chunks; the deadline is also checked as chunks arrive. The node:http
 * engine (node-engine.ts) reads bodies through here too.
 */
export function readBody(r: ClientRequest, chunk: Uint8Array, isLast: boolean, max: number, timeoutMs: number,
  handler: RequestHandler, deadlines: BodyDeadlines): void {
  if (r.lingering) {
    // Refused: read and drop until the upload ends or the linger allowance is spent.
    r.bodyReceived += chunk.byteLength;
    if (isLast || r.bodyReceived > r.discardLimit) closeLingering(r);
    else r.lingerUntil = performance.now() + LINGER_IDLE_MS;
    return;
  }
  if (r.ended || r.aborted) return;
  const n = chunk.byteLength;
  if (performance.now() - r.receivedAt > timeoutMs) {
    r.bodyReceived += n;
    handler.onBodyTimeout(r);
    deadlines.lingerAfter(r, isLast);
    return;
  }
  const total = r.bodyReceived + n;
  if (total > max || (r.contentLength >= 0 && total > r.contentLength)) {
    r.body = null;
    r.bodyReceived = total;
    handler.onBodyTooLarge(r);
    deadlines.lingerAfter(r, isLast);
    return;
  }
  if (r.body === null || total > r.body.length) {
    // A chunked upload, or one announced over UPFRONT_BODY_BYTES: grow geometrically, up to what
    // was announced (or the limit).
    const cap = r.contentLength >= 0 ? r.contentLength : max;
    const grown = Buffer.allocUnsafe(Math.min(cap, Math.max(total, (r.body?.length ?? 0) * 2, 16384)));
    if (r.body !== null) r.body.copy(grown, 0, 0, r.bodyReceived);
    r.body = grown;
  }
  if (n > 0) r.body.set(chunk, r.bodyReceived);
  r.bodyReceived = total;
  if (!isLast) {
    deadlines.add(r);
    return;
  }
  deadlines.delete(r);
  if (r.body.length !== total) r.body = r.body.subarray(0, total);
  handler.onRequest(r);
}

