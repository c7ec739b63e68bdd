/**
 * Regression: a shared-memory segment left by a dead primary that had the same pid as the new
 * one (PID reuse, a restarted container's PID 1) made segment creation fail with EEXIST, so
 * corral could not start at all.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { startBackends, REPO_ROOT } from '../helpers/corral-process.js';

t.test('a stale segment named after our own pid does not stop the primary from starting', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu-a' }]);
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist', 'test', 'fixtures', 'own-pid-segment-child.js'), sim!.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const [code] = await once(child, 'exit') as [number | null];
  const report = JSON.parse(out.trim().split('\n')[0] ?? '{}') as { started?: boolean; error?: string };
  t.equal(report.started, true, `the primary started${report.error ? ` (error: ${report.error})` : ''}`);
  t.equal(code, 0, 'and stopped cleanly');
  t.notOk(existsSync(`/dev/shm/corral-${child.pid}`), 'its segment is released at stop');
});
