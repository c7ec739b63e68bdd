import t from 'tap';
import { LOAD_BUCKETS_S, LoadMetrics, OTHER_MODEL } from '../../../src/observe/load-metrics.js';

t.test('loads, failures and evictions by (endpoint, model); durations per endpoint', async (t) => {
  const m = new LoadMetrics(10);
  m.loaded('gpu', 'a', 0.05);
  m.loaded('gpu', 'a', 1.5);
  m.loaded('gpu', 'b', 500);
  m.failed('gpu', 'b');
  m.evicted('gpu', 'a');
  m.loaded('cpu', 'a', 0.1);
  t.same(m.pairs(), [
    { endpoint: 'gpu', model: 'a', loads: 2, failures: 0, evictions: 1 },
    { endpoint: 'gpu', model: 'b', loads: 1, failures: 1, evictions: 0 },
    { endpoint: 'cpu', model: 'a', loads: 1, failures: 0, evictions: 0 },
  ]);
  const gpu = m.durations().get('gpu')!;
  t.equal(gpu.count, 3);
  t.equal(gpu.sumSeconds, 501.55);
  t.equal(gpu.buckets.length, LOAD_BUCKETS_S.length + 1);
  t.equal(gpu.buckets[0], 1, '0.05 s: le 0.1');
  t.equal(gpu.buckets[LOAD_BUCKETS_S.indexOf(2)], 1, '1.5 s: le 2');
  t.equal(gpu.buckets[LOAD_BUCKETS_S.length], 1, '500 s: +Inf');
  t.equal(m.durations().get('cpu')!.buckets[0], 1, 'a bound is inclusive (le): 0.1 s counts in le 0.1');
});

t.test('model labels are capped: names beyond the cap count as "other"', async (t) => {
  const m = new LoadMetrics(2);
  for (let i = 0; i < 1000; i++) m.loaded('gpu', `random-${i}`, 1);
  const pairs = m.pairs();
  t.equal(pairs.length, 3, 'two names kept, the rest folded');
  t.same(pairs.map((p) => p.model), ['random-0', 'random-1', OTHER_MODEL]);
  t.equal(pairs[2]!.loads, 998);
  m.evicted('gpu', 'random-1');
  t.equal(m.pairs()[1]!.evictions, 1, 'a kept name stays itself');
});
