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
