import t from 'tap';
import { ConfigError } from '../../../src/core/errors.js';
import { defaultConfig, parseConfig } from '../../../src/config/load.js';
import { parseProblems as problems, problemsOf } from '../../helpers/config.js';

t.test('every problem is listed at once, each with its exact key path', async (t) => {
  const list = problems({
    server: { port: 70000, prot: 1 },
    routing: { strategy: 'fastest', session_slots: 1000 },
    endpoints: [
      { name: 'a', url: 'http://127.0.0.1:11434' },
      { name: 'b', url: 'ftp://example.com' },
      { name: 'a', url: 'http://127.0.0.1:11435' },
    ],
  });
  t.same([...list].sort(), [
    'endpoints[1].url: must be an http(s) URL',
    'endpoints[2].name: duplicate of endpoints[0].name',
    'routing.session_slots: must be a power of two',
    'routing.strategy: must be one of least-connections, round-robin, priority, weighted',
    'server.port: must be an integer from 0 to 65535',
    'server.prot: unknown key (did you mean port?)',
  ].sort());
  try {
    parseConfig({ server: { port: -1 }, endpoints: [] });
    t.fail('should throw');
  } catch (err) {
    t.type(err, ConfigError);
    t.equal((err as ConfigError).code, 'CORRAL_ERR_CONFIG');
    t.match((err as Error).message, /server\.port: must be an integer from 0 to 65535/);
    t.match((err as Error).message, /endpoints: must list at least one endpoint/);
  }
});

t.test('endpoints must list at least one endpoint', async (t) => {
  t.same(problems({}), ['endpoints: must list at least one endpoint']);
  t.same(problems(null), ['endpoints: must list at least one endpoint']);
  t.same(problems({ endpoints: [] }), ['endpoints: must list at least one endpoint']);
  t.same(problems({ endpoints: 'http://x' }), ['endpoints: must be a list of endpoints']);
  t.same(problems('nope'), ['(root): must be a mapping (server, routing, upstream, circuit_breaker, logging, state, models, queue, endpoints)']);
});

t.test('unknown keys suggest the closest known key', async (t) => {
  t.same(problems({ sever: {}, endpoints: [{ name: 'a', url: 'http://h:1', wieght: 2, health: { intervall: '1s' } }] }), [
    'sever: unknown key (did you mean server?)',
    'endpoints[0].wieght: unknown key (did you mean weight?)',
    'endpoints[0].health.intervall: unknown key (did you mean interval?)',
  ]);
  t.same(problems({ logging: { colour: true }, endpoints: [{ name: 'a', url: 'http://h:1' }] }), [
    'logging.colour: unknown key (expected one of level, requests)',
  ]);
  t.same(problems({ routing: { 'max-retries': 1 }, endpoints: [{ name: 'a', url: 'http://h:1' }] }), [
    'routing.max-retries: unknown key (did you mean max_retries?)',
  ]);
});

t.test('value checks across sections', async (t) => {
  const list = problems({
    server: { host: 'http://x/', workers: 'many', max_body_size: '10 parsecs', shutdown_timeout: '30', request_id_header: 'x id', management_port: 11400 },
    routing: { max_retries: -1, session_ttl: 0, session_slots: 0, session_header: 7 },
    upstream: { connect_timeout: '100d', connections: 0 },
    logging: { level: 'verbose', requests: 'yes' },
    state: { max_endpoints: 1 },
    endpoints: [
      { name: 'bad name!', url: 'http://user:pw@h:1', type: 'tgi', priority: 1.5, weight: 0, max_concurrency: 0, models: [], health: { path: 'health', fast_interval: '10s' } },
      { url: 'not a url', models: ['m', 'm', ''] },
      'x',
    ],
  });
  t.same(list, [
    'server.host: must be an IP address or host name',
    'server.management_port: must differ from server.port',
    'server.workers: must be auto or an integer from 0 to 1024',
    'server.max_body_size: must be a size (integer bytes or a string like 512KiB, 50MiB, 1GB)',
    'server.shutdown_timeout: must be a duration (integer ms or a string like 250ms, 30s, 5m, 1h)',
    'server.request_id_header: must be an HTTP header name',
    'routing.session_slots: must be an integer from 1 to 1073741824',
    'routing.max_retries: must be an integer from 0 to 100',
    'routing.session_header: must be an HTTP header name',
    'routing.session_ttl: must be greater than 0',
    'upstream.connect_timeout: must be at most 2147483647ms (~24.8 days)',
    'upstream.connections: must be an integer from 1 to 65535',
    'logging.level: must be one of fatal, error, warn, info, debug, trace, silent',
    'logging.requests: must be true or false',
    'endpoints: lists 3 endpoints but state.max_endpoints is 1',
    'endpoints[0].name: must be 1 to 64 characters of A-Z a-z 0-9 . _ -',
    'endpoints[0].url: must be an http(s) URL',
    'endpoints[0].weight: must be a number greater than 0',
    'endpoints[0].type: must be one of auto, ollama, openai',
    'endpoints[0].priority: must be an integer from -1000000 to 1000000',
    'endpoints[0].max_concurrency: must be an integer from 1 to 65535',
    'endpoints[0].models: must be null (discover) or a non-empty list of model names',
    'endpoints[0].health.path: must be null (default for the type) or a path starting with /',
    'endpoints[0].health.fast_interval: must not exceed endpoints[0].health.interval',
    'endpoints[1].name: is required',
    'endpoints[1].url: must be an http(s) URL',
    'endpoints[1].models[1]: duplicate of endpoints[1].models[0]',
    'endpoints[1].models[2]: must be a non-empty string',
    'endpoints[2]: must be a mapping with name and url',
  ]);
});

t.test('normalisation: URLs, header names, workers auto, units', async (t) => {
  const c = parseConfig({
    server: { request_id_header: 'X-Request-ID', workers: 'auto', max_body_size: '1GB', shutdown_timeout: '1.5s', management_port: 'off' },
    routing: { session_header: 'X-Session' },
    endpoints: [
      { name: 'vllm', url: 'HTTP://GPU-Box:8000/v1/', type: 'openai', models: ['llama'], health: { path: '/health', interval: '1m' } },
      { name: 'o', url: 'https://ollama.internal//' },
    ],
  });
  t.equal(c.server.request_id_header, 'x-request-id');
  t.equal(c.routing.session_header, 'x-session');
  t.ok(c.server.workers >= 1);
  t.equal(c.server.max_body_size, 1e9);
  t.equal(c.server.shutdown_timeout, 1500);
  t.equal(c.server.management_port, null);
  t.equal(c.endpoints[0]!.url, 'http://gpu-box:8000/v1');
  t.equal(c.endpoints[1]!.url, 'https://ollama.internal');
  t.same(c.endpoints[0]!.models, ['llama']);
  t.equal(c.endpoints[0]!.health.interval, 60_000);
});

t.test('the result is deeply frozen', async (t) => {
  const c = defaultConfig([{ name: 'a', url: 'http://h:1', models: ['m'] }], { logging: { level: 'debug' } });
  t.ok(Object.isFrozen(c));
  for (const v of [c.server, c.routing, c.upstream, c.logging, c.state, c.endpoints, c.endpoints[0], c.endpoints[0]!.health, c.endpoints[0]!.models]) {
    t.ok(Object.isFrozen(v));
  }
  t.throws(() => { (c.server as { port: number }).port = 1; }, TypeError);
  t.throws(() => { (c.endpoints as unknown as string[]).push('x'); }, TypeError);
  t.equal(c.logging.level, 'debug');
});

t.test('defaultConfig goes through validation and does not mutate its input', async (t) => {
  t.same(problemsOf(() => defaultConfig([{ name: 'a', url: 'nope' }])), ['endpoints[0].url: must be an http(s) URL']);
  t.same(problemsOf(() => defaultConfig([])), ['endpoints: must list at least one endpoint']);
  const input = { name: 'a', url: 'http://h:1/' };
  defaultConfig([input]);
  t.same(input, { name: 'a', url: 'http://h:1/' });
  t.notOk(Object.isFrozen(input));
});

t.test('placement settings: endpoint vram, vram_reserve, gpus; models section', async (t) => {
  const ok = parseConfig({
    routing: { placement: 'off' },
    models: {
      refresh_interval: '500ms', estimate_factor: 1.5, load_timeout: '2m', pinned: ['llama3.2:1b'],
      prewarm: [{ model: 'qwen2.5:7b', endpoints: ['a'], keep_alive: '-1' }, { model: 'phi3' }],
      prefetch: { enabled: true, window: 50, confidence: 0.8 },
    },
    endpoints: [
      { name: 'a', url: 'http://h:1', vram: '24GiB', vram_reserve: '2GiB' },
      { name: 'b', url: 'http://h:2', gpus: [0, 1], vram_reserve: '5%' },
    ],
  });
  t.equal(ok.routing.placement, 'off');
  t.same(ok.endpoints[0]!.vram, 24 * 1024 ** 3);
  t.same(ok.endpoints[0]!.vram_reserve, { bytes: 2 * 1024 ** 3 });
  t.same(ok.endpoints[1]!.vram_reserve, { percent: 5 });
  t.same(ok.endpoints[1]!.gpus, [0, 1]);
  t.same(ok.models.prewarm, [{ model: 'qwen2.5:7b', endpoints: ['a'], keep_alive: '-1' }, { model: 'phi3', endpoints: null, keep_alive: null }]);
  t.same(ok.models.prefetch, { enabled: true, window: 50, confidence: 0.8 });
  t.equal(ok.models.refresh_interval, 500);
  t.same(problems({
    routing: { placement: 'hot' },
    models: { estimate_factor: 0, pinned: 'x', prewarm: [{ endpoints: ['a'] }, { model: 'm', endpoints: ['zz'], keep_alive: 'soon' }], prefetch: { confidence: 2 } },
    endpoints: [{ name: 'a', url: 'http://h:1', vram: 'lots', vram_reserve: '120%', gpus: [0, 0] }],
  }), [
    'routing.placement: must be one of warm-first, off',
    'endpoints[0].vram: must be a size (integer bytes or a string like 512KiB, 50MiB, 1GB)',
    'endpoints[0].vram_reserve: must be a percentage from 0% to 99% of the total, or a size',
    'endpoints[0].gpus: lists a GPU twice',
    'models.estimate_factor: must be a number from 0.1 to 100',
    'models.pinned: must be a list of model names',
    'models.prewarm[0].model: is required (a model name)',
    'models.prewarm[1].endpoints[0]: names no endpoint (endpoints are a)',
    'models.prewarm[1].keep_alive: must be an Ollama keep_alive: seconds as a number (-1 = forever) or a duration like 10m, 1h',
    'models.prefetch.confidence: must be a number greater than 0 and at most 1',
  ]);
  t.equal(parseConfig({ models: { chars_per_token: 3.5 }, endpoints: [{ name: 'a', url: 'http://h:1' }] }).models.chars_per_token, 3.5);
  for (const bad of [0.5, 9, '4', null]) {
    t.same(problems({ models: { chars_per_token: bad }, endpoints: [{ name: 'a', url: 'http://h:1' }] }),
      ['models.chars_per_token: must be a number from 1 to 8'], `chars_per_token ${JSON.stringify(bad)}`);
  }
  t.same(problems({ state: { max_endpoints: 4096, max_models: 4096 }, endpoints: [{ name: 'a', url: 'http://h:1' }] }),
    ['state.max_models: state.max_endpoints × state.max_models must be at most 1048576 (4096 × 4096 is 16777216)']);
});

t.test('queue: shed_at as a percentage or a count, each problem named', async (t) => {
  const ep = [{ name: 'a', url: 'http://127.0.0.1:11434' }];
  t.equal(defaultConfig(ep, { queue: { max_size: 10 } }).queue.shed_at, 8, '80 % of 10');
  t.equal(defaultConfig(ep, { queue: { max_size: 10, shed_at: '50%' } }).queue.shed_at, 5);
  t.equal(defaultConfig(ep, { queue: { max_size: 10, shed_at: 3 } }).queue.shed_at, 3);
  t.equal(defaultConfig(ep, { queue: { max_size: 1 } }).queue.shed_at, 1, 'never 0');
  t.same([...problems({ queue: { max_size: 0, shed_at: '150%', timeout: 'soon', heartbeat: -1, default_priority: 'high', enabled: 'yes', size: 3 }, endpoints: ep })].sort(), [
    'queue.default_priority: must be one of normal, low',
    'queue.enabled: must be true or false',
    'queue.heartbeat: must be a duration (integer ms or a string like 250ms, 30s, 5m, 1h)',
    'queue.max_size: must be an integer from 1 to 1000000',
    'queue.shed_at: must be a percentage of queue.max_size (1% to 100%) or a count from 1 to queue.max_size (100)',
    'queue.size: unknown key (expected one of enabled, max_size, shed_at, timeout, heartbeat, default_priority)',
    'queue.timeout: must be a duration (integer ms or a string like 250ms, 30s, 5m, 1h)',
  ].sort());
  t.same(problems({ queue: { max_size: 5, shed_at: 6 }, endpoints: ep }), [
    'queue.shed_at: must be a percentage of queue.max_size (1% to 100%) or a count from 1 to queue.max_size (5)',
  ]);
  t.equal(defaultConfig(ep, { queue: { heartbeat: 0 } }).queue.heartbeat, 0, 'heartbeat 0 = none');
});
