import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import t from 'tap';
import { defaultConfig, loadConfigFile, parseConfig } from '../../../src/config/load.js';
import { parseProblems as problems } from '../../helpers/config.js';

const endpoints = [{ name: 'a', url: 'http://h:1' }];

t.test('state.file: null by default, a path otherwise', async (t) => {
  t.equal(defaultConfig(endpoints).state.file, null);
  t.equal(defaultConfig(endpoints, { state: { file: null } }).state.file, null);
  t.equal(defaultConfig(endpoints, { state: { file: '/var/lib/corral/state' } }).state.file, '/var/lib/corral/state');
  t.equal(defaultConfig(endpoints, { state: { file: 'rel/state.msgpack' } }).state.file, resolve('rel/state.msgpack'),
    'without a config file, relative to the cwd');
});

t.test('state.file must be a non-empty string', async (t) => {
  const msg = 'state.file: must be null (no snapshot) or a non-empty file path';
  for (const bad of ['', '   ', 42, true, ['x'], { path: 'x' }, 'a\0b']) {
    t.same(problems({ state: { file: bad }, endpoints }), [msg], JSON.stringify(bad));
  }
  t.same(problems({ state: { flie: 'x' }, endpoints }), ['state.flie: unknown key (did you mean file?)']);
});

t.test('in a file, a relative state.file is relative to the file directory', async (t) => {
  const dir = t.testdir({ conf: {} });
  const yaml = (file: string): string => `state:\n  file: ${file}\nendpoints:\n  - name: a\n    url: http://h:1\n`;
  writeFileSync(join(dir, 'conf', 'rel.yaml'), yaml('data/state.msgpack'));
  writeFileSync(join(dir, 'conf', 'up.yaml'), yaml('../var/state'));
  writeFileSync(join(dir, 'conf', 'abs.yaml'), yaml('/srv/corral.state'));
  writeFileSync(join(dir, 'conf', 'none.yaml'), yaml('null'));
  t.equal(loadConfigFile(join(dir, 'conf', 'rel.yaml'), {}).state.file, join(dir, 'conf', 'data', 'state.msgpack'));
  t.equal(loadConfigFile(join(dir, 'conf', 'up.yaml'), {}).state.file, join(dir, 'var', 'state'));
  t.equal(loadConfigFile(join(dir, 'conf', 'abs.yaml'), {}).state.file, '/srv/corral.state');
  t.equal(loadConfigFile(join(dir, 'conf', 'none.yaml'), {}).state.file, null);

  // CORRAL_STATE_FILE overrides it; a relative path there is relative to the cwd, like any shell path.
  t.equal(loadConfigFile(join(dir, 'conf', 'rel.yaml'), { CORRAL_STATE_FILE: '/tmp/x.state' }).state.file, '/tmp/x.state');
  t.equal(loadConfigFile(join(dir, 'conf', 'rel.yaml'), { CORRAL_STATE_FILE: 'x.state' }).state.file, resolve('x.state'));
  t.equal(loadConfigFile(join(dir, 'conf', 'rel.yaml'), { CORRAL_STATE_FILE: 'off' }).state.file, null, 'off disables it');
  t.equal(loadConfigFile(join(dir, 'conf', 'rel.yaml'), { CORRAL_STATE_FILE: '' }).state.file,
    join(dir, 'conf', 'data', 'state.msgpack'), 'an empty variable is ignored');
});

t.test('CORRAL_STATE_FILE without a file', async (t) => {
  t.equal(parseConfig({ endpoints }, { CORRAL_STATE_FILE: ' /var/lib/corral.state ' }).state.file, '/var/lib/corral.state');
  t.equal(parseConfig({ endpoints, state: { file: '/a' } }, { CORRAL_STATE_FILE: 'NONE' }).state.file, null);
  t.equal(parseConfig({ endpoints, state: { max_models: 8 } }, { CORRAL_STATE_FILE: '/b' }).state.max_models, 8, 'other state keys kept');
});
