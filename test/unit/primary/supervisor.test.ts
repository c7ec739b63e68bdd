import t from 'tap';
import { workerExecArgv } from '../../../src/primary/supervisor.js';

t.test('workers get the young-generation cap after the primary\'s own flags', async (t) => {
  t.same(workerExecArgv([], ''), ['--max-semi-space-size=4']);
  t.same(workerExecArgv(['--enable-source-maps'], '--trace-warnings'), ['--enable-source-maps', '--max-semi-space-size=4']);
});

t.test('an operator\'s own semi-space flag, in either spelling, max or min, wins', async (t) => {
  for (const flag of ['--max-semi-space-size=64', '--max_semi_space_size=64', '--min-semi-space-size=16', '--min_semi_space_size=16']) {
    t.same(workerExecArgv([flag], ''), [flag], `${flag} on node's command line`);
    t.same(workerExecArgv([], `--trace-warnings ${flag}`), [], `${flag} in NODE_OPTIONS`);
  }
});
