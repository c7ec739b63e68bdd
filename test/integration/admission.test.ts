// Admission queues (issue 12) through real processes: corral with 2 workers in front of a
// simulated Ollama server whose endpoint takes one request at a time (max_concurrency: 1), so
// every other request must wait in the model's queue.
import t from 'tap';
import { APIError } from 'openai';
import { Client, request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { openaiClient } from '../helpers/clients.js';
import { header, workerOf } from '../helpers/http.js';
import { chatBody, connectionElsewhere, connectionTo, hog, inferences, MODEL, oneSlot, waitDepth } from '../helpers/admission.js';

t.test('saturation queues, then serves in arrival order across both workers; a slot freed on one worker wakes a request queued on the other', async (t) => {
  const { sim, corral } = await oneSlot(t, {});
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  // The order the backend received them in, by corral's request id (forwarded as X-Request-ID):
  // the client's own view of which answer ended first depends on how its sockets are scheduled.
  const received: string[] = [];
  sim.on('request', (path: string, headers: Record<string, unknown>) => {
    if (path === '/api/chat') received.push(String(headers['x-request-id']));
  });
  const answers: Promise<{ status: number; wait: string; worker: string; id: string }>[] = [];
  const clients: Client[] = [first.client];
  for (let i = 0; i < 8; i++) {
    // Alternate workers: odd requests on the hog's worker, even ones on the other.
    const c = i % 2 === 0 ? await connectionElsewhere(corral, first.worker) : await connectionTo(corral, first.worker);
    clients.push(c.client);
    answers.push(c.client.request({ path: '/api/chat', method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() })
      .then(async (res) => {
        await res.body.text();
        return { status: res.statusCode, wait: header(res.headers, 'x-corral-queue-wait'), worker: workerOf(res.headers), id: header(res.headers, 'x-corral-request-id') };
      }));
    await waitDepth(corral, i + 1);
  }
  t.equal(inferences(sim), 1, 'only the hog reached the backend while the slot was taken');
  h.release();
  const results = await Promise.all(answers);
  t.same(results.map((r) => r.status), Array(8).fill(200), 'every queued request was served');
  t.same(received, results.map((r) => r.id), 'first come, first served, whichever worker each waited in: the backend got them in the order they queued');
  t.equal(new Set(results.map((r) => r.worker)).size, 2, 'the queue spanned both workers');
  t.ok(results[0]!.worker !== h.worker, 'the head waited in the other worker than the one whose slot freed');
  t.ok(results.every((r) => /^\d+$/.test(r.wait)), 'each says how long it waited (X-Corral-Queue-Wait)');
  const status = await corral.status();
  t.match(status.models.find((m: any) => m.name === MODEL).queue, { depth: 0, queued: 8, timeouts: 0, refused: 0 });
  t.equal(status.queued, 0);
  await Promise.all(clients.map((c) => c.close()));
});

t.test('a burst of 10× the capacity: every request answered, none refused', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu-a', tokensPerSecond: 200, tokens: 4 }]);
  const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'gpu-a', type: 'ollama', max_concurrency: 3 }] });
  const statuses = await Promise.all(Array.from({ length: 30 }, async () => {
    const res = await request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: chatBody() });
    await res.body.text();
    return res.statusCode;
  }));
  t.same(statuses, Array(30).fill(200), '30 requests against 3 slots: 30 answers');
  t.equal(inferences(sim!), 30, 'each reached the backend once');
});

t.test('a full queue answers 503 CORRAL_ERR_QUEUE_FULL at once, with Retry-After from the service time', async (t) => {
  const { corral } = await oneSlot(t, { max_size: 3 }, { tokensPerSecond: 20, tokens: 6 });
  // Service time on record first (about 300 ms a request).
  for (let i = 0; i < 2; i++) await (await request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() })).body.text();
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  const queued = Array.from({ length: 3 }, () => request(`${corral.url}/api/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: chatBody(),
  }).then(async (res) => { await res.body.text(); return res.statusCode; }));
  await waitDepth(corral, 3);
  const ollama = await request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: chatBody() });
  const ollamaBody = await ollama.body.json() as any;
  t.equal(ollama.statusCode, 503);
  t.equal(ollamaBody.code, 'CORRAL_ERR_QUEUE_FULL', 'Ollama dialect: the stable code');
  t.match(ollamaBody.error, /queue is full \(3 waiting, queue\.max_size 3\)/);
  const service = (await corral.status()).models.find((m: any) => m.name === MODEL).queue.service_ms;
  t.ok(service > 100, `service time observed (${service} ms)`);
  t.equal(header(ollama.headers, 'retry-after'), String(Math.ceil((4 * service) / 1000)), 'Retry-After: the queue ahead through one slot');
  const oa = openaiClient(corral);
  const err = await oa.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  t.ok(err instanceof APIError && err.status === 503, 'OpenAI dialect: 503 through the real client');
  t.equal((err as APIError).code, 'CORRAL_ERR_QUEUE_FULL');
  h.release();
  t.same(await Promise.all(queued), [200, 200, 200], 'the three that waited were served');
  t.equal((await corral.status()).models.find((m: any) => m.name === MODEL).queue.refused, 2);
  await first.client.close();
});

t.test('past queue.shed_at, low-priority requests are refused early; normal ones still wait; a bad priority is a 400', async (t) => {
  const { corral } = await oneSlot(t, { max_size: 4, shed_at: 2 });
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  const post = (headers: Record<string, string>) => request(`${corral.url}/api/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json', connection: 'close', ...headers }, body: chatBody(),
  });
  const waiting = [post({}), post({ 'x-corral-priority': 'low' })];
  await waitDepth(corral, 2);
  const low = await post({ 'x-corral-priority': 'LOW' });
  const lowBody = await low.body.json() as any;
  t.equal(low.statusCode, 503);
  t.equal(lowBody.code, 'CORRAL_ERR_QUEUE_FULL');
  t.match(lowBody.error, /low-priority requests are refused past queue\.shed_at \(2\)/);
  t.ok(Number(header(low.headers, 'retry-after')) >= 1, 'with Retry-After');
  const normal = post({ 'x-corral-priority': 'normal' });
  await waitDepth(corral, 3);
  const bad = await post({ 'x-corral-priority': 'urgent' });
  const badBody = await bad.body.json() as any;
  t.equal(bad.statusCode, 400);
  t.match(badBody, { code: 'CORRAL_ERR_INVALID_REQUEST', error: /x-corral-priority: must be normal or low/ });
  h.release();
  const done = await Promise.all([...waiting, normal].map(async (p) => { const res = await p; await res.body.text(); return res.statusCode; }));
  t.same(done, [200, 200, 200]);
  await first.client.close();
});

t.test('queue.timeout: a request that waited that long gets 503 CORRAL_ERR_QUEUE_TIMEOUT and leaves the queue', async (t) => {
  const { sim, corral } = await oneSlot(t, { timeout: '300ms' });
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  const started = performance.now();
  const res = await request(`${corral.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
  });
  const body = await res.body.json() as any;
  t.ok(performance.now() - started >= 290, 'after queue.timeout');
  t.equal(res.statusCode, 503);
  t.match(body, { error: { code: 'CORRAL_ERR_QUEUE_TIMEOUT', message: /waited 0 s \(queue\.timeout\)|waited \d+ s \(queue\.timeout\)/ } });
  t.ok(Number(header(res.headers, 'retry-after')) >= 1, 'with Retry-After');
  const q = (await corral.status()).models.find((m: any) => m.name === MODEL).queue;
  t.match(q, { depth: 0, timeouts: 1 });
  t.equal(inferences(sim), 1, 'it never reached the backend');
  h.release();
  await first.client.close();
});

t.test('a client that disconnects while queued leaves the queue at once; the one behind it moves up', async (t) => {
  const { sim, corral } = await oneSlot(t, {});
  const first = await connectionTo(corral, '');
  const h = await hog(first.client, first.worker);
  const ac = new AbortController();
  const gone = request(`${corral.url}/api/chat`, { method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' }, body: chatBody() })
    .catch(() => null);
  await waitDepth(corral, 1);
  const behind = request(`${corral.url}/api/chat`, { method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' }, body: chatBody() });
  await waitDepth(corral, 2);
  ac.abort();
  await gone;
  await waitDepth(corral, 1);
  h.release();
  const res = await behind;
  await res.body.text();
  t.equal(res.statusCode, 200, 'the request behind it was served');
  t.equal(inferences(sim), 2, 'the one that left never reached the backend');
  await first.client.close();
});

