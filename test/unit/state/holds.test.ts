import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';

t.test('a dead slot\'s holds are given back to the shared in-flight counters', async (t) => {
  const seg = createSegment({ maxEndpoints: 4, maxModels: 2, sessionSlots: 16, maxWorkers: 3 }, null);
  // Worker 1 holds two requests on endpoint 0 and one on endpoint 2; worker 2 one on endpoint 0.
  for (const [slot, e] of [[1, 0], [1, 0], [1, 2], [2, 0]] as const) {
    seg.endpoints.acquire(e);
    seg.holds.hold(slot, e);
  }
  t.equal(seg.endpoints.inflight(0), 3);
  t.equal(seg.holds.reconcile(1, seg.endpoints), 3);
  t.equal(seg.endpoints.inflight(0), 1, 'worker 2 still holds its request');
  t.equal(seg.endpoints.inflight(2), 0);
  t.equal(seg.holds.held(1, 0), 0, 'the row is cleared for the next occupant of the slot');
  t.equal(seg.holds.reconcile(1, seg.endpoints), 0, 'reconciling twice gives nothing back twice');
  seg.holds.unhold(2, 0);
  seg.endpoints.release(0);
  t.equal(seg.endpoints.inflight(0), 0);
});
