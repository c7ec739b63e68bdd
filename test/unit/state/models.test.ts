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

t.test('writeEndpoint replaces a row cell by cell: a model that stays available is never seen unavailable', async (t) => {
  const m = createSegment({ maxEndpoints: 2, maxModels: 4, sessionSlots: 16, maxWorkers: 1 }, null).models;
  m.writeEndpoint(1, Int32Array.from([MODEL_AVAILABLE, MODEL_AVAILABLE | MODEL_LOADED, MODEL_AVAILABLE, 0]));
  // Every store the rebuild makes, as a worker reading the segment meanwhile could observe it.
  const stores: [number, number][] = [];
  const realStore = Atomics.store;
  Atomics.store = ((array: Int32Array, index: number, value: number) => {
    stores.push([index, value]);
    return realStore(array, index, value);
  }) as typeof Atomics.store;
  try {
    // Model 0 unchanged, model 1 no longer loaded, model 2 removed, model 3 added.
    m.writeEndpoint(1, Int32Array.from([MODEL_AVAILABLE, MODEL_AVAILABLE, 0, MODEL_AVAILABLE]));
  } finally {
    Atomics.store = realStore;
  }
  t.same([m.flags(1, 0), m.flags(1, 1), m.flags(1, 2), m.flags(1, 3)], [MODEL_AVAILABLE, MODEL_AVAILABLE, 0, MODEL_AVAILABLE]);
  t.same(stores.map(([, v]) => v), [MODEL_AVAILABLE, 0, MODEL_AVAILABLE], 'only the three changed cells were written, each once, straight to its new value');
  t.notOk(stores.some(([i, v]) => v === 0 && i % 4 === 1), 'model 1 (still available) never went through 0');
  t.same([m.flags(0, 0), m.flags(0, 1)], [0, 0], 'the other row untouched');
});
