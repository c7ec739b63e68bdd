import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';

const sizes = { maxEndpoints: 4, maxModels: 4, sessionSlots: 16, maxWorkers: 2 };

t.test('header counters', async (t) => {
  const seg = createSegment(sizes, null);
  const h = seg.header;
  t.equal(seg.name, null);
  t.ok(Math.abs(h.createdAtSec - Date.now() / 1000) < 5);
  t.ok(h.nowSec() >= 0 && h.nowSec() < 5);
  t.equal(h.configEpoch(), 0);
  t.equal(h.bumpConfigEpoch(), 1);
  t.equal(h.configEpoch(), 1);
  h.setCatalogGeneration(7);
  t.equal(h.catalogGeneration(), 7);
  h.setEndpointCount(3);
  h.setModelCount(2);
  t.equal(h.endpointCount(), 3);
  t.equal(h.modelCount(), 2);
  t.equal(h.nextTicket(), 0);
  t.equal(h.nextTicket(), 1);
  t.equal(h.nextTicket(), 2);
});
