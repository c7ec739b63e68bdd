import t, { type Test } from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { CircuitState, EndpointState } from '../../../src/state/endpoints.js';
import { CircuitBreaker, CircuitChange } from '../../../src/routing/circuit-breaker.js';

function world(openForMs: number) {
  const seg = createSegment({ maxEndpoints: 2, maxModels: 1, sessionSlots: 64, maxWorkers: 1 }, null);
  seg.endpoints.setState(0, EndpointState.Healthy);
  const breaker = new CircuitBreaker(seg.endpoints, { failures: 2, open_for: openForMs, half_open_requests: 1 });
  return { endpoints: seg.endpoints, breaker };
}

/** Two failures open the circuit; with open_for 0 the next admission turns it half-open. */
function toHalfOpen(t: Test, breaker: CircuitBreaker): void {
  breaker.onFailure(0);
  breaker.onFailure(0);
  t.ok(breaker.admits(0), 'half-open: a trial is admitted');
}

t.test('consecutive failures open the circuit; a success in between starts the count again', async (t) => {
  const { endpoints, breaker } = world(60_000);
  t.equal(breaker.onFailure(0), CircuitChange.None);
  t.equal(breaker.onSuccess(0, false, 0), CircuitChange.None);
  t.equal(breaker.onFailure(0), CircuitChange.None, 'the count restarted after the success');
  t.equal(breaker.onFailure(0), CircuitChange.Opened);
  t.equal(endpoints.circuit(0), CircuitState.Open);
  t.notOk(breaker.admits(0), 'open: no traffic until open_for has passed');
});

t.test('half-open: only a trial\'s success closes the circuit, not an older request\'s', async (t) => {
  const { endpoints, breaker } = world(0);
  // A request reserved while the circuit was closed, still in flight when the circuit opens.
  const oldRequestWasTrial = breaker.isTrial(0);
  t.equal(oldRequestWasTrial, false);
  breaker.onFailure(0);
  breaker.onFailure(0);
  t.equal(endpoints.circuit(0), CircuitState.Open);
  t.ok(breaker.admits(0), 'open_for (0 ms) has passed: the circuit turns half-open and admits a trial');
  t.equal(endpoints.circuit(0), CircuitState.HalfOpen);
  const trial = breaker.isTrial(0);
  const opening = breaker.openingOf(0);
  t.equal(trial, true, 'a request reserved now is a trial');
  t.equal(breaker.onSuccess(0, oldRequestWasTrial, 0), CircuitChange.None, 'the old request succeeding does not close it');
  t.equal(endpoints.circuit(0), CircuitState.HalfOpen);
  t.equal(breaker.onSuccess(0, trial, opening), CircuitChange.Closed, 'the trial succeeding does');
  t.equal(endpoints.circuit(0), CircuitState.Closed);
});

t.test('half-open: a failure opens the circuit again', async (t) => {
  const { endpoints, breaker } = world(0);
  toHalfOpen(t, breaker);
  t.equal(breaker.onFailure(0), CircuitChange.Opened);
  t.equal(endpoints.circuit(0), CircuitState.Open);
});

t.test('half-open: a trial of an earlier opening does not close the circuit after it reopened', async (t) => {
  const { endpoints, breaker } = world(0);
  toHalfOpen(t, breaker);
  const oldTrial = { trial: breaker.isTrial(0), opening: breaker.openingOf(0) };
  // Another trial fails: the circuit opens again (a later stamp), then turns half-open again.
  await new Promise((resolve) => setTimeout(resolve, 5)); // the opening stamp has millisecond resolution
  t.equal(breaker.onFailure(0), CircuitChange.Opened);
  t.ok(breaker.admits(0));
  t.equal(endpoints.circuit(0), CircuitState.HalfOpen);
  t.equal(breaker.onSuccess(0, oldTrial.trial, oldTrial.opening), CircuitChange.None, 'the old trial, still streaming, succeeds: no change');
  t.equal(endpoints.circuit(0), CircuitState.HalfOpen);
  t.equal(breaker.onSuccess(0, breaker.isTrial(0), breaker.openingOf(0)), CircuitChange.Closed, 'a trial of this opening closes it');
});
