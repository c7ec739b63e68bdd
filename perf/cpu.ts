/**
 * perf/cpu — CPU time corral spends per request (issue 4, "cpu per request"): the figure that
 * decides how many cores a deployment needs.
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/cpu.js [--rounds 3] [--duration 5] [--concurrency 32] [--workers 0,2]
 *        [--load auto|wrk|autocannon] [--backend auto|nginx|uws] [--threads 1] [--warmup 1]
 *        [--baselines 1] [--before PATH] [--engine uws|node|both]
 *
 * With --baselines 1 (the default), nginx (2 workers) and HAProxy (2 threads) as reverse proxies
 * in front of the same backend are measured the same way (their whole process tree), when
 * installed: what "CPU per request" costs a proxy that makes the same two sends per request.
 *
 * With --before PATH (another build's CLI, e.g. dist/bundle/cli.cjs from `git worktree add`), every corral
 * mode is also run from that build, named "… (before)", alternating with this one in the same
 * invocation: an optimisation's before/after. --engine sets `server.engine` (default uws); `both`
 * runs every mode with each engine ("… engine node"), alternating: the node:http engine's cost.
 *
 * For each corral mode (--workers: 0 = inline, N = primary + N workers), each its own process
 * group in front of the zero backend: the load generator (its own process) drives POST /api/chat
 * at --concurrency for --duration seconds; utime + stime of every corral process (the primary
 * and each worker pid from GET /internal/status on the management port) is read from
 * /proc/PID/stat just before and just after the load window. µs per request = Δ CPU ÷ requests
 * served (the load generator's count; corral's own 2xx counter is shown beside it as a check).
 * The modes alternate their order between rounds; medians over rounds. /proc counts in ticks of
 * 1/CLK_TCK s (10 ms): with a 5 s window at ~1 core that is < 0.5% resolution.
 */
import { choice, existingFile, int, intList, type OptionsOf } from './lib/args.js';
import { loadFlag, runLoad } from './lib/load.js';
import { httpGet } from './lib/net.js';
import { cpuMicrosOf, hasProc, processTree } from './lib/proc.js';
import { loadAverage, machineNote, runMain, writeResult } from './lib/run.js';
import { backendFlag, corralPids, startCorralBench, startHaproxy, startNginxProxy, startZeroBackend, stopAll, type CorralServer, type Server } from './lib/servers.js';
import { which } from './lib/tools.js';
import { cell, markdownTable, median } from './lib/table.js';
import { CHAT_BODY, CHAT_PATH } from './fixtures/zero-bodies.js';

const FLAGS = {
  rounds: int(3, 1),
  durationS: int(5, 1, 'duration'),
  concurrency: int(32, 1),
  workers: intList('0,2', 0),
  load: loadFlag(),
  backend: backendFlag(),
  threads: int(1, 1),
  warmupS: int(1, 0, 'warmup'),
  baselines: int(1, 0),
  before: existingFile(),
  engine: choice<'uws' | 'node' | 'both'>('uws', ['uws', 'node', 'both']),
};
type Options = OptionsOf<typeof FLAGS>;

interface Sample {
  target: string;
  workers: number;
  round: number;
  requests: number;
  corral2xx: number | null;
  cpuUs: number;
  usPerRequest: number;
  /** CPU as a share of one core over the window (1.0 = one core busy). */
  cores: number;
  reqPerSec: number;
  p50Ms: number;
  errors: number;
}

/** corral's own count of 2xx answers (summed over every process), or null if unreadable. */
async function corral2xx(s: CorralServer): Promise<number | null> {
  const r = await httpGet(`http://127.0.0.1:${s.managementPort}/internal/status`);
  if (r.status !== 200) return null;
  const v = (JSON.parse(r.body) as { counters?: { responses_2xx?: number } }).counters?.responses_2xx;
  return typeof v === 'number' ? v : null;
}

async function main(opt: Options): Promise<number> {
  if (!hasProc()) throw new Error('perf/cpu reads /proc/PID/stat: Linux only');
  const servers: Server[] = [];
  try {
    const backend = await startZeroBackend(opt.backend);
    servers.push(backend);
    const targets: Server[] = [];
    const engines: ('uws' | 'node')[] = opt.engine === 'both' ? ['uws', 'node'] : [opt.engine];
    for (const w of opt.workers) for (const engine of engines) {
      const s = await startCorralBench(backend.port, { workers: w, engine, label: engine === 'node' ? ' engine node' : '' });
      servers.push(s);
      targets.push(s);
      // A build from before server.engine existed knows only uWS.
      if (opt.before !== '' && engine === 'uws') {
        const b = await startCorralBench(backend.port, { workers: w, cli: opt.before, label: ' (before)' });
        servers.push(b);
        targets.push(b);
      }
    }
    if (opt.baselines > 0) {
      if (which('nginx') !== null) targets.push(await startNginxProxy(backend.port, 2));
      if (which('haproxy') !== null) targets.push(await startHaproxy(backend.port, 2));
      for (const s of targets) if (!servers.includes(s)) servers.push(s);
    }
    const isCorral = (s: Server): s is CorralServer => 'managementPort' in s;
    const corrals = targets;
    process.stdout.write(`perf/cpu: ${opt.rounds} round(s) × ${corrals.map((c) => c.name).join(', ')}; POST ${CHAT_PATH} at c=${opt.concurrency} `
      + `for ${opt.durationS} s; load: ${opt.load}; backend: ${backend.name}\nmachine: ${machineNote()}\n`);
    const spec = (s: Server, durationS: number) => ({
      url: `http://127.0.0.1:${s.port}${CHAT_PATH}`, method: 'POST' as const, body: CHAT_BODY,
      connections: opt.concurrency, durationS, threads: opt.threads,
    });
    if (opt.warmupS > 0) for (const s of corrals) await runLoad(opt.load, spec(s, opt.warmupS));

    const samples: Sample[] = [];
    for (let round = 0; round < opt.rounds; round++) {
      const order = round % 2 === 0 ? corrals : [...corrals].reverse();
      for (const s of order) {
        // Re-read the pids each round: a worker restarted by the supervisor has a new one.
        const pids = isCorral(s) ? await corralPids(s.child.proc.pid!, s.managementPort) : processTree(s.child.proc.pid!);
        const before2xx = isCorral(s) ? await corral2xx(s) : null;
        const before = cpuMicrosOf(pids);
        const r = await runLoad(opt.load, spec(s, opt.durationS));
        const after = cpuMicrosOf(pids);
        const after2xx = isCorral(s) ? await corral2xx(s) : null;
        if (before.missing.length + after.missing.length > 0) {
          throw new Error(`${s.name}: process(es) ${[...before.missing, ...after.missing].join(', ')} vanished during the window`);
        }
        const cpuUs = after.total - before.total;
        const sample: Sample = {
          target: s.name, workers: isCorral(s) ? s.workers : -1, round, requests: r.requests,
          corral2xx: before2xx !== null && after2xx !== null ? after2xx - before2xx : null,
          cpuUs, usPerRequest: r.requests > 0 ? cpuUs / r.requests : NaN, cores: cpuUs / (r.durationS * 1e6),
          reqPerSec: r.reqPerSec, p50Ms: r.p50Ms, errors: r.errors,
        };
        samples.push(sample);
        process.stdout.write(`round ${round + 1} ${s.name}: ${r.requests} requests (corral counted ${cell(sample.corral2xx)} 2xx), `
          + `CPU ${(cpuUs / 1e6).toFixed(2)} s = ${sample.usPerRequest.toFixed(1)} µs/request, ${sample.cores.toFixed(2)} cores busy, `
          + `${r.reqPerSec.toFixed(0)} req/s${r.errors > 0 ? `, ${r.errors} ERRORS` : ''}\n`);
      }
    }
    const rows = corrals.map((s) => {
      const mine = samples.filter((x) => x.target === s.name);
      return [s.name, String(isCorral(s) ? s.pids.length : processTree(s.child.proc.pid!).length), cell(median(mine.map((x) => x.usPerRequest)), 1), cell(median(mine.map((x) => x.cores)), 2),
        cell(median(mine.map((x) => x.reqPerSec))), cell(median(mine.map((x) => x.p50Ms)), 3), String(mine.reduce((a, x) => a + x.errors, 0))];
    });
    process.stdout.write(`\n${markdownTable(['target', 'processes', 'CPU per request (µs)', 'cores busy', 'req/s', 'p50 (ms)', 'errors'], rows)}\n\n`);
    process.stdout.write('target (issue 4): CPU per request ≤ 30 µs\n');
    const file = writeResult('cpu', { date: new Date().toISOString(), machine: machineNote(), options: opt, samples });
    const errors = samples.reduce((a, x) => a + x.errors, 0);
    process.stdout.write(`errors: ${errors}; load average at end: ${loadAverage()}\nresults: ${file}\n`);
    return errors > 0 ? 1 : 0;
  } finally {
    await stopAll(servers);
  }
}

runMain('cpu', FLAGS, main);
