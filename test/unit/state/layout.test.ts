import t from 'tap';
import { CACHE_LINE, computeLayout, HISTOGRAM_BUCKETS, type SegmentSizes } from '../../../src/state/layout.js';

const SIZES: SegmentSizes[] = [
  { maxEndpoints: 1, maxModels: 1, sessionSlots: 1, maxWorkers: 1 },
  { maxEndpoints: 3, maxModels: 7, sessionSlots: 8, maxWorkers: 3 },
  { maxEndpoints: 64, maxModels: 256, sessionSlots: 65536, maxWorkers: 33 },
  { maxEndpoints: 4096, maxModels: 17, sessionSlots: 1 << 20, maxWorkers: 1024 },
];

t.test('tables are cache-line aligned, non-overlapping and inside the segment', async (t) => {
  for (const s of SIZES) {
    const l = computeLayout(s);
    const tables: Array<[string, number, number]> = [
      ['header', l.headerOffset, l.headerBytes],
      ['endpoints', l.endpointsOffset, l.endpointsBytes],
      ['models', l.modelsOffset, l.modelsBytes],
      ['model info', l.modelInfoOffset, l.modelInfoBytes],
      ['sessions', l.sessionsOffset, l.sessionsBytes],
      ['stats', l.statsOffset, l.statsBytes],
    ];
    let end = 0;
    for (const [name, off, len] of tables) {
      t.equal(off % CACHE_LINE, 0, `${name} aligned for ${JSON.stringify(s)}`);
      t.ok(off >= end, `${name} starts after the previous table`);
      t.ok(len > 0, `${name} non-empty`);
      end = off + len;
    }
    t.ok(end <= l.byteLength, 'fits');
    t.equal(l.byteLength % CACHE_LINE, 0);
    t.equal(l.statsSlotBytes % CACHE_LINE, 0, 'stats slots do not share cache lines');
    t.equal(l.endpointsBytes, s.maxEndpoints * 64);
    t.equal(l.modelsBytes, s.maxEndpoints * s.maxModels * 32, 'one 32-byte cell per (endpoint, model)');
    t.equal(l.modelInfoBytes, s.maxModels * 32);
    t.equal(l.sessionsBytes, s.sessionSlots * 16);
  }
  t.equal(HISTOGRAM_BUCKETS, 32);
});

t.test('rejects bad sizes', async (t) => {
  const ok = { maxEndpoints: 4, maxModels: 4, sessionSlots: 16, maxWorkers: 2 };
  t.throws(() => computeLayout({ ...ok, sessionSlots: 12 }), /power of two/);
  t.throws(() => computeLayout({ ...ok, maxEndpoints: 0 }), /maxEndpoints/);
  t.throws(() => computeLayout({ ...ok, maxModels: 1.5 }), /maxModels/);
  t.throws(() => computeLayout({ ...ok, maxWorkers: 1e6 }), /maxWorkers/);
  t.throws(() => computeLayout({ ...ok, maxEndpoints: 4096, maxModels: 4096 }), /maxEndpoints × maxModels must be at most 1048576/);
});
