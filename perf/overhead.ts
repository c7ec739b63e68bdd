/**
 * perf/overhead — what corral adds to one request, against a direct call and against nginx and
 * HAProxy as plain reverse proxies in front of the same backend (issue 4, "overhead").
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/overhead.js [--rounds 3] [--duration 5] [--concurrency 1,8,32,64]
 *        [--load auto|wrk|autocannon] [--backend auto|nginx|uws] [--threads 1] [--proxy-workers 2]
 *        [--targets direct,inline,workers,nginx,haproxy] [--warmup 1]
 *
 * Loopback only, every part its own process:
 *
 *   load generator ──► direct ─────────────────────────────────► zero backend
 *   (wrk, else       ├► corral inline (workers: 0) ─────────────►  (nginx `return 200`,
 *    autocannon)     ├► corral N workers ───────────────────────►   else the uWS fixture)
 *                    ├► nginx proxy (N workers, keep-alive) ─────►
 *                    └► HAProxy (N threads, keep-alive) ─────────►
 *
 * POST /api/chat `{"model":"bench:latest","stream":false,…}` in a closed loop, connections =
 * concurrency. Every target runs every concurrency for --duration seconds per round; within a
 * round the targets of one concurrency run back to back, in an order rotated each round (and
 * each concurrency), so slow drift of the machine (other work, thermal) spreads over all targets.
 * Reported: medians over rounds of p50, p99 and req/s per cell; "added p50" is the median over
 * rounds of (target p50 − direct p50 measured in the same round), and corral's req/s as a
 * fraction of nginx's is likewise a median of per-round ratios.
 * Output: a Markdown table on stdout, everything in perf/out/overhead-*.json.
 */
import { choiceArg, int, intList, type Flag, type OptionsOf } from './lib/args.js';
import { loadFlag, runLoad, type LoadResult } from './lib/load.js';
import { loadAverage, machineNote, runMain, writeResult } from './lib/run.js';
import {
  backendFlag, startCorralBench, startHaproxy, startNginxProxy, startZeroBackend, stopAll, type Server,
} from './lib/servers.js';
import { cell, markdownTable, median } from './lib/table.js';
import { detectTools } from './lib/tools.js';
import { CHAT_BODY, CHAT_PATH } from './fixtures/zero-bodies.js';

const TARGET_KINDS = ['direct', 'inline', 'workers', 'nginx', 'haproxy'] as const;
type TargetKind = (typeof TARGET_KINDS)[number];

/** --targets: a comma-separated subset of TARGET_KINDS, run in TARGET_KINDS order; direct is always added. */
const targetsFlag: Flag<TargetKind[]> = {
  default: TARGET_KINDS.join(','),
  parse: (v, flag) => {
    const targets = v!.split(',').map((t) => choiceArg(t.trim(), flag, TARGET_KINDS));
    if (!targets.includes('direct')) targets.unshift('direct'); // every comparison is against it
    return TARGET_KINDS.filter((k) => targets.includes(k));
  },
};

const FLAGS = {
  rounds: int(3, 1),
  durationS: int(5, 1, 'duration'),
  concurrency: intList('1,8,32,64', 1),
  load: loadFlag(),
  backend: backendFlag(),
  threads: int(1, 1),
  proxyWorkers: int(2, 1, 'proxy-workers'),
  targets: targetsFlag,
  warmupS: int(1, 0, 'warmup'),
};

interface Target {
  kind: TargetKind;
  name: string;
  port: number;
}

interface Cell {
  target: TargetKind;
  concurrency: number;
  round: number;
  /** Position within the round's order for this concurrency (0 = ran first). */
  position: number;
  result: LoadResult;
}

/** `list` rotated left by `by`. */
function rotate<T>(list: readonly T[], by: number): T[] {
  const k = ((by % list.length) + list.length) % list.length;
  return [...list.slice(k), ...list.slice(0, k)];
}

function pick(cells: readonly Cell[], target: TargetKind, c: number, round: number): LoadResult | undefined {
  return cells.find((x) => x.target === target && x.concurrency === c && x.round === round)?.result;
}

async function main(opt: OptionsOf<typeof FLAGS>): Promise<number> {
  const tools = detectTools();
  const servers: Server[] = [];
  const notes: string[] = [];
  try {
    const backend = await startZeroBackend(opt.backend);
    servers.push(backend);
    const targets: Target[] = [];
    for (const kind of opt.targets) {
      if (kind === 'direct') targets.push({ kind, name: `direct (${backend.name})`, port: backend.port });
      else if (kind === 'inline' || kind === 'workers') {
        const s = await startCorralBench(backend.port, { workers: kind === 'inline' ? 0 : opt.proxyWorkers });
        servers.push(s);
        targets.push({ kind, name: s.name, port: s.port });
      } else if (kind === 'nginx' || kind === 'haproxy') {
        if ((kind === 'nginx' ? tools.nginx : tools.haproxy) === null) {
          notes.push(`${kind} is not installed: no ${kind} row`);
          continue;
        }
        const s = kind === 'nginx' ? await startNginxProxy(backend.port, opt.proxyWorkers) : await startHaproxy(backend.port, opt.proxyWorkers);
        servers.push(s);
        targets.push({ kind, name: s.name, port: s.port });
      }
    }
    const spec = (t: Target, c: number, durationS: number) => ({
      url: `http://127.0.0.1:${t.port}${CHAT_PATH}`, method: 'POST' as const, body: CHAT_BODY,
      connections: c, durationS, threads: opt.threads,
    });

    process.stdout.write(`perf/overhead: ${opt.rounds} round(s) × ${opt.concurrency.length} concurrencies × ${targets.length} targets, `
      + `${opt.durationS} s per cell; load: ${opt.load}${opt.load === 'wrk' ? ` -t${opt.threads}` : ''}; backend: ${backend.name}\n`);
    process.stdout.write(`machine: ${machineNote()}\n`);
    if (opt.load === 'autocannon') notes.push('autocannon reports latency in whole milliseconds: install wrk for sub-ms p50/p99');
    for (const n of notes) process.stdout.write(`note: ${n}\n`);

    // Warm-up: JIT, connection pools, TCP buffers; a broken target fails here, not mid-table.
    for (const t of targets) {
      if (opt.warmupS === 0) break;
      const r = await runLoad(opt.load, spec(t, Math.max(...opt.concurrency), opt.warmupS));
      if (r.requests === 0 || r.errors > r.requests / 100) {
        throw new Error(`warm-up of ${t.name}: ${r.requests} requests, ${r.errors} errors — target does not answer 200`);
      }
    }

    const cells: Cell[] = [];
    for (let round = 0; round < opt.rounds; round++) {
      for (let ci = 0; ci < opt.concurrency.length; ci++) {
        const c = opt.concurrency[ci]!;
        const order = rotate(targets, round + ci);
        for (let position = 0; position < order.length; position++) {
          const t = order[position]!;
          const result = await runLoad(opt.load, spec(t, c, opt.durationS));
          cells.push({ target: t.kind, concurrency: c, round, position, result });
          process.stdout.write(`round ${round + 1} c=${c} ${t.name}: p50 ${result.p50Ms.toFixed(3)} ms, p99 ${result.p99Ms.toFixed(3)} ms, `
            + `${result.reqPerSec.toFixed(0)} req/s${result.errors > 0 ? `, ${result.errors} ERRORS` : ''}\n`);
        }
      }
    }

    // Medians.
    const rows: string[][] = [];
    const summary: Array<Record<string, unknown>> = [];
    for (const c of opt.concurrency) {
      for (const t of targets) {
        const mine = cells.filter((x) => x.target === t.kind && x.concurrency === c).map((x) => x.result);
        const added = t.kind === 'direct' ? null : median(Array.from({ length: opt.rounds }, (_, r) => {
          const a = pick(cells, t.kind, c, r);
          const d = pick(cells, 'direct', c, r);
          return a && d ? a.p50Ms - d.p50Ms : null;
        }));
        const m = {
          target: t.kind, name: t.name, concurrency: c,
          p50Ms: median(mine.map((x) => x.p50Ms)), p99Ms: median(mine.map((x) => x.p99Ms)),
          reqPerSec: median(mine.map((x) => x.reqPerSec)), addedP50Ms: added,
          errors: mine.reduce((a, x) => a + x.errors, 0),
        };
        summary.push(m);
        rows.push([t.name, String(c), cell(m.p50Ms, 3), cell(m.p99Ms, 3), cell(m.reqPerSec), cell(added, 3), String(m.errors)]);
      }
    }
    process.stdout.write(`\n${markdownTable(['target', 'c', 'p50 (ms)', 'p99 (ms)', 'req/s', 'added p50 vs direct (ms)', 'errors'], rows)}\n\n`);

    // The issue's figures: corral's added p50, and corral N workers' req/s as a fraction of nginx's.
    const headline: string[][] = [];
    const ratioOf = (kind: TargetKind, c: number, ref: TargetKind): number | null => median(Array.from({ length: opt.rounds }, (_, r) => {
      const a = pick(cells, kind, c, r);
      const b = pick(cells, ref, c, r);
      return a && b && b.reqPerSec > 0 ? a.reqPerSec / b.reqPerSec : null;
    }));
    const addedOf = (kind: TargetKind, c: number): number | null =>
      (summary.find((s) => s.target === kind && s.concurrency === c)?.addedP50Ms as number | null | undefined) ?? null;
    for (const c of opt.concurrency) {
      headline.push([String(c), cell(addedOf('inline', c), 3), cell(addedOf('workers', c), 3), cell(addedOf('nginx', c), 3),
        cell(addedOf('haproxy', c), 3), cell(ratioOf('workers', c, 'nginx'), 2), cell(ratioOf('workers', c, 'haproxy'), 2)]);
    }
    process.stdout.write(`${markdownTable(['c', 'corral inline: added p50 (ms)', `corral ${opt.proxyWorkers}w: added p50 (ms)`,
      'nginx: added p50 (ms)', 'HAProxy: added p50 (ms)', `corral ${opt.proxyWorkers}w req/s ÷ nginx`, `corral ${opt.proxyWorkers}w req/s ÷ HAProxy`], headline)}\n\n`);
    process.stdout.write('targets (issue 4): added p50 at c=1 ≤ 0.15 ms; at c=32 ≤ 1.5 × nginx\'s added p50; '
      + 'corral 2 workers ≥ 0.5 × nginx req/s at c=32 and c=64\n');
    const totalErrors = cells.reduce((a, x) => a + x.result.errors, 0);
    const file = writeResult('overhead', {
      date: new Date().toISOString(), machine: machineNote(), options: opt, tools, targets, notes, cells, summary,
    });
    process.stdout.write(`errors: ${totalErrors}; load average at end: ${loadAverage()}\nresults: ${file}\n`);
    return totalErrors > 0 ? 1 : 0;
  } finally {
    await stopAll(servers);
  }
}

runMain('overhead', FLAGS, main);
