// Balancing strategies (issue 2, "Selection") through a real corral with 2 workers: round-robin,
// weighted (ticket-based, so exact), priority, least-connections. Every request uses its own
// connection so both workers take part; the shared ticket counter keeps the rotation exact anyway.
import t from 'tap';
import { once } from 'node:events';
import { Ollama } from 'ollama';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { freshRequest, routing, type Routing } from '../helpers/http.js';
import { MODEL } from '../helpers/sim.js';

interface Reply extends Routing {
  content: string;
}

/** A non-streamed Ollama chat on a fresh connection. */
async function chat(corral: CorralProcess, extra: Record<string, unknown> = {}): Promise<Reply> {
  const res = await freshRequest(corral, {
    path: '/api/chat',
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'hi' }], ...extra }),
  });
  let content = '';
  try {
    content = String(JSON.parse(res.text).message?.content ?? '');
  } catch {
    content = res.text;
  }
  return { ...routing(res), content };
}

function tally(replies: Reply[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of replies) out[r.endpoint] = (out[r.endpoint] ?? 0) + 1;
  return out;
}

t.test('round-robin alternates between 2 backends', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const corral = await startCorral(t, sims, { config: { routing: { strategy: 'round-robin' } } });
  const replies: Reply[] = [];
  for (let i = 0; i < 20; i++) replies.push(await chat(corral));
  t.ok(replies.every((r) => r.status === 200 && r.route === 'round-robin'), 'all 200, route round-robin');
  t.ok(replies.every((r) => r.content.startsWith(`Hello from ${r.endpoint}`)), 'each answered by the endpoint its header names');
  const sequence = replies.map((r) => r.endpoint);
  t.ok(sequence.every((e, i) => i === 0 || e !== sequence[i - 1]), `strict alternation: ${sequence.join(' ')}`);
  t.same(tally(replies), { a: 10, b: 10 });
  t.equal(new Set(replies.map((r) => r.worker)).size, 2, 'both workers served (one shared ticket counter)');
});

t.test('weighted 3:1 splits 40 requests exactly 30/10', async (t) => {
  const sims = await startBackends(t, [{ name: 'heavy' }, { name: 'light' }]);
  const corral = await startCorral(t, sims, {
    config: { routing: { strategy: 'weighted' } },
    endpoints: [{ name: 'heavy', weight: 3 }, { name: 'light', weight: 1 }],
  });
  const replies: Reply[] = [];
  for (let i = 0; i < 40; i++) replies.push(await chat(corral));
  t.ok(replies.every((r) => r.status === 200 && r.route === 'weighted'), 'all 200, route weighted');
  t.same(tally(replies), { heavy: 30, light: 10 }, '75/25');
  t.equal(new Set(replies.map((r) => r.worker)).size, 2, 'both workers served');
  // Every window of 4 consecutive tickets holds 3 heavy and 1 light.
  for (let i = 0; i + 4 <= replies.length; i += 4) {
    const w = tally(replies.slice(i, i + 4));
    if (w.heavy !== 3 || w.light !== 1) t.fail(`window ${i}..${i + 3} is not 3:1`, { window: w });
  }
  const st = await corral.status();
  t.match(st.endpoints, [{ name: 'heavy', weight: 3 }, { name: 'light', weight: 1 }], 'status reports the weights');
});

t.test('priority: everything to the higher priority; the lower one takes over when it dies', async (t) => {
  const sims = await startBackends(t, [{ name: 'local' }, { name: 'remote' }]);
  const corral = await startCorral(t, sims, {
    config: { routing: { strategy: 'priority' } },
    // listed low first, so a strategy that ignored priority would show it
    endpoints: [{ name: 'remote', priority: 1 }, { name: 'local', priority: 10 }],
  });
  const local = sims[0]!;
  const before: Reply[] = [];
  for (let i = 0; i < 10; i++) before.push(await chat(corral));
  t.ok(before.every((r) => r.status === 200 && r.route === 'priority'), 'all 200, route priority');
  t.same(tally(before), { local: 10 }, 'all on the higher priority endpoint');

  await local.stop();
  const after: Reply[] = [];
  for (let i = 0; i < 10; i++) after.push(await chat(corral));
  t.ok(after.every((r) => r.status === 200), 'no request failed when the higher priority endpoint died');
  t.same(tally(after), { remote: 10 }, 'all on the lower priority endpoint');
  t.ok(after.every((r) => r.content.startsWith('Hello from remote')), 'answered by remote');

  const back = corral.nextLog((l) => l.msg === 'endpoint healthy' && l.endpoint === 'local');
  await local.restart();
  await back;
  const again: Reply[] = [];
  for (let i = 0; i < 5; i++) again.push(await chat(corral));
  t.same(tally(again), { local: 5 }, 'back on the higher priority endpoint once it is healthy');
});

t.test('least-connections prefers the idle backend while the other streams', async (t) => {
  const sims = await startBackends(t, [
    { name: 'a', tokensPerSecond: 20 },
    { name: 'b', tokensPerSecond: 20 },
  ]);
  const corral = await startCorral(t, sims);
  const byName = new Map(sims.map((s) => [s.name, s]));

  // A long stream (2000 tokens at 20/s), aborted once the test has what it needs.
  let busyName = '';
  const ollama = new Ollama({
    host: corral.url,
    fetch: async (input, init) => {
      const res = await fetch(input, init);
      busyName = res.headers.get('x-corral-endpoint') ?? '';
      return res;
    },
  });
  const stream = await ollama.chat({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'long' }], options: { num_predict: 2000 } });
  const it = stream[Symbol.asyncIterator]();
  const first = await it.next();
  t.equal(first.done, false, 'the long stream started');
  t.ok(byName.has(busyName), `long stream on ${busyName}`);
  const idleName = busyName === 'a' ? 'b' : 'a';
  const st = await corral.status();
  t.match(st.endpoints.find((e: any) => e.name === busyName), { inflight: 1 }, 'status shows it in flight');

  const replies: Reply[] = [];
  for (let i = 0; i < 12; i++) replies.push(await chat(corral, { options: { num_predict: 1 } }));
  t.ok(replies.every((r) => r.status === 200 && r.route === 'least-connections'), 'all 200, route least-connections');
  t.same(tally(replies), { [idleName]: 12 }, `every short request went to the idle ${idleName}`);
  t.equal(new Set(replies.map((r) => r.worker)).size, 2, 'both workers see the other\'s in-flight stream (shared counters)');

  const aborted = once(byName.get(busyName)!, 'aborted');
  stream.abort();
  await it.next().catch(() => undefined);
  await aborted;
  // With nothing in flight, ties spread over both again (rotating scan start).
  const seen = new Set<string>();
  for (let i = 0; i < 30 && seen.size < 2; i++) {
    const r = await chat(corral, { options: { num_predict: 1 } });
    t.equal(r.status, 200);
    seen.add(r.endpoint);
  }
  t.equal(seen.size, 2, 'once idle, both backends take requests again');
});
