import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { Counter, Histogram, HISTOGRAM_BUCKETS } from '../../../src/state/stats.js';
import { STATS_COUNTERS, STATS_HISTOGRAMS } from '../../../src/state/layout.js';

t.test('layout constants agree with the enums', async (t) => {
  t.equal(STATS_COUNTERS, Counter.COUNT);
  t.equal(STATS_HISTOGRAMS, Histogram.COUNT);
});

t.test('counters sum across slots', async (t) => {
  const s = createSegment({ maxEndpoints: 2, maxModels: 2, sessionSlots: 16, maxWorkers: 3 }, null).stats;
  t.equal(s.slots, 3);
  s.add(0, Counter.Requests, 1);
  s.add(1, Counter.Requests, 10);
  s.add(2, Counter.Requests, 100);
  s.add(2, Counter.BytesOut, 2 ** 40);
  s.add(1, Counter.BytesOut, 5);
  t.equal(s.sum(Counter.Requests), 111);
  t.equal(s.sum(Counter.BytesOut), 2 ** 40 + 5);
  t.equal(s.sum(Counter.Responses5xx), 0);
  t.equal(s.sum(Counter.ClientAborts), 0, 'last counter untouched by neighbours');
});

t.test('log2 histogram buckets sum across slots', async (t) => {
  const s = createSegment({ maxEndpoints: 2, maxModels: 2, sessionSlots: 16, maxWorkers: 2 }, null).stats;
  s.observe(0, Histogram.Latency, 0); // bucket 0 (< 1)
  s.observe(0, Histogram.Latency, 1); // bucket 1 (< 2)
  s.observe(1, Histogram.Latency, 3); // bucket 2 (< 4)
  s.observe(1, Histogram.Latency, 4); // bucket 3 (< 8)
  s.observe(1, Histogram.Latency, 1e15); // last bucket
  s.observe(0, Histogram.FirstByte, 1000); // bucket 10 (< 1024)
  const out = new Float64Array(HISTOGRAM_BUCKETS).fill(9);
  s.bucketsSum(Histogram.Latency, out);
  t.equal(out[0], 1);
  t.equal(out[1], 1);
  t.equal(out[2], 1);
  t.equal(out[3], 1);
  t.equal(out[HISTOGRAM_BUCKETS - 1], 1);
  t.equal(out.reduce((a, b) => a + b, 0), 5, 'out is overwritten, not accumulated');
  s.bucketsSum(Histogram.FirstByte, out);
  t.equal(out[10], 1);
  t.equal(out.reduce((a, b) => a + b, 0), 1);
  t.equal(s.observedSum(Histogram.FirstByte), 1000);
});
