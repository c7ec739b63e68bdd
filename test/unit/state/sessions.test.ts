import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { hash32 } from '../../../src/state/hash.js';

const mk = (sessionSlots: number) =>
  createSegment({ maxEndpoints: 4, maxModels: 2, sessionSlots, maxWorkers: 1 }, null).sessions;
const key = (k: number): [number, number] => [hash32(`s${k}`, 1), hash32(`s${k}`, 2)];

t.test('pin, lookup, overwrite, remove', async (t) => {
  const s = mk(64);
  t.equal(s.capacity, 64);
  const [hi, lo] = key(1);
  t.equal(s.lookup(hi, lo, 0), -1);
  s.pin(hi, lo, 2, 10);
  t.equal(s.lookup(hi, lo, 11), 2);
  t.equal(s.lookup(hi, lo ^ 1, 11), -1, 'lo must match too');
  s.pin(hi, lo, 3, 12);
  t.equal(s.lookup(hi, lo, 12), 3, 'overwrite');
  t.equal(s.count(), 1, 'one slot');
  t.same(s.entries(), [{ hi, lo, endpoint: 3, lastSeenSec: 12 }]);
  t.ok(s.remove(hi, lo));
  t.notOk(s.remove(hi, lo));
  t.equal(s.lookup(hi, lo, 13), -1);
  t.equal(s.count(), 0);
});

t.test('sentinel-valued keys still work', async (t) => {
  const s = mk(16);
  s.pin(0xffffffff, 0, 1, 0);
  s.pin(0xfffffffe, 5, 2, 0);
  t.equal(s.lookup(0xffffffff, 0, 0), 1);
  t.equal(s.lookup(0xfffffffe, 5, 0), 2);
});

t.test('sweep by TTL, lookup refreshes', async (t) => {
  const s = mk(256);
  for (let k = 0; k < 100; k++) s.pin(...key(k), k % 4, 100);
  for (let k = 0; k < 10; k++) t.equal(s.lookup(...key(k), 150), k % 4);
  t.equal(s.sweep(160, 60), 0, 'nothing idle longer than the ttl');
  t.equal(s.sweep(161, 60), 90, 'untouched entries expire');
  t.equal(s.count(), 10);
  for (let k = 0; k < 10; k++) t.equal(s.lookup(...key(k), 170), k % 4);
  t.equal(s.lookup(...key(50), 170), -1);
});

t.test('tombstones are reused without duplicating keys', async (t) => {
  const s = mk(64);
  for (let round = 0; round < 50; round++) {
    for (let k = 0; k < 30; k++) s.pin(...key(k), round % 4, round);
    for (let k = 0; k < 30; k += 2) s.remove(...key(k));
  }
  for (let k = 1; k < 30; k += 2) t.equal(s.lookup(...key(k), 99), 49 % 4);
  t.equal(s.count(), 15);
  const seen = new Set(s.entries().map((e) => `${e.hi}:${e.lo}`));
  t.equal(seen.size, 15, 'no duplicates');
});

t.test('full probe window: pin replaces the stalest entry', async (t) => {
  const s = mk(8); // window = whole table
  for (let k = 0; k < 8; k++) s.pin(...key(k), 1, 100 + k);
  t.equal(s.count(), 8);
  s.lookup(...key(0), 200); // key 0 is now the freshest; key 1 the stalest
  s.pin(...key(100), 2, 201);
  t.equal(s.count(), 8);
  t.equal(s.lookup(...key(100), 201), 2);
  t.equal(s.lookup(...key(1), 201), -1, 'stalest evicted');
  t.equal(s.lookup(...key(0), 201), 1, 'refreshed entry kept');
});
