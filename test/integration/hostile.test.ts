// Hostile input (issue 3, "Hostile input"): every case gets a precise status and error body in the
// caller's dialect — or, where uWebSockets.js 20.30 cannot answer (README, "What uWebSockets.js
// 20.30 cannot answer"), the documented behaviour: no response and a closed connection — and none
// of them affects other clients: after each case (or while it is still going on) a normal request
// from another connection is served and /internal/status shows the same workers, none restarted.
// Raw sockets are used wherever a real client would refuse to send the bytes.
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import t, { type Test } from 'tap';
import { Client } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import { jsonOrText, send, type Answer } from '../helpers/http.js';
import { HI, MODEL } from '../helpers/sim.js';

type Dialect = 'ollama' | 'openai';
/** Discovery and health probes: the only backend paths the primary itself requests. */
/** What the primary asks on its own (probes, discovery, vRAM accounting), never on a client's behalf. */
const PROBE_PATHS = new Set(['/api/version', '/api/tags', '/api/ps', '/api/show', '/v1/models']);

// ---------------------------------------------------------------------------------------------
// Raw HTTP/1.1 over a socket

interface RawResponse {
  status: number;
  head: string;
  headers: Record<string, string>;
  body: Buffer;
}

interface RawResult {
  /** Complete responses, in order (framed by Content-Length, as every corral-made response is). */
  responses: RawResponse[];
  /** Bytes received after the last complete response. */
  rest: Buffer;
  /** The server closed (or reset) the connection. */
  closed: boolean;
  /** Nothing happened for `idleMs`: the client gave up and destroyed the socket. */
  idle: boolean;
  error: string | null;
}

/** Parses the complete Content-Length-framed responses at the start of `buf`. */
function parseResponses(buf: Buffer, headOnly = 0): { responses: RawResponse[]; rest: Buffer } {
  const responses: RawResponse[] = [];
  let at = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = buf.subarray(at, end).toString('latin1');
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    // A response to HEAD has no content whatever its Content-Length says (RFC 9110 §9.3.2).
    const length = responses.length < headOnly ? 0 : Number(headers['content-length'] ?? 0);
    if (buf.length < end + 4 + length) break;
    responses.push({ status: Number(head.split(' ')[1]), head, headers, body: buf.subarray(end + 4, end + 4 + length) });
    at = end + 4 + length;
  }
  return { responses, rest: buf.subarray(at) };
}

interface RawOptions {
  /** Resolve (and destroy the socket) once this many responses arrived; default: wait for close or idle. */
  responses?: number;
  /** Give up after this long without any socket activity (socket.setTimeout). */
  idleMs?: number;
  /** After writing, half-close (FIN) the sending side. */
  end?: boolean;
}

/** Writes `data` on a fresh connection and collects what comes back until `opts` says stop. */
function rawHttp(port: number, data: string | Buffer | (string | Buffer)[], opts: RawOptions = {}): Promise<RawResult> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buf = Buffer.alloc(0);
    let error: string | null = null;
    let settled = false;
    const finish = (closed: boolean, idle: boolean): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      const { responses, rest } = parseResponses(buf);
      resolve({ responses, rest, closed, idle, error });
    };
    socket.setTimeout(opts.idleMs ?? 15_000, () => finish(false, true));
    socket.on('connect', () => {
      for (const d of Array.isArray(data) ? data : [data]) socket.write(d);
      if (opts.end === true) socket.end();
    });
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (opts.responses !== undefined && parseResponses(buf).responses.length >= opts.responses) finish(false, false);
    });
    // A reset after corral closed a connection it had answered (413, 408, 431) is expected.
    socket.on('error', (err: NodeJS.ErrnoException) => { error = err.code ?? err.message; });
    socket.on('close', () => finish(true, false));
  });
}

function head(method: string, path: string, headers: Record<string, string | number> = {}): string {
  let s = `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`;
  for (const [k, v] of Object.entries(headers)) s += `${k}: ${v}\r\n`;
  return `${s}\r\n`;
}

function rawPost(path: string, body: string | Buffer, headers: Record<string, string | number> = {}): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body) : body;
  return Buffer.concat([Buffer.from(head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': b.length, ...headers })), b]);
}

// ---------------------------------------------------------------------------------------------
// Assertions

function fromRaw(r: RawResponse | undefined): Answer {
  if (r === undefined) return { status: 0, headers: {}, body: null };
  return { status: r.status, headers: r.headers, body: jsonOrText(r.body.toString('utf8')) };
}

/** Asserts status, dialect shape and code of an error response. */
function isError(t: Test, r: Answer, dialect: Dialect, status: number, code: string, what: string): void {
  const label = `${what}: ${status} ${code} in ${dialect} shape`;
  t.equal(r.status, status, `${label} (status)`);
  t.match(r.headers['content-type'], /^application\/json/, `${label} (json)`);
  if (dialect === 'openai') {
    t.match(r.body, { error: { message: String, type: String, code } }, label);
  } else {
    t.match(r.body, { error: String, code }, label);
  }
}

function messageOf(r: Answer): string {
  return typeof r.body?.error === 'string' ? r.body.error : String(r.body?.error?.message ?? '');
}

function vmRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (m === null) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]);
}

/** Paths the backends receive from now until the test ends, probes and discovery left out. */
function recordBackendHits(t: Test, sims: readonly SimBackend[]): string[] {
  const hits: string[] = [];
  const onRequest = (path: string): void => { if (!PROBE_PATHS.has(path)) hits.push(path); };
  for (const s of sims) s.on('request', onRequest);
  t.teardown(() => { for (const s of sims) s.off('request', onRequest); });
  return hits;
}

// ---------------------------------------------------------------------------------------------

t.test('hostile input', async (t) => {
  const sims = await startBackends(t, [
    { name: 'sim-a', models: [{ name: MODEL }] },
    // A long stream (20,000 tokens, ~2.5 MB). Paced at 1,000 tokens/s rather than unpaced: the sim runs
    // in this process, and an unpaced stream is written in one synchronous burst that starves this
    // process's event loop (health probes time out) and fits the loopback kernel buffers anyway
    // (tcp_rmem max 32 MiB), so the backend would finish before the client is dropped.
    { name: 'sim-flood', models: [{ name: 'flood:1b' }], tokens: 20_000, tokensPerSecond: 1000 },
  ]);
  const simFlood = sims[1] as SimBackend;
  const corral = await startCorral(t, sims, {
    config: { server: { max_body_size: '64KiB', max_header_size: '2KiB', body_timeout: '1s' } },
    endpoints: sims.map((s) => ({ name: s.name, health: { interval: '1s', fast_interval: '50ms', timeout: '10s' } })),
  });
  const initial = await corral.status();
  const pids: number[] = initial.workers.map((w: { pid: number }) => w.pid);
  t.equal(pids.length, 2, 'two workers');

  /** Another client, on its own connection, is served normally; the cluster is unchanged. */
  async function othersServed(t: Test, what: string): Promise<void> {
    const failed = (err: unknown): Answer => ({ status: -1, headers: {}, body: { transportError: String(err) } });
    const [chat, models, status] = await Promise.all([
      send(corral, 'POST', '/api/chat', JSON.stringify({ model: MODEL, messages: HI, stream: false })).catch(failed),
      send(corral, 'GET', '/v1/models').catch(failed),
      send(corral, 'GET', '/internal/status').catch(failed),
    ]);
    if (chat.status !== 200 || models.status !== 200 || status.status !== 200) {
      t.comment(`${what}: ${JSON.stringify({ chat: [chat.status, chat.body], models: [models.status, models.body], status: status.status })}`);
    }
    t.equal(chat.status, 200, `${what}: another client's chat is served`);
    t.equal(chat.body?.done, true, `${what}: a complete answer`);
    t.equal(models.status, 200, `${what}: another client's GET /v1/models is served`);
    t.equal(status.status, 200, `${what}: /internal/status answers`);
    t.same(status.body?.workers?.map((w: { pid: number; restarts: number }) => [w.pid, w.restarts]), pids.map((p) => [p, 0]),
      `${what}: same workers, none restarted`);
    t.ok(status.body?.endpoints?.every((e: { state: string }) => e.state === 'healthy'), `${what}: every endpoint healthy`);
  }

  // Clients uWS never answers, started now and checked at the end, so their wait for uWS's own
  // idle timeout (10 s, swept every 4 s) overlaps the other cases — which also shows they do not
  // disturb anyone else while they hold their connections.
  const silent = {
    // ≥ 49 request headers (Host + 59): uWS 20.30 neither answers nor parses the request.
    manyHeaders: rawHttp(corral.port, head('GET', '/internal/health', Object.fromEntries(Array.from({ length: 59 }, (_, i) => [`x-h-${i}`, 'v']))), { idleMs: 20_000 }),
    // HTTP/1.0: uWS 20.30 never answers it (the management port does, see below).
    http10: rawHttp(corral.port, 'GET /internal/health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n', { idleMs: 20_000 }),
    // A head dribbled one byte every 300 ms, never finished.
    slowHead: (async () => {
      const socket = connect(corral.port, '127.0.0.1');
      socket.setNoDelay(true);
      await once(socket, 'connect');
      const text = `GET /internal/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ${'a'.repeat(200)}`;
      let i = 0;
      let received = 0;
      socket.on('data', (d: Buffer) => { received += d.length; });
      socket.on('error', () => {});
      const drip = setInterval(() => { if (i < text.length && !socket.destroyed) socket.write(text[i++]!); }, 300);
      let idle = false;
      socket.setTimeout(20_000, () => { idle = true; socket.destroy(); });
      await once(socket, 'close');
      clearInterval(drip);
      return { received, bytesSent: i, closedByServer: !idle };
    })(),
  };

  t.teardown(() => {
    const bad = corral.logs.filter((l) => l.level >= 40);
    if (bad.length > 0) t.comment(`corral warnings/errors:\n${bad.map((l) => JSON.stringify(l)).join('\n')}`);
  });

  t.test('malformed JSON: 400 CORRAL_ERR_INVALID_JSON in the route\'s dialect', async (t) => {
    const bodies = ['{', '{"model": "llama3.2:1b",', '{"model": llama3.2}', "{'model': 'llama3.2:1b'}", '{"model":"llama3.2:1b"}}',
      'null x', '\u0000', '{"model":"llama3.2:1b","messages":[}'];
    for (const [path, dialect] of [['/api/chat', 'ollama'], ['/v1/chat/completions', 'openai']] as const) {
      for (const b of bodies) {
        const r = await send(corral, 'POST', path, b);
        isError(t, r, dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${path} ${JSON.stringify(b)}`);
      }
    }
    await othersServed(t, 'after malformed JSON');
  });

  t.test('truncated JSON: Content-Length beyond the bytes sent, then the client leaves; or short of them', async (t) => {
    const full = JSON.stringify({ model: MODEL, messages: HI, stream: false });
    // Declares 500 bytes, sends 20, half-closes: corral must not wait forever nor crash.
    const short = Buffer.from(head('POST', '/api/chat', { 'Content-Type': 'application/json', 'Content-Length': 500 }) + full.slice(0, 20));
    const left = await rawHttp(corral.port, short, { end: true, idleMs: 10_000 });
    t.ok(left.closed, 'the connection is closed once the client half-closes');
    t.equal(left.responses.length, 0, 'nothing to answer: the body never came');
    // The same, the client destroying the socket outright while corral waits for the body.
    const socket = connect(corral.port, '127.0.0.1');
    await once(socket, 'connect');
    socket.write(short);
    socket.destroy();
    await once(socket, 'close');
    await othersServed(t, 'after truncated bodies');

    // Declares fewer bytes than it sends: corral reads exactly Content-Length bytes, which are not valid JSON.
    for (const [path, dialect] of [['/api/chat', 'ollama'], ['/v1/chat/completions', 'openai']] as const) {
      const bytes = Buffer.concat([Buffer.from(head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': 12 })), Buffer.from(full)]);
      const r = await rawHttp(corral.port, bytes, { responses: 1 });
      isError(t, fromRaw(r.responses[0]), dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${path} Content-Length 12 of ${full.length}`);
    }
    await othersServed(t, 'after short Content-Length');
  });

  t.test('non-UTF-8 bytes: 400 CORRAL_ERR_INVALID_JSON naming UTF-8', async (t) => {
    const invalid: [string, number[]][] = [
      ['0xff 0xfe', [0xff, 0xfe]],
      ['a lone continuation byte', [0x80]],
      ['an overlong "/"', [0xc0, 0xaf]],
      ['an encoded UTF-16 surrogate', [0xed, 0xa0, 0x80]],
      ['a truncated 3-byte sequence', [0xe2, 0x82]],
      ['Latin-1 é', [0xe9]],
    ];
    for (const [what, bytes] of invalid) {
      for (const [path, dialect] of [['/api/chat', 'ollama'], ['/v1/chat/completions', 'openai']] as const) {
        // In a message and in the model name itself.
        for (const where of ['content', 'model'] as const) {
          const body = where === 'content'
            ? Buffer.concat([Buffer.from(`{"model":"${MODEL}","messages":[{"role":"user","content":"x`), Buffer.from(bytes), Buffer.from('"}],"stream":false}')])
            : Buffer.concat([Buffer.from('{"model":"llama'), Buffer.from(bytes), Buffer.from('","messages":[],"stream":false}')]);
          const r = await send(corral, 'POST', path, body);
          isError(t, r, dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${path} ${what} in ${where}`);
          t.match(messageOf(r), /UTF-8/, `${path} ${what} in ${where}: the message says UTF-8`);
        }
      }
    }
    await othersServed(t, 'after non-UTF-8 bodies');
  });

  t.test('content types: JSON is accepted under any type (as Ollama does); a body that is not JSON is 400', async (t) => {
    const body = JSON.stringify({ model: MODEL, messages: HI, stream: false });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/octet-stream', 'application/json; charset=latin1', 'nonsense']) {
      const r = await send(corral, 'POST', '/api/chat', body, { 'content-type': type });
      t.equal(r.status, 200, `Content-Type: ${type} with a JSON body is served`);
    }
    const noType = await rawHttp(corral.port, Buffer.concat([Buffer.from(head('POST', '/v1/chat/completions', { 'Content-Length': Buffer.byteLength(body) })), Buffer.from(body)]), { responses: 1 });
    t.equal(noType.responses[0]?.status, 200, 'no Content-Type at all: served');

    const boundary = '----corral-fuzz';
    const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n${MODEL}\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\u0001\u0002garbage\r\n--${boundary}--\r\n`;
    for (const [path, dialect] of [['/api/generate', 'ollama'], ['/v1/completions', 'openai']] as const) {
      isError(t, await send(corral, 'POST', path, multipart, { 'content-type': `multipart/form-data; boundary=${boundary}` }),
        dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${path} multipart`);
      isError(t, await send(corral, 'POST', path, `model=${MODEL}&prompt=hi`, { 'content-type': 'application/x-www-form-urlencoded' }),
        dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${path} form-urlencoded`);
      isError(t, await send(corral, 'POST', path, '<model>llama3.2:1b</model>', { 'content-type': 'application/xml' }),
        dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${path} XML`);
    }
    await othersServed(t, 'after odd content types');
  });

  t.test('absurd model strings', async (t) => {
    for (const [path, dialect, extra] of [['/api/chat', 'ollama', { messages: HI, stream: false }], ['/v1/chat/completions', 'openai', { messages: HI }],
      ['/api/embed', 'ollama', { input: 'x' }], ['/v1/embeddings', 'openai', { input: 'x' }]] as const) {
      const long = await send(corral, 'POST', path, JSON.stringify({ ...extra, model: 'x'.repeat(10 * 1024) }));
      isError(t, long, dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${path} 10 KB model`);
      t.match(messageOf(long), /model/, `${path}: the message names the field`);
      t.ok(messageOf(long).length < 1024, `${path}: the 10 KB name is not echoed back`);
      isError(t, await send(corral, 'POST', path, JSON.stringify({ ...extra, model: `${MODEL}:`.repeat(30) })),
        dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${path} 330-character model`);
      for (const ctl of ['\u0000', '\n', '\r\nX-Injected: 1', '\u001b[31m', '\u007f', '\t']) {
        isError(t, await send(corral, 'POST', path, JSON.stringify({ ...extra, model: `llama${ctl}3.2:1b` })),
          dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${path} model with ${JSON.stringify(ctl)}`);
      }
      for (const odd of ['🦙ламa3.2:1b', 'llama3.2:1b\u200b', '\u202ellama3.2:1b', 'ﬁ', '\ud800', '../../etc/passwd', 'llama3.2:1b ', '%00']) {
        const r = await send(corral, 'POST', path, JSON.stringify({ ...extra, model: odd }));
        isError(t, r, dialect, 404, 'CORRAL_ERR_MODEL_NOT_FOUND', `${path} model ${JSON.stringify(odd)}`);
      }
    }
    await othersServed(t, 'after absurd model names');
  });

  t.test('CR, LF, NUL or non-ASCII in a forwarded header value or the query: the request never reaches a backend', async (t) => {
    // X-Request-ID, Accept and traceparent are copied into the upstream request head as they are;
    // uWS must refuse a value that could end a line there (header injection into the backend).
    const hits = recordBackendHits(t, sims);
    const valid = JSON.stringify({ model: MODEL, messages: HI, stream: false });
    // uWS holds these without an answer until its idle timeout (about 10 s): all nine at once.
    await Promise.all(['X-Request-ID', 'Accept', 'traceparent'].flatMap((name) =>
      ['a\nX-Injected: 1', 'a\rX-Injected: 1', 'a\u0000b'].map(async (bad) => {
        const r = await rawHttp(corral.port, rawPost('/api/chat', valid, { [name]: bad }), { idleMs: 15_000 });
        t.notOk(r.responses.some((x) => x.status === 200), `${name} ${JSON.stringify(bad)}: not served`);
      })));
    // uWS hands values over decoded as UTF-8: U+010D U+010A (bytes C4 8D C4 8A) would become CR LF
    // in the upstream head, written one byte per character. Answered 400, naming what is wrong.
    const smuggle = 'a\u010d\u010aPOST /api/pull HTTP/1.1\u010d\u010ahost: x';
    for (const name of ['X-Request-ID', 'Accept', 'traceparent']) {
      const r = await rawHttp(corral.port, rawPost('/api/chat', valid, { [name]: smuggle }), { responses: 1, idleMs: 15_000 });
      const answer = fromRaw(r.responses[0]);
      isError(t, answer, 'ollama', 400, 'CORRAL_ERR_INVALID_REQUEST', `${name} with non-ASCII characters`);
      t.match(messageOf(answer), new RegExp(name, 'i'), `${name}: the message names the header`);
      t.not(answer.headers['x-corral-request-id'], smuggle, `${name}: the value is not echoed back`);
    }
    const q = await rawHttp(corral.port, rawPost(`/api/chat?x=${smuggle.replace(/ /g, '%20')}`, valid), { responses: 1, idleMs: 15_000 });
    isError(t, fromRaw(q.responses[0]), 'ollama', 400, 'CORRAL_ERR_INVALID_REQUEST', 'query with non-ASCII characters');
    t.match(messageOf(fromRaw(q.responses[0])), /query/, 'query: the message names it');
    t.same(hits, [], 'no backend received any of them');
    // The same request with clean values is served: the refusals above are about the bytes only.
    const ok = await rawHttp(corral.port, rawPost('/api/chat', valid, { 'X-Request-ID': 'clean-1' }), { responses: 1, idleMs: 15_000 });
    t.equal(ok.responses[0]?.status, 200);
    await othersServed(t, 'after header values with line breaks');
  });

  t.test('path traversal and odd paths: 404 CORRAL_ERR_NOT_FOUND, never a backend hit', async (t) => {
    const hits = recordBackendHits(t, sims);
    const valid = JSON.stringify({ model: MODEL, messages: HI, stream: false });
    const cases: [string, string, Dialect][] = [
      ['GET', '/api/../internal/status', 'ollama'],
      ['GET', '/v1/%2e%2e/internal/status', 'openai'],
      ['GET', '/v1/..%2finternal%2fstatus', 'openai'],
      ['GET', '/api/%2e%2e/%2e%2e/etc/passwd', 'ollama'],
      ['POST', '//api/chat', 'openai'],
      ['POST', '/api//chat', 'ollama'],
      ['POST', '/api/chat/../chat', 'ollama'],
      ['POST', '/api/./chat', 'ollama'],
      ['POST', '/api/%63hat', 'ollama'],
      ['POST', '/API/CHAT', 'openai'],
      ['POST', '/v1/chat/completions/..', 'openai'],
      ['POST', '/v1/chat%2fcompletions', 'openai'],
      ['POST', '/api/chat%00', 'ollama'],
      ['POST', '/api/chat;.json', 'ollama'],
      ['POST', '/api/chat\\..\\chat', 'ollama'],
    ];
    for (const [method, path, dialect] of cases) {
      const bytes = method === 'POST' ? rawPost(path, valid) : Buffer.from(head(method, path));
      const r = await rawHttp(corral.port, bytes, { responses: 1 });
      const a = fromRaw(r.responses[0]);
      isError(t, a, dialect, 404, 'CORRAL_ERR_NOT_FOUND', `${method} ${path}`);
      t.notOk(a.body?.endpoints ?? a.body?.workers, `${method} ${path}: not the status document`);
    }
    await othersServed(t, 'after odd paths');
    // othersServed sent one /api/chat per call: that one is the only inference request the sims saw.
    t.same(hits, ['/api/chat'], 'no odd path reached a backend (only the control request did)');
  });

  t.test('body over max_body_size (64KiB): 413 CORRAL_ERR_BODY_TOO_LARGE', async (t) => {
    // The two dialects at once: each case waits for corral's linger after the 413 (2 s idle).
    await Promise.all(([['/api/chat', 'ollama'], ['/v1/chat/completions', 'openai']] as const).map(async ([path, dialect]) => {
      // Only the head, announcing 10 MiB: the 413 must come without a byte of body being sent,
      // and the connection is closed after a linger (2 s) even though the client sends nothing.
      const piece = `{"model":"${MODEL}","prompt":"${'x'.repeat(16 * 1024)}`;
      const chunks: string[] = [head('POST', path, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' })];
      for (let i = 0; i < 6; i++) chunks.push(`${Buffer.byteLength(piece).toString(16)}\r\n${piece}\r\n`);
      const [onlyHead, whole, unfinished, chunked] = await Promise.all([
        rawHttp(corral.port, head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': 10 * 1024 * 1024 }), { idleMs: 6_000 }),
        rawHttp(corral.port, rawPost(path, Buffer.alloc(10 * 1024 * 1024, 0x20)), { idleMs: 6_000 }),
        rawHttp(corral.port, chunks, { idleMs: 6_000 }),
        rawHttp(corral.port, [...chunks, '0\r\n\r\n'], { idleMs: 6_000 }),
      ]);
      isError(t, fromRaw(onlyHead.responses[0]), dialect, 413, 'CORRAL_ERR_BODY_TOO_LARGE', `${path} head only, Content-Length 10 MiB`);
      t.ok(onlyHead.closed, `${path}: corral closes the connection after the 413`);
      t.equal(onlyHead.responses[0]?.headers.connection, 'close', `${path}: and says so`);

      // The head and all 10 MiB at once, from a client that reads only when its write is done:
      // the 413 is still there for it (corral reads and drops the upload before it closes).
      isError(t, fromRaw(whole.responses[0]), dialect, 413, 'CORRAL_ERR_BODY_TOO_LARGE', `${path} Content-Length 10 MiB, body sent`);
      t.ok(whole.closed, `${path} 10 MiB sent: the connection is closed`);

      // Chunked, no length announced: refused as soon as the bytes received pass the limit,
      // whether or not the final chunk ever comes.
      isError(t, fromRaw(unfinished.responses[0]), dialect, 413, 'CORRAL_ERR_BODY_TOO_LARGE', `${path} chunked, 96 KiB, no final chunk`);
      t.ok(unfinished.closed, `${path} chunked without its final chunk: closed after the linger`);
      if (chunked.responses.length === 0) t.comment(`${path} chunked: no response; socket error ${chunked.error}, ${chunked.rest.length} bytes`);
      isError(t, fromRaw(chunked.responses[0]), dialect, 413, 'CORRAL_ERR_BODY_TOO_LARGE', `${path} chunked, 96 KiB`);
      t.ok(chunked.closed, `${path} chunked: the connection is closed`);
    }));
    const under = await send(corral, 'POST', '/api/generate', JSON.stringify({ model: MODEL, prompt: 'x'.repeat(60 * 1024), stream: false }));
    t.equal(under.status, 200, 'a 60 KiB body, under the limit, is served');
    await othersServed(t, 'after 413s');
  });

  t.test('request head over max_header_size (2KiB): 431 CORRAL_ERR_HEADERS_TOO_LARGE', async (t) => {
    for (const [method, path, dialect] of [['GET', '/api/tags', 'ollama'], ['GET', '/v1/models', 'openai'], ['GET', '/internal/status', 'openai']] as const) {
      const big = await rawHttp(corral.port, head(method, path, { 'X-Big': 'a'.repeat(3 * 1024) }), { idleMs: 10_000 });
      isError(t, fromRaw(big.responses[0]), dialect, 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', `${method} ${path} 3 KiB header`);
      t.ok(big.closed, `${path}: the connection is closed`);
      // Many small headers adding up past 2 KiB (but fewer than uWS's 49).
      const many = await rawHttp(corral.port, head(method, path, Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-h-${i}`, 'b'.repeat(60)]))), { idleMs: 10_000 });
      isError(t, fromRaw(many.responses[0]), dialect, 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', `${method} ${path} 40 headers of 60 bytes`);
    }
    const body = JSON.stringify({ model: MODEL, messages: HI, stream: false });
    const post = await rawHttp(corral.port, rawPost('/api/chat', body, { 'X-Big': 'a'.repeat(3 * 1024) }), { idleMs: 10_000 });
    isError(t, fromRaw(post.responses[0]), 'ollama', 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', 'POST /api/chat with a body');
    await othersServed(t, 'after 431s');
  });

  t.test('slowloris body (body_timeout 1s): 408 CORRAL_ERR_REQUEST_TIMEOUT and the connection closed', async (t) => {
    await Promise.all(([['/api/chat', 'ollama'], ['/v1/chat/completions', 'openai']] as const).map(async ([path, dialect]) => {
      const body = JSON.stringify({ model: MODEL, messages: HI, stream: false });
      const socket = connect(corral.port, '127.0.0.1');
      socket.setNoDelay(true);
      socket.on('error', () => {});
      await once(socket, 'connect');
      socket.write(head('POST', path, { 'Content-Type': 'application/json', 'Content-Length': body.length }));
      let buf = Buffer.alloc(0);
      let answered = false;
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        answered = true;
      });
      let i = 0;
      // The slow client itself: one byte every 300 ms, never the whole body in time; it stops
      // when answered (corral then closes after its linger, 2 s without a byte).
      const drip = setInterval(() => { if (!answered && i < body.length - 1 && !socket.destroyed) socket.write(body[i++]!); }, 300);
      let idle = false;
      socket.setTimeout(15_000, () => { idle = true; socket.destroy(); });
      await once(socket, 'close');
      clearInterval(drip);
      t.notOk(idle, `${path}: corral closed the connection`);
      const r = parseResponses(buf).responses;
      isError(t, fromRaw(r[0]), dialect, 408, 'CORRAL_ERR_REQUEST_TIMEOUT', `${path} dribbled body`);
      t.ok(i < body.length - 1, `${path}: refused before the body was complete (${i} of ${body.length} bytes)`);
    }));
    await othersServed(t, 'after slowloris bodies');
  });

  t.test('a client that never reads a long stream: memory stays bounded, others are served, the abort reaches the backend', async (t) => {
    // Warm both workers up so the baseline is not the first allocation of buffers.
    for (let i = 0; i < 4; i++) await othersServed(t, `warm-up ${i}`);
    const before = pids.map(vmRssKiB);
    const socket = connect(corral.port, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.pause(); // never read a byte
    // Health probes hit the sim too: only /api/chat events are the stream's.
    const started = new Promise<void>((resolve) => {
      const on = (path: string): void => { if (path === '/api/chat') { simFlood.off('request', on); resolve(); } };
      simFlood.on('request', on);
    });
    let completed = false;
    const onCompleted = (path: string): void => { if (path === '/api/chat') completed = true; };
    simFlood.on('completed', onCompleted);
    t.teardown(() => simFlood.off('completed', onCompleted));
    socket.write(rawPost('/api/chat', JSON.stringify({ model: 'flood:1b', messages: HI, stream: true })));
    await started;
    // No event says "corral stopped reading from the backend": sample RSS on a bounded schedule
    // while the stream flows at a client that reads nothing, and meanwhile serve other clients.
    let peak = before.slice();
    for (let n = 0; n < 30; n++) {
      await othersServed(t, `while a client does not read (${n})`);
      const now = pids.map(vmRssKiB);
      peak = peak.map((p, i) => Math.max(p, now[i]!));
    }
    const growthMiB = Math.max(...peak.map((p, i) => (p - before[i]!) / 1024));
    t.comment(`RSS before ${before.join(', ')} KiB, peak ${peak.join(', ')} KiB`);
    // A loose bound: V8 heap growth from the control traffic alone has reached ~38 MiB in one worker.
    // It catches gross unbounded buffering, not a slow leak (the in-process sim cannot flood harder
    // without starving this process; see the sim-flood comment).
    t.ok(growthMiB < 64, `worker RSS grew by ${growthMiB.toFixed(1)} MiB at most (bound 64 MiB)`);
    t.notOk(completed, 'the stream is still going when the client is dropped');
    t.equal(simFlood.stats.inflight, 1, 'the stream is still open on the backend');
    const aborted = new Promise<string>((resolve) => {
      const on = (path: string): void => { if (path === '/api/chat') { simFlood.off('aborted', on); resolve(path); } };
      simFlood.on('aborted', on);
    });
    socket.destroy();
    t.equal(await aborted, '/api/chat', 'the backend saw the abort once the client went away');
    await othersServed(t, 'after the non-reading client left');
  });

  t.test('HTTP pipelining', async (t) => {
    // Two requests corral answers synchronously: uWS answers both, in order, and keeps the connection.
    const both = await rawHttp(corral.port, head('GET', '/api/version') + head('GET', '/v1/models'), { responses: 2, idleMs: 10_000 });
    t.same(both.responses.map((r) => r.status), [200, 200], 'two pipelined catalog GETs: both answered');
    t.match(fromRaw(both.responses[0]).body, { version: String }, 'in order: /api/version first');
    t.match(fromRaw(both.responses[1]).body, { object: 'list' }, 'then /v1/models');

    // A request corral answers asynchronously (routed to a backend) with a second one behind it:
    // uWS 20.30 closes the connection when the pipelined request arrives while a response is pending
    // (README, "What uWebSockets.js 20.30 cannot answer").
    const body = JSON.stringify({ model: MODEL, messages: HI, stream: false });
    const pending = await rawHttp(corral.port, Buffer.concat([rawPost('/api/chat', body), Buffer.from(head('GET', '/api/version'))]), { idleMs: 10_000 });
    t.ok(pending.closed, 'chat + pipelined GET: the connection is closed');
    t.ok(pending.responses.length <= 1, `at most the first request is answered (got ${pending.responses.map((r) => r.status).join(', ') || 'none'})`);
    if (pending.responses.length === 1) t.equal(pending.responses[0]!.status, 200, 'and if so, correctly');
    t.comment(`pipelined behind a pending response: ${JSON.stringify(pending.responses.map((r) => [r.status, r.body.toString()]))}, closed: ${pending.closed}`);
    await othersServed(t, 'after pipelining');
  });

  t.test('HEAD: the response carries no content (RFC 9110 §9.3.2), so the connection stays in sync', async (t) => {
    // Raw: a HEAD then a GET on one connection; the bytes after the first head must be the second response.
    const raw = await rawHttp(corral.port, head('HEAD', '/api/tags') + head('GET', '/api/version', { Connection: 'close' }), { idleMs: 10_000 });
    const all = Buffer.concat([...raw.responses.map((r) => Buffer.concat([Buffer.from(`${r.head}\r\n\r\n`), r.body])), raw.rest]);
    const firstEnd = all.indexOf('\r\n\r\n');
    t.ok(firstEnd > 0, 'HEAD /api/tags is answered');
    t.equal(all.subarray(firstEnd + 4, firstEnd + 4 + 9).toString('latin1'), 'HTTP/1.1 ', 'no body bytes follow the HEAD response head');
    // The same through a real client: one connection, HEAD then GET.
    const client = new Client(corral.url, { pipelining: 1, connections: 1 } as never);
    t.teardown(() => client.close());
    const h = await client.request({ method: 'HEAD', path: '/v1/models' });
    await h.body.dump();
    let after: number | string;
    try {
      const g = await client.request({ method: 'GET', path: '/api/version' });
      after = g.statusCode;
      await g.body.dump();
    } catch (err) {
      after = `${(err as Error).name}: ${(err as Error).message}`;
    }
    t.equal(after, 200, 'undici: a GET after a HEAD on the same connection is answered');
    await othersServed(t, 'after HEAD');
  });

  t.test('HTTP/1.0 on the management port is answered', async (t) => {
    const r = await rawHttp(corral.managementPort!, 'GET /internal/health HTTP/1.0\r\n\r\n', { idleMs: 10_000 });
    t.equal(r.responses[0]?.status, 200, 'management port: HTTP/1.0 health probe answered');
    t.match(fromRaw(r.responses[0]).body, { status: 'ok' });
    const ready = await rawHttp(corral.managementPort!, 'GET /internal/ready HTTP/1.0\r\n\r\n', { idleMs: 10_000 });
    t.equal(ready.responses[0]?.status, 200, 'management port: HTTP/1.0 readiness probe answered');
  });

  t.test('what uWS 20.30 never answers: ≥ 49 headers, HTTP/1.0, a head dribbled forever — closed by its idle timeout', async (t) => {
    const many = await silent.manyHeaders;
    t.equal(many.responses.length + many.rest.length, 0, '60 headers: no response at all');
    t.ok(many.closed, '60 headers: the connection is closed (uWS idle timeout), not left hanging');
    const h10 = await silent.http10;
    t.equal(h10.responses.length + h10.rest.length, 0, 'HTTP/1.0 on the API port: no response');
    t.ok(h10.closed, 'HTTP/1.0 on the API port: the connection is closed (uWS idle timeout)');
    const slow = await silent.slowHead;
    t.equal(slow.received, 0, 'a dribbled head: no response');
    t.ok(slow.closedByServer, `a dribbled head: uWS closed it after ${slow.bytesSent} bytes`);
    await othersServed(t, 'after the silent cases');
    const ready = await send(corral, 'GET', '/internal/ready');
    t.equal(ready.status, 200, '/internal/ready is 200');
  });
});
