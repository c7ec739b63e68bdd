import {
  UPSTREAM_BODY_TIMEOUT, UPSTREAM_CLOSED, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_HEADERS_TIMEOUT, UPSTREAM_POOL_CLOSED, UPSTREAM_PROTOCOL,
} from './errors.js';

/**
 * How an upstream failure is treated. Transport failures before any byte reached the client are
 * retried elsewhere and make the endpoint suspect; timeouts waiting for the first byte are not
 * retried (the model may be loading; another backend would pay the same) and answer 504; a
 * malformed response is a 502 the backend did not say: retried elsewhere like one when another
 * endpoint can serve, the endpoint not made suspect (it answers, badly).
 */
export const enum FailureKind {
  /** Connection refused/reset/closed, connect timeout: the endpoint looks dead. */
  Transport = 0,
  /** No response head within upstream.first_byte_timeout, or silence past idle_timeout. */
  Timeout,
  /** Anything else (a bug). */
  Other,
  /** corral closed the endpoint's pool (catalog change, shutdown) before the request was sent: retry, blame no one. */
  PoolClosed,
  /** The response broke RFC 9112 (docs/HTTP-CONFORMANCE.md): its connection is closed, never reused. */
  Protocol,
}

const TRANSPORT_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ETIMEDOUT',
  UPSTREAM_CLOSED, UPSTREAM_CONNECT_TIMEOUT,
]);
const TIMEOUT_CODES = new Set([UPSTREAM_HEADERS_TIMEOUT, UPSTREAM_BODY_TIMEOUT]);

export function classifyFailure(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string') {
    if (TRANSPORT_CODES.has(code)) return FailureKind.Transport;
    if (code === UPSTREAM_POOL_CLOSED) return FailureKind.PoolClosed;
    if (code === UPSTREAM_PROTOCOL) return FailureKind.Protocol;
    if (TIMEOUT_CODES.has(code)) return FailureKind.Timeout;
  }
  return FailureKind.Other;
}

/** 502/503/504 from a backend: it is alive but cannot serve; another endpoint may. */
export function isRetryableStatus(status: number): boolean {
  return status === 502 || status === 503 || status === 504;
}
