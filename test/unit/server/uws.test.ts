import t from 'tap';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const uwsModule = fileURLToPath(new URL('../../../dist/src/server/uws.js', import.meta.url));

// Each case in a fresh process: uWS is loaded once per process, and UWS_USE_FALLBACK is how the
// package itself can be made to take its slow JS path (what it does silently on an unsupported Node).
function load(env: NodeJS.ProcessEnv) {
  return spawnSync(process.execPath, ['--input-type=module', '-e',
    `import(${JSON.stringify(uwsModule)}).then((m) => { m.loadUws(); console.log('native'); }, (e) => { console.log(e.code); process.exit(3); })
       .catch((e) => { console.log(e.code ?? e.message); process.exit(3); });`], { env: { ...process.env, ...env }, encoding: 'utf8' });
}

t.test('the native uWS binary loads on this Node', async (t) => {
  const r = load({ UWS_USE_FALLBACK: '' });
  t.equal(r.stdout.trim().split('\n').pop(), 'native');
  t.equal(r.status, 0);
});

t.test('the slow JS fallback is refused, not silently used', async (t) => {
  const r = load({ UWS_USE_FALLBACK: '1' });
  t.match(r.stdout, /CORRAL_ERR_UWS_FALLBACK/);
  t.equal(r.status, 3);
});
