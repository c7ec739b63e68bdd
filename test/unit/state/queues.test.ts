import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { NO_OWNER } from '../../../src/state/queues.js';

const sizes = { maxEndpoints: 2, maxModels: 3, sessionSlots: 16, maxWorkers: 4 };

t.test('the head is the oldest ticket of any slot; depth and total follow joins and departures', async (t) => {
  const q = createSegment(sizes, null).queues;
  t.equal(q.headOwner(1), NO_OWNER, 'no one waits');
  const a = q.enqueue(1, 2); // slot 2 first
  const b = q.enqueue(1, 1);
  const c = q.enqueue(1, 2);
  t.same([b - a, c - b], [1, 1], 'tickets in arrival order');
  t.equal(q.depth(1), 3);
  t.equal(q.total(), 3);
  t.equal(q.depth(0), 0, 'per model');
  t.equal(q.headOwner(1), 2, 'slot 2 holds the oldest');
  t.equal(q.ahead(1, c), 2);
  q.dequeue(1, 2, c); // slot 2's oldest leaves; its next is c
  t.equal(q.headOwner(1), 1, 'now slot 1 holds the oldest (b)');
  t.equal(q.ahead(1, c), 1);
  q.dequeue(1, 1, 0);
  t.equal(q.headOwner(1), 2);
  q.dequeue(1, 2, 0);
  t.equal(q.headOwner(1), NO_OWNER);
  t.same([q.depth(1), q.total(), q.queued(1)], [0, 0, 3]);
});

t.test('tickets compare across the u32 wrap', async (t) => {
  const seg = createSegment(sizes, null);
  const q = seg.queues;
  // Put the model's ticket counter just below the wrap.
  const i32 = new Int32Array(seg.sab, seg.layout.queuesOffset, seg.layout.queuesBytes / 4);
  i32[0] = 0x7fffffff;
  q.enqueue(0, 3); // 0x7fffffff
  q.enqueue(0, 1); // wraps to -2^31
  t.equal(q.headOwner(0), 3, 'the older ticket wins though its value is larger');
});

t.test('a gone slot\'s waiters leave the depth and the total', async (t) => {
  const q = createSegment(sizes, null).queues;
  q.enqueue(0, 1);
  q.enqueue(2, 1);
  q.enqueue(2, 2);
  t.same(q.dropSlot(1), [0, 2], 'the models it had queued for');
  t.same([q.depth(0), q.depth(2), q.total()], [0, 1, 1]);
  t.equal(q.headOwner(2), 2);
  t.same(q.dropSlot(1), [], 'twice gives nothing back twice');
});

t.test('service and wait times are moving averages; the first sample sets them', async (t) => {
  const q = createSegment(sizes, null).queues;
  t.equal(q.serviceMs(0), 0);
  q.recordService(0, 800);
  t.equal(q.serviceMs(0), 800);
  q.recordService(0, 0.2); // at least 1 ms counts
  t.equal(q.serviceMs(0), 800 + ((1 - 800) >> 3));
  q.recordWait(0, 40);
  t.equal(q.waitMs(0), 40);
  q.countTimeout(0);
  q.countRefused(0);
  q.countRefused(0);
  t.same([q.timeouts(0), q.refused(0)], [1, 2]);
});
