import { isIP } from 'node:net';
import type { UpstreamConfig } from '../config/types.js';
import { coarseNow, unwatchDeadlines, watchDeadlines, type DeadlineOwner } from '../core/deadline-sweeper.js';
import { UpstreamClientError, UPSTREAM_POOL_CLOSED } from './errors.js';
import { UpstreamConnection } from './upstream-connection.js';
import type { UpstreamRequest } from './upstream-request.js';

/**
 * Keep-alive HTTP/1.1 connections to one endpoint origin, per process: at most
 * upstream.connections of them, one request each at a time (no pipelining: a slow generation
 * must not hold up the request behind it). The most recently used idle connection is reused
 * first, so the rest age out after `keepAliveMs`. Requests wait in FIFO order when every
 * connection is busy.
 */
export class UpstreamPool implements DeadlineOwner {
  readonly host: string;
  readonly port: number;
  readonly tls: boolean;
  readonly servername: string | undefined;
  readonly connectTimeout: number;
  readonly firstByteTimeout: number;
  readonly idleTimeout: number;
  readonly keepAliveMs: number;
  readonly maxConnections: number;
  closed: boolean;
  readonly connections: Set<UpstreamConnection>;
  readonly #idle: UpstreamConnection[];
  #queue: (UpstreamRequest | undefined)[];
  #queueHead: number;
  #whenEmpty: (() => void)[];

  constructor(origin: URL, config: UpstreamConfig, keepAliveMs = 30_000) {
    this.tls = origin.protocol === 'https:';
    // URL keeps IPv6 literals bracketed; sockets want them bare.
    this.host = origin.hostname.startsWith('[') ? origin.hostname.slice(1, -1) : origin.hostname;
    this.port = origin.port === '' ? (this.tls ? 443 : 80) : Number(origin.port);
    this.servername = this.tls && isIP(this.host) === 0 ? this.host : undefined;
    this.connectTimeout = config.connect_timeout;
    this.firstByteTimeout = config.first_byte_timeout;
    this.idleTimeout = config.idle_timeout;
    this.keepAliveMs = keepAliveMs;
    this.maxConnections = config.connections;
    this.closed = false;
    this.connections = new Set();
    this.#idle = [];
    this.#queue = [];
    this.#queueHead = 0;
    this.#whenEmpty = [];
    watchDeadlines(this, Math.min(this.connectTimeout, this.firstByteTimeout, this.idleTimeout, keepAliveMs));
  }

  /** Sends `request` on an idle connection, a new one, or when one frees up. */
  dispatch(request: UpstreamRequest): void {
    if (this.closed) return this.#refuse(request);
    let conn: UpstreamConnection | undefined;
    while ((conn = this.#idle.pop()) !== undefined) {
      if (!conn.closed) return conn.assign(request);
    }
    if (this.connections.size < this.maxConnections) this.#open(request);
    else this.#queue.push(request);
  }

  #open(request: UpstreamRequest): void {
    this.connections.add(new UpstreamConnection(this, request));
  }

  #refuse(request: UpstreamRequest): void {
    // Never synchronously inside the caller's dispatch: it has not finished setting up.
    process.nextTick(refuseClosed, request);
  }

  #nextQueued(): UpstreamRequest | undefined {
    while (this.#queueHead < this.#queue.length) {
      const next = this.#queue[this.#queueHead]!;
      this.#queue[this.#queueHead++] = undefined;
      // Under sustained saturation the queue may never empty: drop the consumed front now and then.
      if (this.#queueHead > 1024 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
      if (!next.abandoned) return next;
    }
    if (this.#queueHead > 0) {
      this.#queue = [];
      this.#queueHead = 0;
    }
    return undefined;
  }

  /** A connection finished its response and may carry another. */
  release(conn: UpstreamConnection): void {
    if (this.closed) return conn.destroy();
    const next = this.#nextQueued();
    if (next !== undefined) return conn.assign(next);
    conn.idleSince = coarseNow;
    this.#idle.push(conn);
  }

  /** A connection closed: drop it, and open another for a waiting request. */
  forget(conn: UpstreamConnection): void {
    if (!this.connections.delete(conn)) return;
    const at = this.#idle.indexOf(conn);
    if (at >= 0) this.#idle.splice(at, 1);
    if (!this.closed) {
      const next = this.#nextQueued();
      if (next !== undefined) this.#open(next);
    } else if (this.connections.size === 0) {
      this.#closed();
    }
  }

  sweep(now: number): void {
    for (const conn of this.connections) conn.checkDeadline(now);
  }

  /** Refuses new requests, closes idle connections, and resolves once the busy ones are done. */
  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      for (let next = this.#nextQueued(); next !== undefined; next = this.#nextQueued()) this.#refuse(next);
      for (const conn of this.#idle.splice(0)) conn.destroy();
    }
    if (this.connections.size === 0) {
      this.#closed();
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#whenEmpty.push(resolve));
  }

  /** Closed and empty: busy connections kept their deadlines until now. */
  #closed(): void {
    unwatchDeadlines(this);
    for (const resolve of this.#whenEmpty.splice(0)) resolve();
  }
}

function refuseClosed(request: UpstreamRequest): void {
  if (!request.abandoned) request.onUpstreamError(new UpstreamClientError(UPSTREAM_POOL_CLOSED, 'the endpoint\'s connection pool was closed'));
}
