/**
 * perf/profile — corral under clinic.js while the overhead load runs (issue 4, "profiles").
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/profile.js doctor|flame [--duration 10] [--concurrency 32] [--load auto|wrk|autocannon]
 *        [--backend auto|nginx|uws]
 *   (npm run profile:doctor / npm run profile:flame)
 *
 * Starts the zero backend, then corral INLINE (`server.workers: 0`: clinic refuses cluster
 * programs) as `clinic <tool> --open=false --dest perf/out/clinic -- node dist/bundle/cli.cjs --config
 * TMP`, with NO_INSIGHT=1 (without a TTY clinic otherwise asks its telemetry question, gets no
 * answer and silently exits 0). When corral answers, the load generator (its own process) drives
 * POST /api/chat for --duration s; then corral gets SIGINT (as Ctrl-C would send to the group),
 * exits gracefully, and clinic analyses the samples and writes its HTML report, whose path is
 * printed. Analysis takes from seconds (doctor) to a minute or more (flame) on 2 cores.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { choiceArg, int, type OptionsOf } from './lib/args.js';
import { collectStdout, REPO_ROOT, spawnTracked } from './lib/children.js';
import { loadFlag, runLoad } from './lib/load.js';
import { machineNote, runMain } from './lib/run.js';
import { backendFlag, CORRAL_CLI, startZeroBackend, stopAll, waitForCorral, writeCorralConfig, type Server } from './lib/servers.js';
import { CHAT_BODY, CHAT_PATH } from './fixtures/zero-bodies.js';

const DEST = join(REPO_ROOT, 'perf', 'out', 'clinic');
/** clinic's analysis after corral exits; flame on a busy 2-core machine is the slow one. */
const ANALYSIS_TIMEOUT_MS = 300_000;

function clinicCommand(): { command: string; prefix: string[] } {
  const bin = join(REPO_ROOT, 'node_modules', '.bin', 'clinic');
  return existsSync(bin) ? { command: bin, prefix: [] } : { command: 'npx', prefix: ['clinic'] };
}

/** HTML reports in DEST newer than `since`. */
function reportsSince(since: number): string[] {
  if (!existsSync(DEST)) return [];
  return readdirSync(DEST).filter((f) => f.endsWith('.html')).map((f) => join(DEST, f)).filter((f) => statSync(f).mtimeMs >= since);
}

const FLAGS = {
  durationS: int(10, 1, 'duration'),
  concurrency: int(32, 1),
  load: loadFlag(),
  backend: backendFlag(),
  threads: int(1, 1),
};

async function main({ durationS, concurrency, load, backend: backendKind, threads }: OptionsOf<typeof FLAGS>, positionals: string[]): Promise<number> {
  const tool = choiceArg(positionals[0], 'tool (first argument)', ['doctor', 'flame'] as const);
  const servers: Server[] = [];
  const started = Date.now() - 1;
  try {
    const backend = await startZeroBackend(backendKind);
    servers.push(backend);
    const { file, port, managementPort } = await writeCorralConfig(backend.port, { workers: 0 });
    const { command, prefix } = clinicCommand();
    const clinic = spawnTracked(command, [...prefix, tool, '--open=false', '--dest', DEST, '--', process.execPath, CORRAL_CLI, '--config', file],
      `clinic ${tool}`, { group: true, env: { ...process.env, NO_INSIGHT: '1' } });
    const out = collectStdout(clinic);
    process.stdout.write(`perf/profile: clinic ${tool} on corral inline (backend: ${backend.name}); load: ${load} c=${concurrency} for ${durationS} s\n`
      + `machine: ${machineNote()}\n`);
    try {
      await waitForCorral(port, managementPort, clinic, 60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nclinic stdout: ${await Promise.race([out, sleep(100, '(still running)')])}`);
    }
    const r = await runLoad(load, {
      url: `http://127.0.0.1:${port}${CHAT_PATH}`, method: 'POST', body: CHAT_BODY, connections: concurrency, durationS, threads,
    });
    process.stdout.write(`load: ${r.requests} requests, ${r.reqPerSec.toFixed(0)} req/s, p50 ${r.p50Ms.toFixed(3)} ms, p99 ${r.p99Ms.toFixed(3)} ms, `
      + `${r.errors} errors (slower than unprofiled: clinic samples the process)\n`);
    // SIGINT to the group, as a terminal's Ctrl-C: corral stops gracefully, clinic then analyses.
    clinic.signal('SIGINT');
    process.stdout.write(`corral stopped; clinic ${tool} is analysing (up to ${ANALYSIS_TIMEOUT_MS / 1000} s)…\n`);
    const deadline = sleep(ANALYSIS_TIMEOUT_MS, 'timeout');
    const exit = await Promise.race([clinic.exited, deadline]);
    if (typeof exit === 'string') throw new Error(`clinic ${tool} did not finish within ${ANALYSIS_TIMEOUT_MS} ms`);
    const text = await out;
    const reports = reportsSince(started);
    const named = /(\S+\.html)/.exec(text)?.[1];
    const report = named !== undefined && existsSync(named) ? named : reports.sort().at(-1);
    if (report === undefined) {
      process.stderr.write(`clinic ${tool} wrote no HTML report (exit ${exit.code}, signal ${exit.signal})\nstdout:\n${text}\nstderr:\n${clinic.stderr.join('')}\n`);
      return 1;
    }
    process.stdout.write(`report: ${report}\n`);
    return 0;
  } finally {
    await stopAll(servers);
  }
}

runMain('profile', FLAGS, main, true);
