// Failover (issue 2, "Failover, basic" and "Streaming"): failures before the first byte reached the
// client are retried on another endpoint invisibly; failures after it end the stream with an
// error the client's protocol reports (never a silent truncation); a client abort reaches the
// backend; a backend that returns is back in rotation.
//
// Driven by the real `openai` (maxRetries 0, so corral alone does the retrying) and `ollama`
// clients against a real corral with 2 workers.
import t, { type Test } from 'tap';
import { once } from 'node:events';
import OpenAI from 'openai';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import {
  fromHeaders, ollamaChatStream, ollamaClient, openaiClient, openaiStream, openaiWhole, readUntilError, type Outcome,
} from '../helpers/clients.js';
import { answer, HI, inferenceRequests, MODEL } from '../helpers/sim.js';
import { header, send } from '../helpers/http.js';

async function ollamaGenerate(o: ReturnType<typeof ollamaClient>): Promise<Outcome> {
  const r = await o.client.generate({ model: MODEL, prompt: 'hi' });
  return fromHeaders('ollama-generate', 200, o.last(), r.done ? String(r.response) : `${r.response} (no done)`);
}

function check(t: Test, o: Outcome, label: string, notOn: readonly string[] = []): void {
  const ok = o.status === 200 && o.content === answer(o.endpoint) && !notOn.includes(o.endpoint);
  if (ok) t.pass(`${label}: ${o.kind} 200 from ${o.endpoint}, ${o.retries} retries`);
  else t.fail(`${label}: ${o.kind} should be 200 with the full answer${notOn.length ? `, not from ${notOn.join('/')}` : ''}`, { outcome: o });
}

t.test('a backend refusing connections mid-run costs the client nothing', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  // Scheduled probes far apart: the requests, not the prober, are what discover the dead backend.
  const health = { interval: '30s', fast_interval: '50ms', timeout: '1s' };
  const corral = await startCorral(t, sims, { endpoints: sims.map((s) => ({ name: s.name, health })) });
  const victim = sims[1]!;

  const LANES = 6;
  const PER_LANE = 10;
  const STOP_AFTER = 5; // each lane pauses after this many requests while the backend is stopped
  let arrived = 0;
  let releaseBarrier!: () => void;
  const barrier = new Promise<void>((resolve) => {
    releaseBarrier = resolve;
  });
  const stopped = (async () => {
    await new Promise<void>((resolve) => {
      const poll = (): void => {
        if (arrived === LANES) resolve();
        else setImmediate(poll);
      };
      poll();
    });
    await victim.stop();
    releaseBarrier();
  })();

  const before: Outcome[] = [];
  const after: Outcome[] = [];
  const errors: unknown[] = [];
  const lane = async (n: number): Promise<void> => {
    const ai = openaiClient(corral);
    const ol = ollamaClient(corral);
    const kinds = [() => openaiWhole(ai), () => openaiStream(ai), () => ollamaChatStream(ol), () => ollamaGenerate(ol)];
    for (let i = 0; i < PER_LANE; i++) {
      if (i === STOP_AFTER) {
        arrived++;
        await barrier;
      }
      try {
        (i < STOP_AFTER ? before : after).push(await kinds[(n + i) % kinds.length]!());
      } catch (err) {
        errors.push({ lane: n, i, err: String(err) });
      }
    }
  };
  await Promise.all([...Array.from({ length: LANES }, (_, n) => lane(n)), stopped]);

  t.same(errors, [], 'no request threw');
  t.equal(before.length + after.length, LANES * PER_LANE, `${LANES * PER_LANE} requests answered`);
  for (const o of before) check(t, o, 'before the stop');
  t.ok(before.some((o) => o.endpoint === 'b'), 'b served requests before it was stopped');
  for (const o of after) check(t, o, 'after the stop', ['b']);
  const retried = after.filter((o) => o.retries >= 1);
  t.ok(retried.length >= 1, `corral tried the dead backend and retried invisibly (${retried.length} requests retried)`);
  const st = await corral.status();
  t.ok(st.counters.retries >= 1, 'status counts the retries');
  t.not(st.endpoints.find((e: any) => e.name === 'b').state, 'healthy', 'b is no longer healthy');
  t.equal(st.counters.responses_5xx, 0, 'no 5xx answered');
});

t.test('a 503 from one backend is retried on another transparently', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  // Priority: every request tries `a` first, so every request meets the fault.
  const corral = await startCorral(t, sims, {
    config: { routing: { strategy: 'priority' } },
    endpoints: [{ name: 'a', priority: 10 }, { name: 'b', priority: 1 }, { name: 'c', priority: 1 }],
  });
  const a = sims[0]!;
  const ai = openaiClient(corral);
  const ol = ollamaClient(corral);
  a.setFault({ mode: 'status', status: 503 });
  const before = inferenceRequests(a);
  const outcomes: Outcome[] = [];
  for (const run of [() => openaiWhole(ai), () => openaiStream(ai), () => ollamaChatStream(ol), () => ollamaGenerate(ol)]) {
    try {
      outcomes.push(await run());
    } catch (err) {
      t.fail(`request failed instead of being retried on b/c: ${String(err)}`);
    }
  }
  t.equal(outcomes.length, 4, 'all 4 requests answered');
  for (const o of outcomes) check(t, o, '503 on a', ['a']);
  t.equal(outcomes[0]?.retries, 1, 'the first answered request: exactly one retry (a answered 503, then another endpoint)');
  const triedOnA = inferenceRequests(a) - before;
  t.ok(triedOnA >= 1 && triedOnA <= 4, `a was tried at most once per request (${triedOnA} times for 4 requests): a retry never goes back to the endpoint that just failed`);
  t.equal((await corral.status()).counters.responses_5xx, 0, 'no 5xx reached a client');
});

t.test('faults', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  // Priority makes the first attempt deterministic: always `a` while it is healthy.
  const corral = await startCorral(t, sims, {
    config: { routing: { strategy: 'priority' } },
    endpoints: [{ name: 'a', priority: 10 }, { name: 'b', priority: 1 }, { name: 'c', priority: 1 }],
  });
  const [a, b, c] = sims as [SimBackend, SimBackend, SimBackend];
  const ai = openaiClient(corral);
  const ol = ollamaClient(corral);
  const othersRequests = (): number => inferenceRequests(b) + inferenceRequests(c);
  const healthyAgain = (name: string) => corral.nextLog((l) => l.msg === 'endpoint healthy' && l.endpoint === name);

  await t.test('baseline: everything goes to a', { timeout: 20_000 }, async (t) => {
    check(t, await openaiWhole(ai), 'baseline', ['b', 'c']);
    check(t, await ollamaChatStream(ol), 'baseline', ['b', 'c']);
  });

  await t.test('a reset before the response head is retried on another backend', { timeout: 20_000 }, async (t) => {
    for (const run of [() => openaiWhole(ai), () => ollamaChatStream(ol)]) {
      const back = healthyAgain('a');
      a.setFault({ mode: 'reset', afterChunks: 0, count: 1 });
      const o = await run();
      check(t, o, 'reset on a', ['a']);
      t.equal(o.retries, 1, `${o.kind}: one retry`);
      await back; // the worker marked a suspect; the primary's probe finds it alive again
    }
  });

  await t.test('a reset mid-stream is not retried: openai stream iteration throws', { timeout: 20_000 }, async (t) => {
    const back = healthyAgain('a');
    a.setFault({ mode: 'reset', afterChunks: 2, count: 1 });
    const others = othersRequests();
    const { data: stream, response } = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }).withResponse();
    t.equal(response.headers.get('x-corral-endpoint'), 'a');
    const { content, error } = await readUntilError(stream, (chunk) => chunk.choices[0]?.delta.content ?? '');
    t.equal(content, 'Hello from a token 1', 'the two chunks sent before the reset arrived');
    t.type(error, OpenAI.APIError, 'the stream ends with an SSE error event the client throws on');
    t.match(String((error as Error | null)?.message), /mid-stream/, 'saying what happened');
    t.equal(othersRequests(), others, 'not retried elsewhere after bytes reached the client');
    await back;
  });

  await t.test('a reset mid-stream is not retried: ollama stream throws', { timeout: 20_000 }, async (t) => {
    const back = healthyAgain('a');
    a.setFault({ mode: 'reset', afterChunks: 2, count: 1 });
    const others = othersRequests();
    const { content, error } = await readUntilError(ol.client.chat({ model: MODEL, messages: HI, stream: true }), (part) => part.message.content);
    t.equal(ol.last()?.get('x-corral-endpoint'), 'a');
    t.equal(content, 'Hello from a token 1', 'the two lines sent before the reset arrived');
    t.type(error, Error, 'the stream throws');
    t.match(String((error as Error | null)?.message), /mid-stream/, 'on corral\'s NDJSON error line, not a bare truncation');
    t.equal(othersRequests(), others, 'not retried elsewhere');
    await back;
  });

  await t.test('a client abort reaches the backend', { timeout: 20_000 }, async (t) => {
    // openai: abort through the request's AbortSignal after the first chunk
    a.setFault({ mode: 'drip', dripMs: 200, count: 1 });
    const ac = new AbortController();
    const stream = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true, max_tokens: 200 }, { signal: ac.signal });
    let aborted = once(a, 'aborted');
    let chunks = 0;
    try {
      for await (const _chunk of stream) {
        chunks++;
        ac.abort();
      }
    } catch {
      // APIUserAbortError
    }
    t.equal(chunks, 1, 'openai: aborted after the first chunk');
    await aborted;
    t.pass('openai stream abort reached the backend');

    // ollama: the iterator's own abort()
    a.setFault({ mode: 'drip', dripMs: 200, count: 1 });
    aborted = once(a, 'aborted');
    const it = await ol.client.chat({ model: MODEL, messages: HI, stream: true, options: { num_predict: 200 } });
    chunks = 0;
    try {
      for await (const _part of it) {
        chunks++;
        it.abort();
      }
    } catch {
      // AbortError
    }
    t.equal(chunks, 1, 'ollama: aborted after the first chunk');
    await aborted;
    t.pass('ollama stream abort reached the backend');
    const st = await corral.status();
    t.ok(st.counters.client_aborts >= 2, 'status counts the client aborts');
  });

  await t.test('a stopped backend that is restarted returns to rotation', { timeout: 20_000 }, async (t) => {
    const down = corral.nextLog((l) => l.msg === 'endpoint down' && l.endpoint === 'a');
    await a.stop();
    const during = [await openaiWhole(ai), await ollamaGenerate(ol)];
    for (const o of during) check(t, o, 'while a is stopped', ['a']);
    await down;
    const back = healthyAgain('a');
    await a.restart();
    await back;
    const requestsBefore = inferenceRequests(a);
    const after = [await openaiWhole(ai), await openaiStream(ai), await ollamaChatStream(ol)];
    for (const o of after) check(t, o, 'after a returned', ['b', 'c']);
    t.equal(inferenceRequests(a) - requestsBefore, 3, 'the requests reached a again');
  });
});

t.test('every endpoint failing: X-Corral-Retries and the "N tried" of the error agree', async (t) => {
  // X-Corral-Retries counts the endpoints that failed before the one X-Corral-Endpoint names; when
  // corral itself answers that every endpoint failed, "N tried" counts that one too: N = retries + 1.
  for (const maxRetries of [2, 5]) {
    await t.test(`routing.max_retries: ${maxRetries}`, { timeout: 30_000 }, async (t) => {
      const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
      // Priority: a, then b, then c. Scheduled probes far apart, so the requests meet the failures.
      const health = { interval: '30s', fast_interval: '50ms', timeout: '1s' };
      const corral = await startCorral(t, sims, {
        config: { routing: { strategy: 'priority', max_retries: maxRetries } },
        endpoints: [{ name: 'a', priority: 3, health }, { name: 'b', priority: 2, health }, { name: 'c', priority: 1, health }],
      });
      const body = JSON.stringify({ model: MODEL, messages: HI, stream: false });

      for (const s of sims) s.setFault({ mode: 'status', status: 503, count: 1 });
      const r503 = await send(corral, 'POST', '/api/chat', body);
      t.equal(r503.status, 503, '503 everywhere: the last 503 is passed on');
      t.equal(header(r503.headers, 'x-corral-endpoint'), 'c', 'from c, the last one tried');
      t.equal(header(r503.headers, 'x-corral-retries'), '2', 'after a and b failed: 2 retries');
      t.match(r503.body, { error: /status 503 from c/ });
      t.same(sims.map(inferenceRequests), [1, 1, 1], 'each endpoint tried once');

      await Promise.all(sims.map((s) => s.stop()));
      const refused = await send(corral, 'POST', '/api/chat', body);
      t.equal(refused.status, 502, 'connection refused everywhere: 502');
      t.equal(header(refused.headers, 'x-corral-endpoint'), 'c', 'c was the last one tried');
      t.equal(header(refused.headers, 'x-corral-retries'), '2', 'after a and b failed: 2 retries');
      const message = String(refused.body?.error ?? '');
      if (maxRetries >= 3) {
        // Retries left, no endpoint left: corral's own message counts the endpoints tried.
        const tried = /\((\d+) tried\)/.exec(message);
        t.ok(tried, `the message counts the endpoints tried: ${message}`);
        t.equal(Number(tried?.[1]), 3, '3 tried = the 2 retries + the first try');
      } else {
        // Retries used up on the last endpoint: its own failure is the message.
        t.match(message, /^endpoint c failed: /, `the message names c: ${message}`);
      }
      t.same(sims.map(inferenceRequests), [1, 1, 1], 'none reached a backend (refused)');
      t.equal((await corral.status()).counters.retries, 4, 'status counts the retries sent: 2 per request');
    });
  }
});
