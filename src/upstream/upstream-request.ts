import type { ForwardedHeaders } from './forwarded-headers.js';
import type { UpstreamConnection } from './upstream-connection.js';

/**
 * One request to send upstream and the receiver of its response. The pool and the connection
 * call these methods; the connection delivers nothing to a request once it was abandoned.
 */
export interface UpstreamRequest {
  /** Request line and header block, ending in the blank line, as latin1 (one byte per char). */
  readonly requestHead: string;
  readonly body: Buffer;
  /**
   * Leading bytes of `body` the head replaces (0 or 1): the head then ends with what goes in their
   * place — how a field is inserted at the front of a JSON body without copying it twice
   * (proxy/num-ctx-injection.ts). `body.length - bodySkip` bytes of it are sent.
   */
  readonly bodySkip: number;
  /** The connection carrying it, once one was assigned (null while queued or connecting). */
  connection: UpstreamConnection | null;
  /** Given up by its owner: skip it in the queue; the connection that carries it is destroyed. */
  abandoned: boolean;

  /**
   * `headers` (the lines to pass on) are valid until the call that ends the response
   * (onUpstreamEnd) returns: the connection's parser refills them with its next head
   * (response-parser.ts). Not to be kept past the response.
   */
  onUpstreamHead(status: number, headers: ForwardedHeaders, contentLength: number): void;
  /** `chunk` is valid only during the call. Returning false pauses the connection until resume(). */
  onUpstreamData(chunk: Buffer): boolean;
  onUpstreamEnd(): void;
  onUpstreamError(err: Error): void;
}
