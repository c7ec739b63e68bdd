import t from 'tap';
import { viewOf } from '../../../src/upstream/buffer-view.js';

t.test('a view is a Buffer over the same memory, like subarray', async (t) => {
  const buf = Buffer.from('hello, world', 'latin1');
  const v = viewOf(buf, 7, 12);
  t.ok(Buffer.isBuffer(v), 'Buffer.isBuffer');
  t.ok(v instanceof Buffer);
  t.equal(v.toString('latin1'), 'world', 'Buffer methods work');
  t.equal(v.length, 5);
  t.equal(v.buffer, buf.buffer, 'the same memory');
  t.equal(v.byteOffset, buf.byteOffset + 7);
  buf[7] = 0x57;
  t.equal(v.toString('latin1'), 'World', 'writes to the source show through');
  t.same(v.subarray(1, 3), Buffer.from('or'), 'and Buffer#subarray of it too');
  t.same(Buffer.concat([v, viewOf(buf, 0, 5)]).toString('latin1'), 'Worldhello');
});

t.test('views of different Buffers, alternating, each see their own memory', async (t) => {
  // Pooled Buffers share one ArrayBuffer at different offsets: the offset must follow the source.
  const a = Buffer.from('aaaa-first');
  const b = Buffer.from('bbbb-second');
  t.equal(viewOf(a, 5, 10).toString(), 'first');
  t.equal(viewOf(b, 5, 11).toString(), 'second');
  t.equal(viewOf(a, 0, 4).toString(), 'aaaa');
  t.equal(viewOf(b, 0, 4).toString(), 'bbbb');
  t.equal(viewOf(a, 3, 3).length, 0, 'an empty view');
});
