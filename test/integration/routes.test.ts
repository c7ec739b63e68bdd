// Every route corral serves, in each dialect, through a real 2-worker cluster in front of three
// simulated backends, driven by the clients users run (`openai`, `ollama`) and, where a client
// hides what matters (headers, framing, HTTP/1.0), by undici and raw sockets.
import { connect } from 'node:net';
import { Ollama } from 'ollama';
import OpenAI from 'openai';
import t from 'tap';
import { request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { HI } from '../helpers/sim.js';

/** The models each simulated backend serves. sim-c speaks only the OpenAI API (a llama-server). */
const MODELS = {
  'sim-a': ['llama3.2:1b', 'nomic-embed-text:latest'],
  'sim-b': ['llama3.2:1b', 'qwen2.5:7b'],
  'sim-c': ['gpt-oss:20b'],
} as const;
const OLLAMA_ENDPOINTS = ['sim-a', 'sim-b'];
const ALL_ENDPOINTS = ['sim-a', 'sim-b', 'sim-c'];

/** A parsed raw HTTP response: status line, header lines as written (order and repeats kept), body. */
interface RawResponse {
  statusLine: string;
  headers: [string, string][];
  body: string;
}

function headerValues(r: RawResponse, name: string): string[] {
  return r.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

/** Decodes a chunked body; null while incomplete. */
function dechunk(buf: Buffer): string | null {
  let at = 0;
  const parts: Buffer[] = [];
  for (;;) {
    const eol = buf.indexOf('\r\n', at);
    if (eol < 0) return null;
    const size = parseInt(buf.subarray(at, eol).toString('latin1'), 16);
    if (Number.isNaN(size)) throw new Error(`bad chunk size at ${at}`);
    if (size === 0) return buf.indexOf('\r\n', eol + 2) >= 0 ? Buffer.concat(parts).toString('utf8') : null;
    if (buf.length < eol + 2 + size + 2) return null;
    parts.push(buf.subarray(eol + 2, eol + 2 + size));
    at = eol + 2 + size + 2;
  }
}

/**
 * Sends `head` (and `body`) as written over a fresh TCP connection and resolves with the first
 * complete response: framed by content-length, chunked encoding, or the connection closing.
 */
function rawHttp(port: number, head: string, body = ''): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let settled = false;
    const parse = (closed: boolean): RawResponse | null => {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return null;
      const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
      const statusLine = lines.shift()!;
      const headers = lines.map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i), l.slice(i + 1).trim()] as [string, string];
      });
      const rest = buf.subarray(end + 4);
      const r: RawResponse = { statusLine, headers, body: '' };
      const length = headerValues(r, 'content-length')[0];
      if (length !== undefined) {
        if (rest.length < Number(length)) return null;
        r.body = rest.subarray(0, Number(length)).toString('utf8');
        return r;
      }
      if (headerValues(r, 'transfer-encoding').some((v) => /chunked/i.test(v))) {
        const decoded = dechunk(rest);
        if (decoded === null) return null;
        r.body = decoded;
        return r;
      }
      if (!closed) return null;
      r.body = rest.toString('utf8');
      return r;
    };
    const finish = (closed: boolean): void => {
      if (settled) return;
      let r: RawResponse | null;
      try {
        r = parse(closed);
      } catch (err) {
        settled = true;
        socket.destroy();
        reject(err);
        return;
      }
      if (r === null) {
        if (closed) {
          settled = true;
          reject(new Error(`connection closed before a complete response:\n${buf.toString('latin1')}`));
        }
        return;
      }
      settled = true;
      socket.destroy();
      resolve(r);
    };
    socket.on('connect', () => socket.write(head + body));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      finish(false);
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', (err) => {
      if (!settled) {
        settled = true;
        reject(err);
      }
    });
  });
}

function postJson(corral: CorralProcess, path: string, body: unknown, headers: Record<string, string> = {}) {
  return request(`${corral.url}${path}`, {
    method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers },
  });
}

t.test('routes', async (t) => {
  const sims = await startBackends(t, [
    { name: 'sim-a', models: MODELS['sim-a'].map((name) => ({ name })), preload: false },
    { name: 'sim-b', models: MODELS['sim-b'].map((name) => ({ name })), preload: false },
    { name: 'sim-c', models: MODELS['sim-c'].map((name) => ({ name })), dialects: ['openai'] },
  ]);
  // Resident models before corral starts, so its discovery sees something in each /api/ps.
  for (const [sim, model] of [[sims[0]!, 'llama3.2:1b'], [sims[1]!, 'qwen2.5:7b']] as const) {
    const res = await request(`${sim.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model }) });
    t.equal(res.statusCode, 200, `${model} loaded on ${sim.name}`);
    await res.body.dump();
  }
  const corral = await startCorral(t, sims);
  const openai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'x', maxRetries: 0 });
  const ollama = new Ollama({ host: corral.url });

  t.test('OpenAI dialect through the openai client', async (t) => {
    t.test('POST /v1/chat/completions, not streamed', async (t) => {
      const r = await openai.chat.completions.create({ model: 'llama3.2:1b', messages: HI });
      t.equal(r.object, 'chat.completion');
      t.match(r.choices[0]!.message.content, /^Hello from sim-[ab]/);
      t.equal(r.choices[0]!.finish_reason, 'stop');
      t.match(r.usage, { prompt_tokens: Number, completion_tokens: 8, total_tokens: Number });
    });

    t.test('POST /v1/chat/completions, streamed, with usage in the final chunk', async (t) => {
      const stream = await openai.chat.completions.create({
        model: 'llama3.2:1b', messages: HI, stream: true, stream_options: { include_usage: true },
      });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      t.ok(chunks.length > 2, `several chunks (${chunks.length})`);
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      t.match(text, /^Hello from sim-[ab] token 1 token 2/);
      t.ok(chunks.some((c) => c.choices[0]?.finish_reason === 'stop'), 'a chunk carries finish_reason');
      t.match(chunks.at(-1)!.usage, { completion_tokens: 8 }, 'usage arrives last');
    });

    t.test('POST /v1/chat/completions on the OpenAI-only backend', async (t) => {
      const r = await openai.chat.completions.create({ model: 'gpt-oss:20b', messages: HI });
      t.match(r.choices[0]!.message.content, /^Hello from sim-c/);
    });

    t.test('POST /v1/completions, streamed and not', async (t) => {
      const whole = await openai.completions.create({ model: 'qwen2.5:7b', prompt: 'hi', max_tokens: 3 });
      t.equal(whole.choices[0]!.text, 'Hello from sim-b token 1 token 2');
      t.equal(whole.choices[0]!.finish_reason, 'length');
      const stream = await openai.completions.create({ model: 'qwen2.5:7b', prompt: 'hi', stream: true });
      const chunks = [];
      for await (const c of stream) chunks.push(c);
      t.ok(chunks.length > 2, `several chunks (${chunks.length})`);
      t.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), 'Hello from sim-b token 1 token 2 token 3 token 4 token 5 token 6 token 7');
      t.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
    });

    t.test('POST /v1/embeddings (the client asks for base64 and decodes it)', async (t) => {
      const r = await openai.embeddings.create({ model: 'nomic-embed-text:latest', input: ['one', 'two'] });
      t.equal(r.data.length, 2);
      for (const d of r.data) {
        t.equal(d.embedding.length, 16);
        t.ok(d.embedding.every((x) => Number.isFinite(x)), 'finite floats');
      }
      t.notSame(r.data[0]!.embedding, r.data[1]!.embedding, 'different inputs, different vectors');
    });

    t.test('GET /v1/models is the union over every backend', async (t) => {
      const ids = [];
      for await (const m of openai.models.list()) ids.push(m.id);
      const expected = [...new Set(Object.values(MODELS).flat())].sort();
      t.same([...ids].sort(), expected, 'every model once, from all three backends');
    });
  });

  t.test('Ollama dialect through the ollama client', async (t) => {
    t.test('POST /api/chat, not streamed', async (t) => {
      const r = await ollama.chat({ model: 'llama3.2:1b', messages: HI });
      t.match(r.message, { role: 'assistant', content: /^Hello from sim-[ab]/ });
      t.match(r, { done: true, done_reason: 'stop', eval_count: 8 });
    });

    t.test('POST /api/chat, streamed', async (t) => {
      const parts = [];
      for await (const p of await ollama.chat({ model: 'qwen2.5:7b', messages: HI, stream: true })) parts.push(p);
      t.equal(parts.length, 9, '8 tokens and the final line');
      t.equal(parts.map((p) => p.message.content).join(''), 'Hello from sim-b token 1 token 2 token 3 token 4 token 5 token 6 token 7');
      t.ok(parts.slice(0, -1).every((p) => p.done === false), 'not done before the end');
      t.match(parts.at(-1), { done: true, done_reason: 'stop', eval_count: 8, prompt_eval_count: Number });
    });

    t.test('POST /api/generate, streamed and not', async (t) => {
      const whole = await ollama.generate({ model: 'qwen2.5:7b', prompt: 'hi', options: { num_predict: 2 } });
      t.equal(whole.response, 'Hello from sim-b token 1');
      t.match(whole, { done: true, done_reason: 'length', eval_count: 2 });
      const parts = [];
      for await (const p of await ollama.generate({ model: 'llama3.2:1b', prompt: 'hi', stream: true })) parts.push(p);
      t.equal(parts.length, 9);
      t.match(parts.map((p) => p.response).join(''), /^Hello from sim-[ab] token 1/);
      t.match(parts.at(-1), { done: true, done_reason: 'stop' });
    });

    t.test('POST /api/embed and the legacy /api/embeddings', async (t) => {
      const r = await ollama.embed({ model: 'nomic-embed-text:latest', input: ['one', 'two'] });
      t.equal(r.embeddings.length, 2);
      t.equal(r.embeddings[0]!.length, 16);
      const legacy = await ollama.embeddings({ model: 'nomic-embed-text:latest', prompt: 'one' });
      t.same(legacy.embedding, r.embeddings[0], 'same vector for the same input');
    });

    t.test('POST /api/embed accepts the model name without :latest', async (t) => {
      const r = await ollama.embed({ model: 'nomic-embed-text', input: 'one' });
      t.equal(r.embeddings.length, 1);
    });

    t.test('POST /api/show', async (t) => {
      const r = await ollama.show({ model: 'qwen2.5:7b' });
      t.match(r.details, { family: 'qwen', format: 'gguf' });
      t.equal(r.model_info['qwen.context_length' as keyof typeof r.model_info], 131072);
      t.match(r.modelfile, /sim backend sim-b/);
    });

    t.test('GET /api/tags is the union over the Ollama backends', async (t) => {
      const r = await ollama.list();
      const names = r.models.map((m) => m.name).sort();
      t.same(names, [...new Set(OLLAMA_ENDPOINTS.flatMap((e) => MODELS[e as keyof typeof MODELS]))].sort(), 'every Ollama model once');
      for (const m of r.models) t.match(m, { size: Number, digest: /^[0-9a-f]{64}$/, details: { format: 'gguf' } }, `${m.name} keeps its backend's fields`);
    });

    t.test('GET /api/ps is the union over the Ollama backends', async (t) => {
      const r = await ollama.ps();
      const names = r.models.map((m) => m.name).sort();
      t.same(names, ['llama3.2:1b', 'nomic-embed-text:latest', 'qwen2.5:7b'],
        'the model resident on sim-a, the one on sim-b, and the embedding model the requests above had loaded');
      for (const m of r.models) t.match(m, { size_vram: Number, expires_at: String }, m.name);
    });

    t.test('GET /api/version', async (t) => {
      const r = await ollama.version();
      t.equal(r.version, '0.12.0', "the backends' version");
    });
  });

  t.test('response headers', async (t) => {
    t.test('x-corral-* headers on a proxied response; the caller\'s X-Request-ID is echoed', async (t) => {
      const res = await postJson(corral, '/api/chat', { model: 'llama3.2:1b', messages: HI, stream: false }, { 'x-request-id': 'req-routes-1' });
      t.equal(res.statusCode, 200);
      const body = await res.body.json() as { message: { content: string } };
      const endpoint = res.headers['x-corral-endpoint'];
      t.ok(OLLAMA_ENDPOINTS.includes(String(endpoint)), `x-corral-endpoint names a configured endpoint (${endpoint})`);
      t.equal(res.headers['x-sim-backend'], endpoint, 'and it is the backend that answered');
      t.match(body.message.content, `Hello from ${endpoint}`);
      t.equal(res.headers['x-corral-request-id'], 'req-routes-1');
      t.equal(res.headers['x-corral-route'], 'least-connections');
      t.equal(res.headers['x-corral-retries'], '0');
    });

    t.test('a request id is generated when the caller sends none', async (t) => {
      const a = await postJson(corral, '/v1/chat/completions', { model: 'gpt-oss:20b', messages: HI });
      const b = await postJson(corral, '/v1/chat/completions', { model: 'gpt-oss:20b', messages: HI });
      await Promise.all([a.body.dump(), b.body.dump()]);
      t.equal(a.headers['x-corral-endpoint'], 'sim-c');
      t.type(a.headers['x-corral-request-id'], 'string');
      t.ok(String(a.headers['x-corral-request-id']).length > 0, 'non-empty');
      t.not(a.headers['x-corral-request-id'], b.headers['x-corral-request-id'], 'distinct per request');
    });

    t.test('the streamed NDJSON answer keeps its content type and is not re-framed', async (t) => {
      const res = await postJson(corral, '/api/generate', { model: 'qwen2.5:7b', prompt: 'hi' });
      t.equal(res.statusCode, 200);
      t.equal(res.headers['content-type'], 'application/x-ndjson');
      const lines = (await res.body.text()).trim().split('\n').map((l) => JSON.parse(l) as { done: boolean });
      t.equal(lines.length, 9, 'stream defaults to true on /api/generate');
      t.equal(lines.at(-1)!.done, true);
    });

    t.test('the SSE answer keeps its content type and ends with [DONE]', async (t) => {
      const res = await postJson(corral, '/v1/chat/completions', { model: 'llama3.2:1b', messages: HI, stream: true });
      t.match(res.headers['content-type'], /^text\/event-stream/);
      const text = await res.body.text();
      t.match(text, /data: \[DONE\]\n\n$/);
      t.equal(text.split('\n\n').filter((e) => e.startsWith('data: ')).length, 10, '8 tokens, the finish chunk and [DONE]');
    });

    t.test('raw bytes: one Date header, one of each corral header, on streamed and catalog answers', async (t) => {
      const body = JSON.stringify({ model: 'llama3.2:1b', messages: HI });
      const streamed = await rawHttp(corral.port, `POST /api/chat HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nX-Request-ID: raw-1\r\n\r\n`, body);
      t.match(streamed.statusLine, /^HTTP\/1\.1 200 /);
      t.equal(headerValues(streamed, 'date').length, 1, 'exactly one Date header on a proxied stream');
      for (const h of ['x-corral-endpoint', 'x-corral-request-id', 'x-corral-route', 'x-corral-retries', 'content-type', 'x-sim-backend']) {
        t.equal(headerValues(streamed, h).length, 1, `exactly one ${h}`);
      }
      t.equal(headerValues(streamed, 'server').length <= 1, true, 'at most one Server header');
      t.same(headerValues(streamed, 'x-corral-request-id'), ['raw-1']);
      t.equal(headerValues(streamed, 'connection').filter((v) => /keep-alive/i.test(v)).length <= 1, true, 'no copied hop-by-hop headers');
      const lines = streamed.body.trim().split('\n').map((l) => JSON.parse(l) as { done: boolean });
      t.equal(lines.at(-1)!.done, true, 'the body arrives whole');

      const embedBody = JSON.stringify({ model: 'nomic-embed-text:latest', input: 'x' });
      const whole = await rawHttp(corral.port, `POST /v1/embeddings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(embedBody)}\r\n\r\n`, embedBody);
      t.match(whole.statusLine, /^HTTP\/1\.1 200 /);
      t.equal(headerValues(whole, 'date').length, 1, 'exactly one Date header on a proxied whole answer');
      t.equal(headerValues(whole, 'content-length').length + headerValues(whole, 'transfer-encoding').length, 1, 'framed exactly once');

      const catalog = await rawHttp(corral.port, 'GET /api/tags HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      t.match(catalog.statusLine, /^HTTP\/1\.1 200 /);
      t.equal(headerValues(catalog, 'date').length, 1, 'exactly one Date header on a catalog answer');
      t.ok(Array.isArray((JSON.parse(catalog.body) as { models: unknown[] }).models));
    });
  });

  t.test('internal routes', async (t) => {
    t.test('on the API port', async (t) => {
      const health = await request(`${corral.url}/internal/health`);
      t.equal(health.statusCode, 200);
      t.same(await health.body.json(), { status: 'ok' });
      const ready = await request(`${corral.url}/internal/ready`);
      t.equal(ready.statusCode, 200);
      t.same(await ready.body.json(), { ready: true, healthy_endpoints: 3 });
      const status = await corral.status();
      t.equal(status.mode, 'cluster');
      t.same(status.endpoints.map((e: { name: string }) => e.name), ALL_ENDPOINTS);
      t.ok(status.endpoints.every((e: { state: string }) => e.state === 'healthy'), 'every endpoint healthy');
      t.same(status.endpoints.map((e: { type: string }) => e.type), ['ollama', 'ollama', 'openai'], 'types detected');
      t.equal(status.workers.length, 2, 'two workers');
      t.ok(status.counters.requests > 0, 'request counters summed over the workers');
    });

    t.test('on the management port, over HTTP/1.1 and HTTP/1.0', async (t) => {
      t.type(corral.managementPort, 'number');
      const port = corral.managementPort!;
      const health = await request(`http://127.0.0.1:${port}/internal/health`);
      t.equal(health.statusCode, 200);
      t.same(await health.body.json(), { status: 'ok' });
      const ready = await request(`http://127.0.0.1:${port}/internal/ready`);
      t.same(await ready.body.json(), { ready: true, healthy_endpoints: 3 });
      const status = await request(`http://127.0.0.1:${port}/internal/status`);
      const doc = await status.body.json() as { endpoints: { name: string }[] };
      t.same(doc.endpoints.map((e) => e.name), ALL_ENDPOINTS);

      // HAProxy's default `option httpchk`: HTTP/1.0, no Host header.
      const raw = await rawHttp(port, 'GET /internal/health HTTP/1.0\r\n\r\n');
      t.match(raw.statusLine, /^HTTP\/1\.[01] 200 /);
      t.same(JSON.parse(raw.body), { status: 'ok' });
      const rawReady = await rawHttp(port, 'GET /internal/ready HTTP/1.0\r\n\r\n');
      t.match(rawReady.statusLine, /^HTTP\/1\.[01] 200 /);
      t.same(JSON.parse(rawReady.body), { ready: true, healthy_endpoints: 3 });
    });
  });
});
