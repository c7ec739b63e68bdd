// Every CORRAL_ERR_* code a caller can meet, in the caller's dialect: OpenAI shape
// {"error":{"message","type","code"}} for /v1 and /internal, Ollama shape {"error":"…","code"} for
// /api; through raw undici (status, shape, code, headers), the `openai` client (APIError with the
// right status and code) and the `ollama` client (ResponseError with the message and status).
// One 2-worker cluster; each failure mode has a backend (and a model) of its own.
import { connect } from 'node:net';
import { Ollama } from 'ollama';
import OpenAI, { APIError } from 'openai';
import t, { type Test } from 'tap';
import { request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import { send, type Answer } from '../helpers/http.js';
import { HI } from '../helpers/sim.js';

type Dialect = 'ollama' | 'openai';

/** The inference routes, with the smallest valid body for each (`model` filled in per test). */
const INFERENCE: { path: string; dialect: Dialect; body: Record<string, unknown> }[] = [
  { path: '/api/chat', dialect: 'ollama', body: { messages: HI, stream: false } },
  { path: '/api/generate', dialect: 'ollama', body: { prompt: 'hi', stream: false } },
  { path: '/api/embed', dialect: 'ollama', body: { input: 'hi' } },
  { path: '/api/embeddings', dialect: 'ollama', body: { prompt: 'hi' } },
  { path: '/api/show', dialect: 'ollama', body: {} },
  { path: '/v1/chat/completions', dialect: 'openai', body: { messages: HI } },
  { path: '/v1/completions', dialect: 'openai', body: { prompt: 'hi' } },
  { path: '/v1/embeddings', dialect: 'openai', body: { input: 'hi' } },
];
/** One chat route per dialect, for the failures that depend on the backend rather than the route. */
const CHAT: { path: string; dialect: Dialect; stream: boolean }[] = [
  { path: '/api/chat', dialect: 'ollama', stream: false },
  { path: '/api/chat', dialect: 'ollama', stream: true },
  { path: '/v1/chat/completions', dialect: 'openai', stream: false },
  { path: '/v1/chat/completions', dialect: 'openai', stream: true },
];

function post(corral: CorralProcess, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  return send(corral, 'POST', path, typeof body === 'string' ? body : JSON.stringify(body), headers);
}

/** Asserts status, dialect shape and code of an error response. */
function isError(t: Test, r: Answer, dialect: Dialect, status: number, code: string, what = ''): void {
  const label = `${what}${what ? ': ' : ''}${status} ${code} in ${dialect} shape`;
  t.equal(r.status, status, `${label} (status)`);
  t.match(r.headers['content-type'], /^application\/json/, `${label} (json)`);
  if (dialect === 'openai') {
    t.match(r.body, { error: { message: String, type: String, code } }, label);
    t.equal(typeof r.body?.error, 'object', `${label}: error is an object`);
    t.equal(r.body?.error?.type, status >= 500 ? 'server_error' : 'invalid_request_error', `${label}: type`);
  } else {
    t.match(r.body, { error: String, code }, label);
    t.ok(typeof r.body?.error === 'string' && r.body.error.length > 0, `${label}: error is a message`);
  }
}

/** Runs `fn` and returns the APIError it throws (failing the test if it does not). */
async function apiError(t: Test, fn: () => Promise<unknown>): Promise<APIError | null> {
  try {
    await fn();
  } catch (err) {
    t.type(err, APIError, 'the openai client throws APIError');
    return err as APIError;
  }
  t.fail('expected the openai client to throw');
  return null;
}

/** Drains an openai stream (so an error mid-stream or before it surfaces). */
async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream);
}

/** Sends raw bytes on a fresh connection; resolves with the status code and body of the response. */
function rawHttp(port: number, data: string): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const check = (closed: boolean): void => {
      if (done) return;
      const end = buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = buf.subarray(0, end).toString('latin1');
        const length = /\r\ncontent-length:\s*(\d+)/i.exec(head);
        const rest = buf.subarray(end + 4);
        if (length !== null && rest.length >= Number(length[1])) {
          done = true;
          socket.destroy();
          resolve({ status: Number(head.split(' ')[1]), head, body: rest.subarray(0, Number(length[1])).toString('utf8') });
          return;
        }
      }
      if (closed) {
        done = true;
        reject(new Error(`connection closed before a complete response: ${JSON.stringify(buf.toString('latin1'))}`));
      }
    };
    socket.on('connect', () => socket.write(data));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      check(false);
    });
    socket.on('close', () => check(true));
    socket.on('error', (err) => {
      // A reset after the response arrived is fine (corral closes after a 413).
      if (!done && buf.indexOf('\r\n\r\n') < 0) {
        done = true;
        reject(err);
      }
    });
  });
}

/** Polls /internal/status (bounded) until `name` is in `state`; no event says "healthy again" for every path. */
async function untilState(corral: CorralProcess, name: string, state: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const doc = await corral.status();
    if (doc.endpoints.find((e: { name: string }) => e.name === name)?.state === state) return;
    if (Date.now() > deadline) throw new Error(`${name} not ${state} in time: ${JSON.stringify(doc.endpoints)}`);
    await new Promise((resolve) => setImmediate(resolve));
  }
}

t.test('errors in the caller\'s dialect', async (t) => {
  const sims = await startBackends(t, [
    { name: 'sim-a', models: [{ name: 'llama3.2:1b' }] },
    { name: 'sim-oa', models: [{ name: 'gpt-oss:20b' }], dialects: ['openai'] },
    { name: 'sim-reset', models: [{ name: 'reset:1b' }] },
    { name: 'sim-hang', models: [{ name: 'hang:1b' }] },
    // 4 tokens a second for 400 tokens: a stream that outlives the test unless it is cut.
    { name: 'sim-slow', models: [{ name: 'slow:1b' }], tokensPerSecond: 4, tokens: 400 },
  ]);
  const byName = new Map<string, SimBackend>(sims.map((s) => [s.name, s]));
  byName.get('sim-reset')!.setFault({ mode: 'reset' });
  byName.get('sim-hang')!.setFault({ mode: 'hang' });
  const corral = await startCorral(t, sims, {
    config: {
      server: { max_body_size: '1KiB', max_header_size: '2KiB' },
      routing: { max_retries: 0 },
      upstream: { first_byte_timeout: '300ms' },
      // The reset and hang backends fail on purpose, over and over: keep their circuits closed
      // so every case sees the endpoint's own error (the breaker has its own tests).
      circuit_breaker: { failures: 0 },
      // A saturated endpoint answers 503 at once here; admission queues have their own tests.
      queue: { enabled: false },
    },
    endpoints: [
      { name: 'sim-a' }, { name: 'sim-oa' }, { name: 'sim-reset' }, { name: 'sim-hang' },
      { name: 'sim-slow', max_concurrency: 1 },
    ],
  });
  const openai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const ollama = new Ollama({ host: corral.url });

  t.test('400 CORRAL_ERR_INVALID_JSON: malformed or empty body, on every inference route', async (t) => {
    for (const r of INFERENCE) {
      isError(t, await post(corral, r.path, '{"model": "llama3.2:1b", '), r.dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${r.path} truncated JSON`);
      isError(t, await send(corral, 'POST', r.path), r.dialect, 400, 'CORRAL_ERR_INVALID_JSON', `${r.path} no body`);
    }
  });

  t.test('400 CORRAL_ERR_MISSING_MODEL, on every inference route', async (t) => {
    for (const r of INFERENCE) {
      isError(t, await post(corral, r.path, r.body), r.dialect, 400, 'CORRAL_ERR_MISSING_MODEL', `${r.path} no model`);
      isError(t, await post(corral, r.path, { ...r.body, model: '' }), r.dialect, 400, 'CORRAL_ERR_MISSING_MODEL', `${r.path} empty model`);
    }
  });

  t.test('400 CORRAL_ERR_INVALID_REQUEST: model not a string, stream not a boolean, body not an object', async (t) => {
    for (const r of INFERENCE) {
      isError(t, await post(corral, r.path, { ...r.body, model: 42 }), r.dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${r.path} numeric model`);
      isError(t, await post(corral, r.path, { ...r.body, model: 'llama3.2:1b', stream: 'yes' }), r.dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${r.path} string stream`);
      isError(t, await post(corral, r.path, '[{"model":"llama3.2:1b"}]'), r.dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${r.path} array body`);
      isError(t, await post(corral, r.path, '"llama3.2:1b"'), r.dialect, 400, 'CORRAL_ERR_INVALID_REQUEST', `${r.path} string body`);
    }
    const r = await post(corral, '/v1/chat/completions', { model: 42, messages: HI });
    t.match(r.body.error.message, /model/, 'the message names the field');
  });

  t.test('404 CORRAL_ERR_MODEL_NOT_FOUND, on every inference route', async (t) => {
    for (const r of INFERENCE) {
      isError(t, await post(corral, r.path, { ...r.body, model: 'no-such-model:7b' }), r.dialect, 404, 'CORRAL_ERR_MODEL_NOT_FOUND', r.path);
    }
  });

  t.test('404 CORRAL_ERR_NOT_FOUND for an unknown path', async (t) => {
    isError(t, await send(corral, 'GET', '/api/nope'), 'ollama', 404, 'CORRAL_ERR_NOT_FOUND', 'GET /api/nope');
    isError(t, await post(corral, '/api/pull', { model: 'llama3.2:1b' }), 'ollama', 404, 'CORRAL_ERR_NOT_FOUND', 'POST /api/pull');
    isError(t, await send(corral, 'GET', '/v1/nope'), 'openai', 404, 'CORRAL_ERR_NOT_FOUND', 'GET /v1/nope');
    isError(t, await post(corral, '/v1/responses', { model: 'llama3.2:1b' }), 'openai', 404, 'CORRAL_ERR_NOT_FOUND', 'POST /v1/responses');
    isError(t, await send(corral, 'GET', '/internal/nope'), 'openai', 404, 'CORRAL_ERR_NOT_FOUND', 'GET /internal/nope');
    isError(t, await send(corral, 'GET', '/'), 'openai', 404, 'CORRAL_ERR_NOT_FOUND', 'GET /');
  });

  t.test('405 CORRAL_ERR_METHOD_NOT_ALLOWED for a known path with the wrong method', async (t) => {
    isError(t, await send(corral, 'GET', '/api/chat'), 'ollama', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', 'GET /api/chat');
    isError(t, await post(corral, '/api/tags', {}), 'ollama', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', 'POST /api/tags');
    isError(t, await send(corral, 'GET', '/v1/chat/completions'), 'openai', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', 'GET /v1/chat/completions');
    isError(t, await post(corral, '/v1/models', {}), 'openai', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', 'POST /v1/models');
    isError(t, await post(corral, '/internal/health', {}), 'openai', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', 'POST /internal/health');
  });

  t.test('405 responses carry an Allow header (RFC 9110 §15.5.6: MUST)', async (t) => {
    t.equal((await send(corral, 'GET', '/api/chat')).headers.allow, 'POST', 'GET /api/chat: Allow: POST');
    t.equal((await send(corral, 'GET', '/v1/chat/completions')).headers.allow, 'POST', 'GET /v1/chat/completions: Allow: POST');
    t.equal((await post(corral, '/v1/models', {})).headers.allow, 'GET, HEAD', 'POST /v1/models: Allow: GET, HEAD');
  });

  t.test('413 CORRAL_ERR_BODY_TOO_LARGE over server.max_body_size (1KiB)', async (t) => {
    // 2 KiB and a little: over the limit whichever way it is framed.
    const body = JSON.stringify({ model: 'llama3.2:1b', prompt: 'x'.repeat(2048) });
    for (const path of ['/api/generate', '/v1/completions']) {
      const dialect: Dialect = path.startsWith('/api/') ? 'ollama' : 'openai';
      // Declared with content-length: refused before the body is read.
      isError(t, await post(corral, path, body), dialect, 413, 'CORRAL_ERR_BODY_TOO_LARGE', `${path} content-length`);
      // Chunked: refused once the bytes received pass the limit.
      const half = body.length >> 1;
      const chunked = `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${half.toString(16)}\r\n${body.slice(0, half)}\r\n${(body.length - half).toString(16)}\r\n${body.slice(half)}\r\n0\r\n\r\n`;
      const raw = await rawHttp(corral.port, chunked);
      isError(t, { status: raw.status, headers: { 'content-type': /content-type:\s*([^\r\n]+)/i.exec(raw.head)?.[1] }, body: JSON.parse(raw.body) },
        dialect, 413, 'CORRAL_ERR_BODY_TOO_LARGE', `${path} chunked`);
    }
    // A body just under the limit still goes through.
    const ok = await post(corral, '/api/generate', { model: 'llama3.2:1b', prompt: 'x'.repeat(900), stream: false });
    t.equal(ok.status, 200, 'a body under the limit is served');
    // And the same connection pool keeps working after corral closed the 413 connections.
    t.equal((await post(corral, '/v1/completions', { model: 'llama3.2:1b', prompt: 'hi' })).status, 200, 'served after 413s');
  });

  t.test('431 CORRAL_ERR_HEADERS_TOO_LARGE over server.max_header_size (2KiB)', async (t) => {
    // 3 KiB of headers: over the configured cap, under uWS's own 4 KB header-block limit.
    const big = { 'x-big': 'a'.repeat(3 * 1024) };
    isError(t, await send(corral, 'GET', '/api/tags', undefined, big), 'ollama', 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', 'GET /api/tags');
    isError(t, await send(corral, 'GET', '/v1/models', undefined, big), 'openai', 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', 'GET /v1/models');
    isError(t, await post(corral, '/api/chat', { model: 'llama3.2:1b', messages: HI, stream: false }, big), 'ollama', 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', 'POST /api/chat');
    isError(t, await post(corral, '/v1/chat/completions', { model: 'llama3.2:1b', messages: HI }, big), 'openai', 431, 'CORRAL_ERR_HEADERS_TOO_LARGE', 'POST /v1/chat/completions');
  });

  t.test('every error response carries x-corral-request-id, the caller\'s when it sent one', async (t) => {
    const tooBig = JSON.stringify({ model: 'llama3.2:1b', prompt: 'x'.repeat(2048) });
    const cases: [string, () => Promise<Answer>, (h: Record<string, string>) => Promise<Answer>][] = [
      ['400', () => post(corral, '/api/chat', '{'), (h) => post(corral, '/api/chat', '{', h)],
      ['404 model', () => post(corral, '/v1/chat/completions', { model: 'nope', messages: HI }), (h) => post(corral, '/v1/chat/completions', { model: 'nope', messages: HI }, h)],
      ['404 route', () => send(corral, 'GET', '/api/nope'), (h) => send(corral, 'GET', '/api/nope', undefined, h)],
      ['405', () => send(corral, 'GET', '/v1/completions'), (h) => send(corral, 'GET', '/v1/completions', undefined, h)],
      ['413', () => post(corral, '/api/generate', tooBig), (h) => post(corral, '/api/generate', tooBig, h)],
    ];
    for (const [what, anonymous, identified] of cases) {
      const a = await anonymous();
      t.ok(typeof a.headers['x-corral-request-id'] === 'string' && a.headers['x-corral-request-id'] !== '', `${what}: a generated request id`);
      const b = await identified({ 'x-request-id': `err-${what.replace(' ', '-')}` });
      t.equal(b.headers['x-corral-request-id'], `err-${what.replace(' ', '-')}`, `${what}: the caller's request id`);
    }
  });

  t.test('503 CORRAL_ERR_DIALECT_UNSUPPORTED: an Ollama request for a model only an OpenAI-only backend serves', async (t) => {
    for (const r of INFERENCE.filter((x) => x.dialect === 'ollama')) {
      const res = await post(corral, r.path, { ...r.body, model: 'gpt-oss:20b' });
      isError(t, res, 'ollama', 503, 'CORRAL_ERR_DIALECT_UNSUPPORTED', r.path);
    }
    const ok = await post(corral, '/v1/chat/completions', { model: 'gpt-oss:20b', messages: HI });
    t.equal(ok.status, 200, 'the OpenAI dialect reaches it');
    t.equal(ok.headers['x-corral-endpoint'], 'sim-oa');
  });

  t.test('502 CORRAL_ERR_UPSTREAM: the backend resets the connection (max_retries 0)', async (t) => {
    for (const c of CHAT) {
      await untilState(corral, 'sim-reset', 'healthy');
      const res = await post(corral, c.path, { model: 'reset:1b', messages: HI, stream: c.stream });
      isError(t, res, c.dialect, 502, 'CORRAL_ERR_UPSTREAM', `${c.path} stream=${c.stream}`);
      t.equal(res.headers['x-corral-endpoint'], 'sim-reset', 'names the endpoint that failed');
    }
  });

  t.test('504 CORRAL_ERR_UPSTREAM_TIMEOUT: no response head within upstream.first_byte_timeout', async (t) => {
    for (const c of CHAT) {
      const res = await post(corral, c.path, { model: 'hang:1b', messages: HI, stream: c.stream });
      isError(t, res, c.dialect, 504, 'CORRAL_ERR_UPSTREAM_TIMEOUT', `${c.path} stream=${c.stream}`);
      t.equal(res.headers['x-corral-endpoint'], 'sim-hang', 'names the endpoint that timed out');
    }
  });

  t.test('503 CORRAL_ERR_NO_ENDPOINT with Retry-After when every endpoint is at max_concurrency (queue.enabled: false)', async (t) => {
    const inFlight = await request(`${corral.url}/api/chat`, {
      method: 'POST', body: JSON.stringify({ model: 'slow:1b', messages: HI }), headers: { 'content-type': 'application/json' },
    });
    t.equal(inFlight.statusCode, 200, 'a slow stream is in flight on the only endpoint (max_concurrency 1)');
    t.teardown(() => inFlight.body.destroy());
    for (const c of CHAT) {
      const res = await post(corral, c.path, { model: 'slow:1b', messages: HI, stream: c.stream });
      isError(t, res, c.dialect, 503, 'CORRAL_ERR_NO_ENDPOINT', `${c.path} stream=${c.stream} saturated`);
      t.match(res.headers['retry-after'], /^\d+$/, 'Retry-After in seconds');
    }
    const e = await apiError(t, () => openai.chat.completions.create({ model: 'slow:1b', messages: HI }));
    t.equal(e?.status, 503);
    t.equal(e?.code, 'CORRAL_ERR_NO_ENDPOINT');
    // The stream itself was never disturbed: it still delivers.
    const first = await new Promise<string>((resolve, reject) => {
      inFlight.body.once('data', (d: Buffer) => resolve(d.toString('utf8')));
      inFlight.body.once('error', reject);
    });
    t.match(first, /"done":false/);
    inFlight.body.destroy();
  });

  t.test('the openai client surfaces each as APIError with the status and code', async (t) => {
    const cases: [string, number, string, () => Promise<unknown>][] = [
      ['empty model', 400, 'CORRAL_ERR_MISSING_MODEL', () => openai.chat.completions.create({ model: '', messages: [{ role: 'user', content: 'hi' }] })],
      ['numeric model', 400, 'CORRAL_ERR_INVALID_REQUEST', () => openai.chat.completions.create({ model: 42 as unknown as string, messages: [{ role: 'user', content: 'hi' }] })],
      ['unknown model', 404, 'CORRAL_ERR_MODEL_NOT_FOUND', () => openai.chat.completions.create({ model: 'no-such-model:7b', messages: [{ role: 'user', content: 'hi' }] })],
      ['unknown model, embeddings', 404, 'CORRAL_ERR_MODEL_NOT_FOUND', () => openai.embeddings.create({ model: 'no-such-model:7b', input: 'x' })],
      ['unknown route', 404, 'CORRAL_ERR_NOT_FOUND', () => openai.get('/nope')],
      ['wrong method', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', () => openai.get('/chat/completions')],
      ['body too large', 413, 'CORRAL_ERR_BODY_TOO_LARGE', () => openai.completions.create({ model: 'llama3.2:1b', prompt: 'x'.repeat(4096) })],
      ['upstream timeout', 504, 'CORRAL_ERR_UPSTREAM_TIMEOUT', () => openai.chat.completions.create({ model: 'hang:1b', messages: [{ role: 'user', content: 'hi' }] })],
      ['upstream timeout, streamed', 504, 'CORRAL_ERR_UPSTREAM_TIMEOUT', async () => drain(await openai.chat.completions.create({ model: 'hang:1b', messages: [{ role: 'user', content: 'hi' }], stream: true }))],
    ];
    for (const [what, status, code, fn] of cases) {
      const e = await apiError(t, fn);
      t.equal(e?.status, status, `${what}: status ${status}`);
      t.equal(e?.code, code, `${what}: code`);
      t.type(e?.type, 'string', `${what}: type`);
    }
    await untilState(corral, 'sim-reset', 'healthy');
    const e = await apiError(t, () => openai.chat.completions.create({ model: 'reset:1b', messages: [{ role: 'user', content: 'hi' }] }));
    t.equal(e?.status, 502, 'upstream reset: status 502');
    t.equal(e?.code, 'CORRAL_ERR_UPSTREAM');
  });

  t.test('the ollama client surfaces the message and status', async (t) => {
    const cases: [string, number, RegExp, () => Promise<unknown>][] = [
      ['unknown model', 404, /no-such-model:7b/, () => ollama.chat({ model: 'no-such-model:7b', messages: HI })],
      ['unknown model, streamed', 404, /no-such-model:7b/, async () => { for await (const _ of await ollama.generate({ model: 'no-such-model:7b', prompt: 'hi', stream: true })); }],
      ['empty model', 400, /model/, () => ollama.embed({ model: '', input: 'x' })],
      ['OpenAI-only model', 503, /gpt-oss:20b/, () => ollama.chat({ model: 'gpt-oss:20b', messages: HI })],
      ['upstream timeout', 504, /first_byte_timeout|timed out/, () => ollama.generate({ model: 'hang:1b', prompt: 'hi' })],
    ];
    for (const [what, status, message, fn] of cases) {
      try {
        await fn();
        t.fail(`${what}: expected the ollama client to throw`);
      } catch (err) {
        const e = err as { name: string; status_code: number; error: string };
        t.equal(e.name, 'ResponseError', `${what}: ResponseError`);
        t.equal(e.status_code, status, `${what}: status ${status}`);
        t.match(e.error, message, `${what}: message`);
      }
    }
  });

  t.test('503 CORRAL_ERR_NO_ENDPOINT when every backend is down; readiness follows', async (t) => {
    const down = sims.map((s) => corral.waitForLog((l) => l.msg === 'endpoint down' && l.endpoint === s.name));
    await Promise.all(sims.map((s) => s.stop()));
    await Promise.all(down);
    for (const c of CHAT) {
      const res = await post(corral, c.path, { model: 'llama3.2:1b', messages: HI, stream: c.stream });
      isError(t, res, c.dialect, 503, 'CORRAL_ERR_NO_ENDPOINT', `${c.path} stream=${c.stream}`);
      t.match(res.headers['retry-after'], /^\d+$/, 'Retry-After');
    }
    for (const r of INFERENCE) {
      const model = r.dialect === 'openai' ? 'gpt-oss:20b' : 'llama3.2:1b';
      isError(t, await post(corral, r.path, { ...r.body, model }), r.dialect, 503, 'CORRAL_ERR_NO_ENDPOINT', r.path);
    }
    const e = await apiError(t, () => openai.chat.completions.create({ model: 'llama3.2:1b', messages: [{ role: 'user', content: 'hi' }] }));
    t.equal(e?.status, 503);
    t.equal(e?.code, 'CORRAL_ERR_NO_ENDPOINT');
    // Catalog views still answer from what was discovered.
    t.equal((await send(corral, 'GET', '/api/tags')).status, 200, '/api/tags still answers');
    const ready = await send(corral, 'GET', '/internal/ready');
    t.equal(ready.status, 503, '/internal/ready is 503');
    t.same(ready.body, { ready: false, healthy_endpoints: 0 });
    const mgmt = await request(`http://127.0.0.1:${corral.managementPort}/internal/ready`);
    t.equal(mgmt.statusCode, 503, 'management /internal/ready is 503');
    await mgmt.body.dump();
    const health = await send(corral, 'GET', '/internal/health');
    t.equal(health.status, 200, 'liveness is unaffected');
  });

  t.test('management port errors are in OpenAI shape', async (t) => {
    const nf = await request(`http://127.0.0.1:${corral.managementPort}/v1/models`);
    isError(t, { status: nf.statusCode, headers: nf.headers, body: await nf.body.json() }, 'openai', 404, 'CORRAL_ERR_NOT_FOUND', 'management GET /v1/models');
    const na = await request(`http://127.0.0.1:${corral.managementPort}/internal/health`, { method: 'POST', body: '{}' });
    isError(t, { status: na.statusCode, headers: na.headers, body: await na.body.json() }, 'openai', 405, 'CORRAL_ERR_METHOD_NOT_ALLOWED', 'management POST /internal/health');
  });
});
