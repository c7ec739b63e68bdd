import { join } from 'node:path';
import t from 'tap';
import type { ConfigError } from '../../../src/core/errors.js';
import { loadConfigFile } from '../../../src/config/load.js';
import { configError } from '../../helpers/config.js';

const loadError = (path: string, env: NodeJS.ProcessEnv = {}): ConfigError => configError(() => loadConfigFile(path, env));

t.test('a YAML syntax error names the file and the line', async (t) => {
  const dir = t.testdir({
    'broken.yaml': 'server:\n  port: 11400\nendpoints:\n  - name: a\n    url: [http://h:1\n',
    'dupe.yaml': 'server:\n  port: 1\n  port: 2\nendpoints: []\n',
  });
  const broken = loadError(join(dir, 'broken.yaml'));
  t.ok(broken.problems.length >= 1);
  t.match(broken.problems[0]!, `${join(dir, 'broken.yaml')}:`);
  t.match(broken.problems[0]!, /YAML syntax error at line \d+:/);
  const dupe = loadError(join(dir, 'dupe.yaml'));
  t.match(dupe.problems[0]!, `${join(dir, 'dupe.yaml')}:3:`);
  t.match(dupe.problems[0]!, /at line 3:/);
});

t.test('a missing file is a ConfigError naming it', async (t) => {
  const dir = t.testdir({});
  const err = loadError(join(dir, 'nope.yaml'));
  t.same(err.problems, [`${join(dir, 'nope.yaml')}: cannot read config file (ENOENT)`]);
});

t.test('file + env: source is absolute, env wins, problems keep key paths', async (t) => {
  const dir = t.testdir({
    'c.yaml': 'server:\n  port: 11400\n  prot: 1\nendpoints:\n  - name: a\n    url: http://h:1\n',
    'ok.yaml': 'server:\n  port: 11400\nendpoints:\n  - name: a\n    url: http://h:1/\n',
    'empty.yaml': '# nothing\n',
  });
  t.same(loadError(join(dir, 'c.yaml')).problems, ['server.prot: unknown key (did you mean port?)']);
  const c = loadConfigFile(join(dir, 'ok.yaml'), { CORRAL_PORT: '0' });
  t.equal(c.source, join(dir, 'ok.yaml'));
  t.equal(c.server.port, 0);
  t.equal(c.server.management_port, 0);
  t.ok(Object.isFrozen(c.endpoints[0]));
  t.same(loadError(join(dir, 'empty.yaml')).problems, ['endpoints: must list at least one endpoint']);
  t.equal(loadConfigFile(join(dir, 'empty.yaml'), { CORRAL_ENDPOINTS: 'x=http://h:2' }).endpoints[0]!.url, 'http://h:2');
});

/** A "billion laughs" document: `levels` anchors, each a list of `width` aliases to the one before. */
function aliasBomb(levels: number, width: number): string {
  const lines = [`l0: &l0 [${Array.from({ length: width }, () => '"lol"').join(', ')}]`];
  for (let i = 1; i < levels; i++) lines.push(`l${i}: &l${i} [${Array.from({ length: width }, () => `*l${i - 1}`).join(', ')}]`);
  return `${lines.join('\n')}\nendpoints:\n  - name: a\n    url: http://h:1\n    models: *l${levels - 1}\n`;
}

t.test('a YAML alias bomb is one problem naming where it crosses the budget, found without expanding it', async (t) => {
  const dir = t.testdir({ 'bomb.yaml': aliasBomb(10, 9), 'deep.yaml': aliasBomb(40, 9) });
  for (const name of ['bomb.yaml', 'deep.yaml']) {
    const started = performance.now();
    const err = loadError(join(dir, name));
    t.same(err.problems.length, 1, `${name}: one problem`);
    // l5 stands for ~600k values, so the first *l5 (line 7, l6's first item) crosses 1,000,000.
    t.match(err.problems[0]!, `${join(dir, name)}:7:10: YAML aliases expand to more than 1000000 values (an alias bomb?): refused`);
    // No timing assertion (README): 9^40 values could not be expanded in any test's lifetime anyway.
    t.comment(`${name}: refused in ${Math.round(performance.now() - started)} ms`);
  }
});

t.test('aliases within the budget are expanded: an anchor shared by 150 endpoints is fine', async (t) => {
  // yaml's own guard (maxAliasCount: 100 uses) would have thrown on this file.
  const endpoints = Array.from({ length: 150 }, (_, i) => `  - name: e${i}\n    url: http://h:${i + 1}\n    health: *h`).join('\n');
  const dir = t.testdir({ 'shared.yaml': `x-health: &h {interval: 2s, timeout: 1s}\nstate:\n  max_endpoints: 150\nendpoints:\n${endpoints}\n` });
  const err = configError(() => loadConfigFile(join(dir, 'shared.yaml'), {}));
  // The anchor lives under an unknown top-level key: the only problem is that key.
  t.same(err.problems, ['x-health: unknown key (expected one of server, routing, upstream, circuit_breaker, logging, state, models, queue, endpoints)']);
  const dir2 = t.testdir({
    'shared.yaml': `state:\n  max_endpoints: 150\nendpoints:\n  - name: e0\n    url: http://h:1\n    health: &h {interval: 2s, timeout: 1s}\n${endpoints.split('\n').slice(3).join('\n')}\n`,
  });
  const c = loadConfigFile(join(dir2, 'shared.yaml'), {});
  t.equal(c.endpoints.length, 150);
  t.ok(c.endpoints.every((e) => e.health.interval === 2000 && e.health.timeout === 1000), 'every endpoint has the shared health settings');
});

t.test('an alias to no anchor is a problem with its position, not an exception', async (t) => {
  const dir = t.testdir({ 'dangling.yaml': 'server:\n  port: 1\nendpoints:\n  - name: a\n    url: http://h:1\n    health: *nope\n' });
  t.same(loadError(join(dir, 'dangling.yaml')).problems, [`${join(dir, 'dangling.yaml')}:6:13: YAML alias *nope has no anchor &nope before it`]);
});
