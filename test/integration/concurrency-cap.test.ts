/**
 * max_concurrency is a cap across workers: a request reserves its slot with one atomic add and
 * gives it back if another worker took the last one first, so the backend never sees more than
 * the cap at once — the others get 503 with Retry-After.
 */
import t from 'tap';
import { Agent, request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { MODEL } from '../helpers/sim.js';

t.test('a burst across two workers never puts more than max_concurrency on the backend', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu', tokensPerSecond: 100, tokens: 5 }]);
  const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'gpu', max_concurrency: 2 }] });
  let now = 0;
  let peak = 0;
  const onStart = (path: string) => { if (path === '/api/chat') peak = Math.max(peak, ++now); };
  const onEnd = (path: string) => { if (path === '/api/chat') now--; };
  sim!.on('request', onStart);
  sim!.on('completed', onEnd);
  sim!.on('aborted', onEnd);
  // One connection per request, so SO_REUSEPORT spreads them over both workers and they race.
  const agents = Array.from({ length: 24 }, () => new Agent({ connections: 1 }));
  t.teardown(() => Promise.all(agents.map((a) => a.close())));
  const statuses = await Promise.all(agents.map(async (dispatcher) => {
    const res = await request(`${corral.url}/api/chat`, {
      method: 'POST', dispatcher,
      body: JSON.stringify({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'hi' }] }),
    });
    await res.body.dump();
    return [res.statusCode, res.headers['retry-after']] as const;
  }));
  const ok = statuses.filter(([s]) => s === 200).length;
  const refused = statuses.filter(([s]) => s === 503);
  t.ok(peak <= 2, `the backend saw at most 2 at once (peak ${peak})`);
  t.ok(ok >= 2, `some were served (${ok})`);
  t.equal(ok + refused.length, 24, 'every other one was refused with 503');
  t.ok(refused.every(([, ra]) => ra === '1'), 'each refusal carries Retry-After');
  const status = await corral.status();
  t.equal(status.endpoints[0].inflight, 0, 'every reservation was given back');
});
