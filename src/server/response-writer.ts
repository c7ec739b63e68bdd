/**
 * The part of uWebSockets.js's HttpResponse that corral writes through (response.ts) and keeps
 * reading a body with (body-deadlines.ts). uWS's own HttpResponse satisfies it as it is; the
 * node:http engine (node-engine.ts) implements it over a ServerResponse (node-response.ts), so
 * response.ts and the proxy serve both engines unchanged.
 */
export interface ResponseWriter {
  /** Runs `cb` with the socket's writes batched into one send. */
  cork(cb: () => void): unknown;
  /** The status text, optionally followed by `\r\nname: value` lines (head-lines.ts), in one string. */
  writeStatus(status: string | Uint8Array): unknown;
  /** A body chunk; false when the client is not keeping up (onWritable says when it is). */
  write(chunk: string | Uint8Array): boolean;
  /** The last (or only) body bytes, framed with a Content-Length when no chunk went before. */
  end(body?: string | Uint8Array, closeConnection?: boolean): unknown;
  /** Ends a response that has no body (HEAD, 204, 304). */
  endWithoutBody(reportedContentLength?: number, closeConnection?: boolean): unknown;
  /** Called each time the client has taken what was buffered, after write() returned false. */
  onWritable(handler: (offset: number) => boolean): unknown;
  /** Drops the connection at once. */
  close(): unknown;
  pause(): void;
  resume(): void;
}
