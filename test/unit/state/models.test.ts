import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../../../src/state/models.js';
import { MODEL_PINNED } from '../../../src/state/model-info.js';

t.test('flags per (endpoint, model), clearEndpoint clears one row', async (t) => {
  const m = createSegment({ maxEndpoints: 3, maxModels: 5, sessionSlots: 16, maxWorkers: 1 }, null).models;
  m.setFlags(1, 4, MODEL_AVAILABLE | MODEL_LOADED);
  m.setFlags(1, 0, MODEL_LOADED);
  m.setFlags(2, 0, MODEL_AVAILABLE);
  m.setFlags(0, 4, MODEL_AVAILABLE);
  t.equal(m.flags(1, 4), MODEL_AVAILABLE | MODEL_LOADED);
  t.equal(m.flags(1, 0), MODEL_LOADED);
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
  t.notOk(stores.some(([i, v]) => v === 0 && i === (1 * 4 + 1) * 8), 'model 1 (still available) never went through 0');
  t.same([m.flags(0, 0), m.flags(0, 1)], [0, 0], 'the other row untouched');
});

t.test('residency, in-flight counts and last use per (endpoint, model)', async (t) => {
  const seg = createSegment({ maxEndpoints: 2, maxModels: 3, sessionSlots: 16, maxWorkers: 1 }, null);
  const m = seg.models;
  m.setFlags(1, 2, MODEL_AVAILABLE | MODEL_LOADED);
  m.setResidency(1, 2, 4096, 8192, 77);
  t.same([m.vramMiB(1, 2), m.context(1, 2), m.expiresSec(1, 2)], [4096, 8192, 77]);
  t.same([m.vramMiB(0, 2), m.vramMiB(1, 1)], [0, 0], 'neighbours untouched');
  m.begin(1, 2, 50);
  m.begin(1, 2, 51);
  t.equal(m.inflight(1, 2), 2);
  t.equal(m.lastUsedSec(1, 2), 51);
  m.end(1, 2);
  t.equal(m.inflight(1, 2), 1);
  t.equal(m.flags(1, 2), MODEL_AVAILABLE | MODEL_LOADED, 'counting never touches the flags');
  t.ok(m.clearLoaded(1, 2), 'clears LOADED');
  t.notOk(m.clearLoaded(1, 2), 'only once');
  t.equal(m.flags(1, 2), MODEL_AVAILABLE);
  t.equal(m.resetInflight(1), 1, 'a gone worker\'s count is cleared');
  t.equal(m.inflight(1, 2), 0);
  m.end(1, 2);
  t.equal(m.inflight(1, 2), 0, 'never read below 0');
  m.clearEndpoint(1);
  t.same([m.flags(1, 2), m.vramMiB(1, 2)], [0, 0]);
});

t.test('model info: one load claim per model; need and pinned flag', async (t) => {
  const seg = createSegment({ maxEndpoints: 4, maxModels: 3, sessionSlots: 16, maxWorkers: 1 }, null);
  const info = seg.modelInfo;
  t.equal(info.loadingOn(1), -1);
  t.equal(info.claimLoad(1, 2), -1, 'the first claim wins');
  t.equal(info.claimLoad(1, 3), 2, 'a second claimant learns where the load runs');
  t.equal(info.loadingOn(1), 2);
  t.notOk(info.releaseLoad(1, 3), 'only the claim on that endpoint is released');
  t.equal(info.loadingOn(1), 2);
  t.ok(info.releaseLoad(1, 2));
  t.equal(info.loadingOn(1), -1);
  t.equal(info.loadsEnded(1), 2, 'every ended load counts');
  t.equal(info.claimLoad(1, 0), -1, 'claimable again; endpoint 0 is a valid claim');
  t.equal(info.loadingOn(1), 0);
  info.setNeedMiB(2, 5000);
  info.setFlags(2, MODEL_PINNED);
  t.same([info.needMiB(2), info.flags(2), info.needMiB(0)], [5000, MODEL_PINNED, 0]);
});
