import type { ServerResponse } from 'node:http';
import type { ResponseWriter } from './response-writer.js';

/**
 * The uWS HttpResponse calls response.ts makes, over a node:http ServerResponse (the node engine,
 * node-engine.ts). corral hands uWS a head as one string — status text, then `\r\nname: value`
 * lines (head-lines.ts) — so the head is parsed back into a status and a flat header list and
 * given to writeHead when the first body bytes go: node then frames the body itself, with a
 * Content-Length for a whole body, chunked for a streamed one to an HTTP/1.1 client, and delimited
 * by the connection's close for an HTTP/1.0 client (RFC 9112 §6.3), which is what nginx's default
 * `proxy_http_version 1.0` needs.
 */
export class NodeResponse implements ResponseWriter {
  readonly #res: ServerResponse;
  #status: number;
  #message: string;
  /** Header names and values in one flat list, as writeHead takes them (repeats kept). */
  #lines: string[];
  #headWritten: boolean;
  /**
   * The head came as latin1 bytes (upstream obs-text, response.ts). node writes a head together
   * with a first chunk given as a string in the string's encoding (UTF-8), which would turn each
   * such byte into two: string chunks then go as Buffers, and the head on its own as latin1.
   */
  #latin1Head: boolean;
  #writable: ((offset: number) => boolean) | null;

  constructor(res: ServerResponse) {
    this.#res = res;
    this.#status = 200;
    this.#message = 'OK';
    this.#lines = [];
    this.#headWritten = false;
    this.#latin1Head = false;
    this.#writable = null;
  }

  /** node batches a head with the first body bytes by itself; nothing to cork. */
  cork(cb: () => void): this {
    cb();
    return this;
  }

  writeStatus(status: string | Uint8Array): this {
    // A head with upstream bytes ≥ 0x80 comes as latin1 bytes; node writes heads as latin1 too.
    this.#latin1Head = typeof status !== 'string';
    const text = typeof status === 'string' ? status : Buffer.from(status.buffer, status.byteOffset, status.byteLength).toString('latin1');
    // The whole response in one string (response.ts, sendJsonLingering): the head, a blank line
    // and a body its Content-Length counts with the CRLF uWS would append.
    const blank = text.indexOf('\r\n\r\n');
    const head = blank < 0 ? text : text.slice(0, blank);
    let eol = head.indexOf('\r\n');
    const first = eol < 0 ? head : head.slice(0, eol);
    const space = first.indexOf(' ');
    this.#status = Number(space < 0 ? first : first.slice(0, space));
    this.#message = space < 0 ? '' : first.slice(space + 1);
    while (eol >= 0) {
      const start = eol + 2;
      eol = head.indexOf('\r\n', start);
      const line = eol < 0 ? head.slice(start) : head.slice(start, eol);
      const colon = line.indexOf(':');
      // node writes `name: value`: the one space corral (or the backend) put after the colon is
      // node's; what follows goes as it came, padding included (passed on byte for byte).
      if (colon > 0) this.#lines.push(line.slice(0, colon), line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1));
    }
    if (blank >= 0) {
      this.#writeHead();
      this.#res.write(`${text.slice(blank + 4)}\r\n`);
    }
    return this;
  }

  write(chunk: string | Uint8Array): boolean {
    if (!this.#headWritten) this.#writeHead();
    return this.#res.write(this.#latin1Head && typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  }

  end(body: string | Uint8Array = '', closeConnection = false): this {
    if (!this.#headWritten) {
      // A whole body: framed by its length, as uWS's end() does; 204 and 304 carry none.
      if (this.#status !== 204 && this.#status !== 304) {
        this.#lines.push('Content-Length', String(typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength));
      }
      if (closeConnection) this.#lines.push('connection', 'close');
      this.#writeHead();
    }
    this.#res.end(this.#latin1Head && typeof body === 'string' ? Buffer.from(body) : body);
    return this;
  }

  endWithoutBody(reportedContentLength?: number, closeConnection = false): this {
    if (!this.#headWritten) {
      if (reportedContentLength !== undefined) this.#lines.push('Content-Length', String(reportedContentLength));
      if (closeConnection) this.#lines.push('connection', 'close');
      this.#writeHead();
    }
    this.#res.end();
    return this;
  }

  onWritable(handler: (offset: number) => boolean): this {
    if (this.#writable === null) this.#res.on('drain', () => this.#writable!(0));
    this.#writable = handler;
    return this;
  }

  close(): this {
    this.#res.socket?.destroy();
    return this;
  }

  /**
   * body-deadlines.ts pauses and resumes an upload on every tick to restart uWS's idle clock;
   * node:http has no such clock on a request being received (requestTimeout is off, node-engine.ts).
   */
  pause(): void {}
  resume(): void {}

  #writeHead(): void {
    this.#headWritten = true;
    this.#res.writeHead(this.#status, this.#message, this.#lines);
  }
}
