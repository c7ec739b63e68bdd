import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { Counter, Histogram, HISTOGRAM_BUCKETS } from '../../../src/state/stats.js';
import { quantileMs, SampleHistory } from '../../../src/observe/sample-history.js';
import type { CatalogSnapshot } from '../../../src/core/catalog.js';

const catalog = {
  generation: 1,
  endpoints: [{ index: 0, name: 'a' }, { index: 1, name: 'b' }],
  models: [{ index: 0, name: 'llama3.2:1b', endpoints: [0, 1] }],
} as unknown as CatalogSnapshot;

t.test('quantiles of one interval\'s log2 buckets, interpolated within a bucket', async (t) => {
  const b = new Float64Array(HISTOGRAM_BUCKETS);
  t.equal(quantileMs(b, 0.5), null, 'nothing counted: no quantile');
  b[11] = 10; // [1024, 2048) µs
  t.equal(quantileMs(b, 0.5), 1.54, 'half-way through the bucket: 1536 µs');
  t.equal(quantileMs(b, 1), 2.05, 'the top of the bucket');
  b[21] = 10; // [1.05, 2.1) s
  t.ok(quantileMs(b, 0.95)! > 1000, 'p95 in the slow bucket');
  t.ok(quantileMs(b, 0.5)! <= 2.05, 'p50 in the fast one');
  const inf = new Float64Array(HISTOGRAM_BUCKETS);
  inf[HISTOGRAM_BUCKETS - 1] = 1;
  t.equal(quantileMs(inf, 0.5), Math.round(2 ** (HISTOGRAM_BUCKETS - 2) / 10) / 100, 'the +Inf bucket gives its lower bound');
});

t.test('the ring: rates per interval, oldest overwritten, series aligned with their times', async (t) => {
  const segment = createSegment({ maxEndpoints: 4, maxModels: 4, sessionSlots: 64, maxWorkers: 3 }, null);
  const h = new SampleHistory(segment, () => catalog, 2000, 3);
  h.sample(0);
  t.same(h.view().t, [], 'the first reading is a baseline, not a point');
  segment.stats.add(1, Counter.Requests, 10);
  segment.stats.add(2, Counter.Requests, 10);
  for (let i = 0; i < 20; i++) segment.stats.observe(1, Histogram.FirstByte, 1500);
  for (let i = 0; i < 4; i++) segment.endpoints.addRequest(0);
  segment.models.begin(1, 0, 1);
  h.sample(2000);
  let v = h.view();
  t.same(v.t, [2000]);
  t.same(v.gateway.requests_per_s, [10], '20 requests over 2 s, summed over both workers\' slots');
  t.same(v.gateway.ttft_p50_ms, [1.54]);
  t.same(v.endpoints, [{ name: 'a', requests_per_s: [2] }, { name: 'b', requests_per_s: [0] }]);
  t.same(v.models, [{ name: 'llama3.2:1b', inflight: [1] }]);
  for (const at of [4000, 6000, 8000]) h.sample(at);
  v = h.view();
  t.same(v.t, [4000, 6000, 8000], 'capacity 3: the oldest point went');
  t.same(v.gateway.requests_per_s, [0, 0, 0]);
  t.same(v.gateway.ttft_p95_ms, [null, null, null], 'no request: no TTFT');
  t.ok(v.not_recorded.length > 0, 'what is not recorded yet is said');
});
