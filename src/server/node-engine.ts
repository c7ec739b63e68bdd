import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ClientRequest } from './client-request.js';
import { BodyDeadlines } from './body-deadlines.js';
import { NodeResponse } from './node-response.js';
import { readBody, UPFRONT_BODY_BYTES, type HttpServerOptions, type RequestHandler } from './http-server.js';
import type { ApiServer } from './api-server.js';

/**
 * `server.engine: node`: the API served by node:http instead of uWebSockets.js, through the same
 * RequestHandler, ClientRequest and response.ts (over node-response.ts's adapter). It exists for
 * what uWS 20.30 never answers: HTTP/1.0 requests, above all nginx's default upstream requests
 * (`proxy_http_version 1.0`), and HTTP/1.1 without Host. It costs more CPU per request than uWS
 * (perf/RESULTS.md). In cluster workers the port is shared by node:cluster's handle sharing (the
 * primary accepts and hands connections round-robin): Node 20 has no `reusePort` (22.12 added it).
 *
 * Differences node:http makes (docs/HTTP-CONFORMANCE.md): it answers malformed framing, a head
 * over `max_header_size` plus HEAD_SLACK_BYTES, and conflicting lengths itself with a bare 400/431.
 */

/**
 * node's own header limit sits above corral's so that corral's (which counts names, values and
 * the target like the uWS engine) answers first with a 431 in the caller's dialect.
 */
const HEAD_SLACK_BYTES = 8 * 1024;

/** Keep-alive connections idle this long are closed, as uWS closes them (HTTP_IDLE_TIMEOUT_S). */
const KEEP_ALIVE_MS = 10_000;

const EMPTY = new Uint8Array(0);

/** uWS reports methods in lower case, and the proxy compares them so. */
const LOWER_METHODS: Record<string, string> = {
  GET: 'get', POST: 'post', HEAD: 'head', PUT: 'put', DELETE: 'delete', OPTIONS: 'options', PATCH: 'patch',
};

export class NodeHttpServer implements ApiServer {
  readonly #server: Server;
  readonly #options: HttpServerOptions;
  readonly #deadlines: BodyDeadlines;
  #handler: RequestHandler;
  port: number;

  constructor(options: HttpServerOptions, handler: RequestHandler) {
    this.#options = options;
    this.#handler = handler;
    this.#deadlines = new BodyDeadlines(options.bodyTimeoutMs, options.maxBodySize, (r) => this.#handler.onBodyTimeout(r));
    this.port = 0;
    // requestTimeout off: server.body_timeout is corral's (a 408 in the caller's dialect).
    this.#server = createServer({ maxHeaderSize: options.maxHeaderSize + HEAD_SLACK_BYTES, requestTimeout: 0 },
      (req, res) => this.#accept(req, res));
    this.#server.keepAliveTimeout = KEEP_ALIVE_MS;
  }

  listen(port: number = this.#options.port): Promise<number> {
    const host = this.#options.host;
    return new Promise((resolve, reject) => {
      const failed = (err: Error): void => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`));
      this.#server.once('error', failed);
      this.#server.listen(port, host, () => {
        this.#server.off('error', failed);
        const addr = this.#server.address();
        this.port = typeof addr === 'object' && addr !== null ? addr.port : port;
        resolve(this.port);
      });
    });
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Stops accepting; idle keep-alive connections close (node ≥ 19), requests in flight carry on. */
  stopListening(): void {
    if (this.#server.listening) this.#server.close();
  }

  closeAll(): void {
    this.stopListening();
    this.#server.closeAllConnections();
  }

  #accept(req: IncomingMessage, res: ServerResponse): void {
    const o = this.#options;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const query = q < 0 ? '' : url.slice(q + 1);
    const method = req.method ?? 'GET';
    // The same head as the uWS engine copies (http-server.ts): the first line of each header
    // wins (node would join repeats with a comma), and the same bytes count against the limit.
    // node itself refuses conflicting Content-Length lines and Content-Length beside
    // Transfer-Encoding (400, connection closed).
    let headerBytes = path.length + query.length;
    let contentLength = '';
    let transferEncoding = '';
    let requestId = '';
    let session = '';
    let traceparent = '';
    let accept = '';
    let priority = '';
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i]!.toLowerCase();
      const value = raw[i + 1]!;
      headerBytes += key.length + value.length + 4;
      switch (key) {
        case 'content-length': if (contentLength === '') contentLength = value; continue;
        case 'transfer-encoding': if (transferEncoding === '') transferEncoding = value; continue;
        case 'traceparent': if (traceparent === '') traceparent = value; continue;
        case 'accept': if (accept === '') accept = value; continue;
        case 'x-corral-priority': if (priority === '') priority = value; continue;
      }
      if (key === o.requestIdHeader) {
        if (requestId === '') requestId = value;
      } else if (key === o.sessionHeader) {
        if (session === '') session = value;
      }
    }
    const length = contentLength === '' ? -1 : Number(contentLength);
    const writer = new NodeResponse(res);
    const r = new ClientRequest(writer, LOWER_METHODS[method] ?? method.toLowerCase(), path, query,
      Number.isFinite(length) ? length : -1, requestId, session, traceparent, accept, priority, performance.now());
    const handler = this.#handler;
    // uWS's onAborted: the connection went before the response was sent whole.
    res.once('close', () => {
      if (res.writableFinished) return;
      r.aborted = true;
      if (!r.ended) handler.onAborted(r);
    });
    if (headerBytes > o.maxHeaderSize) {
      handler.onHeadersTooLarge(r);
      return;
    }
    const hasBody = length > 0 || (contentLength === '' && transferEncoding !== '');
    if (!hasBody) {
      handler.onRequest(r);
      return;
    }
    const deadlines = this.#deadlines;
    let max = o.maxBodySize;
    let timeout = o.bodyTimeoutMs;
    if (length > max) {
      // Refused before reading a byte; what the client sends anyway is read and dropped.
      handler.onBodyTooLarge(r);
      deadlines.lingerAfter(r, false);
      max = timeout = 0;
    } else {
      if (length > 0) r.body = Buffer.allocUnsafe(Math.min(length, UPFRONT_BODY_BYTES));
      // node delivers even a body that came with the head on a later turn: watched from now.
      deadlines.add(r);
    }
    req.on('data', (chunk: Buffer) => readBody(r, chunk, false, max, timeout, handler, deadlines));
    req.on('end', () => readBody(r, EMPTY, true, max, timeout, handler, deadlines));
  }
}
