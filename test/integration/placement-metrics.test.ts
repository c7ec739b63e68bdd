// /metrics for GPU-aware placement (issue 14): after loads and an eviction through a simulated
// GPU, the vRAM gauges, resident models, load and eviction counters and the load-duration
// histogram agree with each other, with /internal/status and with what the simulated GPU did.
import t from 'tap';
import { request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { promtoolCheck, samples, scrapeMetrics } from '../helpers/metrics-text.js';

const GiB = 1024 ** 3;

async function chat(url: string, model: string): Promise<number> {
  const res = await request(`${url}/api/chat`, {
    method: 'POST', reset: true,
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: 2 } }),
  });
  await res.body.dump();
  return res.statusCode;
}

t.test('vRAM, residency, loads, evictions and load durations after loads through a simulated GPU', async (t) => {
  const models = [{ name: 'a:7b', sizeBytes: 2 * GiB }, { name: 'b:7b', sizeBytes: 2 * GiB }, { name: 'c:7b', sizeBytes: 2 * GiB }];
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, vramBytes: 5 * GiB, loadMsPerGiB: 100, tokens: 2, models }]);
  const corral = await startCorral(t, [sim!], {
    config: { models: { estimate_factor: 1 } },
    endpoints: [{ name: 'gpu', type: 'ollama', vram: '5GiB', vram_reserve: '512MiB' }],
  });
  const mgmt = `http://127.0.0.1:${corral.managementPort}`;

  const cold = samples((await scrapeMetrics(mgmt)).text);
  t.equal(cold.get('corral_endpoint_vram_total_bytes{endpoint="gpu"}'), 5 * GiB, 'total from the vram setting');
  t.equal(cold.get('corral_endpoint_vram_reserved_bytes{endpoint="gpu"}'), 0.5 * GiB, 'vram_reserve');
  t.equal(cold.get('corral_endpoint_vram_used_bytes{endpoint="gpu"}'), 0, 'nothing resident yet');
  t.equal(cold.get('corral_endpoint_resident_models{endpoint="gpu"}'), 0);
  t.notOk([...cold.keys()].some((k) => k.startsWith('corral_model_loads_total')), 'no load counted before any load');

  // a and b fit (4 of 4.5 GiB usable); c needs one of them gone: the least recently used, a.
  t.equal(await chat(corral.url, 'a:7b'), 200);
  t.equal(await chat(corral.url, 'b:7b'), 200);
  t.equal(await chat(corral.url, 'c:7b'), 200);
  t.same(sim!.gpu().resident.map((r) => r.name).sort(), ['b:7b', 'c:7b'], 'the simulated GPU evicted a for c');

  const { text } = await scrapeMetrics(mgmt);
  const check = await promtoolCheck(text);
  t.equal(check.code, 0, `promtool check metrics accepts it${check.output === '' ? '' : `: ${check.output}`}`);
  const m = samples(text);
  t.equal(m.get('corral_endpoint_vram_used_bytes{endpoint="gpu"}'), 4 * GiB, 'used: the two resident models');
  t.equal(m.get('corral_endpoint_resident_models{endpoint="gpu"}'), 2);
  t.equal(m.get('corral_model_resident_bytes{endpoint="gpu",model="b:7b"}'), 2 * GiB);
  t.equal(m.get('corral_model_resident_bytes{endpoint="gpu",model="c:7b"}'), 2 * GiB);
  t.notOk(m.has('corral_model_resident_bytes{endpoint="gpu",model="a:7b"}'), 'an evicted model is no longer resident');
  for (const name of ['a:7b', 'b:7b', 'c:7b']) t.equal(m.get(`corral_model_loads_total{endpoint="gpu",model="${name}"}`), 1, `one load of ${name}`);
  t.equal(m.get('corral_model_evictions_total{endpoint="gpu",model="a:7b"}'), 1, 'the eviction of a, under the model evicted');
  t.equal(sim!.stats.loads, 3, 'the simulated GPU loaded three times');

  // The histogram: cumulative, its count the number of loads, its sum their durations (~0.2 s each).
  const h = 'corral_model_load_duration_seconds';
  const buckets = [...m].filter(([k]) => k.startsWith(`${h}_bucket{endpoint="gpu",`));
  t.equal(buckets.length, 12, 'eleven bounds from 0.1 s to 120 s, and +Inf');
  let prev = 0;
  for (const [, v] of buckets) {
    t.ok(v >= prev, 'cumulative');
    prev = v;
  }
  t.equal(m.get(`${h}_bucket{endpoint="gpu",le="0.1"}`), 0, 'a 2 GiB load at 100 ms/GiB takes more than 0.1 s');
  t.equal(m.get(`${h}_bucket{endpoint="gpu",le="+Inf"}`), 3);
  t.equal(m.get(`${h}_count{endpoint="gpu"}`), 3);
  const sum = m.get(`${h}_sum{endpoint="gpu"}`) ?? 0;
  t.ok(sum >= 0.6 && sum < 30, `sum of load durations in seconds (${sum})`);

  // The same picture as /internal/status.
  const status = await corral.status();
  t.match(status.placement, { loads: 3, evictions: 1, load_failures: 0 });
  const vram = status.endpoints[0].vram;
  t.equal(m.get('corral_endpoint_vram_used_bytes{endpoint="gpu"}'), vram.used_bytes, 'used agrees with /internal/status');
  t.equal((m.get('corral_endpoint_vram_total_bytes{endpoint="gpu"}') ?? 0) - vram.reserve_bytes - vram.used_bytes, vram.free_bytes, 'total − reserve − used = free');
});
