import t from 'tap';
import { createSegment } from '../../../src/state/segment.js';
import { EndpointState } from '../../../src/state/endpoints.js';
import { MODEL_AVAILABLE } from '../../../src/state/models.js';
import { Selector, NO_ENDPOINT_DOWN, NO_ENDPOINT_SATURATED, NO_ENDPOINT_DIALECT } from '../../../src/routing/selector.js';
import { RoutingTable } from '../../../src/routing/routing-table.js';
import { createStrategy } from '../../../src/routing/strategies.js';
import { CircuitBreaker } from '../../../src/routing/circuit-breaker.js';
import { Dialect } from '../../../src/protocol/dialect.js';
import { emptyCatalog, type CatalogSnapshot } from '../../../src/core/catalog.js';

function world(types: ('ollama' | 'openai')[] = ['ollama', 'ollama', 'ollama']) {
  const seg = createSegment({ maxEndpoints: 8, maxModels: 4, sessionSlots: 64, maxWorkers: 2 }, null);
  const catalog: CatalogSnapshot = {
    ...emptyCatalog(),
    generation: 1,
    endpoints: types.map((type, i) => ({ index: i, name: `gpu-${i}`, url: `http://127.0.0.1:${9000 + i}`, type, models: ['llama3.2:latest'] })),
    models: [{ index: 0, name: 'llama3.2:latest', endpoints: types.map((_, i) => i) }],
  };
  types.forEach((_, i) => {
    seg.endpoints.setState(i, EndpointState.Healthy);
    seg.endpoints.setMaxConcurrency(i, 2);
    seg.models.setFlags(i, 0, MODEL_AVAILABLE);
  });
  const table = new RoutingTable(catalog);
  const breaker = new CircuitBreaker(seg.endpoints, { failures: 3, open_for: 60_000, half_open_requests: 1 });
  return { seg, table, breaker, model: table.model('llama3.2')!, selector: new Selector(seg, createStrategy('round-robin'), breaker) };
}

t.test('model names resolve with and without :latest', async (t) => {
  const { table } = world();
  t.equal(table.model('llama3.2')?.name, 'llama3.2:latest');
  t.equal(table.model('llama3.2:latest')?.name, 'llama3.2:latest');
  t.equal(table.model('llama3.2:8b'), undefined);
});

t.test('without a session, the strategy decides among eligible endpoints', async (t) => {
  const { seg, table, model, selector } = world();
  seg.endpoints.setState(1, EndpointState.Down);
  const picks = new Set<number>();
  for (let i = 0; i < 6; i++) picks.add(selector.select(table, model, Dialect.Ollama, 0, 0, null));
  t.same([...picks].sort(), [0, 2], 'a down endpoint is never chosen');
  t.equal(selector.route, 'round-robin');
  t.equal(selector.select(table, model, Dialect.Ollama, 0, 0, [0]), 2, 'an endpoint that already failed this request is skipped');
});

t.test('sessions pin, hit, and re-pin when the pin is unusable', async (t) => {
  const { seg, table, model, selector } = world();
  const first = selector.select(table, model, Dialect.Ollama, 11, 22, null);
  t.equal(selector.route, 'sticky-new');
  for (let i = 0; i < 5; i++) {
    t.equal(selector.select(table, model, Dialect.Ollama, 11, 22, null), first);
    t.equal(selector.route, 'sticky-hit');
  }
  seg.endpoints.setState(first, EndpointState.Suspect);
  const moved = selector.select(table, model, Dialect.Ollama, 11, 22, null);
  t.not(moved, first);
  t.equal(selector.route, 'sticky-repin');
  seg.endpoints.setState(first, EndpointState.Healthy);
  t.equal(selector.select(table, model, Dialect.Ollama, 11, 22, null), moved, 'the new pin holds after the old endpoint returns');
  t.equal(selector.route, 'sticky-hit');
  seg.endpoints.acquire(moved);
  seg.endpoints.acquire(moved);
  t.not(selector.select(table, model, Dialect.Ollama, 11, 22, null), moved, 'a saturated pin is re-pinned');
  t.equal(selector.route, 'sticky-repin');
});

t.test('reasons when nothing is eligible', async (t) => {
  const { seg, table, model, selector } = world();
  for (let i = 0; i < 3; i++) {
    seg.endpoints.acquire(i);
    seg.endpoints.acquire(i);
  }
  t.equal(selector.select(table, model, Dialect.Ollama, 0, 0, null), NO_ENDPOINT_SATURATED);
  for (let i = 0; i < 3; i++) seg.endpoints.setState(i, EndpointState.Down);
  t.equal(selector.select(table, model, Dialect.Ollama, 0, 0, null), NO_ENDPOINT_DOWN);

  const openaiOnly = world(['openai']);
  t.equal(openaiOnly.selector.select(openaiOnly.table, openaiOnly.model, Dialect.Ollama, 0, 0, null), NO_ENDPOINT_DIALECT);
  t.equal(openaiOnly.selector.select(openaiOnly.table, openaiOnly.model, Dialect.OpenAI, 0, 0, null), 0);
});

t.test('an open circuit keeps a healthy endpoint out of rotation', async (t) => {
  const { table, model, selector, breaker } = world(['ollama', 'ollama']);
  for (let i = 0; i < 3; i++) breaker.onFailure(1);
  for (let i = 0; i < 4; i++) t.equal(selector.select(table, model, Dialect.Ollama, 0, 0, null), 0);
  breaker.onFailure(0);
  breaker.onFailure(0);
  breaker.onFailure(0);
  t.equal(selector.select(table, model, Dialect.Ollama, 0, 0, null), NO_ENDPOINT_DOWN, 'every circuit open: nothing to choose');
});

t.test('capacity: max_concurrency, or the trial limit while half-open', async (t) => {
  const { breaker } = world(['ollama', 'ollama']);
  t.equal(breaker.capacity(0, 32), 32, 'closed: the configured cap');
  for (let i = 0; i < 3; i++) breaker.onFailure(0);
  t.equal(breaker.capacity(0, 32), 32, 'open: admits() keeps it out; the cap itself is unchanged');
});
