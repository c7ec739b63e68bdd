// A backend that dies in the middle of a streamed answer (issue 10, item 2): whatever byte it dies
// at — between events, inside an event's JSON, after an SSE event's line but before its blank
// line, inside a chunk-size line of its chunked framing — the official clients see the whole
// events that came before and then corral's error, raised as a server error with corral's message
// and code: never a SyntaxError, an "invalid json" line or a stream that just stops. A backend
// that dies inside its first event has sent the client nothing: the request is retried elsewhere
// invisibly, or (nowhere else to go) answered with a plain 502.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { answer, HI, MODEL } from '../helpers/sim.js';
import { readRequests, startRawServer } from '../helpers/raw-backend.js';

const TOKENS = ['Hel', 'lo', ' wor', 'ld', '!'];

function sseEvents(): string[] {
  const events = TOKENS.map((content, i) => `data: ${JSON.stringify({
    id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: MODEL,
    choices: [{ index: 0, delta: i === 0 ? { role: 'assistant', content } : { content }, finish_reason: null }],
  })}\n\n`);
  events.push(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: MODEL, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`, 'data: [DONE]\n\n');
  return events;
}

function ndjsonLines(): string[] {
  const lines = TOKENS.map((content) => `${JSON.stringify({ model: MODEL, created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content }, done: false })}\n`);
  lines.push(`${JSON.stringify({ model: MODEL, created_at: '2026-01-01T00:00:00Z', message: { role: 'assistant', content: '' }, done: true, done_reason: 'stop', prompt_eval_count: 1, eval_count: 5 })}\n`);
  return lines;
}

/** One chunk of a chunked body (RFC 9112 §7.1). */
const chunk = (data: string): string => `${Buffer.byteLength(data).toString(16)}\r\n${data}\r\n`;

/**
 * Where the backend dies: a function of the events that returns the exact bytes it writes (head
 * included) before it resets the connection, and how many whole events the client must get.
 */
interface Cut {
  name: string;
  bytes(head: string, events: string[]): string;
  /** Events the client receives whole (0: nothing reached it). */
  whole: number;
  /** The backend does not die: it goes silent with the connection open. */
  hang?: boolean;
}

const CUTS: Cut[] = [
  { name: 'between events (after a whole chunk)', whole: 2, bytes: (h, e) => h + chunk(e[0]!) + chunk(e[1]!) },
  { name: 'mid-event (inside the JSON)', whole: 2, bytes: (h, e) => h + chunk(e[0]!) + chunk(e[1]!) + chunk(e[2]!).slice(0, 40) },
  { name: 'mid-event, the chunk holding one and a half events', whole: 2, bytes: (h, e) => h + chunk(e[0]!) + chunk(e[1]! + e[2]!.slice(0, 30)) },
  { name: 'after an event\'s line, before its end (SSE: no blank line yet)', whole: 2, bytes: (h, e) => h + chunk(e[0]!) + chunk(e[1]!) + chunk(e[2]!.slice(0, -1)) },
  { name: 'mid-chunk-size (inside the hex size line)', whole: 3, bytes: (h, e) => h + chunk(e[0]!) + chunk(e[1]!) + chunk(e[2]!) + chunk(e[3]!).slice(0, 1) },
  { name: 'inside a chunk\'s trailing CRLF', whole: 3, bytes: (h, e) => h + chunk(e[0]!) + chunk(e[1]!) + chunk(e[2]!).slice(0, -1) },
];

const FIRST_EVENT_CUT: Cut = { name: 'inside the first event', whole: 0, bytes: (h, e) => h + chunk(e[0]!.slice(0, 25)) };
const FIRST_EVENT_SILENCE: Cut = { ...FIRST_EVENT_CUT, name: 'silent inside the first event', hang: true };

/** What the scripted backend does with the next inference request. */
let plan: Cut = CUTS[0]!;
let inferenceRequests = 0;

function probeAnswer(path: string): string {
  const body = path === '/api/tags' ? JSON.stringify({ models: [{ name: MODEL, model: MODEL, size: 1, digest: 'x', details: {} }] })
    // Resident (prewarmed): warm-first placement routes to it without asking for a load.
    : path === '/api/ps' ? JSON.stringify({ models: [{ name: MODEL, model: MODEL, size: 1, size_vram: 1, digest: 'x', details: {}, expires_at: '2099-01-01T00:00:00Z' }] })
      : path === '/v1/models' ? JSON.stringify({ object: 'list', data: [{ id: MODEL, object: 'model', created: 1, owned_by: 'x' }] })
        : JSON.stringify({ version: '0.12.0' });
  return `HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
}

/** An Ollama-like backend over raw TCP: answers probes, and dies as `plan` says in each stream. */
function startCutter(t: Test): Promise<number> {
  return startRawServer(t, (socket) => readRequests(socket, (_head, method, path) => {
    if (method === 'GET') {
      socket.write(probeAnswer(path));
      return true;
    }
    inferenceRequests++;
    const sse = path.startsWith('/v1/');
    const responseHead = `HTTP/1.1 200 OK\r\nContent-Type: ${sse ? 'text/event-stream' : 'application/x-ndjson'}\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const bytes = plan.bytes(responseHead, sse ? sseEvents() : ndjsonLines());
    if (plan.hang) {
      socket.write(bytes);
    } else {
      socket.end(bytes);
      socket.destroy();
    }
    return false;
  }));
}

/** Waits (bounded) until corral routes to the cutter again: a failure marks it suspect until a probe clears it. */
async function cutterHealthy(corral: CorralProcess): Promise<void> {
  for (let i = 0; i < 400; i++) {
    const st = await corral.status();
    if (st.endpoints.find((e: any) => e.name === 'cutter')?.state === 'healthy') return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('the cutter endpoint did not become healthy again');
}

t.test('a stream cut anywhere ends, for each official client, with corral\'s error after whole events', async (t) => {
  const port = await startCutter(t);
  const corral = await startCorral(t, [], {
    config: { circuit_breaker: { failures: 0 }, routing: { max_retries: 0 } },
    endpoints: [{ name: 'cutter', url: `http://127.0.0.1:${port}`, type: 'ollama' }],
  });
  const ai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  const ollama = new Ollama({ host: corral.url });
  const brokenLines: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (args[0] === 'invalid json: ') brokenLines.push(String(args[1]));
    else warn(...args);
  };
  t.teardown(() => {
    console.warn = warn;
  });

  for (const cut of CUTS) {
    const expected = TOKENS.slice(0, cut.whole).join('');
    await t.test(`openai client, SSE: ${cut.name}`, async (t) => {
      plan = cut;
      await cutterHealthy(corral);
      const stream = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true });
      let content = '';
      let error: any = null;
      try {
        for await (const c of stream) content += c.choices[0]?.delta.content ?? '';
      } catch (err) {
        error = err;
      }
      t.equal(content, expected, 'every whole event before the cut, nothing of the broken one');
      t.ok(error instanceof OpenAI.APIError, `raised as an APIError (got ${error?.constructor?.name}: ${error?.message})`);
      t.equal(error?.code, 'CORRAL_ERR_UPSTREAM', 'with corral\'s code');
      t.match(String(error?.message), /endpoint cutter failed mid-stream/, 'and corral\'s message');
    });
    await t.test(`ollama client, NDJSON: ${cut.name}`, async (t) => {
      plan = cut;
      await cutterHealthy(corral);
      let content = '';
      let error: any = null;
      try {
        for await (const part of await ollama.chat({ model: MODEL, messages: HI, stream: true })) content += part.message.content;
      } catch (err) {
        error = err;
      }
      t.equal(content, expected, 'every whole line before the cut, nothing of the broken one');
      t.match(String(error?.message), /^endpoint cutter failed mid-stream: .*\(CORRAL_ERR_UPSTREAM\)$/, 'raised with corral\'s message and code');
      t.same(brokenLines, [], 'no line the client could not parse');
    });
  }

  await t.test('the raw bytes: whole events, then the error event, then the chunked terminator', async (t) => {
    plan = CUTS[1]!;
    await cutterHealthy(corral);
    const res = await request(`${corral.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: HI, stream: true }),
    });
    const text = await res.body.text(); // resolves only for a properly terminated chunked body
    t.equal(res.statusCode, 200);
    const events = sseEvents();
    t.ok(text.startsWith(events[0]! + events[1]!), 'the two whole events first');
    const last = text.slice(events[0]!.length + events[1]!.length);
    t.match(last, /^data: \{"error":\{.*\}\}\n\n$/, 'then one error event, alone');
    t.equal(JSON.parse(last.slice(6)).error.code, 'CORRAL_ERR_UPSTREAM');
  });

  await t.test('a cut inside the first event, nowhere else to go: a plain 502, nothing streamed', async (t) => {
    plan = FIRST_EVENT_CUT;
    await cutterHealthy(corral);
    const err = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }).then(() => null, (e) => e);
    t.ok(err instanceof OpenAI.APIError && err.status === 502, `a 502 APIError (got ${err?.status} ${err?.message})`);
    t.equal(err?.code, 'CORRAL_ERR_UPSTREAM');
  });
});

t.test('a cut or a silence inside the first event is retried on another endpoint, invisibly', async (t) => {
  const port = await startCutter(t);
  const [sim] = await startBackends(t, [{ name: 'steady' }]);
  const corral = await startCorral(t, [sim!], {
    config: { routing: { strategy: 'priority' }, circuit_breaker: { failures: 0 }, upstream: { idle_timeout: '500ms' } },
    endpoints: [{ name: 'cutter', url: `http://127.0.0.1:${port}`, type: 'ollama', priority: 10 }, { name: 'steady', priority: 0 }],
  });
  const ai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  for (const cut of [FIRST_EVENT_CUT, FIRST_EVENT_SILENCE]) {
    plan = cut;
    await cutterHealthy(corral);
    const before = inferenceRequests;
    const { data, response } = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }).withResponse();
    let content = '';
    for await (const c of data) content += c.choices[0]?.delta.content ?? '';
    t.equal(inferenceRequests - before, 1, `${cut.name}: the cutter was tried first (priority)`);
    t.equal(response.headers.get('x-corral-endpoint'), 'steady', `${cut.name}: served by the other endpoint`);
    t.equal(response.headers.get('x-corral-retries'), '1', `${cut.name}: after one retry`);
    t.equal(content, answer('steady'), `${cut.name}: the whole answer, from the other endpoint only`);
  }
});
