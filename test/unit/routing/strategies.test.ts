import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { createStrategy, STRATEGY_NAMES } from '../../../src/routing/strategies.js';

const sizes = { maxEndpoints: 8, maxModels: 4, sessionSlots: 64, maxWorkers: 2 };

function setup(weights: number[], priorities: number[] = weights.map(() => 0)) {
  const seg = createSegment(sizes, null);
  weights.forEach((w, i) => {
    seg.endpoints.setWeight(i, w);
    seg.endpoints.setPriority(i, priorities[i]!);
    seg.endpoints.setMaxConcurrency(i, 100);
  });
  return seg;
}

// One conformance suite every strategy must pass.
for (const name of STRATEGY_NAMES) {
  t.test(`${name}: conformance`, async (t) => {
    const seg = setup([1, 1, 1]);
    const s = createStrategy(name);
    t.equal(s.name, name);
    const candidates = Int32Array.from([2, 0, 1]);
    for (let i = 0; i < 50; i++) {
      const e = s.pick(candidates, 3, seg.endpoints, seg.header);
      t.ok([0, 1, 2].includes(e), 'picks one of the candidates');
    }
    t.equal(s.pick(Int32Array.from([1]), 1, seg.endpoints, seg.header), 1, 'a single candidate is picked');
    t.equal(s.pick(Int32Array.from([5, 1, 2]), 1, seg.endpoints, seg.header), 5, 'only the first `count` entries count');
  });
}

t.test('least-connections picks the least loaded and spreads ties', async (t) => {
  const seg = setup([1, 1, 1]);
  const s = createStrategy('least-connections');
  seg.endpoints.acquire(0);
  seg.endpoints.acquire(0);
  seg.endpoints.acquire(2);
  t.equal(s.pick(Int32Array.from([0, 1, 2]), 3, seg.endpoints, seg.header), 1);
  seg.endpoints.acquire(1);
  const seen = new Set<number>();
  for (let i = 0; i < 10; i++) seen.add(s.pick(Int32Array.from([1, 2]), 2, seg.endpoints, seg.header));
  t.same([...seen].sort(), [1, 2], 'tied endpoints both get picked');
});

t.test('round-robin rotates exactly', async (t) => {
  const seg = setup([1, 1, 1]);
  const s = createStrategy('round-robin');
  const picks = Array.from({ length: 6 }, () => s.pick(Int32Array.from([0, 1, 2]), 3, seg.endpoints, seg.header));
  t.same(picks, [0, 1, 2, 0, 1, 2]);
});

t.test('weighted splits by weight exactly over a full cycle', async (t) => {
  const seg = setup([3, 1]);
  const s = createStrategy('weighted');
  const counts = [0, 0];
  for (let i = 0; i < 40; i++) counts[s.pick(Int32Array.from([0, 1]), 2, seg.endpoints, seg.header)]!++;
  t.same(counts, [30, 10]);
});

t.test('priority prefers the highest tier, least loaded within it', async (t) => {
  const seg = setup([1, 1, 1], [0, 5, 5]);
  const s = createStrategy('priority');
  seg.endpoints.acquire(1);
  t.equal(s.pick(Int32Array.from([0, 1, 2]), 3, seg.endpoints, seg.header), 2);
  t.equal(s.pick(Int32Array.from([0, 1]), 2, seg.endpoints, seg.header), 1, 'a loaded higher tier still beats an idle lower one');
  t.equal(s.pick(Int32Array.from([0]), 1, seg.endpoints, seg.header), 0);
});
