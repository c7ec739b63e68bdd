import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { MODEL_AVAILABLE, MODEL_LOADED, MODEL_LOADING } from '../../../src/state/models.js';

t.test('flags per (endpoint, model), clearEndpoint clears one row', async (t) => {
  const m = createSegment({ maxEndpoints: 3, maxModels: 5, sessionSlots: 16, maxWorkers: 1 }, null).models;
  m.setFlags(1, 4, MODEL_AVAILABLE | MODEL_LOADED);
  m.setFlags(1, 0, MODEL_LOADING);
  m.setFlags(2, 0, MODEL_AVAILABLE);
  m.setFlags(0, 4, MODEL_AVAILABLE);
  t.equal(m.flags(1, 4), MODEL_AVAILABLE | MODEL_LOADED);
  t.equal(m.flags(1, 0), MODEL_LOADING);
  t.equal(m.flags(1, 1), 0);
  m.clearEndpoint(1);
  t.equal(m.flags(1, 4), 0);
  t.equal(m.flags(1, 0), 0);
  t.equal(m.flags(2, 0), MODEL_AVAILABLE, 'next row untouched');
  t.equal(m.flags(0, 4), MODEL_AVAILABLE, 'previous row untouched');
});
