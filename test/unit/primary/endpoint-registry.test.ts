// What a reload's endpoint list changes (the counts the "reloaded" log line reports): a new backend
// is re-probed; a setting applied in place (max_concurrency, priority, weight) is counted as a
// change too, without taking the endpoint out of rotation.
import t from 'tap';
import { defaultConfig, type EndpointInput } from '../../../src/config/load.js';
import { EndpointRegistry } from '../../../src/primary/endpoint-registry.js';
import { EndpointState } from '../../../src/state/endpoints.js';
import { createSegment } from '../../../src/state/segment.js';

const endpoints = (list: EndpointInput[]) => defaultConfig(list).endpoints;

t.test('a reload that changes only max_concurrency, priority or weight: retuned, applied, not re-probed', async (t) => {
  const seg = createSegment({ maxEndpoints: 4, maxModels: 2, sessionSlots: 64, maxWorkers: 1 }, null);
  const base: EndpointInput[] = [{ name: 'a', url: 'http://h:1', max_concurrency: 8 }, { name: 'b', url: 'http://h:2' }];
  const registry = new EndpointRegistry(seg, endpoints(base));
  seg.endpoints.setState(0, EndpointState.Healthy);
  seg.endpoints.setState(1, EndpointState.Healthy);

  t.same(registry.apply(endpoints(base)), { added: [], removed: [], changed: [], retuned: [] }, 'the same list: nothing');

  const capped = registry.apply(endpoints([{ ...base[0]!, max_concurrency: 1 }, base[1]!]));
  t.same(capped, { added: [], removed: [], changed: [], retuned: [0] }, 'max_concurrency of a: retuned');
  t.equal(seg.endpoints.maxConcurrency(0), 1, 'the new cap is in the segment');
  t.equal(seg.endpoints.state(0), EndpointState.Healthy, 'a stays healthy (no re-probe)');

  const tuned = registry.apply(endpoints([{ ...base[0]!, max_concurrency: 1, priority: 5 }, { ...base[1]!, weight: 3 }]));
  t.same(tuned, { added: [], removed: [], changed: [], retuned: [0, 1] }, 'priority of a, weight of b: both retuned');
  t.equal(seg.endpoints.priority(0), 5);

  const moved = registry.apply(endpoints([{ ...base[0]!, max_concurrency: 1, priority: 5, url: 'http://h:9' }, { ...base[1]!, weight: 3 }]));
  t.same(moved, { added: [], removed: [], changed: [0], retuned: [] }, 'a new URL: changed (re-probed), not retuned');
  t.equal(seg.endpoints.state(0), EndpointState.Unknown, 'a waits for its probe');
});
