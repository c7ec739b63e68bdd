import { REASON_PHRASES } from './status-lines.js';

/**
 * The text of the response heads corral writes. A head goes to uWS in one writeStatus call: uWS
 * writes the status argument as it is, between `HTTP/1.1 ` and a CRLF, so a status text followed
 * by `\r\nname: value` lines yields the same bytes as a writeStatus and one writeHeader per line.
 *
 * Why: every uWS call is a crossing into C++ plus a conversion per argument, about 950
 * instructions per writeHeader (callgrind, perf/RESULTS.md Optimisation 9), and a proxied
 * response had six. It puts on corral the one duty at stake: no CR or LF inside a line. Lines
 * passed on from upstream were checked by the response parser; corral's own values are tokens
 * (endpoint names, route labels, numbers, ids it made); a client's request id is masked
 * (requestIdLine).
 */

const STATUS_TEXTS: string[] = [];
for (const [code, text] of Object.entries(REASON_PHRASES)) STATUS_TEXTS[Number(code)] = `${code} ${text}`;

/** "200 OK", "503 Service Unavailable", …; a code without a reason phrase gets "Unknown". */
export function statusText(status: number): string {
  return STATUS_TEXTS[status] ?? `${status} Unknown`;
}

export const CONTENT_TYPE_JSON_LINE = '\r\ncontent-type: application/json; charset=utf-8';
export const CONNECTION_CLOSE_LINE = '\r\nconnection: close';

/** Printable ASCII and HTAB: what a header value may hold here. */
const UNPRINTABLE = /[^\t\x20-\x7e]/g;

/**
 * `x-corral-request-id`. An id the client sent is normally checked before any answer
 * (proxy.ts); one echoed on an error raised before that check is masked, each character outside
 * printable ASCII written as `?`, so it cannot end its line.
 */
export function requestIdLine(id: string, fromClient: boolean): string {
  return `\r\nx-corral-request-id: ${fromClient ? id.replace(UNPRINTABLE, '?') : id}`;
}

/** An extra line from corral itself (Retry-After, Allow): name and value are its own constants. */
export function extraLine(name: string, value: string): string {
  return `\r\n${name}: ${value}`;
}

/** `x-corral-endpoint`, `x-corral-route` and `x-corral-retries`: which backend answered, and how. */
export function routingLines(endpointName: string, routeLabel: string, retries: number): string {
  return `\r\nx-corral-endpoint: ${endpointName}\r\nx-corral-route: ${routeLabel}\r\nx-corral-retries: ${retries}`;
}

/** `x-corral-num-ctx: N` by N (the few bucket sizes), made once each: the context corral chose. */
const numCtxLines = new Map<number, string>();
let lastNumCtx = 0;
let lastLine = '';
export function numCtxLine(numCtx: number): string {
  if (numCtx === lastNumCtx) return lastLine;
  let line = numCtxLines.get(numCtx);
  if (line === undefined) {
    line = `\r\nx-corral-num-ctx: ${numCtx}`;
    if (numCtxLines.size < 64) numCtxLines.set(numCtx, line);
  }
  lastNumCtx = numCtx;
  lastLine = line;
  return line;
}

/** `x-corral-queue-wait: N`: how long the request waited in its model's admission queue, in ms. */
export function queueWaitLine(ms: number): string {
  return `\r\nx-corral-queue-wait: ${ms}`;
}

/** The head of a /v1 stream whose first bytes are queue heartbeats (SSE comments), before any backend answered. */
export const EVENT_STREAM_LINES = '\r\ncontent-type: text/event-stream\r\ncache-control: no-cache';
