import { REASON_PHRASES } from './status-lines.js';

/**
 * What corral writes into every response head, encoded once. uWS reads a binary argument in place, but converts a string argument with V8's String::Utf8Value: a length pass,
 * a malloc, a UTF-8 copy and a free, per argument. A proxied response used to pass nine strings
 * (status line, four header names, four values); measured with callgrind that was ~7 % of the
 * instructions corral spends per request (perf/RESULTS.md, Optimisation 8).
 */

/**
 * The bytes uWS would have written for `s` (it encodes strings as UTF-8), each in an ArrayBuffer
 * of its own: uWS reads an ArrayBuffer's backing store directly, where a Buffer (a view) costs it
 * four more V8 API calls per argument (buffer, offset, length, type checks).
 */
function bytes(s: string): ArrayBuffer {
  const encoded = Buffer.from(s, 'utf8');
  const own = new ArrayBuffer(encoded.length);
  encoded.copy(new Uint8Array(own));
  return own;
}

const STATUS_LINES: ArrayBuffer[] = [];
for (const [code, text] of Object.entries(REASON_PHRASES)) STATUS_LINES[Number(code)] = bytes(`${code} ${text}`);

/** "200 OK", "503 Service Unavailable", …; a code without a reason phrase gets "Unknown". */
export function statusLineBytes(status: number): ArrayBuffer {
  return STATUS_LINES[status] ?? bytes(`${status} Unknown`);
}

export const H_REQUEST_ID = bytes('x-corral-request-id');
export const H_ENDPOINT = bytes('x-corral-endpoint');
export const H_ROUTE = bytes('x-corral-route');
export const H_RETRIES = bytes('x-corral-retries');
export const H_CONTENT_TYPE = bytes('content-type');
export const H_CONNECTION = bytes('connection');
export const V_CLOSE = bytes('close');
export const V_JSON = bytes('application/json; charset=utf-8');

/** Retry counts are bounded by routing.max_retries (at most 100): all encoded up front. */
const RETRIES: ArrayBuffer[] = [];
for (let n = 0; n <= 100; n++) RETRIES[n] = bytes(String(n));

export function retriesBytes(n: number): ArrayBuffer {
  return RETRIES[n] ?? bytes(String(n));
}

/**
 * Values drawn from small fixed sets (endpoint names from the catalog, route labels), encoded on
 * first use. Bounded all the same: should a caller ever pass unbounded values, the cache starts
 * over instead of growing.
 */
const VALUE_CACHE_LIMIT = 4096;
const values = new Map<string, ArrayBuffer>();

export function valueBytes(s: string): ArrayBuffer {
  let b = values.get(s);
  if (b === undefined) {
    if (values.size >= VALUE_CACHE_LIMIT) values.clear();
    b = bytes(s);
    values.set(s, b);
  }
  return b;
}
