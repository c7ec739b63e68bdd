import { performance } from 'node:perf_hooks';
import type { ForwardedHeaders } from '../upstream/forwarded-headers.js';
import type { ClientRequest } from './client-request.js';
import {
  CONNECTION_CLOSE_LINE, CONTENT_TYPE_JSON_LINE, EVENT_STREAM_LINES, extraLine, numCtxLine, queueWaitLine, requestIdLine, routingLines, statusText,
} from './head-lines.js';

/**
 * Every write to a uWS HttpResponse goes through here (STYLE rule 7). Writes made outside a uWS
 * callback (after an await, from the upstream client's callbacks) must be corked, or uWS sends each one as its
 * own syscall and warns. `cork` takes a callback; to avoid a closure per write, the arguments go
 * through module-level slots read by module-level functions (cork runs them synchronously).
 * A head goes to uWS in one call: status text and header lines as one string (head-lines.ts).
 */

let slotReq: ClientRequest;
let slotStatus = 0;
let slotContentType = '';
let slotHeaders: ForwardedHeaders | null = null;
let slotExtraName = '';
let slotExtraValue = '';
let slotBody: string | Buffer | Uint8Array = '';
let slotClose = false;
let slotResult = false;

/** Status text, the upstream's lines, corral's own: the head but for what a caller appends. */
function headText(r: ClientRequest, status: number, upstream: ForwardedHeaders | null): string {
  r.status = status;
  let head = statusText(status);
  // The upstream response's lines as the parser kept them (upstream/raw-headers.ts says which).
  if (upstream !== null) head += upstream.text;
  if (r.requestId !== '') head += requestIdLine(r.requestId, r.requestId === r.clientRequestId);
  if (r.closeAfter) head += CONNECTION_CLOSE_LINE;
  if (r.endpointName !== '') head += routingLines(r.endpointName, r.routeLabel, r.retries);
  if (r.numCtx !== 0) head += numCtxLine(r.numCtx);
  if (r.queueWaitMs >= 0) head += queueWaitLine(r.queueWaitMs);
  return head;
}

/** The head, in one uWS call (within a cork). */
function writeHead(r: ClientRequest, head: string, upstream: ForwardedHeaders | null): void {
  // uWS sends a string as UTF-8, which would turn an upstream byte ≥ 0x80 (obs-text, one latin1
  // char here) into two: such a head goes as latin1 bytes. The check is a UTF-8 length that
  // differs from the length in chars: one native call, which also flattens the head's string in
  // place, work uWS's own conversion would otherwise do. latin1 keeps only a char's low byte, so
  // corral's own parts must stay ASCII: endpoint names are (config, NAME_RE), route labels and
  // numbers are, and a client's request id is masked (head-lines.ts).
  if (upstream !== null && upstream.count !== 0 && Buffer.byteLength(head, 'utf8') !== head.length) {
    r.res.writeStatus(Buffer.from(head, 'latin1'));
  } else {
    r.res.writeStatus(head);
  }
  r.headSent = true;
}

function corkedSendWhole(): void {
  const r = slotReq;
  let head = headText(r, slotStatus, null) + slotContentType;
  if (slotExtraName !== '') head += extraLine(slotExtraName, slotExtraValue);
  writeHead(r, head, null);
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
  sendWhole(r, status, CONTENT_TYPE_JSON_LINE, body, extraName, extraValue, closeConnection);
}

/** A complete response of another type (the /metrics exposition). */
export function sendText(r: ClientRequest, status: number, contentType: string, body: string): void {
  sendWhole(r, status, `\r\ncontent-type: ${contentType}`, body, '', '', false);
}

function sendWhole(r: ClientRequest, status: number, contentTypeLine: string, body: string, extraName: string, extraValue: string,
  closeConnection: boolean): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  slotReq = r;
  slotStatus = status;
  slotContentType = contentTypeLine;
  slotBody = body;
  slotExtraName = extraName;
  slotExtraValue = extraValue;
  slotClose = closeConnection;
  r.res.cork(corkedSendWhole);
}

/**
 * How long a refused upload is read and dropped: until LINGER_IDLE_MS pass without a byte from
 * the client, LINGER_MAX_MS after the refusal at most (server/body-deadlines.ts closes it then),
 * and no more than max(max_body_size, LINGER_MIN_DISCARD_BYTES) bytes past the refusal (set by
 * BodyDeadlines.lingerAfter, which knows max_body_size). A client
 * that writes its whole body before it reads (the simplest raw clients) loses the answer to the
 * reset if it is closed sooner, so the allowance is generous; nginx's lingering close is the
 * model (lingering_timeout 5 s, lingering_time 30 s, no byte limit).
 */
export const LINGER_IDLE_MS = 2000;
export const LINGER_MAX_MS = 10_000;
export const LINGER_MIN_DISCARD_BYTES = 16 * 1024 * 1024;

function corkedSendLingering(): void {
  const r = slotReq;
  const body = slotBody as string;
  r.closeAfter = true;
  // The whole response is the status argument, which uWS writes as it is and ends with a CRLF:
  // that CRLF is counted as the body's last two bytes (JSON allows trailing whitespace). No
  // end(): the response stays open in uWS, so its onData keeps reading (and corral dropping) the
  // upload, and the connection can be closed once the client has had its answer. uWS adds Date
  // only in end(), so it is written here.
  r.res.writeStatus(`${headText(r, slotStatus, null)}${CONTENT_TYPE_JSON_LINE}\r\ndate: ${new Date().toUTCString()}`
    + `\r\ncontent-length: ${Buffer.byteLength(body) + 2}\r\n\r\n${body}`);
  r.headSent = true;
}

/**
 * A refusal while the client may still be sending its body (413 past max_body_size, 408 past
 * body_timeout). Closing at once would make the kernel answer the unread upload with a reset,
 * which can destroy the answer before the client reads it (RFC 9112 §9.6: close in stages). So
 * the answer goes out whole with `Connection: close`, the connection stays open while the rest of
 * the upload is read and dropped, and closeLingering() ends it when the upload ends or the linger
 * allowance (below) is spent.
 * Clients read the answer while sending (curl, undici, fetch) and close on `Connection: close`.
 */
export function sendJsonLingering(r: ClientRequest, status: number, body: string): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  r.lingering = true;
  r.body = null; // never to be used: free it now, not when the connection closes
  const now = performance.now();
  r.lingerUntil = now + LINGER_IDLE_MS;
  r.lingerEnd = now + LINGER_MAX_MS;
  slotReq = r;
  slotStatus = status;
  slotBody = body;
  r.res.cork(corkedSendLingering);
}

let toClose: ClientRequest[] = [];

function closeLingeringNow(): void {
  const list = toClose;
  toClose = [];
  for (const r of list) if (!r.aborted) r.res.close();
}

/**
 * Ends a lingering refusal (sendJsonLingering). Not at once: this runs inside uWS's data
 * callback, where the socket is corked and the answer may still sit in the cork buffer, which a
 * close would drop. After the callback uWS has sent it.
 */
export function closeLingering(r: ClientRequest): void {
  if (r.aborted || !r.lingering) return;
  r.lingering = false;
  if (toClose.push(r) === 1) setImmediate(closeLingeringNow);
}

function corkedHeadAndChunk(): void {
  const r = slotReq;
  writeHead(r, headText(r, slotStatus, slotHeaders), slotHeaders);
  slotResult = r.res.write(slotBody);
}

/** Status, upstream headers (filtered) and the first body bytes, in one corked write. */
export function writeHeadAndChunk(r: ClientRequest, status: number, headers: ForwardedHeaders, chunk: Buffer): boolean {
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
  writeHead(r, headText(r, slotStatus, slotHeaders), slotHeaders);
  // uWS's end() writes `Content-Length: 0` for an empty body. A 204 must carry none (RFC 9110
  // §8.6), and a 304's would describe the representation it stands for (§15.4.5), not this
  // response: endWithoutBody() without a length writes no framing line and keeps the connection.
  if (slotStatus === 204 || slotStatus === 304) r.res.endWithoutBody();
  else r.res.end(slotBody);
}

/**
 * A complete response — head, whole body (or none), end — in one corked send, with Content-Length
 * (none for 204 and 304, which have no content).
 */
export function writeHeadAndEnd(r: ClientRequest, status: number, headers: ForwardedHeaders, body: Buffer | null): void {
  if (r.aborted || r.ended) return;
  r.ended = true;
  slotReq = r;
  slotStatus = status;
  slotHeaders = headers;
  slotBody = body ?? '';
  r.res.cork(corkedHeadAndEnd);
  slotHeaders = null;
}

function corkedHeartbeat(): void {
  const r = slotReq;
  if (!r.headSent) writeHead(r, headText(r, 200, null) + EVENT_STREAM_LINES, null);
  slotResult = r.res.write(slotBody);
}

/**
 * A line to a /v1 stream still waiting for a backend (an SSE comment: clients skip it), with a
 * 200 `text/event-stream` head first if none went out yet. Committing the head keeps load
 * balancers from cutting a long wait; from then on errors reach the client as error events.
 */
export function writeHeartbeat(r: ClientRequest, line: string): boolean {
  if (r.aborted || r.ended) return true;
  slotReq = r;
  slotBody = line;
  r.res.cork(corkedHeartbeat);
  return slotResult;
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
