// Circuit breaker (issue 3, "Circuit breaker"): consecutive failures on one endpoint open its
// circuit in the shared segment, so no worker sends it traffic — even a backend that answers every
// request with a fast 503, which least-connections would otherwise favour; after `open_for` the
// circuit goes half-open, a trial that succeeds closes it and traffic returns. A persistent 500
// (not retried, passed through to the client) trips it too.
//
// Driven by the real `openai` client (maxRetries 0: corral alone retries) and `ollama` client
// against a real corral with 2 workers sharing one segment.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import { fromHeaders, ollamaChatStream, ollamaClient, openaiClient, openaiStream, openaiWhole, type Outcome } from '../helpers/clients.js';
import { answer, inferenceRequests } from '../helpers/sim.js';

function clients(corral: CorralProcess): { ai: OpenAI; ol: ReturnType<typeof ollamaClient> } {
  return { ai: openaiClient(corral), ol: ollamaClient(corral) };
}

/** One request of kind i % 3 (openai whole, openai stream, ollama chat stream); a backend error is an outcome too. */
async function one(c: ReturnType<typeof clients>, i: number): Promise<Outcome> {
  const kind = ['openai', 'openai-stream', 'ollama-chat-stream'][i % 3]!;
  try {
    if (kind === 'openai') return await openaiWhole(c.ai);
    if (kind === 'openai-stream') return await openaiStream(c.ai);
    return await ollamaChatStream(c.ol);
  } catch (err) {
    if (err instanceof OpenAI.APIError) return fromHeaders(kind, err.status ?? 0, err.headers, String(err.message));
    const status = (err as { status_code?: number }).status_code;
    if (typeof status === 'number') return fromHeaders(kind, status, c.ol.last(), String((err as Error).message));
    return { kind, status: 0, endpoint: '', retries: NaN, content: `threw: ${String(err)}` };
  }
}

async function circuitOf(corral: CorralProcess, name: string): Promise<string> {
  const st = await corral.status();
  return st.endpoints.find((e: any) => e.name === name)?.circuit;
}

const BREAKER = { failures: 3, open_for: '1s', half_open_requests: 1 };

t.test('a backend answering 503 to everything: circuit opens, traffic avoids it, a trial closes it again', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const [a, b] = sims as [SimBackend, SimBackend];
  const corral = await startCorral(t, sims, { config: { circuit_breaker: BREAKER } });
  const c = clients(corral);
  t.equal(await circuitOf(corral, 'a'), 'closed', 'a starts closed');

  a.setFault({ mode: 'status', status: 503 });
  const phase1: Outcome[] = [];
  const aBefore = inferenceRequests(a);
  // Least-connections rotates ties, so sequential requests alternate; each one that meets a's 503
  // is retried on b. Request until the shared segment says the circuit is open (bounded).
  for (let i = 0; i < 30 && (await circuitOf(corral, 'a')) !== 'open'; i++) phase1.push(await one(c, i));
  t.equal(await circuitOf(corral, 'a'), 'open', 'status shows a\'s circuit open');
  t.equal(inferenceRequests(a) - aBefore, 3, 'it opened on the third consecutive failure');
  const opened = await corral.waitForLog((l) => l.msg === 'circuit opened' && l.endpoint === 'a');
  t.equal(opened.consecutiveFailures, 3, '"circuit opened" logged with 3 consecutive failures');
  for (const o of phase1) {
    if (o.status !== 200 || o.endpoint !== 'b' || o.content !== answer('b')) t.fail('while a fails: every request answered by b', { outcome: o });
  }
  t.pass(`${phase1.length} requests answered by b while a answered 503`);
  t.equal(phase1.reduce((n, o) => n + o.retries, 0), 3, 'X-Corral-Retries: one retry per 503 a answered, 0 otherwise');
  t.ok(phase1.every((o) => o.retries === 0 || o.retries === 1), 'no request needed more than one retry');

  // Open: under least-connections a fast-failing a would be the least loaded endpoint; it must get
  // nothing. Concurrent lanes, so both endpoints look idle-ish and both workers select.
  const reopenedBefore = corral.logs.filter((l) => l.msg === 'circuit opened' && l.endpoint === 'a').length;
  const aAtOpen = inferenceRequests(a);
  const whileOpen: Outcome[] = [];
  await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
    const lc = clients(corral);
    for (let i = 0; i < 5; i++) whileOpen.push(await one(lc, lane + i));
  }));
  // open_for is short; if this burst outlasted it, a half-open trial may have met the 503 and
  // re-opened the circuit. Such trials (one at a time) are the only traffic a may have had.
  const reopened = corral.logs.filter((l) => l.msg === 'circuit opened' && l.endpoint === 'a').length - reopenedBefore;
  t.ok(inferenceRequests(a) - aAtOpen <= reopened, `a got no requests while open (${inferenceRequests(a) - aAtOpen} half-open trials, ${reopened} re-opens)`);
  t.equal(whileOpen.length, 20, '20 requests while open');
  for (const o of whileOpen) {
    if (o.status !== 200 || o.endpoint !== 'b' || o.content !== answer('b')) t.fail('while a\'s circuit is open: b answers', { outcome: o });
  }
  t.equal(whileOpen.reduce((n, o) => n + o.retries, 0), reopened, 'no retries while open (a is never tried)');

  // Fixed: the next selection after open_for turns the circuit half-open and lets one trial
  // through. The trial drips (about a second), so half-open is visible in status meanwhile.
  a.setFault({ mode: 'drip', dripMs: 120, count: 1 });
  const closed = corral.nextLog((l) => l.msg === 'circuit closed' && l.endpoint === 'a');
  let sawHalfOpen = false;
  let isClosed = false;
  void closed.then(() => {
    isClosed = true;
  });
  const aBeforeTrial = inferenceRequests(a);
  const recovery: Outcome[] = [];
  const lanes = Array.from({ length: 2 }, async (_, lane) => {
    const lc = clients(corral);
    for (let i = 0; i < 200 && !isClosed; i++) {
      recovery.push(await one(lc, lane));
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  });
  const watcher = (async () => {
    const deadline = Date.now() + 15_000;
    while (!isClosed && Date.now() < deadline) {
      if ((await circuitOf(corral, 'a')) === 'half-open') sawHalfOpen = true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  const line = await Promise.race([closed, new Promise<null>((resolve) => setTimeout(() => resolve(null), 15_000).unref())]);
  isClosed = true;
  await Promise.all([...lanes, watcher]);
  t.not(line, null, '"circuit closed" logged for a after its trial succeeded');
  t.ok(sawHalfOpen, 'status showed a half-open while the trial ran');
  t.equal(await circuitOf(corral, 'a'), 'closed', 'status shows a closed again');
  for (const o of recovery) {
    if (o.status !== 200 || o.content !== answer(o.endpoint)) t.fail('during recovery every request succeeds', { outcome: o });
  }
  t.ok(recovery.some((o) => o.endpoint === 'a'), 'the trial was a client request answered by a');
  t.ok(inferenceRequests(a) - aBeforeTrial >= 1, 'a took the trial');

  // Traffic returns to a.
  const aAfterClose = inferenceRequests(a);
  const after: Outcome[] = [];
  for (let i = 0; i < 6; i++) after.push(await one(c, i));
  t.ok(after.every((o) => o.status === 200 && o.content === answer(o.endpoint) && o.retries === 0), 'after closing: all 200, no retries');
  t.ok(inferenceRequests(a) - aAfterClose >= 2, `a takes its share of traffic again (${inferenceRequests(a) - aAfterClose} of 6)`);
  t.ok(inferenceRequests(b) > 0, 'b served throughout');
  const st = await corral.status();
  t.equal(st.counters.responses_5xx, 0, 'no 5xx reached a client');
});

t.test('a persistent 500 (not retried, passed through) also trips the breaker', async (t: Test) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const [a] = sims as [SimBackend, SimBackend];
  const corral = await startCorral(t, sims, { config: { circuit_breaker: BREAKER } });
  const c = clients(corral);

  a.setFault({ mode: 'status', status: 500 });
  const aBefore = inferenceRequests(a);
  const outcomes: Outcome[] = [];
  for (let i = 0; i < 30 && (await circuitOf(corral, 'a')) !== 'open'; i++) outcomes.push(await one(c, i));
  t.equal(await circuitOf(corral, 'a'), 'open', 'status shows a\'s circuit open');
  t.equal(inferenceRequests(a) - aBefore, 3, 'after a\'s third 500');
  await corral.waitForLog((l) => l.msg === 'circuit opened' && l.endpoint === 'a');
  t.pass('"circuit opened" logged for a');

  const fromA = outcomes.filter((o) => o.endpoint === 'a');
  t.equal(fromA.length, 3, 'three requests reached a');
  for (const o of fromA) {
    t.equal(o.status, 500, `${o.kind}: a's own 500 passed through to the client`);
    t.match(o.content, /simulated fault: status 500 from a/, `${o.kind}: with the backend's own error`);
    t.equal(o.retries, 0, `${o.kind}: a 500 is not retried (X-Corral-Retries: 0)`);
  }
  for (const o of outcomes.filter((o) => o.endpoint !== 'a')) {
    if (o.status !== 200 || o.endpoint !== 'b' || o.content !== answer('b') || o.retries !== 0) t.fail('the others: 200 from b, no retries', { outcome: o });
  }

  const aAtOpen = inferenceRequests(a);
  const reopenedBefore = corral.logs.filter((l) => l.msg === 'circuit opened' && l.endpoint === 'a').length;
  const whileOpen: Outcome[] = [];
  await Promise.all(Array.from({ length: 4 }, async (_, lane) => {
    const lc = clients(corral);
    for (let i = 0; i < 4; i++) whileOpen.push(await one(lc, lane + i));
  }));
  const reopened = corral.logs.filter((l) => l.msg === 'circuit opened' && l.endpoint === 'a').length - reopenedBefore;
  t.ok(inferenceRequests(a) - aAtOpen <= reopened, `a got no requests while open (${inferenceRequests(a) - aAtOpen} half-open trials)`);
  const bad = whileOpen.filter((o) => !(o.status === 200 && o.endpoint === 'b' && o.content === answer('b')) && !(o.status === 500 && o.endpoint === 'a'));
  t.same(bad, [], 'while open: every request succeeded on b (or was a half-open trial that got a\'s own 500)');
});
