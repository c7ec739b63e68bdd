import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { parseDocument } from 'yaml';
import {
  ENDPOINT_DEFAULTS, HEALTH_DEFAULTS, LOGGING_DEFAULTS, ROUTING_DEFAULTS, SERVER_DEFAULTS,
  STATE_DEFAULTS, UPSTREAM_DEFAULTS, CIRCUIT_BREAKER_DEFAULTS, MODELS_DEFAULTS, QUEUE_DEFAULTS,
} from '../../../src/config/defaults.js';
import { defaultConfig } from '../../../src/config/load.js';
import { parseDuration, parseSize } from '../../../src/config/units.js';

const shipped = fileURLToPath(new URL('../../../config/corral.yaml', import.meta.url));

t.test('defaults are the documented values', async (t) => {
  const c = defaultConfig([{ name: 'a', url: 'http://127.0.0.1:11434/' }]);
  t.same(c.server, {
    host: '127.0.0.1',
    port: 11400,
    management_port: 11401,
    workers: availableParallelism(),
    max_body_size: 50 * 1024 * 1024,
    max_header_size: 16 * 1024,
    shutdown_timeout: 30_000,
    body_timeout: 60_000,
    request_id_header: 'x-request-id',
    engine: 'uws',
  });
  t.same(c.routing, {
    strategy: 'least-connections',
    max_retries: 2,
    session_header: 'x-corral-session-id',
    session_ttl: 30 * 60_000,
    session_slots: 65536,
    discovery_interval: 30_000,
    placement: 'warm-first',
  });
  t.same(c.models, {
    refresh_interval: 2000, estimate_factor: 1.2, load_timeout: 300_000, pinned: [], prewarm: [],
    prefetch: { enabled: false, window: 200, confidence: 0.6 },
    size_context: true, num_ctx_buckets: [2048, 4096, 8192, 16384, 32768, 65536, 131072], reply_budget: 1024, chars_per_token: 4,
  });
  t.same(c.queue, { enabled: true, max_size: 100, shed_at: 80, timeout: 30_000, heartbeat: 10_000, default_priority: 'normal' });
  t.same(c.upstream, { connect_timeout: 5000, first_byte_timeout: 300_000, idle_timeout: 120_000, connections: 64 });
  t.same(c.circuit_breaker, { failures: 5, open_for: 10_000, half_open_requests: 1 });
  t.same(c.logging, { level: 'info', requests: false });
  t.same(c.state, { max_endpoints: 64, max_models: 256, file: null });
  t.same(c.endpoints, [{
    name: 'a',
    url: 'http://127.0.0.1:11434',
    type: 'auto',
    priority: 0,
    weight: 1,
    max_concurrency: 32,
    models: null,
    health: { path: null, interval: 5000, timeout: 2000, fast_interval: 100 },
    vram: null,
    vram_reserve: { percent: 10 },
    gpus: null,
  }]);
  t.equal(c.source, null);
});

t.test('management port follows the API port; 0 stays ephemeral; off disables', async (t) => {
  const ep = [{ name: 'a', url: 'http://h:1' }];
  t.equal(defaultConfig(ep, { server: { port: 9000 } }).server.management_port, 9001);
  t.equal(defaultConfig(ep, { server: { port: 0 } }).server.management_port, 0);
  t.equal(defaultConfig(ep, { server: { management_port: 'off' } }).server.management_port, null);
  t.equal(defaultConfig(ep, { server: { management_port: null } }).server.management_port, null);
  t.equal(defaultConfig(ep, { server: { workers: 0 } }).server.workers, 0);
});

t.test('config/corral.yaml states every default of defaults.ts', async (t) => {
  const doc = parseDocument(readFileSync(shipped, 'utf8')).toJS() as Record<string, Record<string, unknown>>;
  const norm = (v: unknown, d: unknown): unknown =>
    typeof d === 'number' && typeof v === 'string' ? (parseDuration(v) ?? parseSize(v)) : v;
  const sections = { server: SERVER_DEFAULTS, routing: ROUTING_DEFAULTS, upstream: UPSTREAM_DEFAULTS, circuit_breaker: CIRCUIT_BREAKER_DEFAULTS, logging: LOGGING_DEFAULTS, state: STATE_DEFAULTS, models: MODELS_DEFAULTS, queue: QUEUE_DEFAULTS };
  for (const [name, defaults] of Object.entries(sections)) {
    for (const [key, d] of Object.entries(defaults)) {
      t.ok(key in doc[name]!, `${name}.${key} present`);
      if (key === 'management_port') t.equal(doc[name]![key], 11401);
      else if (typeof d === 'object' && d !== null) t.same(doc[name]![key], d, `${name}.${key} = default`);
      else t.equal(norm(doc[name]![key], d), d, `${name}.${key} = default`);
    }
  }
  const ep = (doc.endpoints as unknown as Array<Record<string, unknown>>)[0]!;
  for (const [key, d] of Object.entries(ENDPOINT_DEFAULTS)) {
    t.ok(key in ep, `endpoints[0].${key} present`);
    if (key !== 'health' && key !== 'type') t.equal(ep[key], d, `endpoints[0].${key} = default`);
  }
  for (const [key, d] of Object.entries(HEALTH_DEFAULTS)) {
    t.equal(norm((ep.health as Record<string, unknown>)[key], d), d, `endpoints[0].health.${key} = default`);
  }
});
