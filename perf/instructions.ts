/**
 * perf/instructions — user-space instructions corral executes per request, counted by valgrind's
 * callgrind: a figure that does not move with the machine's load, unlike CPU time on this 2-core
 * VM (where rounds of perf/cpu spread ±10 %). For before/after comparisons of changes worth a
 * few per cent. Kernel time (over half of corral's CPU: the socket syscalls) is not counted.
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/instructions.js [--requests 10000] [--warmup 30000] [--concurrency 32]
 *        [--rounds 2] [--backend auto|nginx|uws] [--before PATH] [--keep DIR] [--engine uws|node|both]
 *
 * corral runs INLINE (one process) under `valgrind --tool=callgrind --instr-atstart=no`, in
 * front of the zero backend. autocannon (its own process) sends --warmup requests uninstrumented
 * (V8 compiles and optimises the request path), then instrumentation is switched on with
 * `callgrind_control -i on`, --requests requests are sent at --concurrency, instrumentation is
 * switched off and the counts dumped. Per request: all instructions ÷ requests, and the same
 * without V8's optimising compiler and garbage collector (functions named `compiler::`, `Compil`,
 * `Maglev`, `Scaveng`, `Heap::`, `Marking`, `Sweep`…), whose share varies from run to run with
 * when V8's background compile jobs and collections happen to fall. With --before PATH (another
 * build's CLI), that build is measured the same way, alternating, in the same invocation.
 * --engine sets `server.engine` (default uws); `both` measures this build with each engine,
 * alternating (the node:http engine's cost against uWS's).
 * With --keep DIR, corral also runs with `node --perf-basic-prof` (V8 writes a map naming its
 * generated code), and each round leaves in DIR its callgrind dump, that map, and
 * `functions.<target>.round<N>.txt`: callgrind_annotate's listing by function (self instructions
 * over the counted requests), JIT frames named (perf/lib/jit-names.ts). For the inclusive view:
 * `callgrind_annotate --inclusive=yes DUMP`. The map costs ~2 % more instructions (V8 logging its
 * code), so compare counts of runs made with the same flags.
 * Needs valgrind (callgrind_control, callgrind_annotate); ~1,000 requests/s under callgrind.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { choice, directory, existingFile, int, type OptionsOf } from './lib/args.js';
import { spawnTracked } from './lib/children.js';
import { JitNames } from './lib/jit-names.js';
import { runLoad } from './lib/load.js';
import { machineNote, runMain, tempDir, writeResult } from './lib/run.js';
import { backendFlag, CORRAL_CLI, startZeroBackend, stopAll, waitForCorral, writeCorralConfig, type Server } from './lib/servers.js';
import { which } from './lib/tools.js';
import { cell, markdownTable, median } from './lib/table.js';
import { CHAT_BODY, CHAT_PATH } from './fixtures/zero-bodies.js';

const run = promisify(execFile);

const FLAGS = {
  requests: int(10_000, 100),
  warmup: int(30_000, 0),
  concurrency: int(32, 1),
  rounds: int(2, 1),
  backend: backendFlag(),
  before: existingFile(),
  keep: directory(),
  engine: choice<'uws' | 'node' | 'both'>('uws', ['uws', 'node', 'both']),
};
type Options = OptionsOf<typeof FLAGS>;

/** V8's optimising compiler and its garbage collector: background work whose timing varies. */
const BACKGROUND = /compiler::|Compil|Maglev|maglev|Scaveng|Heap::|Marking|Sweep|GCTracer|Concurrent|Zone::|Deserializ/;
/** Under callgrind corral starts in ~15 s rather than ~0.2 s. */
const START_TIMEOUT_MS = 120_000;

interface Sample {
  target: string;
  round: number;
  requests: number;
  instructions: number;
  background: number;
  perRequest: number;
  perRequestSteady: number;
}

/** callgrind_annotate's listing of a dump, every function (self instructions). */
async function listingOf(file: string): Promise<string> {
  const { stdout } = await run('callgrind_annotate', ['--threshold=100', file], { maxBuffer: 256 * 1024 * 1024 });
  return stdout;
}

/** Total instructions and those of V8's background functions, from the listing. */
function countsOf(listing: string, file: string): { total: number; background: number } {
  let total = 0;
  let background = 0;
  for (const line of listing.split('\n')) {
    const m = /^\s*([\d,]+)\s+(?:\([\s\d.]+%\)\s+)?(.*)$/.exec(line);
    if (m === null) continue;
    const n = Number(m[1]!.replaceAll(',', ''));
    if (m[2]!.includes('PROGRAM TOTALS')) total = n;
    else if (BACKGROUND.test(m[2]!)) background += n;
  }
  if (total === 0) throw new Error(`no totals in ${file}`);
  return { total, background };
}

async function measure(opt: Options, backend: Server, cli: string, engine: 'uws' | 'node', target: string, round: number): Promise<Sample> {
  const dir = tempDir('callgrind');
  const { file, port, managementPort } = await writeCorralConfig(backend.port, { workers: 0, engine });
  const nodeFlags = opt.keep !== '' ? ['--perf-basic-prof'] : [];
  const child = spawnTracked('valgrind', ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${join(dir, 'callgrind.out')}`,
    process.execPath, ...nodeFlags, cli, '--config', file], `${target} under callgrind`, { group: true });
  child.proc.stdout?.resume();
  try {
    await waitForCorral(port, managementPort, child, START_TIMEOUT_MS);
    const spec = { url: `http://127.0.0.1:${port}${CHAT_PATH}`, method: 'POST' as const, body: CHAT_BODY, connections: opt.concurrency, durationS: 600, threads: 1 };
    if (opt.warmup > 0) await runLoad('autocannon', { ...spec, amount: opt.warmup });
    const pid = String(child.proc.pid);
    await run('callgrind_control', ['-i', 'on', pid]);
    const r = await runLoad('autocannon', { ...spec, amount: opt.requests });
    await run('callgrind_control', ['-i', 'off', pid]);
    await run('callgrind_control', ['-d', pid]);
    // The dump is written as callgrind.out.1 by the process itself: wait until it is there.
    let dump = '';
    for (let i = 0; i < 200 && dump === ''; i++) {
      dump = readdirSync(dir).filter((f) => f.startsWith('callgrind.out.')).map((f) => join(dir, f))[0] ?? '';
      if (dump === '') await sleep(100);
    }
    if (dump === '' || !existsSync(dump)) throw new Error(`${target}: callgrind wrote no dump in ${dir}`);
    await sleep(500); // the file is complete once callgrind_control returned; this is slack for slow disks
    const listing = await listingOf(dump);
    const { total, background } = countsOf(listing, dump);
    if (opt.keep !== '') keep(opt.keep, dump, listing, child.proc.pid!, target, round, r.requests);
    if (r.errors > 0) throw new Error(`${target}: ${r.errors} of ${r.requests} requests failed`);
    return {
      target, round, requests: r.requests, instructions: total, background,
      perRequest: total / r.requests, perRequestSteady: (total - background) / r.requests,
    };
  } finally {
    await child.stop(10_000);
  }
}

/** --keep: the dump, V8's code map, and the listing by function with JIT frames named. */
function keep(dir: string, dump: string, listing: string, pid: number, target: string, round: number, requests: number): void {
  const name = `${target.replace(/[^a-z0-9]+/gi, '-')}.round${round + 1}`;
  copyFileSync(dump, join(dir, `callgrind.${name}.out`));
  const map = `/tmp/perf-${pid}.map`;
  const names = new JitNames(map);
  if (existsSync(map)) {
    copyFileSync(map, join(dir, `perf-map.${name}.txt`));
    rmSync(map, { force: true });
  }
  writeFileSync(join(dir, `functions.${name}.txt`), `${target}, round ${round + 1}: ${requests} requests counted; divide by that for per request\n${names.annotate(listing)}`);
}

async function main(opt: Options): Promise<number> {
  for (const tool of ['valgrind', 'callgrind_control', 'callgrind_annotate']) {
    if (which(tool) === null) throw new Error(`perf/instructions needs ${tool} (Debian package valgrind)`);
  }
  const servers: Server[] = [];
  try {
    const backend = await startZeroBackend(opt.backend);
    servers.push(backend);
    const engines: ('uws' | 'node')[] = opt.engine === 'both' ? ['uws', 'node'] : [opt.engine];
    const builds: { cli: string; name: string; engine: 'uws' | 'node' }[] = [];
    for (const engine of engines) {
      const suffix = engine === 'uws' ? '' : ', engine node';
      builds.push({ cli: CORRAL_CLI, name: `corral inline${suffix}`, engine });
      // A build from before server.engine existed knows only uWS.
      if (opt.before !== '' && engine === 'uws') builds.push({ cli: opt.before, name: `corral inline${suffix} (before)`, engine });
    }
    process.stdout.write(`perf/instructions: ${opt.rounds} round(s) × ${builds.map((b) => b.name).join(', ')}; ${opt.warmup} warm-up requests, `
      + `then ${opt.requests} counted at c=${opt.concurrency}; load: autocannon; backend: ${backend.name}\nmachine: ${machineNote()}\n`);
    const samples: Sample[] = [];
    for (let round = 0; round < opt.rounds; round++) {
      const order = round % 2 === 0 ? builds : [...builds].reverse();
      for (const b of order) {
        const s = await measure(opt, backend, b.cli, b.engine, b.name, round);
        samples.push(s);
        process.stdout.write(`round ${round + 1} ${b.name}: ${s.requests} requests, ${s.perRequest.toFixed(0)} instructions per request, `
          + `${s.perRequestSteady.toFixed(0)} without V8's compiler and GC\n`);
      }
    }
    const rows = builds.map((b) => {
      const mine = samples.filter((x) => x.target === b.name);
      return [b.name, cell(median(mine.map((x) => x.perRequest))), cell(median(mine.map((x) => x.perRequestSteady))),
        mine.map((x) => x.perRequestSteady.toFixed(0)).join(', ')];
    });
    process.stdout.write(`\n${markdownTable(['target', 'instructions per request', 'without compiler and GC', 'rounds (without)'], rows)}\n\n`);
    const file = writeResult('instructions', { date: new Date().toISOString(), machine: machineNote(), options: opt, samples });
    process.stdout.write(`results: ${file}\n`);
    return 0;
  } finally {
    await stopAll(servers);
  }
}

runMain('instructions', FLAGS, main);
