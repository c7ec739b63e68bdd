import { createRequire } from 'node:module';
import net, { type Socket } from 'node:net';
import { deadlineIn } from '../core/deadline-sweeper.js';
import type { ForwardedHeaders } from './forwarded-headers.js';
import {
  UpstreamClientError, UPSTREAM_BODY_TIMEOUT, UPSTREAM_CLOSED, UPSTREAM_CONNECT_TIMEOUT, UPSTREAM_HEADERS_TIMEOUT, UPSTREAM_PROTOCOL,
} from './errors.js';
import { ResponseParser, type ResponseSink } from './response-parser.js';
import type { UpstreamPool } from './upstream-pool.js';
import type { UpstreamRequest } from './upstream-request.js';

/**
 * One keep-alive HTTP/1.1 connection to an endpoint, carrying one request at a time.
 *
 * Plain TCP reads go into one buffer shared by every connection of the process (net's `onread`
 * option): no Buffer and no stream machinery per read. That is safe because every read is
 * parsed and handed on synchronously — the body views passed to a request are valid only during
 * its onUpstreamData call, and the exchange copies nothing it keeps past that (perf/RESULTS.md).
 * TLS sockets do not take `onread`; they read through 'data' events into Buffers of their own.
 *
 * The socket's handlers are module-level functions that find the connection through a symbol on
 * the socket: no closures per connection or request.
 */

const READ_BUFFER_BYTES = 64 * 1024;
const sharedReadBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
/** Bodies up to this size are copied behind the head for a single write; larger ones go by writev. */
const COALESCE_BODY_BYTES = 16 * 1024;
const CONNECTION = Symbol('corral.upstreamConnection');

// node:tls (with OpenSSL's setup) costs ~3 MB of RSS per worker: loaded only for https endpoints.
let tlsModule: typeof import('node:tls') | null = null;
function tls(): typeof import('node:tls') {
  return (tlsModule ??= createRequire(import.meta.url)('node:tls') as typeof import('node:tls'));
}

type OwnedSocket = Socket & { [CONNECTION]: UpstreamConnection };

function ownerOf(socket: Socket): UpstreamConnection {
  return (socket as OwnedSocket)[CONNECTION];
}

function onRead(this: Socket, nread: number, buf: Buffer): boolean {
  return ownerOf(this).onBytes(buf, nread);
}

function onTlsData(this: Socket, chunk: Buffer): void {
  if (!ownerOf(this).onBytes(chunk, chunk.length)) this.pause();
}

function onConnect(this: Socket): void {
  ownerOf(this).onConnected();
}

function onEnd(this: Socket): void {
  ownerOf(this).onEnded();
}

function onError(this: Socket, err: Error): void {
  ownerOf(this).fail(err);
}

function onClose(this: Socket): void {
  ownerOf(this).onClosed();
}

function closedError(): UpstreamClientError {
  return new UpstreamClientError(UPSTREAM_CLOSED, 'the endpoint closed the connection before the response was complete');
}

export class UpstreamConnection implements ResponseSink {
  readonly pool: UpstreamPool;
  readonly socket: Socket;
  readonly parser: ResponseParser;
  request: UpstreamRequest | null;
  connected: boolean;
  closed: boolean;
  paused: boolean;
  /** coarseNow after which the current wait fails (Infinity while paused by the client). */
  deadline: number;
  idleSince: number;
  /** How long this connection may sit idle: the pool's keep-alive, shortened by the endpoint's hint. */
  keepAliveMs: number;

  constructor(pool: UpstreamPool, request: UpstreamRequest) {
    this.pool = pool;
    this.parser = new ResponseParser(this);
    this.request = request;
    request.connection = this;
    this.connected = false;
    this.closed = false;
    this.paused = false;
    this.deadline = deadlineIn(pool.connectTimeout);
    this.idleSince = 0;
    this.keepAliveMs = pool.keepAliveMs;
    let socket: Socket;
    if (pool.tls) {
      socket = tls().connect({ host: pool.host, port: pool.port, servername: pool.servername, ALPNProtocols: ['http/1.1'] });
      socket.setNoDelay(true);
      socket.on('secureConnect', onConnect);
      socket.on('data', onTlsData);
    } else {
      socket = net.connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: sharedReadBuffer, callback: onRead } });
      socket.on('connect', onConnect);
    }
    (socket as OwnedSocket)[CONNECTION] = this;
    socket.on('end', onEnd);
    socket.on('error', onError);
    socket.on('close', onClose);
    this.socket = socket;
  }

  /** Sends `request` on this (idle, connected) connection. */
  assign(request: UpstreamRequest): void {
    this.request = request;
    request.connection = this;
    this.paused = false;
    this.parser.reset();
    this.#send(request);
  }

  onConnected(): void {
    this.connected = true;
    const request = this.request;
    // Its request was abandoned while connecting: the connection serves the next one instead.
    if (request === null) this.pool.release(this);
    else this.#send(request);
  }

  #send(request: UpstreamRequest): void {
    this.deadline = deadlineIn(this.pool.firstByteTimeout);
    const head = request.requestHead;
    const body = request.body;
    const skip = request.bodySkip;
    if (body.length <= COALESCE_BODY_BYTES) {
      // One buffer, one write, one syscall. The body goes in first, the head over its start: a
      // skipped byte is overwritten by the head's last one (UpstreamRequest.bodySkip).
      const out = Buffer.allocUnsafe(head.length + body.length - skip);
      // TypedArray#set, not Buffer#copy: the same copy without node:buffer's argument handling.
      out.set(body, head.length - skip);
      out.write(head, 0, head.length, 'latin1');
      this.socket.write(out);
    } else {
      this.socket.cork();
      this.socket.write(head, 'latin1');
      this.socket.write(skip === 0 ? body : body.subarray(skip));
      this.socket.uncork();
    }
  }

  /** Parses what was read; false pauses the socket (the client is not taking the body fast enough). */
  onBytes(buf: Buffer, n: number): boolean {
    if (this.request === null) {
      // Bytes nobody asked for (a response after an abandoned request, or garbage while idle).
      this.destroy();
      return false;
    }
    const consumed = this.parser.execute(buf, 0, n);
    if (consumed < 0) {
      this.fail(new UpstreamClientError(UPSTREAM_PROTOCOL, `invalid response: ${this.parser.error}`));
      return false;
    }
    // Abandoned during a callback (a retry on a 503, the client gone): already destroyed.
    if (this.request === null) return false;
    if (this.parser.done) {
      // Bytes after the end of the response belong to no request: do not reuse the connection.
      this.#finishResponse(consumed === n);
      return !this.closed;
    }
    if (this.paused) {
      this.deadline = Infinity;
      return false;
    }
    // The first-byte deadline set at send stands until the whole head is in (a head trickling in
    // byte by byte does not extend it); after that, every read restarts the idle deadline.
    if (this.parser.headReceived) this.deadline = deadlineIn(this.pool.idleTimeout);
    return true;
  }

  onResponseHead(status: number, headers: ForwardedHeaders, contentLength: number): void {
    this.request?.onUpstreamHead(status, headers, contentLength);
  }

  onResponseData(chunk: Buffer): void {
    const request = this.request;
    if (request !== null && !request.onUpstreamData(chunk)) this.paused = true;
  }

  onResponseEnd(): void {
    // Handled after the parse returns (#finishResponse): the connection is released first.
  }

  #finishResponse(reusable: boolean): void {
    const request = this.request!;
    this.request = null;
    request.connection = null;
    this.deadline = Infinity;
    // Reused only when the whole request went out: a backend that answered early (a 413 to a large
    // body still being written) would read the rest of that body as the next request.
    if (reusable && this.parser.keepAlive && !this.pool.closed && this.socket.writableLength === 0) {
      const hint = this.parser.keepAliveHintMs;
      // Close a second before the endpoint's own idle timeout would, to avoid racing it.
      this.keepAliveMs = hint > 0 ? Math.min(this.pool.keepAliveMs, Math.max(0, hint - 1000)) : this.pool.keepAliveMs;
      this.pool.release(this);
    } else {
      this.destroy();
    }
    request.onUpstreamEnd();
    // The head was written by now (in onUpstreamEnd at the latest).
    this.parser.releaseHeaders();
  }

  /** The client under backpressure drained: read again. */
  resume(request: UpstreamRequest): void {
    if (this.request !== request || !this.paused) return;
    this.paused = false;
    this.deadline = deadlineIn(this.pool.idleTimeout);
    this.socket.resume();
  }

  /** The request's owner gave it up: the response still in flight makes the connection unusable. */
  abort(request: UpstreamRequest): void {
    if (this.request !== request) return;
    this.request = null;
    request.connection = null;
    // Still connecting: nothing was sent, so the connection can serve the next request.
    if (!this.connected) return;
    this.destroy();
  }

  onEnded(): void {
    if (this.request !== null && this.parser.finishAtEof()) this.#finishResponse(false);
    else this.fail(closedError());
  }

  onClosed(): void {
    this.fail(closedError());
  }

  /** Ends the connection; a request it carried gets `err`. */
  fail(err: Error): void {
    const request = this.request;
    this.request = null;
    this.destroy();
    if (request === null) return;
    request.connection = null;
    // No resend on a reused connection found closed: a backend that crashed on this request looks
    // the same, and the exchange retries elsewhere. Closing idle connections before the
    // endpoint's own keep-alive timeout (keepAliveMs) keeps that race rare.
    if (!request.abandoned) request.onUpstreamError(err);
  }

  /** From the pool's sweep: fails a request past its deadline, closes a connection idle too long. */
  checkDeadline(now: number): void {
    if (this.request !== null) {
      if (now <= this.deadline) return;
      if (!this.connected) {
        this.fail(new UpstreamClientError(UPSTREAM_CONNECT_TIMEOUT, `no connection to the endpoint within upstream.connect_timeout (${this.pool.connectTimeout} ms)`));
      } else if (this.parser.headReceived) {
        this.fail(new UpstreamClientError(UPSTREAM_BODY_TIMEOUT, `the endpoint went silent for longer than upstream.idle_timeout (${this.pool.idleTimeout} ms)`));
      } else {
        this.fail(new UpstreamClientError(UPSTREAM_HEADERS_TIMEOUT, `no response head within upstream.first_byte_timeout (${this.pool.firstByteTimeout} ms)`));
      }
    } else if (this.connected ? now - this.idleSince > this.keepAliveMs : now > this.deadline) {
      // (idleSince is from the coarse clock, so an idle connection may close up to a tick early:
      // harmless, and on the safe side of the endpoint's own keep-alive timeout.)
      this.destroy();
    }
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.deadline = Infinity;
    this.socket.destroy();
    this.pool.forget(this);
  }
}
