import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { Admission, ADMIT, REFUSE_FULL, REFUSE_SHED } from '../../../src/routing/admission.js';
import { ModelRoute } from '../../../src/routing/routing-table.js';
import { EndpointState } from '../../../src/state/endpoints.js';

function setup() {
  const seg = createSegment({ maxEndpoints: 2, maxModels: 2, sessionSlots: 16, maxWorkers: 3 }, null);
  for (const e of [0, 1]) {
    seg.endpoints.setMaxConcurrency(e, 2);
    seg.endpoints.setState(e, EndpointState.Healthy);
  }
  const admission = new Admission(seg, { enabled: true, max_size: 4, shed_at: 2, timeout: 30_000, heartbeat: 10_000, default_priority: 'normal' });
  return { seg, admission, model: new ModelRoute(0, 'm', [0, 1]) };
}

t.test('admit: normal requests up to max_size, low ones up to shed_at', async (t) => {
  const { seg, admission } = setup();
  t.equal(admission.admit(0, true), ADMIT);
  seg.queues.enqueue(0, 1);
  seg.queues.enqueue(0, 1);
  t.equal(admission.admit(0, true), REFUSE_SHED, 'low: shed at 2');
  t.equal(admission.admit(0, false), ADMIT);
  seg.queues.enqueue(0, 1);
  seg.queues.enqueue(0, 2);
  t.equal(admission.admit(0, false), REFUSE_FULL);
  t.equal(admission.admit(0, true), REFUSE_FULL, 'full comes before shed');
  t.equal(admission.admit(1, false), ADMIT, 'per model');
});

t.test('Retry-After: depth × service time ÷ healthy slots, rounded up, between 1 s and queue.timeout', async (t) => {
  const { seg, admission, model } = setup();
  t.equal(admission.retryAfterSeconds(model), 1, 'no service time on record yet');
  seg.queues.recordService(0, 3000);
  for (let i = 0; i < 3; i++) seg.queues.enqueue(0, 1);
  t.equal(admission.retryAfterSeconds(model), 3, '(3 + 1) × 3 s ÷ 4 slots');
  seg.endpoints.setState(1, EndpointState.Down);
  t.equal(admission.retryAfterSeconds(model), 6, 'only healthy endpoints\' slots count');
  seg.queues.recordService(0, 0x7fffffff);
  t.equal(admission.retryAfterSeconds(model), 30, 'never past queue.timeout');
});

t.test('mayHaveSlot: some healthy endpoint of the model below max_concurrency', async (t) => {
  const { seg, admission, model } = setup();
  t.ok(admission.mayHaveSlot(model));
  for (let i = 0; i < 2; i++) seg.endpoints.acquire(0);
  t.ok(admission.mayHaveSlot(model), 'endpoint 1 is free');
  seg.endpoints.setState(1, EndpointState.Down);
  t.notOk(admission.mayHaveSlot(model));
  seg.endpoints.release(0);
  t.ok(admission.mayHaveSlot(model));
});
