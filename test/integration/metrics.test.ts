// GET /metrics (issue 14, first step): after a known workload through 2 workers, the exposition
// parses (promtool, Prometheus's own checker: `.ci/run` installs Debian's `prometheus` package for
// it) on both ports, every counter equals what the test sent summed across workers, histograms
// are cumulative and consistent, OpenMetrics is served when asked for, and a worker SIGKILLed
// does not make counters go backwards.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { HI, MODEL } from '../helpers/sim.js';
import { promtoolCheck, samples, scrapeMetrics } from '../helpers/metrics-text.js';

function checkHistogram(t: Test, m: Map<string, number>, name: string, count: number): void {
  const buckets = [...m].filter(([k]) => k.startsWith(`${name}_bucket{`));
  t.ok(buckets.length > 10, `${name}: buckets`);
  let last = 0;
  for (const [, v] of buckets) {
    t.ok(v >= last, `${name}: cumulative`);
    last = v;
  }
  t.equal(m.get(`${name}_bucket{le="+Inf"}`), count, `${name}: +Inf bucket = ${count}`);
  t.equal(m.get(`${name}_count`), count, `${name}: _count = ${count}`);
  t.ok((m.get(`${name}_sum`) ?? 0) > 0, `${name}: _sum in seconds`);
}

t.test('/metrics counts exactly what was sent, across both workers', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const corral: CorralProcess = await startCorral(t, sims, { config: { server: { workers: 2 } } });
  const mgmt = `http://127.0.0.1:${corral.managementPort}`;
  const ai = new OpenAI({ baseURL: `${corral.url}/v1`, apiKey: 'unused', maxRetries: 0 });

  // The workload: 12 Ollama chats on fresh connections (spread over both workers by the kernel),
  // 4 OpenAI chats and 4 streamed ones, 5 for a model nobody serves, 2 for a path nobody serves.
  for (let i = 0; i < 12; i++) {
    const res = await request(`${corral.url}/api/chat`, { method: 'POST', reset: true, body: JSON.stringify({ model: MODEL, messages: HI, stream: false }) });
    t.equal(res.statusCode, 200);
    await res.body.dump();
  }
  for (let i = 0; i < 4; i++) await ai.chat.completions.create({ model: MODEL, messages: HI });
  for (let i = 0; i < 4; i++) for await (const _ of await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }));
  for (let i = 0; i < 5; i++) {
    const res = await request(`${corral.url}/api/chat`, { method: 'POST', reset: true, body: JSON.stringify({ model: 'nobody:1b', messages: HI }) });
    t.equal(res.statusCode, 404);
    await res.body.dump();
  }
  for (let i = 0; i < 2; i++) {
    const res = await request(`${corral.url}/nope`, { reset: true });
    t.equal(res.statusCode, 404);
    await res.body.dump();
  }

  // The management port (the primary; its own requests are not counted).
  const prom = await scrapeMetrics(mgmt);
  t.match(prom.type, /^text\/plain; version=0\.0\.4/, 'Prometheus text format by default');
  const check = await promtoolCheck(prom.text);
  t.equal(check.code, 0, `promtool check metrics accepts it${check.output === '' ? '' : `: ${check.output}`}`);
  const m = samples(prom.text);
  t.equal(m.get('corral_requests_total'), 20, 'requests proxied: 20 (the 7 refused never reached a backend)');
  t.equal(m.get('corral_responses_total{class="2xx"}'), 20);
  t.equal(m.get('corral_responses_total{class="4xx"}'), 7);
  t.equal(m.get('corral_responses_total{class="5xx"}'), 0);
  t.equal((m.get('corral_endpoint_requests_total{endpoint="a"}') ?? 0) + (m.get('corral_endpoint_requests_total{endpoint="b"}') ?? 0), 20,
    'every proxied request counted once, on the endpoint that served it');
  t.equal(m.get('corral_endpoint_state{endpoint="a",state="healthy"}'), 1);
  t.equal(m.get('corral_endpoint_state{endpoint="a",state="down"}'), 0);
  t.equal(m.get('corral_endpoint_circuit_state{endpoint="b",state="closed"}'), 1);
  t.equal(m.get('corral_endpoint_inflight{endpoint="a"}'), 0);
  t.equal(m.get('corral_workers{state="listening"}'), 2);
  t.ok((m.get('corral_process_resident_memory_bytes') ?? 0) > 0, 'the primary\'s process metrics');
  checkHistogram(t, m, 'corral_request_duration_seconds', 20);
  checkHistogram(t, m, 'corral_time_to_first_byte_seconds', 20);

  // The API port (a worker asks the primary): the same exposition, and it parses too.
  const api = await scrapeMetrics(corral.url);
  t.equal((await promtoolCheck(api.text)).code, 0, 'the API port\'s exposition passes promtool too');
  t.equal(samples(api.text).get('corral_responses_total{class="2xx"}'), 20, 'and counts the same');

  // OpenMetrics when the scraper asks for it (Prometheus sends this Accept first).
  const open = await scrapeMetrics(mgmt, 'application/openmetrics-text; version=1.0.0,text/plain;version=0.0.4;q=0.5');
  t.match(open.type, /^application\/openmetrics-text; version=1\.0\.0/, 'OpenMetrics on request');
  t.ok(open.text.endsWith('# EOF\n'), 'ends with # EOF');
  t.match(open.text, /\n# TYPE corral_requests counter\ncorral_requests_total 20\n/, 'counter family named without _total, its sample with it');

  // A worker SIGKILLed: its stats slot outlives it, so nothing goes backwards.
  const before = (await corral.status()).workers;
  const victim = before.find((w: { state: string }) => w.state === 'listening');
  const respawned = corral.nextLog((l) => l.msg === 'worker died; respawning');
  process.kill(victim.pid, 'SIGKILL');
  await respawned;
  const after = samples((await scrapeMetrics(mgmt)).text);
  t.ok((after.get('corral_requests_total') ?? 0) >= 20, 'requests_total did not go backwards');
  t.equal(after.get('corral_responses_total{class="2xx"}'), 20, '2xx unchanged by the death of a worker');
  t.equal(after.get(`corral_worker_restarts_total{slot="${victim.slot}"}`), 1, 'the respawn is counted');
});
