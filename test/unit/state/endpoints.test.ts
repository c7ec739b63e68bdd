import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { EndpointState } from '../../../src/state/endpoints.js';

const sizes = { maxEndpoints: 4, maxModels: 4, sessionSlots: 16, maxWorkers: 2 };

t.test('state, cas and change time', async (t) => {
  const e = createSegment(sizes, null).endpoints;
  t.equal(e.capacity, 4);
  t.equal(e.state(2), EndpointState.Unknown);
  const before = Date.now();
  e.setState(2, EndpointState.Healthy);
  t.equal(e.state(2), EndpointState.Healthy);
  t.ok(e.lastStateChangeMs(2) >= before - 1 && e.lastStateChangeMs(2) <= Date.now() + 1, 'epoch ms');
  t.notOk(e.casState(2, EndpointState.Down, EndpointState.Suspect), 'cas fails on mismatch');
  t.ok(e.casState(2, EndpointState.Healthy, EndpointState.Suspect));
  t.equal(e.state(2), EndpointState.Suspect);
  t.equal(e.state(1), EndpointState.Unknown, 'neighbours untouched');
});

t.test('inflight, limits, counters, reset', async (t) => {
  const e = createSegment(sizes, null).endpoints;
  t.equal(e.acquire(3), 1);
  t.equal(e.acquire(3), 2);
  t.equal(e.release(3), 1);
  t.equal(e.release(3), 0);
  t.equal(e.release(3), 0, 'never negative');
  t.equal(e.inflight(3), 0);
  e.setMaxConcurrency(3, 8);
  e.setPriority(3, -2);
  e.setWeight(3, 5);
  t.equal(e.maxConcurrency(3), 8);
  t.equal(e.priority(3), -2);
  t.equal(e.weight(3), 5);
  e.addRequest(3);
  e.addRequest(3);
  e.addFailure(3);
  e.addFailure(3);
  t.equal(e.requests(3), 2);
  t.equal(e.failures(3), 2);
  t.equal(e.consecutiveFailures(3), 2);
  e.resetConsecutiveFailures(3);
  t.equal(e.consecutiveFailures(3), 0);
  t.equal(e.failures(3), 2);
  e.setState(3, EndpointState.Draining);
  e.acquire(3);
  e.reset(3);
  for (const v of [e.state(3), e.inflight(3), e.maxConcurrency(3), e.priority(3), e.weight(3),
    e.ewmaLatencyUs(3), e.requests(3), e.failures(3), e.consecutiveFailures(3)]) t.equal(v, 0);
});

t.test('EWMA latency, alpha 1/8', async (t) => {
  const e = createSegment(sizes, null).endpoints;
  t.equal(e.ewmaLatencyUs(0), 0);
  e.recordLatencyUs(0, 1000);
  t.equal(e.ewmaLatencyUs(0), 1000, 'first sample seeds');
  e.recordLatencyUs(0, 1800);
  t.equal(e.ewmaLatencyUs(0), 1100);
  for (let i = 0; i < 200; i++) e.recordLatencyUs(0, 200);
  t.ok(Math.abs(e.ewmaLatencyUs(0) - 200) <= 8, 'converges');
  e.recordLatencyUs(0, 1e12);
  t.ok(e.ewmaLatencyUs(0) > 0, 'huge samples clamp instead of overflowing');
});
