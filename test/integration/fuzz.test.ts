// Fuzz-style test (issue 3, "Proof"): thousands of generated malformed requests against a running
// 2-worker cluster. Every one must get a success or a well-formed error — a 4xx/5xx whose JSON body
// is in the dialect of its path with a CORRAL_ERR_* code (or a backend's own error, passed through,
// for requests corral forwarded) — or, for the inputs uWS 20.30 itself never answers (README, "What
// uWebSockets.js 20.30 cannot answer"), no response. Afterwards the cluster is healthy: ready, no
// worker restarted, a normal request served. Seeded: FUZZ_SEED=<n> reproduces a run.
import { connect } from 'node:net';
import t from 'tap';
import { Pool } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { MODEL } from '../helpers/sim.js';

const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed_c0a1);
const POOL_REQUESTS = 3000;
const RAW_REQUESTS = 300;
const CONCURRENCY = 16;
const MAX_BODY = 256 * 1024;

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const ROUTES = ['/api/chat', '/api/generate', '/api/embed', '/api/embeddings', '/api/show', '/api/tags', '/api/ps', '/api/version',
  '/v1/chat/completions', '/v1/completions', '/v1/embeddings', '/v1/models', '/internal/health', '/internal/ready', '/internal/status'];
const INFERENCE = ROUTES.filter((p) => !['/api/tags', '/api/ps', '/api/version', '/v1/models'].includes(p) && !p.startsWith('/internal/'));

class Gen {
  readonly r: () => number;
  constructor(seed: number) {
    this.r = prng(seed);
  }
  int(n: number): number {
    return Math.floor(this.r() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }
  chance(p: number): boolean {
    return this.r() < p;
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  token(n: number): string {
    const cs = 'abcdefghijklmnopqrstuvwxyz0123456789-_.';
    let s = '';
    for (let i = 0; i < n; i++) s += cs[this.int(cs.length)];
    return s;
  }

  path(): string {
    let p = this.pick(ROUTES);
    switch (this.int(12)) {
      case 0: return `${p}/`;
      case 1: return `/${p}`;
      case 2: return p.toUpperCase();
      case 3: return `${p}?${this.token(5)}=${this.token(8)}&stream=true`;
      case 4: return p.replace(/\/[^/]*$/, '/..') + p;
      case 5: return p.replace(/[a-z]/, (c) => `%${c.charCodeAt(0).toString(16)}`);
      case 6: return `${p}/${this.token(1 + this.int(10))}`;
      case 7: return `/${this.token(1 + this.int(20))}`;
      case 8: return `${p}%00`;
      case 9: return p.slice(0, 1 + this.int(p.length - 1));
      case 10: return `${p}/${'a'.repeat(this.int(1500))}`;
      default: return p;
    }
  }

  validBody(path: string): Record<string, unknown> {
    const model = this.chance(0.8) ? MODEL : this.pick(['nope:7b', 'llama3.2', 'llama3.2:latest', 'LLAMA3.2:1B']);
    const stream = this.pick([true, false, undefined]);
    const base: Record<string, unknown> = { model, stream };
    if (path.includes('chat')) base.messages = [{ role: 'user', content: this.token(5) }];
    else if (path.includes('embed')) base.input = this.token(5);
    else base.prompt = this.token(5);
    if (this.chance(0.3)) base.options = { num_predict: this.int(5) };
    if (this.chance(0.3)) base.max_tokens = this.int(5);
    return base;
  }

  /** A body and a label for what kind of garbage it is. */
  body(path: string): { body: Buffer | null; kind: string } {
    const valid = this.validBody(path);
    const json = JSON.stringify(valid);
    switch (this.int(16)) {
      case 0: return { body: null, kind: 'none' };
      case 1: return { body: this.bytes(1 + this.int(512)), kind: 'random bytes' };
      case 2: return { body: Buffer.from(json.slice(0, this.int(json.length))), kind: 'truncated JSON' };
      case 3: {
        const b = Buffer.from(json);
        for (let i = 0, n = 1 + this.int(4); i < n; i++) b[this.int(b.length)] = this.int(256);
        return { body: b, kind: 'mutated JSON' };
      }
      case 4: return { body: Buffer.from(JSON.stringify({ ...valid, model: this.pick([42, true, null, [], {}, 1e308, -0, [MODEL], { name: MODEL }]) })), kind: 'model of a wrong type' };
      case 5: return { body: Buffer.from(JSON.stringify({ ...valid, stream: this.pick(['true', 1, 0, null, [], {}, 'false']) })), kind: 'stream of a wrong type' };
      case 6: return { body: Buffer.from(JSON.stringify({ ...valid, messages: this.pick(['hi', 42, null, {}, [null], [[]], [{ role: 7 }]]) })), kind: 'messages of a wrong type' };
      case 7: return { body: Buffer.from(json.replace(/}$/, `,"n":${this.pick(['1e400', '-1e400', '123456789012345678901234567890123456789', '1'.repeat(5000), '-0.0e-99999'])}}`)), kind: 'huge numbers' };
      case 8: {
        const depth = this.pick([100, 1000, 10_000]);
        const nested = '['.repeat(depth) + ']'.repeat(depth);
        return { body: Buffer.from(this.chance(0.5) ? nested : json.replace(/}$/, `,"deep":${nested}}`)), kind: `${depth} nested arrays` };
      }
      case 9: {
        const depth = this.pick([1000, 10_000]);
        return { body: Buffer.from('{"a":'.repeat(depth) + '1' + '}'.repeat(depth)), kind: `${depth} nested objects` };
      }
      case 10: {
        const b = Buffer.from(json);
        b[this.int(b.length)] = 0;
        return { body: b, kind: 'NUL byte' };
      }
      case 11: return { body: Buffer.from(JSON.stringify({ ...valid, model: `${MODEL}\u0000` })), kind: 'NUL in model' };
      case 12: return { body: Buffer.from(this.pick(['[]', '""', '0', 'null', 'true', '"model"', '[{"model":"llama3.2:1b"}]', ' ', '\ufeff{}'])), kind: 'not an object' };
      case 13: return { body: Buffer.from(JSON.stringify({ ...valid, model: 'x'.repeat(this.pick([257, 5000, 60_000])) })), kind: 'long model' };
      case 14: return { body: Buffer.concat([Buffer.from(json.slice(0, 10)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(json.slice(10))]), kind: 'invalid UTF-8' };
      default: return { body: Buffer.from(json), kind: 'valid' };
    }
  }

  headers(): Record<string, string> {
    const h: Record<string, string> = {};
    if (this.chance(0.7)) h['content-type'] = this.pick(['application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', '', 'application/json; charset=utf-16', this.token(10)]);
    for (let i = 0, n = this.int(8); i < n; i++) {
      // Header names from [a-z0-9-] only: uWS 20.30 never answers a request with any other
      // character in a header name ('.', '_', '!', '~', '+', … — valid RFC 9110 tchars); the raw cases cover those.
      h[`x-${this.token(1 + this.int(12)).replace(/[._]/g, '-')}`] = this.chance(0.2) ? this.bytes(1 + this.int(30)).toString('latin1').replace(/[^\t\x20-\x7e\x80-\xff]/g, '?') : this.token(this.int(100));
    }
    if (this.chance(0.2)) h['x-request-id'] = this.token(this.int(200));
    if (this.chance(0.2)) h['x-session-id'] = this.token(this.int(300));
    if (this.chance(0.1)) h.accept = this.pick(['text/event-stream', 'application/x-ndjson', '*/*', '']);
    if (this.chance(0.1)) h.traceparent = this.token(55);
    return h;
  }
}

type Outcome = 'success' | 'corral error' | 'backend error' | 'no answer';

/** Checks a response; returns null if it is acceptable, else what is wrong. */
function judge(path: string, status: number, headers: Record<string, string | string[] | undefined>, text: string, method: string): { outcome: Outcome; problem: string | null } {
  if (status >= 200 && status < 300) return { outcome: 'success', problem: null };
  if (status < 400 || status > 599) return { outcome: 'corral error', problem: `status ${status}` };
  if (method === 'HEAD') return { outcome: 'corral error', problem: null };
  let body: any;
  try {
    body = JSON.parse(text);
  } catch {
    return { outcome: 'corral error', problem: `error body is not JSON: ${JSON.stringify(text.slice(0, 200))}` };
  }
  // Forwarded to a backend (x-corral-endpoint is set) and refused by it: passed through unchanged.
  if (headers['x-corral-endpoint'] !== undefined && status < 500 && body?.code === undefined && body?.error?.code === undefined) {
    return { outcome: 'backend error', problem: body?.error === undefined ? `backend error without "error": ${text.slice(0, 200)}` : null };
  }
  const ollama = path.startsWith('/api/') || path === '/api';
  const code: unknown = ollama ? body?.code : body?.error?.code;
  const shaped = ollama
    ? typeof body?.error === 'string' && body.error.length > 0
    : typeof body?.error === 'object' && body.error !== null && typeof body.error.message === 'string' && typeof body.error.type === 'string';
  if (!shaped) return { outcome: 'corral error', problem: `not in ${ollama ? 'Ollama' : 'OpenAI'} shape: ${text.slice(0, 200)}` };
  if (typeof code !== 'string' || !code.startsWith('CORRAL_ERR_')) return { outcome: 'corral error', problem: `code ${String(code)}` };
  if (!String(headers['content-type'] ?? '').startsWith('application/json')) return { outcome: 'corral error', problem: `content-type ${String(headers['content-type'])}` };
  return { outcome: 'corral error', problem: null };
}

/** Runs `fn` over `items` with at most `n` in flight. */
async function bounded<T>(items: readonly T[], n: number, fn: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) {
      const i = next++;
      await fn(items[i]!, i);
    }
  }));
}

interface RawCase {
  kind: string;
  bytes: Buffer;
  /** uWS 20.30 never answers this (documented, or not HTTP/1.1 at all): no answer is acceptable. */
  mayBeSilent: boolean;
}

/** Sends raw bytes; resolves with the first response's status/headers/body, or null if none came. */
function rawOnce(port: number, bytes: Buffer, idleMs: number, headRequest: boolean): Promise<{ status: number; headers: Record<string, string>; body: string; extra: number } | null> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      socket.destroy();
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return resolve(null);
      const head = buf.subarray(0, end).toString('latin1');
      const headers: Record<string, string> = {};
      for (const line of head.split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      const length = headRequest ? 0 : Number(headers['content-length'] ?? 0);
      resolve({ status: Number(head.split(' ')[1]), headers, body: buf.subarray(end + 4, end + 4 + length).toString('utf8'), extra: buf.length - (end + 4 + length) });
    };
    socket.setTimeout(idleMs, finish);
    // write, not end: uWS 20.30 closes a half-closed connection at once, dropping a response still being made.
    socket.on('connect', () => socket.write(bytes));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      // Complete once the head and Content-Length bytes of body are in (corral's errors are length-framed).
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const m = /\r\ncontent-length:\s*(\d+)/i.exec(buf.subarray(0, end).toString('latin1'));
      const status = Number(buf.subarray(9, 12).toString('latin1'));
      if (m !== null && buf.length >= end + 4 + (headRequest ? 0 : Number(m[1]))) finish();
      else if (m === null && status >= 200 && status < 300) finish(); // a streamed success: the head is enough
    });
    socket.on('error', () => {});
    socket.on('close', finish);
  });
}

t.test(`fuzz: ${POOL_REQUESTS} + ${RAW_REQUESTS} malformed requests (FUZZ_SEED=${SEED})`, async (t) => {
  const sims = await startBackends(t, [
    { name: 'sim-a', models: [{ name: MODEL }] },
    { name: 'sim-b', models: [{ name: MODEL }], dialects: ['openai'] },
  ]);
  const corral = await startCorral(t, sims, {
    config: { server: { max_body_size: '256KiB', body_timeout: '5s' } },
  });
  const before = await corral.status();
  const g = new Gen(SEED);
  const pool = new Pool(corral.url, { connections: CONCURRENCY, pipelining: 1, headersTimeout: 10_000, bodyTimeout: 10_000 });
  t.teardown(() => pool.close());

  const counts: Record<string, number> = {};
  const problems: string[] = [];
  const count = (k: string): void => { counts[k] = (counts[k] ?? 0) + 1; };

  // Pool traffic: methods undici sends on a keep-alive connection. HEAD goes over raw sockets below
  // (a HEAD response with a body would desynchronise the pooled connection and blame other requests).
  const METHODS = ['GET', 'POST', 'POST', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;
  const specs = Array.from({ length: POOL_REQUESTS }, (_, i) => {
    const method = g.pick(METHODS);
    const path = g.chance(0.75) && method === 'POST' ? g.pick(INFERENCE) : g.path();
    const { body, kind } = method === 'GET' && g.chance(0.8) ? { body: null, kind: 'none' } : g.body(path);
    return { i, method, path, headers: g.headers(), body, kind };
  });
  await bounded(specs, CONCURRENCY, async (s) => {
    const label = `#${s.i} ${s.method} ${JSON.stringify(s.path)} [${s.kind}]`;
    try {
      const res = await pool.request({ method: s.method, path: s.path, headers: s.headers, body: s.body ?? undefined });
      const text = await res.body.text();
      const v = judge(s.path.split('?')[0]!, res.statusCode, res.headers, text, s.method);
      count(`${v.outcome} ${res.statusCode}`);
      if (v.problem !== null) problems.push(`${label}: ${res.statusCode} ${v.problem}`);
    } catch (err) {
      count('no answer (pool)');
      problems.push(`${label}: transport error ${(err as Error).name}: ${(err as Error).message}`);
    }
  });

  // Raw traffic: bytes no well-behaved client sends.
  const raws: RawCase[] = [];
  const H = 'Host: 127.0.0.1\r\n';
  for (let i = 0; i < RAW_REQUESTS; i++) {
    const path = g.path();
    const { body } = g.body(path);
    const b = body ?? Buffer.alloc(0);
    switch (g.int(10)) {
      case 0: raws.push({ kind: 'random bytes', bytes: g.bytes(1 + g.int(300)), mayBeSilent: true }); break;
      case 1: raws.push({ kind: 'HTTP/1.0', bytes: Buffer.from(`GET ${path} HTTP/1.0\r\n${H}\r\n`), mayBeSilent: true }); break;
      case 2: raws.push({ kind: 'no Host', bytes: Buffer.from(`GET ${path} HTTP/1.1\r\n\r\n`), mayBeSilent: true }); break;
      case 3: raws.push({ kind: '≥ 49 headers', bytes: Buffer.from(`GET ${path} HTTP/1.1\r\n${H}${Array.from({ length: 48 + g.int(30) }, (_, k) => `x-${k}: ${g.token(3)}\r\n`).join('')}\r\n`), mayBeSilent: true }); break;
      case 4: raws.push({ kind: 'NUL in the request line', bytes: Buffer.from(`GET ${path}\u0000x HTTP/1.1\r\n${H}\r\n`), mayBeSilent: true }); break;
      case 5: {
        // Over max_body_size, announced: a 413 from the head alone.
        raws.push({ kind: 'over max_body_size', bytes: Buffer.from(`POST ${g.pick(INFERENCE)} HTTP/1.1\r\n${H}Content-Length: ${MAX_BODY + 1 + g.int(1e9)}\r\n\r\n{"model":`), mayBeSilent: false });
        break;
      }
      case 6: {
        // Chunked, valid framing, random content.
        const hex = b.length.toString(16);
        raws.push({ kind: 'chunked', bytes: Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${hex}\r\n`), b, Buffer.from('\r\n0\r\n\r\n')]), mayBeSilent: b.length === 0 });
        break;
      }
      case 7: raws.push({ kind: 'HEAD', bytes: Buffer.from(`HEAD ${path} HTTP/1.1\r\n${H}\r\n`), mayBeSilent: false }); break;
      case 8: {
        if (g.chance(0.3)) {
          raws.push({ kind: 'header name uWS refuses', bytes: Buffer.from(`GET ${path} HTTP/1.1\r\n${H}x${g.pick(['.', '_', '!', '~', '+', '*'])}${g.token(4)}: v\r\n\r\n`), mayBeSilent: true });
          break;
        }
        raws.push({ kind: 'invalid Content-Length', bytes: Buffer.from(`POST ${path} HTTP/1.1\r\n${H}Content-Length: ${g.pick(['-1', 'abc', '1e3', '0x10', '', '99999999999999999999'])}\r\n\r\n{}`), mayBeSilent: true });
        break;
      }
      default: raws.push({ kind: 'raw POST', bytes: Buffer.concat([Buffer.from(`POST ${path} HTTP/1.1\r\n${H}Content-Length: ${b.length}\r\n\r\n`), b]), mayBeSilent: false });
    }
  }
  const headBodies: string[] = [];
  await bounded(raws, CONCURRENCY, async (c, i) => {
    const isHead = c.kind === 'HEAD';
    // Silent cases wait briefly (uWS holds them until its own 10 s idle timeout); answered ones get a generous bound.
    const r = await rawOnce(corral.port, c.bytes, c.mayBeSilent ? 1500 : 10_000, isHead);
    const path = c.bytes.toString('latin1').split(' ')[1] ?? '/';
    if (r === null) {
      count(`no answer (raw ${c.kind})`);
      if (!c.mayBeSilent) problems.push(`raw #${i} ${c.kind} ${JSON.stringify(c.bytes.subarray(0, 80).toString('latin1'))}: no answer`);
      return;
    }
    const v = judge(path.split('?')[0]!, r.status, r.headers, r.body, isHead ? 'HEAD' : 'POST');
    count(`${v.outcome} ${r.status} (raw)`);
    if (v.problem !== null) problems.push(`raw #${i} ${c.kind} ${JSON.stringify(path)}: ${r.status} ${v.problem}`);
    if (isHead && r.extra > 0) headBodies.push(`HEAD ${path}: ${r.status} followed by ${r.extra} body bytes`);
  });

  t.comment(`outcomes: ${JSON.stringify(Object.fromEntries(Object.entries(counts).sort()))}`);
  t.ok(POOL_REQUESTS + RAW_REQUESTS >= 3000, 'at least 3,000 requests');
  t.same(problems.slice(0, 30), [], `every request got a success or a well-formed error (${problems.length} did not)`);
  t.same(headBodies.slice(0, 10), [], `HEAD responses carry no content (${headBodies.length} did)`);
  t.ok((counts['success 200'] ?? 0) > 100, 'valid requests among the garbage were served');

  // The cluster is healthy: ready, same workers, none restarted, a normal request served.
  const ready = await pool.request({ method: 'GET', path: '/internal/ready' });
  t.equal(ready.statusCode, 200, '/internal/ready is 200');
  await ready.body.dump();
  const after = await corral.status();
  t.same(after.workers.map((w: { pid: number; restarts: number }) => [w.pid, w.restarts]),
    before.workers.map((w: { pid: number }) => [w.pid, 0]), 'the same workers, none restarted');
  const chat = await pool.request({ method: 'POST', path: '/v1/chat/completions', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }) });
  t.equal(chat.statusCode, 200, 'a normal request succeeds');
  t.match(await chat.body.json(), { object: 'chat.completion' });
  t.equal(corral.child.exitCode, null, 'corral is still running');
  const crashes = corral.logs.filter((l) => l.level >= 50);
  t.same(crashes.map((l) => l.msg), [], 'no error-level log lines');
});
