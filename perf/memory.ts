/**
 * perf/memory — corral's resident memory idle, under load and after load, and a leak check
 * (issue 4, "memory").
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/memory.js [--rounds 5] [--duration 5] [--concurrency 32] [--workers 2]
 *        [--settle 2] [--sample-ms 250] [--load auto|wrk|autocannon] [--backend auto|nginx|uws]
 *
 * corral (primary + N workers) in front of the zero backend. VmRSS of every process is read
 * from /proc/PID/status (from outside: measuring runs no code in corral):
 *   - idle: --settle seconds after corral is ready, before any request;
 *   - under load: the peak of samples every --sample-ms during each load round;
 *   - after: --settle seconds after each round ends.
 * --rounds load rounds of --duration seconds at --concurrency. Growth = after(last round) −
 * after(round 1), per process and in total: the leak check. V8 grows its heap to a working size
 * over the first rounds and keeps it, so round 1 — not idle — is the baseline.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { int, num, type OptionsOf } from './lib/args.js';
import { loadFlag, runLoad } from './lib/load.js';
import { hasProc, pssMiB, rssMiB } from './lib/proc.js';
import { loadAverage, machineNote, runMain, writeResult } from './lib/run.js';
import { backendFlag, corralPids, startCorralBench, startZeroBackend, stopAll, type Server } from './lib/servers.js';
import { cell, markdownTable } from './lib/table.js';
import { CHAT_BODY, CHAT_PATH } from './fixtures/zero-bodies.js';

const FLAGS = {
  rounds: int(5, 1),
  durationS: int(5, 1, 'duration'),
  concurrency: int(32, 1),
  workers: int(2, 0),
  settleS: num(2, 0, 'settle'),
  sampleMs: int(250, 10, 'sample-ms'),
  load: loadFlag(),
  backend: backendFlag(),
  threads: int(1, 1),
};

/** One reading: MiB per process, in the order of `pids` (primary first). */
type Reading = (number | null)[];

function read(pids: readonly number[]): Reading {
  return pids.map(rssMiB);
}

function total(r: Reading): number | null {
  return r.some((x) => x === null) ? null : r.reduce<number>((a, x) => a + x!, 0);
}

async function main(opt: OptionsOf<typeof FLAGS>): Promise<number> {
  if (!hasProc()) throw new Error('perf/memory reads /proc/PID/status: Linux only');
  const servers: Server[] = [];
  try {
    const backend = await startZeroBackend(opt.backend);
    servers.push(backend);
    const corral = await startCorralBench(backend.port, { workers: opt.workers });
    servers.push(corral);
    const pids = corral.pids;
    const names = pids.map((_, i) => (i === 0 ? (opt.workers === 0 ? 'primary (inline)' : 'primary') : `worker ${i}`));
    process.stdout.write(`perf/memory: ${corral.name} (pids ${pids.join(', ')}); ${opt.rounds} load round(s) of ${opt.durationS} s `
      + `at c=${opt.concurrency}; load: ${opt.load}; backend: ${backend.name}\nmachine: ${machineNote()}\n`);

    await sleep(opt.settleS * 1000);
    const idle = read(pids);
    const idlePss = pids.map(pssMiB);
    const peaks: Reading[] = [];
    const afters: Reading[] = [];
    let errors = 0;
    for (let round = 0; round < opt.rounds; round++) {
      const peak: Reading = pids.map(() => null);
      const sampler = setInterval(() => {
        const r = read(pids);
        for (let i = 0; i < r.length; i++) if (r[i] !== null && (peak[i] === null || r[i]! > peak[i]!)) peak[i] = r[i]!;
      }, opt.sampleMs);
      let requests = 0;
      try {
        const res = await runLoad(opt.load, {
          url: `http://127.0.0.1:${corral.port}${CHAT_PATH}`, method: 'POST', body: CHAT_BODY,
          connections: opt.concurrency, durationS: opt.durationS, threads: opt.threads,
        });
        requests = res.requests;
        errors += res.errors;
      } finally {
        clearInterval(sampler);
      }
      await sleep(opt.settleS * 1000);
      const after = read(pids);
      peaks.push(peak);
      afters.push(after);
      process.stdout.write(`round ${round + 1}: ${requests} requests; peak ${cell(total(peak), 1)} MiB, after ${cell(total(after), 1)} MiB\n`);
    }
    const now = await corralPids(corral.child.proc.pid!, corral.managementPort);
    const restarted = now.join(',') !== pids.join(',');

    const fmt = (r: Reading): string[] => [...r.map((x) => cell(x, 1)), cell(total(r), 1)];
    const rows: string[][] = [['idle', ...fmt(idle)]];
    for (let i = 0; i < opt.rounds; i++) {
      rows.push([`round ${i + 1} under load (peak)`, ...fmt(peaks[i]!)]);
      rows.push([`round ${i + 1} after`, ...fmt(afters[i]!)]);
    }
    const first = afters[0]!;
    const last = afters[afters.length - 1]!;
    const growth: Reading = first.map((x, i) => (x === null || last[i] === null ? null : last[i]! - x));
    rows.push([`growth: after round ${opt.rounds} − after round 1`, ...fmt(growth)]);
    process.stdout.write(`\n${markdownTable(['RSS (MiB)', ...names, 'total'], rows)}\n\n`);
    process.stdout.write(`${markdownTable(['idle PSS (MiB)', ...names, 'total'], [['idle', ...fmt(idlePss)]])}\n\n`);
    process.stdout.write('PSS divides shared pages (the node binary, shared libraries) among the processes mapping them; RSS counts them in full in every process.\n');
    process.stdout.write('targets (issue 4): idle RSS, primary and 2 workers together, ≤ 150 MB; no growth after 5 load rounds\n');
    if (restarted) process.stdout.write(`WARNING: corral's pids changed during the run (${pids.join(',')} → ${now.join(',')}): a worker restarted\n`);
    const file = writeResult('memory', {
      date: new Date().toISOString(), machine: machineNote(), options: opt, pids, names, idle, idlePss, peaks, afters, growth, restarted, errors,
    });
    process.stdout.write(`errors: ${errors}; load average at end: ${loadAverage()}\nresults: ${file}\n`);
    return errors > 0 || restarted ? 1 : 0;
  } finally {
    await stopAll(servers);
  }
}

runMain('memory', FLAGS, main);
