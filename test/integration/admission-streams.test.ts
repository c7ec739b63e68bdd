// Admission queues (issue 12), streams and modes (heartbeats, queue.enabled, OpenAI-type
// endpoints, inline mode), through real processes: corral with 2 workers in front of a
// simulated Ollama server whose endpoint takes one request at a time (max_concurrency: 1), so
// every other request must wait in the model's queue.
import t from 'tap';
import { APIError } from 'openai';
import { request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { openaiClient, ollamaClient } from '../helpers/clients.js';
import { header } from '../helpers/http.js';
import { until } from '../helpers/wait.js';
import { chatBody, connectionTo, hog, MODEL, oneSlot } from '../helpers/admission.js';

t.test('heartbeats: a queued /v1 stream gets `: queued position=N` comments the openai client skips; Ollama streams get none', async (t) => {
  // The hog is a 300 ms request here: three heartbeats at 100 ms while the others wait.
  const { corral } = await oneSlot(t, { heartbeat: '100ms' }, { tokensPerSecond: 50, tokens: 15 });
  const slow = () => request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: chatBody() })
    .then((r) => r.body.text());

  // Raw: what is on the wire.
  let hogDone = slow();
  await until('the hog on the backend', async () => (await corral.status()).endpoints[0].inflight === 1);
  const raw = await request(`${corral.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true }),
  });
  t.equal(raw.statusCode, 200);
  t.match(header(raw.headers, 'content-type'), /^text\/event-stream/);
  const text = await raw.body.text();
  t.match(text, /^: queued position=1\n\n(: queued position=1\n\n)*data: /, 'comment lines first, then the backend\'s events');
  t.match(text, /data: \[DONE\]\n\n$/, 'the stream ends as the backend ended it');
  await hogDone;

  // The real openai client: the stream parses as if nothing had come before it.
  hogDone = slow();
  await until('the hog on the backend', async () => (await corral.status()).endpoints[0].inflight === 1);
  const stream = await openaiClient(corral).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
  let content = '';
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    content += chunk.choices[0]?.delta?.content ?? '';
  }
  t.ok(chunks > 1 && content.length > 0, `openai client read ${chunks} chunks`);
  await hogDone;

  // Ollama NDJSON: nothing but the backend's lines, through the real client too.
  hogDone = slow();
  await until('the hog on the backend', async () => (await corral.status()).endpoints[0].inflight === 1);
  const nd = await request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody({ stream: true }) });
  const ndText = await nd.body.text();
  t.ok(Number(header(nd.headers, 'x-corral-queue-wait')) >= 100, 'it waited past a heartbeat period');
  t.ok(ndText.trim().split('\n').every((line) => JSON.parse(line).model === MODEL), 'every line is one of the backend\'s JSON objects');
  await hogDone;
  hogDone = slow();
  await until('the hog on the backend', async () => (await corral.status()).endpoints[0].inflight === 1);
  const { client } = ollamaClient(corral);
  let parts = 0;
  for await (const part of await client.chat({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true })) {
    t.equal(part.model, MODEL);
    parts++;
  }
  t.ok(parts > 1, 'the ollama client streamed the answer');
  await hogDone;
});

t.test('a heartbeated stream whose wait times out ends with an error event the openai client raises', async (t) => {
  const { corral } = await oneSlot(t, { heartbeat: '50ms', timeout: '300ms' });
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  const stream = await openaiClient(corral).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
  const err = await (async () => {
    try {
      for await (const _ of stream) { /* nothing arrives */ }
      return null;
    } catch (e) {
      return e;
    }
  })();
  t.ok(err instanceof APIError, 'the client raised an APIError');
  t.match(String((err as Error).message), /queue\.timeout/);
  h.release();
  await first.client.close();
});

t.test('queue.enabled: false answers 503 CORRAL_ERR_NO_ENDPOINT at once, as before queues', async (t) => {
  const { corral } = await oneSlot(t, { enabled: false });
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  const res = await request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
  const body = await res.body.json() as any;
  t.equal(res.statusCode, 503);
  t.equal(body.code, 'CORRAL_ERR_NO_ENDPOINT');
  h.release();
  await first.client.close();
});

t.test('an OpenAI-compatible server (llama-server, vLLM) queues the same way, and so does inline mode (workers: 0)', async (t) => {
  const [oa] = await startBackends(t, [{ name: 'llama-server', dialects: ['openai'], tokensPerSecond: 100, tokens: 3 }]);
  for (const workers of [2, 0]) {
    const corral = await startCorral(t, [oa!], {
      config: { server: { workers } },
      endpoints: [{ name: 'llama-server', type: 'openai', max_concurrency: 1 }],
    });
    const answers = await Promise.all(Array.from({ length: 4 }, async () => {
      const res = await request(`${corral.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
      });
      await res.body.text();
      return { status: res.statusCode, waited: header(res.headers, 'x-corral-queue-wait') !== '' };
    }));
    t.same(answers.map((a) => a.status), [200, 200, 200, 200], `workers: ${workers}: four at once through one slot, all served`);
    t.ok(answers.filter((a) => a.waited).length >= 1, `workers: ${workers}: those beyond the slot waited`);
    await corral.stop();
  }
});
