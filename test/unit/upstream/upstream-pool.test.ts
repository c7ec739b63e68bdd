import { once } from 'node:events';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import t, { type Test } from 'tap';
import type { UpstreamConfig } from '../../../src/config/types.js';
import {
  UPSTREAM_BODY_TIMEOUT, UPSTREAM_CLOSED, UPSTREAM_HEADERS_TIMEOUT, UPSTREAM_POOL_CLOSED, UPSTREAM_PROTOCOL,
} from '../../../src/upstream/errors.js';
import type { ForwardedHeaders } from '../../../src/upstream/forwarded-headers.js';
import type { UpstreamConnection } from '../../../src/upstream/upstream-connection.js';
import { UpstreamPool } from '../../../src/upstream/upstream-pool.js';
import type { UpstreamRequest } from '../../../src/upstream/upstream-request.js';


// ---------------------------------------------------------------------------------------------
// A scripted HTTP/1.1 server: it parses requests (head + Content-Length body) off each connection
// and hands them to the test, which writes whatever raw bytes it wants back.

interface ServerRequest {
  head: string;
  body: Buffer;
  /** Every byte of the request as received. */
  raw: Buffer;
  conn: ServerConn;
}

class ServerConn {
  readonly socket: net.Socket;
  readonly index: number;
  readonly requests: ServerRequest[] = [];
  /** Every byte received on this connection. */
  readonly received: Buffer[] = [];
  readonly closed: Promise<void>;
  #pending = Buffer.alloc(0);

  constructor(socket: net.Socket, index: number, onRequest: (req: ServerRequest) => void) {
    this.socket = socket;
    this.index = index;
    this.closed = once(socket, 'close').then(() => undefined);
    socket.on('error', () => {}); // resets from the client are expected in some tests
    socket.on('data', (data: Buffer) => {
      this.received.push(data);
      this.#pending = Buffer.concat([this.#pending, data]);
      for (;;) {
        const end = this.#pending.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.#pending.toString('latin1', 0, end + 4);
        const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const length = m === null ? 0 : Number(m[1]);
        if (this.#pending.length < end + 4 + length) return;
        const raw = this.#pending.subarray(0, end + 4 + length);
        this.#pending = this.#pending.subarray(raw.length);
        const req: ServerRequest = { head, body: raw.subarray(end + 4), raw, conn: this };
        this.requests.push(req);
        onRequest(req);
      }
    });
  }

  get receivedBytes(): Buffer {
    return Buffer.concat(this.received);
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  }
}

class ScriptedServer {
  readonly server: net.Server;
  readonly conns: ServerConn[] = [];
  /** What to do with each request; by default nothing (the test answers through `nextRequest`). */
  onRequest: (req: ServerRequest) => void = () => {};
  readonly #connWaiters: ((c: ServerConn) => void)[] = [];
  readonly #requestQueue: ServerRequest[] = [];
  readonly #requestWaiters: ((r: ServerRequest) => void)[] = [];

  constructor() {
    this.server = net.createServer((socket) => {
      const conn = new ServerConn(socket, this.conns.length, (req) => {
        const waiter = this.#requestWaiters.shift();
        if (waiter !== undefined) waiter(req);
        else this.#requestQueue.push(req);
        this.onRequest(req);
      });
      this.conns.push(conn);
      this.#connWaiters.shift()?.(conn);
    });
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  async listen(): Promise<this> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return this;
  }

  /** The next request received (in arrival order, across connections). */
  nextRequest(): Promise<ServerRequest> {
    const queued = this.#requestQueue.shift();
    if (queued !== undefined) return Promise.resolve(queued);
    return new Promise((resolve) => this.#requestWaiters.push(resolve));
  }

  /** The connection with this index, once accepted. */
  connection(index: number): Promise<ServerConn> {
    if (index < this.conns.length) return Promise.resolve(this.conns[index]!);
    if (index !== this.conns.length + this.#connWaiters.length) throw new Error('wait for connections in order');
    return new Promise((resolve) => this.#connWaiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const c of this.conns) c.socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A response with a Content-Length body. */
const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n${extra}Content-Length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;

// ---------------------------------------------------------------------------------------------
// The caller's side: an UpstreamRequest that records what the pool delivers.

type Code = string | undefined;

class TestRequest implements UpstreamRequest {
  readonly bodySkip = 0;
  readonly requestHead: string;
  readonly body: Buffer;
  connection: UpstreamConnection | null = null;
  abandoned = false;
  status = 0;
  headers: string[] = [];
  contentLength = Number.NaN;
  readonly chunks: Buffer[] = [];
  readonly events: string[] = [];
  error: (Error & { code?: string }) | null = null;
  /** The connection that carried it, as seen when its head arrived. */
  carriedBy: UpstreamConnection | null = null;
  /** What onUpstreamData returns (true: keep reading). */
  dataResult: (chunk: Buffer) => boolean = () => true;
  /** The headers object as delivered, and what it held when the response ended (when the proxy writes the head). */
  headersObject: ForwardedHeaders | null = null;
  headersAtEnd: string[] = [];
  /** Called at the start of onUpstreamEnd. */
  atEnd: (() => void) | null = null;
  /** Resolves on end or error. */
  readonly settled: Promise<void>;
  #settle!: () => void;
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(body: string | Buffer = '', path = '/x', extraHeaders = '') {
    this.body = typeof body === 'string' ? Buffer.from(body, 'latin1') : body;
    this.requestHead = `POST ${path} HTTP/1.1\r\nhost: h\r\n${extraHeaders}content-length: ${this.body.length}\r\n\r\n`;
    this.settled = new Promise((resolve) => (this.#settle = resolve));
  }

  get text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  get bytesReceived(): number {
    let n = 0;
    for (const c of this.chunks) n += c.length;
    return n;
  }

  get code(): Code {
    return this.error?.code;
  }

  /** Resolves once `test` holds after some callback (or at once). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  onUpstreamHead(status: number, headers: ForwardedHeaders, contentLength: number): void {
    this.events.push('head');
    this.status = status;
    this.headers = headers.toPairs();
    this.headersObject = headers;
    this.contentLength = contentLength;
    this.carriedBy = this.connection;
    this.#check();
  }

  onUpstreamData(chunk: Buffer): boolean {
    this.events.push('data');
    this.chunks.push(Buffer.from(chunk));
    const result = this.dataResult(chunk);
    this.#check();
    return result;
  }

  onUpstreamEnd(): void {
    this.atEnd?.();
    this.headersAtEnd = this.headersObject?.toPairs() ?? [];
    this.events.push('end');
    this.#check();
    this.#settle();
  }

  onUpstreamError(err: Error): void {
    this.events.push('error');
    this.error = err;
    this.#check();
    this.#settle();
  }

  #check(): void {
    this.#waiters = this.#waiters.filter((w) => {
      if (!w.test()) return true;
      w.resolve();
      return false;
    });
  }
}

const config = (over: Partial<UpstreamConfig> = {}): UpstreamConfig => ({
  connect_timeout: 5000,
  first_byte_timeout: 5000,
  idle_timeout: 5000,
  connections: 8,
  ...over,
});

const TEST = { timeout: 10_000 };

/** A scripted server and a pool to it, both closed when the test ends. */
async function setup(t: Test, over: Partial<UpstreamConfig> = {}, keepAliveMs?: number): Promise<{ server: ScriptedServer; pool: UpstreamPool }> {
  const server = await new ScriptedServer().listen();
  const pool = new UpstreamPool(new URL(`http://127.0.0.1:${server.port}`), config(over), keepAliveMs);
  t.teardown(async () => {
    await server.close();
    await pool.close();
  });
  return { server, pool };
}

/** Lets pending I/O callbacks and ticks run (to observe that nothing more is delivered). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------

t.test('a request and its response: the exact bytes sent, the head and body received', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const small = new TestRequest('{"model":"m","prompt":"hi"}', '/api/generate', 'x-name: caf\u00e9\r\n');
  pool.dispatch(small);
  const req = await server.nextRequest();
  t.same(req.raw, Buffer.concat([Buffer.from(small.requestHead, 'latin1'), small.body]), 'head (latin1, one byte per char) then body');
  t.equal(req.raw.indexOf(Buffer.from([0xe9])), req.head.indexOf('\u00e9'), 'é went as the single byte 0xe9');
  req.conn.write('HTTP/1.1 201 Created\r\nX-Backend: b1\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{"ok":true}');
  await small.settled;
  t.same(small.events, ['head', 'data', 'end']);
  t.equal(small.status, 201);
  t.same(small.headers, ['X-Backend', 'b1', 'Content-Type', 'application/json']);
  t.equal(small.contentLength, 11);
  t.equal(small.text, '{"ok":true}');
  t.equal(small.error, null);
  t.equal(small.connection, null, 'released from its connection once done');

  // A body too big to be copied behind the head goes as its own write: the bytes are the same.
  const bigBody = Buffer.alloc(100 * 1024);
  for (let i = 0; i < bigBody.length; i++) bigBody[i] = (i * 7) & 0xff;
  const big = new TestRequest(bigBody, '/v1/chat/completions');
  pool.dispatch(big);
  const bigReq = await server.nextRequest();
  t.same(bigReq.raw, Buffer.concat([Buffer.from(big.requestHead, 'latin1'), bigBody]), 'a 100 KiB body arrives intact after its head');
  bigReq.conn.write(ok('done'));
  await big.settled;
  t.equal(big.text, 'done');
  t.equal(server.conns.length, 1, 'both on one connection');
  t.same(server.conns[0]!.receivedBytes, Buffer.concat([small.requestHead, small.body, big.requestHead, bigBody].map((b) => (typeof b === 'string' ? Buffer.from(b, 'latin1') : b))),
    'nothing else was sent');
});

t.test('keep-alive: sequential requests reuse one connection', TEST, async (t) => {
  const { server, pool } = await setup(t);
  server.onRequest = (req) => req.conn.write(ok(`reply ${req.conn.requests.length}`));
  for (let i = 1; i <= 3; i++) {
    const r = new TestRequest(`body ${i}`);
    pool.dispatch(r);
    await r.settled;
    t.equal(r.text, `reply ${i}`);
    t.equal(pool.connections.size, 1);
  }
  t.equal(server.conns.length, 1, 'one server-side connection');
  t.equal(server.conns[0]!.requests.length, 3);
});

t.test('a Connection: close response: the next request opens a new connection', TEST, async (t) => {
  const { server, pool } = await setup(t);
  server.onRequest = (req) => req.conn.write(req.conn.index === 0 ? ok('bye', 'Connection: close\r\n') : ok('hello'));
  const first = new TestRequest();
  pool.dispatch(first);
  await first.settled;
  t.equal(first.text, 'bye');
  t.same(first.events, ['head', 'data', 'end']);
  t.equal(pool.connections.size, 0, 'not kept');
  await server.conns[0]!.closed;
  const second = new TestRequest();
  pool.dispatch(second);
  await second.settled;
  t.equal(second.text, 'hello');
  t.equal(server.conns.length, 2);
  t.equal(server.conns[1]!.requests.length, 1);
});

t.test('max connections: with connections=1, concurrent requests wait in order for the one connection', TEST, async (t) => {
  const { server, pool } = await setup(t, { connections: 1 });
  const reqs = [new TestRequest('a', '/1'), new TestRequest('b', '/2'), new TestRequest('c', '/3')];
  for (const r of reqs) pool.dispatch(r);
  t.equal(pool.connections.size, 1, 'no second connection');
  t.ok(reqs[0]!.connection !== null, 'the first has the connection');
  t.equal(reqs[1]!.connection, null, 'the second waits');
  t.equal(reqs[2]!.connection, null, 'the third waits');
  // The connection is released (and given to the next request) before the finished one is told
  // it ended, which is when the proxy writes the head: its header lines must still be there.
  const handedOnBeforeEnd: boolean[] = [];
  reqs[0]!.atEnd = () => handedOnBeforeEnd.push(reqs[1]!.connection !== null);
  reqs[1]!.atEnd = () => handedOnBeforeEnd.push(reqs[2]!.connection !== null);
  const first = await server.nextRequest();
  t.match(first.head, /^POST \/1 /);
  t.equal(first.conn.requests.length, 1, 'only the first was sent (no pipelining)');
  first.conn.write(ok('one', 'X-N: 1\r\n'));
  const second = await server.nextRequest();
  t.match(second.head, /^POST \/2 /);
  t.ok(reqs[0]!.events.includes('end'), 'the second was sent after the first completed');
  second.conn.write(ok('two', 'X-N: 2\r\n'));
  const third = await server.nextRequest();
  t.match(third.head, /^POST \/3 /);
  third.conn.write(ok('three', 'X-N: 3\r\n'));
  await Promise.all(reqs.map((r) => r.settled));
  t.same(reqs.map((r) => r.text), ['one', 'two', 'three']);
  t.equal(server.conns.length, 1, 'all three on one server-side connection');
  t.same(reqs.map((r) => r.headersAtEnd), [1, 2, 3].map((n) => ['Content-Type', 'text/plain', 'X-N', String(n)]),
    'each response\'s headers intact when its end is delivered');
  t.same(handedOnBeforeEnd, [true, true], 'though the connection had already been given to the next request');
  t.same(server.conns[0]!.requests.map((r) => r.body.toString()), ['a', 'b', 'c'], 'in FIFO order');
});

t.test('a request abandoned while queued is skipped', TEST, async (t) => {
  const { server, pool } = await setup(t, { connections: 1 });
  server.onRequest = (req) => req.conn.write(ok(req.body.toString()));
  const a = new TestRequest('a');
  const b = new TestRequest('b');
  const c = new TestRequest('c');
  pool.dispatch(a);
  pool.dispatch(b);
  pool.dispatch(c);
  b.abandoned = true;
  await Promise.all([a.settled, c.settled]);
  t.equal(a.text, 'a');
  t.equal(c.text, 'c');
  t.same(b.events, [], 'the abandoned one got nothing');
  t.same(server.conns[0]!.requests.map((r) => r.body.toString()), ['a', 'c'], 'and was never sent');
});

t.test('a chunked response streamed by the server arrives as separate data callbacks', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/event-stream\r\n\r\n');
  await r.until(() => r.status !== 0);
  t.equal(r.contentLength, -1);
  t.same(r.headers, ['Content-Type', 'text/event-stream']);
  req.conn.write('7\r\ntoken 1\r\n');
  await r.until(() => r.chunks.length === 1);
  t.equal(r.chunks[0]!.toString(), 'token 1', 'the first chunk, before the next was even written');
  req.conn.write('7\r\ntoken 2\r\n');
  await r.until(() => r.chunks.length === 2);
  req.conn.write('7;ext=1\r\ntoken 3\r\n0\r\nX-Trailer: t\r\n\r\n');
  await r.settled;
  t.same(r.chunks.map((c) => c.toString()), ['token 1', 'token 2', 'token 3']);
  t.same(r.events, ['head', 'data', 'data', 'data', 'end']);

  // The connection is reusable after a chunked response.
  const again = new TestRequest();
  pool.dispatch(again);
  (await server.nextRequest()).conn.write(ok('again'));
  await again.settled;
  t.equal(again.text, 'again');
  t.equal(server.conns.length, 1);
});

t.test('a body that runs until the server closes completes at the close', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, ');
  await r.until(() => r.chunks.length === 1);
  req.conn.socket.end('part two');
  await r.settled;
  t.same(r.events.at(-1), 'end');
  t.equal(r.error, null);
  t.equal(r.text, 'part one, part two');
  t.equal(r.contentLength, -1);
  await req.conn.closed;
  t.equal(pool.connections.size, 0, 'not reused');
});

t.test('the server destroying the socket mid-body fails the request', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
  await r.until(() => r.bytesReceived === 10);
  req.conn.socket.destroy();
  await r.settled;
  t.ok(r.code === UPSTREAM_CLOSED || r.code === 'ECONNRESET', `code ${r.code}`);
  t.same(r.events, ['head', 'data', 'error'], 'an error, no end');
  t.equal(pool.connections.size, 0);

  // And with a reset instead of a close.
  const r2 = new TestRequest();
  pool.dispatch(r2);
  const req2 = await server.nextRequest();
  req2.conn.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
  await r2.until(() => r2.bytesReceived === 10);
  req2.conn.socket.resetAndDestroy();
  await r2.settled;
  t.ok(r2.code === UPSTREAM_CLOSED || r2.code === 'ECONNRESET', `code ${r2.code}`);
  t.same(r2.events, ['head', 'data', 'error']);
});

t.test('the server closing before any response fails the request with CORRAL_UPSTREAM_CLOSED', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.socket.end();
  await r.settled;
  t.equal(r.code, UPSTREAM_CLOSED);
  t.same(r.events, ['error']);
});

t.test('connection refused: ECONNREFUSED', TEST, async (t) => {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const pool = new UpstreamPool(new URL(`http://127.0.0.1:${port}`), config({ connections: 1 }));
  t.teardown(() => pool.close());
  const a = new TestRequest();
  const b = new TestRequest();
  pool.dispatch(a);
  pool.dispatch(b); // queued behind the first: gets a connection attempt of its own
  await Promise.all([a.settled, b.settled]);
  t.equal(a.code, 'ECONNREFUSED');
  t.equal(b.code, 'ECONNREFUSED');
  t.same(a.events, ['error']);
  t.equal(pool.connections.size, 0);
});

t.test('first_byte_timeout: no response head in time → CORRAL_UPSTREAM_HEADERS_TIMEOUT', TEST, async (t) => {
  const { server, pool } = await setup(t, { first_byte_timeout: 200 });
  const r = new TestRequest();
  const start = performance.now();
  pool.dispatch(r);
  const req = await server.nextRequest(); // received, never answered
  await r.settled;
  const elapsed = performance.now() - start;
  t.equal(r.code, UPSTREAM_HEADERS_TIMEOUT);
  t.same(r.events, ['error']);
  t.ok(elapsed >= 200, `not before the timeout (${elapsed.toFixed(0)} ms)`);
  t.ok(elapsed < 2000, `not long after it (${elapsed.toFixed(0)} ms)`);
  await req.conn.closed;
  t.equal(pool.connections.size, 0, 'the connection is closed');
});

t.test('first_byte_timeout: a head trickling in byte by byte does not extend it', TEST, async (t) => {
  const { server, pool } = await setup(t, { first_byte_timeout: 300 });
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  const head = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Padding: ' + 'x'.repeat(200) + '\r\n\r\nok';
  let sent = 0;
  // One byte every 20 ms: the whole head would take 4 s, far past the 300 ms deadline.
  const drip = setInterval(() => {
    if (sent < head.length && !req.conn.socket.destroyed) req.conn.write(head[sent++]!);
  }, 20);
  t.teardown(() => clearInterval(drip));
  await r.settled;
  clearInterval(drip);
  t.equal(r.code, UPSTREAM_HEADERS_TIMEOUT, 'the deadline counts from the request, not from the last byte');
  t.ok(sent < head.length, `failed before the head was complete (${sent} of ${head.length} bytes)`);
});

t.test('idle_timeout: silence mid-body → CORRAL_UPSTREAM_BODY_TIMEOUT', TEST, async (t) => {
  const { server, pool } = await setup(t, { idle_timeout: 200 });
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789');
  await r.until(() => r.bytesReceived === 10);
  const start = performance.now();
  await r.settled;
  const elapsed = performance.now() - start;
  t.equal(r.code, UPSTREAM_BODY_TIMEOUT);
  t.same(r.events, ['head', 'data', 'error']);
  t.ok(elapsed >= 190, `not before the timeout (${elapsed.toFixed(0)} ms since the last bytes)`);
  t.ok(elapsed < 2000, `not long after it (${elapsed.toFixed(0)} ms)`);
  await req.conn.closed;
});

t.test('returning false from onUpstreamData pauses reading until resume()', TEST, async (t) => {
  const { server, pool } = await setup(t, { idle_timeout: 300 });
  const body = Buffer.alloc(8 * 1024 * 1024);
  for (let i = 0; i < body.length; i += 4096) body[i] = i & 0xff;
  const r = new TestRequest();
  let pauses = 0;
  r.dataResult = () => (r.chunks.length === 1 ? (pauses++, false) : true); // pause on the first chunk only
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
  req.conn.write(body); // the server keeps writing: far more than the socket buffers hold
  await r.until(() => r.chunks.length >= 1);
  const atPause = r.bytesReceived;
  t.ok(atPause < body.length, `paused after ${atPause} bytes`);
  const conn = r.connection!;
  t.ok(conn.paused);
  // Nothing is awaited here on purpose: the point is that nothing arrives, for longer than
  // idle_timeout (a paused request has no deadline).
  await new Promise((resolve) => setTimeout(resolve, 600));
  t.equal(r.bytesReceived, atPause, 'no data while paused');
  t.same(r.events, ['head', 'data'], 'and no timeout');
  t.ok(req.conn.socket.writableLength > 0, 'the server is held up by the client not reading');
  conn.resume(r);
  await r.settled;
  t.same(r.events.at(-1), 'end');
  t.equal(r.bytesReceived, body.length, 'everything arrives after resume()');
  t.same(Buffer.concat(r.chunks), body);
  t.equal(pauses, 1);
});

t.test('abandoning a request closes its connection and delivers nothing more', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789');
  await r.until(() => r.bytesReceived === 10);
  r.abandoned = true;
  r.connection!.abort(r);
  t.equal(r.connection, null);
  const seen = [...r.events];
  await req.conn.closed;
  t.pass('the server-side socket closed');
  await turn();
  t.same(r.events, seen, 'no end, no error, no data after abandoning');
  t.equal(pool.connections.size, 0);

  // The pool carries on with a new connection.
  const next = new TestRequest();
  pool.dispatch(next);
  (await server.nextRequest()).conn.write(ok('fresh'));
  await next.settled;
  t.equal(next.text, 'fresh');
  t.equal(server.conns.length, 2);
});

t.test('abandoning from within a data callback stops the rest of that read', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  r.dataResult = () => {
    r.abandoned = true;
    r.connection?.abort(r);
    return true;
  };
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n5\r\nthree\r\n0\r\n\r\n');
  await req.conn.closed;
  await turn();
  t.same(r.events, ['head', 'data'], 'one chunk, then nothing');
  t.equal(r.text, 'one');
  t.equal(pool.connections.size, 0);
});

t.test('a malformed response → CORRAL_UPSTREAM_PROTOCOL', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const cases = [
    'HTTP/1.1 abc OK\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n',
  ];
  for (const response of cases) {
    const r = new TestRequest();
    pool.dispatch(r);
    const req = await server.nextRequest();
    req.conn.write(response);
    await r.settled;
    t.equal(r.code, UPSTREAM_PROTOCOL, JSON.stringify(response.split('\r\n')[0]));
    t.match(r.error?.message ?? '', /^invalid response: /);
    await req.conn.closed;
    t.equal(pool.connections.size, 0, 'the connection is dropped');
  }
});

t.test('close() waits for the in-flight request, refuses queued and later ones', TEST, async (t) => {
  const { server, pool } = await setup(t, { connections: 1 });
  const inFlight = new TestRequest();
  const queued = new TestRequest();
  pool.dispatch(inFlight);
  pool.dispatch(queued);
  const req = await server.nextRequest();
  let closed = false;
  const closing = pool.close().then(() => {
    closed = true;
  });
  const later = new TestRequest();
  pool.dispatch(later);
  await Promise.all([queued.settled, later.settled]);
  t.equal(queued.code, UPSTREAM_POOL_CLOSED, 'the queued request is refused');
  t.equal(later.code, UPSTREAM_POOL_CLOSED, 'a dispatch after close() is refused');
  t.notOk(closed, 'close() has not resolved while a request is in flight');
  t.same(inFlight.events, []);
  req.conn.write(ok('last one'));
  await inFlight.settled;
  t.equal(inFlight.text, 'last one', 'the in-flight request completes normally');
  t.same(inFlight.events, ['head', 'data', 'end']);
  await closing;
  t.ok(closed);
  t.equal(pool.connections.size, 0);
  await req.conn.closed;
  t.pass('the connection is not kept alive once the pool is closed');
  t.equal(req.conn.requests.length, 1, 'only the in-flight request was ever sent');
  await pool.close(); // again: resolves at once
});

t.test('an idle connection the server closes is dropped; the next request opens a new one', TEST, async (t) => {
  const { server, pool } = await setup(t);
  server.onRequest = (req) => req.conn.write(ok(`conn ${req.conn.index}`));
  const first = new TestRequest();
  pool.dispatch(first);
  await first.settled;
  t.equal(first.text, 'conn 0');
  const conn = first.carriedBy!;
  t.ok(pool.connections.has(conn), 'kept idle in the pool');
  server.conns[0]!.socket.end();
  if (!conn.socket.closed) await once(conn.socket, 'close');
  t.equal(pool.connections.size, 0, 'dropped from the pool');
  t.ok(conn.closed);
  const second = new TestRequest();
  pool.dispatch(second);
  await second.settled;
  t.equal(second.error, null);
  t.equal(second.text, 'conn 1', 'served on a new connection');
  t.not(second.carriedBy, conn);
});

t.test('an idle connection is closed after keepAliveMs, or sooner when the endpoint says so', TEST, async (t) => {
  const { server, pool } = await setup(t, {}, 200);
  server.onRequest = (req) => req.conn.write(ok('x'));
  const r = new TestRequest();
  pool.dispatch(r);
  await r.settled;
  const start = performance.now();
  await server.conns[0]!.closed;
  const elapsed = performance.now() - start;
  t.ok(elapsed >= 100, `closed after ${elapsed.toFixed(0)} ms idle`);
  t.equal(pool.connections.size, 0);

  // Keep-Alive: timeout=1 → kept at most 1 s less than that: closed on the next sweep.
  const { server: server2, pool: pool2 } = await setup(t);
  server2.onRequest = (req) => req.conn.write(ok('x', 'Keep-Alive: timeout=1\r\n'));
  const r2 = new TestRequest();
  pool2.dispatch(r2);
  await r2.settled;
  t.equal(pool2.connections.size, 1);
  await server2.conns[0]!.closed;
  t.equal(pool2.connections.size, 0, 'closed by the pool well before its 30 s keep-alive');
});

t.test('a request abandoned while its connection is connecting leaves the connection to the next one', TEST, async (t) => {
  const { server, pool } = await setup(t, { connections: 1 });
  server.onRequest = (req) => req.conn.write(ok(req.body.toString()));
  const a = new TestRequest('a');
  pool.dispatch(a);
  const conn = a.connection!;
  t.notOk(conn.connected, 'still connecting');
  a.abandoned = true;
  conn.abort(a);
  t.equal(a.connection, null);
  const b = new TestRequest('b');
  pool.dispatch(b);
  await b.settled;
  t.equal(b.text, 'b');
  t.equal(b.carriedBy, conn, 'served on the connection opened for the abandoned request');
  t.same(a.events, []);
  t.equal(server.conns.length, 1);
  t.same(server.conns[0]!.requests.map((r) => r.body.toString()), ['b'], 'the abandoned request was never sent');
});

t.test('a request dispatched from onUpstreamEnd reuses the connection just released', TEST, async (t) => {
  const { server, pool } = await setup(t, { connections: 1 });
  server.onRequest = (req) => req.conn.write(ok(req.body.toString()));
  const second = new TestRequest('second');
  const first = new TestRequest('first');
  const onEnd = first.onUpstreamEnd.bind(first);
  first.onUpstreamEnd = () => {
    pool.dispatch(second);
    onEnd();
  };
  pool.dispatch(first);
  await Promise.all([first.settled, second.settled]);
  t.same([first.text, second.text], ['first', 'second']);
  t.equal(second.carriedBy, first.carriedBy);
  t.equal(server.conns.length, 1);
});

t.test('bytes after the end of a response: the response completes, the connection is not reused', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write(ok('mine') + 'HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnobody');
  await r.settled;
  t.same(r.events, ['head', 'data', 'end']);
  t.equal(r.text, 'mine');
  await req.conn.closed;
  t.equal(pool.connections.size, 0);
});

t.test('bytes arriving on an idle connection close it', TEST, async (t) => {
  const { server, pool } = await setup(t);
  const r = new TestRequest();
  pool.dispatch(r);
  const req = await server.nextRequest();
  req.conn.write(ok('done'));
  await r.settled;
  t.equal(pool.connections.size, 1);
  req.conn.write('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
  await req.conn.closed;
  t.equal(pool.connections.size, 0);
  t.same(r.events, ['head', 'data', 'end'], 'the finished request hears nothing of it');
});

t.test('close() with only idle connections closes them and resolves', TEST, async (t) => {
  const { server, pool } = await setup(t);
  server.onRequest = (req) => req.conn.write(ok('x'));
  const rs = [new TestRequest(), new TestRequest()];
  for (const r of rs) pool.dispatch(r);
  await Promise.all(rs.map((r) => r.settled));
  t.equal(pool.connections.size, 2);
  await pool.close();
  t.equal(pool.connections.size, 0);
  await Promise.all(server.conns.map((c) => c.closed));
  t.pass('both server-side sockets closed');
});

t.test('an early answer while the request body is still being written: the connection is not reused', TEST, async (t) => {
  // The backend reads the head, answers 413 with keep-alive and stops reading: the 8 MiB body
  // cannot all have left. Reusing the connection would make the rest of it the next request.
  const sockets: net.Socket[] = [];
  const server = net.createServer((socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.once('data', () => {
      socket.pause();
      socket.write('HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const pool = new UpstreamPool(new URL(`http://127.0.0.1:${(server.address() as net.AddressInfo).port}`), config({}));
  t.teardown(async () => {
    for (const s of sockets) s.destroy();
    await pool.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const big = new TestRequest(Buffer.alloc(8 * 1024 * 1024, 0x61));
  pool.dispatch(big);
  await big.settled;
  t.equal(big.status, 413, 'the early answer reached the caller');
  t.same(big.events, ['head', 'end']);
  t.equal(pool.connections.size, 0, 'the connection was closed, not kept for the next request');
});
