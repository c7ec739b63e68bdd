// Two corrals on one port (issue 10, item 4): uWebSockets.js listens with SO_REUSEPORT, so a
// second corral on a taken API port used to start "successfully" and the kernel split traffic
// between two gateways. The second one must refuse, naming the port, and the first keep it all.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { stringify } from 'yaml';
import { request } from 'undici';
import { CLI, startBackends, startCorral } from '../helpers/corral-process.js';
import { HI, MODEL } from '../helpers/sim.js';
import { freePort } from '../helpers/free-port.js';

/** Runs a second corral to its exit with `server` settings over a one-endpoint config. */
async function second(url: string, server: Record<string, unknown>): Promise<{ code: number | null; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-port-'));
  try {
    const file = join(dir, 'corral.yaml');
    writeFileSync(file, stringify({ server: { host: '127.0.0.1', ...server }, endpoints: [{ name: 'a', url }] }));
    const child = spawn(process.execPath, [CLI, '--config', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const [code] = await once(child, 'exit') as [number | null];
    clearTimeout(timer);
    return { code, stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

t.test('a second corral on a port the first holds refuses to start, naming it', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }]);
  const first = await startCorral(t, sims, { config: { server: { workers: 2 } } });

  for (const [what, server] of [
    ['cluster, no management port', { port: first.port, management_port: 'off', workers: 2 }],
    ['inline', { port: first.port, management_port: 'off', workers: 0 }],
  ] as const) {
    const run = await second(sims[0]!.url, server);
    t.equal(run.code, 1, `${what}: exit 1`);
    t.match(run.stderr, `server.port: 127.0.0.1:${first.port} is already in use by another process`, `${what}: names the setting and the port`);
    t.notMatch(run.stderr, /\n\s+at /, `${what}: no stack trace`);
  }
  const management = await second(sims[0]!.url, { port: await freePort(), management_port: first.managementPort, workers: 1 });
  t.equal(management.code, 1, 'the management port taken: exit 1');
  t.match(management.stderr, `server.management_port: 127.0.0.1:${first.managementPort} is already in use`);

  // The first corral still has every connection: a handful of fresh ones are all its own.
  for (let i = 0; i < 8; i++) {
    const res = await request(`${first.url}/api/chat`, { method: 'POST', reset: true, body: JSON.stringify({ model: MODEL, messages: HI, stream: false }) });
    t.equal(res.statusCode, 200, `request ${i} served`);
    await res.body.dump();
  }
  const status = await first.status();
  t.equal(status.workers.length, 2, 'the first corral is unchanged');
});
