import t from 'tap';
import { ENV_OVERRIDES } from '../../../src/config/env.js';
import { parseConfig } from '../../../src/config/load.js';
import { parseProblems as problems } from '../../helpers/config.js';

const base = { server: { port: 9000 }, endpoints: [{ name: 'file', url: 'http://h:1' }] };

t.test('each documented variable overrides its key', async (t) => {
  const c = parseConfig(base, {
    CORRAL_HOST: '0.0.0.0',
    CORRAL_PORT: '8080',
    CORRAL_MANAGEMENT_PORT: '9090',
    CORRAL_WORKERS: '0',
    CORRAL_MAX_BODY_SIZE: '1MiB',
    CORRAL_SHUTDOWN_TIMEOUT: '5s',
    CORRAL_STRATEGY: 'round-robin',
    CORRAL_MAX_RETRIES: '0',
    CORRAL_LOG_LEVEL: 'debug',
    UNRELATED: 'x',
  });
  t.equal(c.server.host, '0.0.0.0');
  t.equal(c.server.port, 8080);
  t.equal(c.server.management_port, 9090);
  t.equal(c.server.workers, 0);
  t.equal(c.server.max_body_size, 1024 * 1024);
  t.equal(c.server.shutdown_timeout, 5000);
  t.equal(c.routing.strategy, 'round-robin');
  t.equal(c.routing.max_retries, 0);
  t.equal(c.logging.level, 'debug');
  t.same(c.endpoints.map((e) => e.name), ['file']);
  t.same(base.server, { port: 9000 }, 'the raw input is not modified');
});

t.test('bare numbers, off, empty values', async (t) => {
  const c = parseConfig(base, { CORRAL_SHUTDOWN_TIMEOUT: '2500', CORRAL_MAX_BODY_SIZE: '4096', CORRAL_MANAGEMENT_PORT: 'off', CORRAL_PORT: '' });
  t.equal(c.server.shutdown_timeout, 2500);
  t.equal(c.server.max_body_size, 4096);
  t.equal(c.server.management_port, null);
  t.equal(c.server.port, 9000, 'an empty variable is ignored');
  t.equal(parseConfig(base, { CORRAL_PORT: '7000' }).server.management_port, 7001, 'default management port follows the env port');
});

t.test('CORRAL_ENDPOINTS replaces the list; each endpoint gets defaults', async (t) => {
  const c = parseConfig(base, { CORRAL_ENDPOINTS: 'gpu0=http://10.0.0.1:11434/, gpu1=http://10.0.0.2:11434' });
  t.same(c.endpoints.map((e) => [e.name, e.url, e.type, e.max_concurrency, e.health.interval]), [
    ['gpu0', 'http://10.0.0.1:11434', 'auto', 32, 5000],
    ['gpu1', 'http://10.0.0.2:11434', 'auto', 32, 5000],
  ]);
  const fromNothing = parseConfig(undefined, { CORRAL_ENDPOINTS: 'a=http://h:1' });
  t.equal(fromNothing.endpoints[0]!.name, 'a', 'works with no file at all');
});

t.test('an invalid env value names the variable', async (t) => {
  t.same(problems(base, { CORRAL_PORT: 'eighty' }), ['CORRAL_PORT (server.port): must be an integer from 0 to 65535']);
  t.same(problems(base, { CORRAL_PORT: '99999', CORRAL_STRATEGY: 'random', CORRAL_LOG_LEVEL: 'loud' }), [
    'CORRAL_PORT (server.port): must be an integer from 0 to 65535',
    'CORRAL_STRATEGY (routing.strategy): must be one of least-connections, round-robin, priority, weighted',
    'CORRAL_LOG_LEVEL (logging.level): must be one of fatal, error, warn, info, debug, trace, silent',
  ]);
  t.same(problems(base, { CORRAL_ENDPOINTS: 'a=http://h:1,b=ftp://x,a=http://h:2,junk' }), [
    'CORRAL_ENDPOINTS: entry "junk" must be name=url',
    'CORRAL_ENDPOINTS (endpoints[1].url): must be an http(s) URL',
    'CORRAL_ENDPOINTS (endpoints[2].name): duplicate of endpoints[0].name',
  ]);
  t.same(problems(base, { CORRAL_ENDPOINTS: ' , ' }), ['CORRAL_ENDPOINTS (endpoints): must list at least one endpoint']);
  t.same(problems({ server: { port: 'x' }, endpoints: base.endpoints }, {}), ['server.port: must be an integer from 0 to 65535'], 'file values keep the plain path');
});

t.test('ENV_OVERRIDES documents every variable, and config/corral.yaml mentions each', async (t) => {
  const { readFileSync } = await import('node:fs');
  const yaml = readFileSync(new URL('../../../config/corral.yaml', import.meta.url), 'utf8');
  t.equal(ENV_OVERRIDES.length, 12);
  for (const o of ENV_OVERRIDES) t.match(yaml, o.name, `${o.name} documented`);
});
