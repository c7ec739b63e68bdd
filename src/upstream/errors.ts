/**
 * Failures of corral's upstream HTTP/1.1 client, each with a stable code that
 * error-class.ts sorts into transport failures (retry elsewhere, endpoint suspect) and timeouts.
 * Socket errors from Node itself (ECONNREFUSED, ECONNRESET, …) pass through with their own codes.
 * These never reach a client as such: the exchange answers with a CORRAL_ERR_* error instead.
 */
export class UpstreamClientError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'UpstreamClientError';
    this.code = code;
  }
}

/** The endpoint closed the connection before the response was complete. */
export const UPSTREAM_CLOSED = 'CORRAL_UPSTREAM_CLOSED';
/** No TCP (or TLS) connection within upstream.connect_timeout. */
export const UPSTREAM_CONNECT_TIMEOUT = 'CORRAL_UPSTREAM_CONNECT_TIMEOUT';
/** No response head within upstream.first_byte_timeout. */
export const UPSTREAM_HEADERS_TIMEOUT = 'CORRAL_UPSTREAM_HEADERS_TIMEOUT';
/** Silence between body bytes longer than upstream.idle_timeout. */
export const UPSTREAM_BODY_TIMEOUT = 'CORRAL_UPSTREAM_BODY_TIMEOUT';
/**
 * The response is not HTTP/1.x as RFC 9112 frames it (bad status line, header, chunk size), or
 * one corral cannot pass on faithfully (a transfer coding other than chunked). The message is
 * `invalid response: <the defect>` (docs/HTTP-CONFORMANCE.md).
 */
export const UPSTREAM_PROTOCOL = 'CORRAL_UPSTREAM_PROTOCOL';
/** The pool was closed (catalog change, shutdown) while the request waited for a connection. */
export const UPSTREAM_POOL_CLOSED = 'CORRAL_UPSTREAM_POOL_CLOSED';
