/**
 * perf/micro — the routing decision alone, in ns per operation (issue 4, "micro"): tinybench over
 * the compiled modules (dist/src/…), in this process, no sockets.
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/micro.js [--time 500] [--batch 1000] [--sessions 100000] [--strategy least-connections]
 *
 *   - Selector.select with 2, 16 and 64 healthy endpoints serving one model, without a session
 *     (the strategy decides) and with one (a pinned session: lookup hit, pin returned);
 *   - SessionTable.lookup with --sessions live sessions: hits, and misses (absent keys).
 * On a segment from createSegment(sizes, null) (a plain SharedArrayBuffer, as inline mode uses:
 * the same Atomics as over /dev/shm). Every tinybench iteration runs --batch operations, since a
 * single ~20 ns call is below what a timer around it can resolve; ns/op = iteration time ÷ batch.
 * Session keys cycle through the populated set, so lookups touch the whole table like real traffic
 * rather than one hot cache line.
 */
import { Bench } from 'tinybench';
import { createSegment, type Segment } from '../src/state/segment.js';
import { EndpointState } from '../src/state/endpoints.js';
import { MODEL_AVAILABLE } from '../src/state/models.js';
import { hash32 } from '../src/state/hash.js';
import { Selector } from '../src/routing/selector.js';
import { RoutingTable, type ModelRoute } from '../src/routing/routing-table.js';
import { createStrategy, STRATEGY_NAMES } from '../src/routing/strategies.js';
import { CircuitBreaker } from '../src/routing/circuit-breaker.js';
import { Dialect } from '../src/protocol/dialect.js';
import { emptyCatalog, type CatalogSnapshot } from '../src/core/catalog.js';
import type { StrategyName } from '../src/config/types.js';
import { choice, int, type OptionsOf } from './lib/args.js';
import { machineNote, runMain, writeResult } from './lib/run.js';
import { cell, markdownTable } from './lib/table.js';

const MODEL = 'bench:latest';
const SIZES = [2, 16, 64] as const;

const FLAGS = {
  timeMs: int(500, 10, 'time'),
  batch: int(1000, 1),
  sessions: int(100000, 1),
  strategy: choice<StrategyName>('least-connections', STRATEGY_NAMES),
};

/** Session table slots: a power of two at most half full, as a deployment sized for its load would be. */
function slotsFor(sessions: number): number {
  let s = 1024;
  while (s < sessions * 2) s *= 2;
  return s;
}

interface World {
  seg: Segment;
  table: RoutingTable;
  model: ModelRoute;
  selector: Selector;
}

/** n healthy endpoints, all serving MODEL, admission limit far above anything in flight. */
function world(n: number, sessionSlots: number, strategy: StrategyName): World {
  const seg = createSegment({ maxEndpoints: 64, maxModels: 4, sessionSlots, maxWorkers: 2 }, null);
  const catalog: CatalogSnapshot = {
    ...emptyCatalog(),
    generation: 1,
    endpoints: Array.from({ length: n }, (_, i) => ({ index: i, name: `gpu-${i}`, url: `http://127.0.0.1:${9000 + i}`, type: 'ollama' as const, models: [MODEL] })),
    models: [{ index: 0, name: MODEL, endpoints: Array.from({ length: n }, (_, i) => i) }],
  };
  for (let i = 0; i < n; i++) {
    seg.endpoints.setState(i, EndpointState.Healthy);
    seg.endpoints.setMaxConcurrency(i, 1_000_000);
    seg.models.setFlags(i, 0, MODEL_AVAILABLE);
  }
  const table = new RoutingTable(catalog);
  const breaker = new CircuitBreaker(seg.endpoints, { failures: 5, open_for: 10_000, half_open_requests: 1 });
  return { seg, table, model: table.model(MODEL)!, selector: new Selector(seg, createStrategy(strategy), breaker) };
}

/** Session keys as the proxy hashes them: two independent 32-bit hashes of the header value. */
function keys(n: number, prefix: string): { hi: Int32Array; lo: Int32Array } {
  const hi = new Int32Array(n);
  const lo = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const k = `${prefix}-${i.toString(36)}-conversation`;
    hi[i] = hash32(k, 0x9e3779b9) | 0;
    lo[i] = hash32(k, 0x85ebca6b) | 0;
  }
  return { hi, lo };
}

/** Keeps results observable so the JIT cannot drop the calls. */
let sink = 0;

async function main(opt: OptionsOf<typeof FLAGS>): Promise<number> {
  const slots = slotsFor(opt.sessions);
  process.stdout.write(`perf/micro: tinybench ${opt.timeMs} ms per task, ${opt.batch} ops per iteration; strategy ${opt.strategy}; `
    + `${opt.sessions} sessions in ${slots} slots\nmachine: ${machineNote()}\n`);
  const bench = new Bench({ time: opt.timeMs, warmupTime: Math.min(200, opt.timeMs) });
  const B = opt.batch;
  const live = keys(opt.sessions, 'live');
  const absent = keys(B, 'absent');

  for (const n of SIZES) {
    const w = world(n, slots, opt.strategy);
    const { selector, table, model } = w;
    // Pin every live session through the selector, as real first turns would.
    for (let i = 0; i < opt.sessions; i++) selector.select(table, model, Dialect.Ollama, live.hi[i]!, live.lo[i]!, null);
    let cursor = 0;
    bench.add(`select, ${n} endpoints, no session`, () => {
      let s = 0;
      for (let i = 0; i < B; i++) s += selector.select(table, model, Dialect.Ollama, 0, 0, null);
      sink += s;
    });
    bench.add(`select, ${n} endpoints, pinned session`, () => {
      let s = 0;
      let k = cursor;
      for (let i = 0; i < B; i++) {
        s += selector.select(table, model, Dialect.Ollama, live.hi[k]!, live.lo[k]!, null);
        if (++k === live.hi.length) k = 0;
      }
      cursor = k;
      sink += s;
    });
  }

  const w = world(2, slots, opt.strategy);
  const sessions = w.seg.sessions;
  const now = w.seg.header.nowSec();
  for (let i = 0; i < opt.sessions; i++) sessions.pin(live.hi[i]!, live.lo[i]!, i & 1, now);
  const liveCount = sessions.count();
  let cursor = 0;
  bench.add(`SessionTable.lookup, ${opt.sessions} live, hit`, () => {
    let s = 0;
    let k = cursor;
    for (let i = 0; i < B; i++) {
      s += sessions.lookup(live.hi[k]!, live.lo[k]!, now);
      if (++k === live.hi.length) k = 0;
    }
    cursor = k;
    sink += s;
  });
  bench.add(`SessionTable.lookup, ${opt.sessions} live, miss`, () => {
    let s = 0;
    for (let i = 0; i < B; i++) s += sessions.lookup(absent.hi[i]!, absent.lo[i]!, now);
    sink += s;
  });

  await bench.run();
  const rows: string[][] = [];
  const results: Array<{ name: string; nsPerOp: number | null; p99NsPerOp: number | null; samples: number }> = [];
  for (const t of bench.tasks) {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}${r.state === 'errored' ? `: ${String(r.error)}` : ''}`);
    const nsPerOp = (r.latency.mean * 1e6) / B;
    const p99 = r.latency.p99 === undefined ? null : (r.latency.p99 * 1e6) / B;
    results.push({ name: t.name, nsPerOp, p99NsPerOp: p99, samples: r.latency.samplesCount });
    rows.push([t.name, cell(nsPerOp, 1), cell(p99, 1), cell(1e9 / nsPerOp / 1e6, 1), String(r.latency.samplesCount)]);
  }
  process.stdout.write(`\n${markdownTable(['operation', 'ns/op (mean)', 'ns/op (p99 of iterations)', 'M ops/s', 'iterations'], rows)}\n\n`);
  process.stdout.write(`live sessions in the lookup table: ${liveCount} of ${opt.sessions} pinned`
    + `${liveCount < opt.sessions ? ' (the rest lost to probe-window eviction)' : ''}\n`);
  const file = writeResult('micro', { date: new Date().toISOString(), machine: machineNote(), options: opt, slots, liveCount, results, sink });
  process.stdout.write(`results: ${file}\n`);
  return 0;
}

runMain('micro', FLAGS, main);
