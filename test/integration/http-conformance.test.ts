// Strict HTTP in both directions (issue 10, "Hardening", item 3; docs/HTTP-CONFORMANCE.md): every
// response row of the conformance table (test/fixtures/http-conformance.ts) written byte for byte
// by a scripted raw-TCP backend, through one real corral. Each malformed response ends its
// exchange with a 502 naming the defect (or a cut stream once bytes went out), and its upstream
// connection is closed, never reused; after each row, requests on the same client connection and
// on a fresh one get their own good answers. Then the retry choice (a malformed response is
// retried on another endpoint, like a 502), and the request side: conflicting Content-Length
// lines answered 400 and the connection closed.
import { connect, type Socket } from 'node:net';
import t, { type Test } from 'tap';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { RESPONSE_CASES, type ResponseCase } from '../fixtures/http-conformance.js';
import { readRequests, startRawServer } from '../helpers/raw-backend.js';

/** Served only by the scripted backend: outcomes are the row's alone. */
const STRICT = 'strict:1b';
/** Served by the scripted backend (priority 10, chosen first) and a good simulated one. */
const PAIR = 'pair:1b';

// ---------------------------------------------------------------------------------------------
// The scripted backend

interface Seen {
  /** The connection (numbered in accept order) a request came on. */
  socket: number;
  requestId: string;
}

interface ScriptedBackend {
  port: number;
  /** Every inference request, in order. */
  seen: Seen[];
  /** Connections corral closed (or reset). */
  closed: Set<number>;
}

function goodAnswer(requestId: string): string {
  const body = JSON.stringify({ ok: true, id: requestId });
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

function probeAnswer(path: string): string {
  const body = path === '/api/tags' ? JSON.stringify({ models: [STRICT, PAIR].map((m) => ({ name: m, model: m })) })
    // Both resident (prewarmed): warm-first placement routes to it without asking for a load.
    : path === '/api/ps' ? JSON.stringify({ models: [STRICT, PAIR].map((m) => ({ name: m, model: m, size: 1, size_vram: 1, expires_at: '2099-01-01T00:00:00Z' })) })
      : JSON.stringify({ version: '0.5.0' });
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

/**
 * Answers each POST by its forwarded request id: `case-<row id>-<n>` gets the row's bytes, any
 * other a good answer naming the id. GETs (health, discovery) get good answers.
 */
async function startScriptedBackend(t: Test): Promise<ScriptedBackend> {
  const rows = new Map(RESPONSE_CASES.map((r) => [r.id, r]));
  const backend: ScriptedBackend = { port: 0, seen: [], closed: new Set() };
  let next = 0;
  backend.port = await startRawServer(t, (socket) => {
    const id = ++next;
    socket.on('close', () => backend.closed.add(id));
    readRequests(socket, (head, method, path) => {
      if (method !== 'POST') {
        socket.write(probeAnswer(path));
        return true;
      }
      const requestId = /\r\nx-request-id: *([^\r]*)/i.exec(head)?.[1] ?? '';
      backend.seen.push({ socket: id, requestId });
      const row = rows.get(/^case-(.+)-\d+$/.exec(requestId)?.[1] ?? '');
      if (row === undefined) {
        socket.write(goodAnswer(requestId));
        return true;
      }
      socket.write(Buffer.from(row.bytes, 'latin1'));
      if (row.closeAfter === true) socket.end();
      return false; // (a reused connection's next request comes in a later read)
    });
  });
  return backend;
}

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client: sees heads as sent (no Content-Length on a 204), keeps its connection

interface RawAnswer {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: string;
  /** The response arrived whole (by Content-Length, chunked framing, or a bodiless status). */
  complete: boolean;
}

class RawConnection {
  readonly socket: Socket;
  #buf = Buffer.alloc(0);
  closed = false;
  #wake: (() => void) | null = null;

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setNoDelay(true);
    this.socket.on('data', (d: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, d]);
      this.#wake?.();
    });
    this.socket.on('error', () => {});
    this.socket.on('close', () => {
      this.closed = true;
      this.#wake?.();
    });
  }

  /** Sends `bytes` and reads one response; null when the connection closed before any. */
  async exchange(bytes: string | Buffer, timeoutMs = 10_000): Promise<RawAnswer | null> {
    this.socket.write(bytes);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = this.#parse();
      if (parsed !== undefined) return parsed;
      if (Date.now() > deadline) throw new Error(`no complete response within ${timeoutMs} ms: ${JSON.stringify(this.#buf.toString('latin1').slice(0, 300))}`);
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        setTimeout(resolve, 100);
      });
      this.#wake = null;
    }
  }

  /** One response from the buffer (consumed), null when closed with nothing, undefined when more must come. */
  #parse(): RawAnswer | null | undefined {
    const buf = this.#buf;
    const end = buf.indexOf('\r\n\r\n');
    if (end < 0) return this.closed ? null : undefined;
    const head = buf.subarray(0, end).toString('latin1');
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const status = Number(head.split(' ')[1]);
    let at = end + 4;
    let body = '';
    let complete = false;
    if (status === 204 || status === 304) {
      complete = true;
    } else if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', at);
        if (lineEnd < 0) break;
        const size = parseInt(buf.subarray(at, lineEnd).toString('latin1'), 16);
        if (size === 0) {
          if (buf.length >= lineEnd + 4) {
            at = lineEnd + 4;
            complete = true;
          }
          break;
        }
        if (buf.length < lineEnd + 2 + size + 2) break;
        body += buf.subarray(lineEnd + 2, lineEnd + 2 + size).toString('latin1');
        at = lineEnd + 2 + size + 2;
      }
    } else {
      const length = Number(headers['content-length'] ?? NaN);
      if (buf.length >= at + length) {
        body = buf.subarray(at, at + length).toString('latin1');
        at += length;
        complete = true;
      }
    }
    if (!complete && !this.closed) return undefined;
    if (!complete) body = buf.subarray(end + 4).toString('latin1'); // what came before the close
    this.#buf = buf.subarray(complete ? at : buf.length);
    return { status, head, headers, body, complete };
  }

  close(): void {
    this.socket.destroy();
  }
}

let counter = 0;

function chat(model: string, requestId: string): Buffer {
  const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: false });
  return Buffer.from(`POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-ID: ${requestId}\r\n`
    + `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
}

/** The body as JSON (it is UTF-8; the raw client keeps bytes as latin1 chars). */
function json(answer: RawAnswer): any {
  return JSON.parse(Buffer.from(answer.body, 'latin1').toString('utf8'));
}

function errorMessage(answer: RawAnswer): string {
  try {
    return String((json(answer) as { error?: unknown }).error ?? '');
  } catch {
    return '';
  }
}

/** A good request gets its own answer from the scripted backend: the body names its id. */
async function assertServed(t: Test, conn: RawConnection, what: string): Promise<void> {
  const id = `good-${++counter}`;
  const answer = await conn.exchange(chat(STRICT, id));
  t.equal(answer?.status, 200, `${what}: 200`);
  t.same(answer === null ? null : json(answer), { ok: true, id }, `${what}: its own answer`);
}

async function waitFor(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

// ---------------------------------------------------------------------------------------------

t.test('strict HTTP: the conformance table through a real corral', async (t) => {
  const backend = await startScriptedBackend(t);
  const [sim] = await startBackends(t, [{ name: 'sim', models: [{ name: PAIR }] }]);
  const corral: CorralProcess = await startCorral(t, [sim!], {
    config: {
      server: { workers: 1 },
      routing: { strategy: 'priority' },
      // One endpoint for STRICT: no retry can hide an outcome. No breaker: rows fail on purpose.
      circuit_breaker: { failures: 0 },
      // A parser that waited would show as a client timeout (10 s), not as this.
      upstream: { first_byte_timeout: '60s' },
    },
    endpoints: [
      { name: 'scripted', url: `http://127.0.0.1:${backend.port}`, type: 'ollama', models: [STRICT, PAIR], priority: 10 },
      { name: 'sim', priority: 0 },
    ],
  });
  await corral.waitForLog((l) => l.msg === 'endpoint healthy' && l.endpoint === 'scripted');
  await corral.waitForLog((l) => l.msg === 'endpoint healthy' && l.endpoint === 'sim');
  const failuresBefore = (await corral.status()).endpoints.find((e: { name: string }) => e.name === 'scripted').failures as number;

  for (const row of RESPONSE_CASES) {
    await t.test(`${row.id}: ${row.what}`, async (t) => {
      const requestId = `case-${row.id}-${++counter}`;
      const conn = new RawConnection(corral.port);
      t.teardown(() => conn.close());
      const answer = await conn.exchange(chat(STRICT, requestId));
      const seen = backend.seen.find((s) => s.requestId === requestId);
      t.ok(seen, 'the request reached the backend');
      expectOutcome(t, row, answer);

      // The client's connection carries on (unless the stream had to be cut), and a new one is served.
      if (row.outcome !== 'cut') await assertServed(t, conn, 'next request, same client connection');
      const fresh = new RawConnection(corral.port);
      t.teardown(() => fresh.close());
      await assertServed(t, fresh, 'next request, fresh client connection');

      const reusable = row.outcome === 'ok' && (row.reusable ?? true);
      if (!reusable && seen !== undefined) {
        t.ok(await waitFor(() => backend.closed.has(seen.socket), 5000), 'the upstream connection that carried it is closed');
        const later = backend.seen.filter((s) => s.requestId.startsWith('good-') && backend.seen.indexOf(s) > backend.seen.indexOf(seen));
        t.ok(later.length >= 1 && later.every((s) => s.socket !== seen.socket), 'later requests went on other (new) upstream connections');
      }
    });
  }

  await t.test('malformed responses count as endpoint failures', async (t) => {
    const bad = RESPONSE_CASES.filter((r) => r.outcome !== 'ok').length;
    const status = await corral.status();
    const scripted = status.endpoints.find((e: { name: string }) => e.name === 'scripted');
    t.ok(scripted.failures - failuresBefore >= bad, `failures counted: ${scripted.failures - failuresBefore} ≥ ${bad}`);
    t.equal(scripted.state, 'healthy', 'not made suspect: it answers, badly');
    t.equal(scripted.circuit, 'closed');
  });

  await t.test('a malformed response before any byte reached the client is retried on another endpoint, like a 502', async (t) => {
    for (const id of ['status-999', 'te-gzip', 'lf-only', 'name-space', 'chunk-size-letters']) {
      const row = RESPONSE_CASES.find((r) => r.id === id)!;
      const conn = new RawConnection(corral.port);
      t.teardown(() => conn.close());
      const answer = await conn.exchange(chat(PAIR, `case-${row.id}-${++counter}`));
      t.equal(answer?.status, 200, `${id}: answered by the other endpoint`);
      t.equal(answer?.headers['x-corral-endpoint'], 'sim', `${id}: by sim`);
      t.equal(answer?.headers['x-corral-retries'], '1', `${id}: after one retry`);
      t.match(answer?.body ?? '', /Hello from sim/, `${id}: the sim's answer`);
    }
    const logged = await corral.waitForLog((l) => l.msg === 'upstream sent an invalid response; retrying elsewhere');
    t.match(logged.err, /^invalid response: /, 'the defect is logged');
  });
});

function expectOutcome(t: Test, row: ResponseCase, answer: RawAnswer | null): void {
  if (answer === null) {
    t.fail('no response at all');
    return;
  }
  if (row.outcome === 'error') {
    t.equal(answer.status, 502, `502 (got ${answer.status}: ${answer.body.slice(0, 200)})`);
    t.equal(json(answer).code, 'CORRAL_ERR_UPSTREAM', 'CORRAL_ERR_UPSTREAM');
    const message = errorMessage(answer);
    t.match(message, /^endpoint scripted sent an invalid response: /, `the message says who and what: ${message}`);
    t.match(message, row.defect!, 'the message names the defect');
    t.ok(answer.complete, 'a complete 502');
    return;
  }
  if (row.outcome === 'cut') {
    t.equal(answer.status, 200, 'the head went out with the first bytes');
    t.notOk(answer.complete, 'the response is cut, never complete');
    t.match(answer.body, /hel/, 'the bytes before the defect arrived (chunked to the client)');
    return;
  }
  t.equal(answer.status, row.status, `status ${row.status}`);
  t.ok(answer.complete, 'complete');
  t.equal(answer.body, row.body ?? 'hello', 'body');
  t.equal(answer.headers['x-corral-endpoint'], 'scripted', 'served by the scripted backend');
  if (row.passedOn !== undefined) t.ok(answer.head.includes(`\r\n${row.passedOn}\r\n`) || answer.head.endsWith(`\r\n${row.passedOn}`), `passed on as sent: ${row.passedOn}`);
  if (row.status === 204 || row.status === 304) {
    t.equal(answer.headers['content-length'], undefined, 'no Content-Length (RFC 9110 §8.6)');
    t.equal(answer.headers['transfer-encoding'], undefined, 'no Transfer-Encoding');
  }
}

// ---------------------------------------------------------------------------------------------
// Requests: what reaches corral through uWS 20.30, on raw sockets

t.test('request Content-Length: conflicting lines are refused with 400 and the connection closed', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'sim', models: [{ name: PAIR }] }]);
  const corral = await startCorral(t, [sim!], { config: { server: { workers: 1 } } });
  await corral.waitForLog((l) => l.msg === 'endpoint healthy' && l.endpoint === 'sim');
  const body = JSON.stringify({ model: PAIR, messages: [{ role: 'user', content: 'hi' }], stream: false });
  const post = (lengths: string[], rest = body): string =>
    `POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${lengths.map((l) => `Content-Length: ${l}\r\n`).join('')}\r\n${rest}`;
  const n = String(Buffer.byteLength(body));

  // (The ids are the rows of docs/HTTP-CONFORMANCE.md, "Requests from clients".)
  const refused: [string, string][] = [
    ['req-cl-conflict: two values', post([n, String(Number(n) + 1)], `${body} `)],
    ['req-cl-conflict: a third that differs', post([n, n, '1'])],
    ['req-cl-conflict-invalid: the second one not a number', post([n, 'abc'])],
    ['req-cl-conflict-invalid: the second one empty', post([n, ''])],
  ];
  for (const [what, bytes] of refused) {
    const conn = new RawConnection(corral.port);
    t.teardown(() => conn.close());
    const answer = await conn.exchange(bytes);
    t.equal(answer?.status, 400, `${what}: 400`);
    t.equal(answer === null ? null : json(answer).code, 'CORRAL_ERR_INVALID_REQUEST', `${what}: CORRAL_ERR_INVALID_REQUEST`);
    t.match(answer === null ? '' : errorMessage(answer), /^content-length: conflicting values /, `${what}: says why`);
    t.ok(await waitFor(() => conn.closed, 5000), `${what}: connection closed`);
  }

  // Smuggling: uWS frames the body by the first line (0), so the bytes the second announces are
  // parsed as a next request, in the same read. It must never be served: corral's 400 is pending
  // when uWS parses it, so uWS closes the connection, answering neither (README, pipelining).
  const smuggled = `POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 44\r\n\r\nGET /internal/health HTTP/1.1\r\nHost: x\r\n\r\n`;
  const conn = new RawConnection(corral.port);
  t.teardown(() => conn.close());
  const first = await conn.exchange(smuggled);
  t.equal(first, null, 'req-cl-smuggle: Content-Length 0 then 44, a request behind: closed, the smuggled request never answered');

  const accepted: [string, string][] = [
    ['req-cl-same: the same value twice', post([n, n])],
    ['req-cl-same: the same number, spelled differently', post([n, `0${n}`])],
  ];
  for (const [what, bytes] of accepted) {
    const c = new RawConnection(corral.port);
    t.teardown(() => c.close());
    const answer = await c.exchange(bytes);
    t.equal(answer?.status, 200, `${what}: served`);
    t.match(answer?.body ?? '', /Hello from sim/, `${what}: the answer`);
  }

  // What uWS 20.30 closes itself, with no response (README): never reaches corral.
  const chunked = `POST /api/chat HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nContent-Length: ${n}\r\n\r\n`
    + `${Number(n).toString(16)}\r\n${body}\r\n0\r\n\r\n`;
  for (const [what, bytes] of [
    ['req-cl-list: 5, 5', post([`${n}, ${n}`])],
    ['req-cl-list: 5, 6', post([`${n}, ${Number(n) + 1}`], `${body} `)],
    ['req-cl-signed', post([`+${n}`])],
    ['req-te-and-cl', chunked],
  ] as const) {
    const c = new RawConnection(corral.port);
    t.teardown(() => c.close());
    t.equal(await c.exchange(bytes, 5000), null, `${what}: closed by uWS, no response`);
  }
});
