/**
 * The shipped ecosystem.config.js under a real pm2 (its own PM2_HOME, so no daemon is shared):
 * fork mode, `wait_ready` honoured (pm2 start returns once corral said ready), traffic served,
 * and `pm2 stop` a graceful stop (corral logs "stopped", no SIGKILL needed).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import { startBackends, REPO_ROOT } from '../helpers/corral-process.js';
import { freePort } from '../helpers/free-port.js';

const run = promisify(execFile);
const PM2 = join(REPO_ROOT, 'node_modules', '.bin', 'pm2');

t.test('pm2 runs corral from ecosystem.config.js in fork mode and stops it gracefully', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu-a' }]);
  const home = mkdtempSync(join(tmpdir(), 'corral-pm2-'));
  const port = await freePort();
  const env = {
    ...process.env,
    PM2_HOME: home,
    CORRAL_ENDPOINTS: `gpu-a=${sim!.url}`,
    CORRAL_PORT: String(port),
    CORRAL_MANAGEMENT_PORT: 'off',
    CORRAL_WORKERS: '2',
  };
  const pm2 = (...args: string[]) => run(PM2, args, { cwd: REPO_ROOT, env, timeout: 60_000 });
  t.teardown(async () => {
    await pm2('kill').catch(() => {});
    rmSync(home, { recursive: true, force: true });
  });

  // wait_ready: pm2 start returns only after corral sent 'ready' (every worker listening).
  await pm2('start', 'ecosystem.config.js');
  const res = await request(`http://127.0.0.1:${port}/api/tags`);
  t.equal(res.statusCode, 200, 'corral serves as soon as pm2 start returned');
  const tags = await res.body.json() as { models: { name: string }[] };
  t.ok(tags.models.some((m) => m.name === 'llama3.2:1b'), 'with the backend\'s models');

  const list = JSON.parse((await pm2('jlist')).stdout) as { name: string; pm2_env: { status: string; exec_mode: string; pm_out_log_path: string } }[];
  const app = list.find((a) => a.name === 'corral');
  t.equal(app?.pm2_env.exec_mode, 'fork_mode', 'fork mode: corral forks its own workers');
  t.equal(app?.pm2_env.status, 'online');

  await pm2('stop', 'corral');
  const logFile = app!.pm2_env.pm_out_log_path;
  t.ok(existsSync(logFile), 'pm2 collected corral\'s stdout');
  const lines = readFileSync(logFile, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { msg: string });
  t.ok(lines.some((l) => l.msg.startsWith('corral listening')), 'started');
  t.ok(lines.some((l) => l.msg === 'stopped'), 'stopped gracefully (drained, state released) within kill_timeout');
  await t.rejects(request(`http://127.0.0.1:${port}/api/tags`), 'the port is closed after the stop');
});
