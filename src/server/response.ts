import type { ClientRequest } from './client-request.js';
import {
  H_CONNECTION, H_CONTENT_TYPE, H_ENDPOINT, H_REQUEST_ID, H_RETRIES, H_ROUTE, V_CLOSE, V_JSON,
  retriesBytes, statusLineBytes, valueBytes,
} from './header-bytes.js';

/**
 * Every write to a uWS HttpResponse goes through here (STYLE rule 7). Writes made outside a uWS
 * callback (after an await, from the upstream client's callbacks) must be corked, or uWS sends each one as its
 * own syscall and warns. `cork` takes a callback; to avoid a closure per write, the arguments go
 * through module-level slots read by module-level functions (cork runs them synchronously).
 * What corral writes itself goes to uWS as pre-encoded Buffers (header-bytes.ts).
 */

let slotReq: ClientRequest;
let slotStatus = 0;
let slotHeaders: readonly Buffer[] | null = null;
let slotExtraName = '';
let slotExtraValue = '';
let slotBody: string | Buffer | Uint8Array = '';
let slotClose = false;
let slotResult = false;

function writeHeadNow(r: ClientRequest, status: number, upstream: readonly Buffer[] | null): void {
  const res = r.res;
  r.status = status;
  res.writeStatus(statusLineBytes(status));
  if (upstream !== null) {
    // Raw [name, value, …] Buffers from the upstream response, passed through as they are; the
    // parser already left out what must not be copied (upstream/raw-headers.ts).
    for (let i = 0; i < upstream.length; i += 2) res.writeHeader(upstream[i]!, upstream[i + 1]!);
  }
  if (r.requestId !== '') res.writeHeader(H_REQUEST_ID, r.requestId);
  if (r.closeAfter) res.writeHeader(H_CONNECTION, V_CLOSE);
  if (r.endpointName !== '') {
    res.writeHeader(H_ENDPOINT, valueBytes(r.endpointName));
    res.writeHeader(H_ROUTE, valueBytes(r.routeLabel));
    res.writeHeader(H_RETRIES, retriesBytes(r.retries));
  }
  r.headSent = true;
}

function corkedSendJson(): void {
  const r = slotReq;
  writeHeadNow(r, slotStatus, null);
  r.res.writeHeader(H_CONTENT_TYPE, V_JSON);
  if (slotExtraName !== '') r.res.writeHeader(slotExtraName, slotExtraValue);
  // HEAD: the same head and no body. uWS 20.30 cannot report the GET body's length here:
  // endWithoutBody(n > 0) leaves the response unfinished and the connection dead, so it says 0.
  if (r.method === 'head') r.res.endWithoutBody(0, slotClose);
  else r.res.end(slotBody, slotClose);
}

/**
 * A complete JSON response (errors, catalog views, status). `extraName/extraValue` is one more
 * header (Retry-After on 503s) — one slot, not a list, since no caller needs more.
 */
export function sendJson(r: ClientRequest, status: number, body: string, extraName = '', extraValue = '', closeConnection = false): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  slotReq = r;
  slotStatus = status;
  slotBody = body;
  slotExtraName = extraName;
  slotExtraValue = extraValue;
  slotClose = closeConnection;
  r.res.cork(corkedSendJson);
}

function corkedHeadAndChunk(): void {
  const r = slotReq;
  writeHeadNow(r, slotStatus, slotHeaders);
  slotResult = r.res.write(slotBody);
}

/** Status, upstream headers (filtered) and the first body bytes, in one corked write. */
export function writeHeadAndChunk(r: ClientRequest, status: number, headers: readonly Buffer[], chunk: Buffer): boolean {
  if (r.aborted || r.ended) return true;
  slotReq = r;
  slotStatus = status;
  slotHeaders = headers;
  slotBody = chunk;
  r.res.cork(corkedHeadAndChunk);
  slotHeaders = null;
  return slotResult;
}

function corkedChunk(): void {
  slotResult = slotReq.res.write(slotBody);
}

/** One more body chunk, passed through as it arrived. Returns false under backpressure. */
export function writeChunk(r: ClientRequest, chunk: Buffer | string): boolean {
  if (r.aborted || r.ended) return true;
  slotReq = r;
  slotBody = chunk;
  r.res.cork(corkedChunk);
  return slotResult;
}

function corkedHeadAndEnd(): void {
  const r = slotReq;
  writeHeadNow(r, slotStatus, slotHeaders);
  r.res.end(slotBody);
}

/** A complete response — head, whole body (or none), end — in one corked send, with Content-Length. */
export function writeHeadAndEnd(r: ClientRequest, status: number, headers: readonly Buffer[], body: Buffer | null): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  slotReq = r;
  slotStatus = status;
  slotHeaders = headers;
  slotBody = body ?? '';
  r.res.cork(corkedHeadAndEnd);
  slotHeaders = null;
}

function corkedEnd(): void {
  slotReq.res.end(slotBody);
}

/**
 * Ends a response whose head was already written, optionally with last bytes. Never with
 * `closeConnection`: after chunked writes uWS 20.30 would append a `Connection: close` header
 * block to the body and garble the stream; a client told `connection: close` in the head
 * (draining) closes by itself.
 */
export function endResponse(r: ClientRequest, last: string | Buffer = ''): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  slotReq = r;
  slotBody = last;
  r.res.cork(corkedEnd);
}

/** Drops the connection without a response (a request so broken no answer can be framed). */
export function closeConnection(r: ClientRequest): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  r.res.close();
}

/**
 * Calls `drained` once the client has taken the buffered bytes. The uWS handler stays registered
 * for the response's life; `drained` is expected to resume the upstream.
 */
export function onDrained(r: ClientRequest, drained: () => void): void {
  r.res.onWritable(() => {
    drained();
    return true;
  });
}
