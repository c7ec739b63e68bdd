import t from 'tap';
import { hash32 } from '../../../src/state/hash.js';

t.test('deterministic, seeded, unsigned, never 0', async (t) => {
  t.equal(hash32('abc', 1), hash32('abc', 1));
  t.not(hash32('abc', 1), hash32('abc', 2));
  t.not(hash32('abc', 1), hash32('abd', 1));
  const seen = new Set<number>();
  let bad = 0;
  for (let i = 0; i < 20000; i++) {
    const h = hash32(`k${i}`, 7);
    if (!(h > 0 && h <= 0xffffffff && Number.isInteger(h))) bad++;
    seen.add(h & 1023);
  }
  t.equal(bad, 0, 'all in 1..2^32-1');
  t.equal(seen.size, 1024, 'low bits spread (the session table indexes by them)');
  t.ok(hash32('', 0) !== 0);
  t.ok(hash32('日本語', 0) !== hash32('日本誤', 0), 'UTF-16 code units');
});
