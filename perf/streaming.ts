/**
 * perf/streaming — what corral adds to a streamed answer (issue 4, "streaming"): time to first
 * byte, delay between chunks, and whether any chunk is held back (corral must flush per chunk).
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/streaming.js [--rounds 3] [--streams 5] [--tokens 200] [--tps 200] [--workers 2]
 *        [--max-gap 15]
 *
 * A simulated Ollama backend (`dist/test/fixtures/sim-backend-cli.js --tps 200 --tokens 200`)
 * streams NDJSON, one line per token every 1000/tps ms. This process (undici Client, one
 * connection per target, raw body chunks as they come off the socket) sends POST /api/chat
 * (stream: true) --streams times per round to each target — direct, and through corral — in an
 * order alternated per round, and timestamps (performance.now()):
 *   - TTFB: request sent → first body byte (the first token; headers are timed too);
 *   - per token line: when its last byte arrived; inter-chunk delay = gap between consecutive
 *     token lines (0 when two lines arrive in one read).
 * Added TTFB / inter-chunk delay = corral's percentile − direct's percentile over all streams.
 * "Held back" checks, per stream through corral: every line arrived (line count = direct's), and
 * no more streams had an inter-line gap above --max-gap ms than direct did (on a busy machine the
 * backend's own timers stall too; a gap only corral shows is a held chunk); reads carrying more than one line are counted for both
 * targets (coalescing by corral shows as more such reads than direct).
 */
import { performance } from 'node:perf_hooks';
import { Client, Pool } from 'undici';
import { int, num, type OptionsOf } from './lib/args.js';
import { startSim, type SimProcess } from './lib/children.js';
import { loadAverage, machineNote, runMain, writeResult } from './lib/run.js';
import { startCorralBench, stopAll, type Server } from './lib/servers.js';
import { cell, markdownTable } from './lib/table.js';
import { BENCH_MODEL } from './fixtures/zero-bodies.js';

const FLAGS = {
  rounds: int(3, 1),
  streams: int(5, 1),
  tokens: int(200, 2),
  tps: num(200, 1),
  workers: int(2, 0),
  maxGapMs: num(15, 0, 'max-gap'),
  warmup: int(2000, 0),
};

interface Stream {
  target: 'direct' | 'corral';
  round: number;
  headersMs: number;
  ttfbMs: number;
  totalMs: number;
  lines: number;
  reads: number;
  /** Reads that completed more than one line. */
  multiLineReads: number;
  gapsMs: number[];
  status: number;
}

const BODY = JSON.stringify({ model: BENCH_MODEL, stream: true, messages: [{ role: 'user', content: 'hi' }] });
/** Warm-up: short whole answers, so V8 has optimised every hop's request path before we measure. */
const WARM_BODY = JSON.stringify({ model: BENCH_MODEL, stream: false, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 1 } });
const WARM_CONNECTIONS = 8;

/**
 * `count` requests over several connections (with 2 workers, SO_REUSEPORT spreads connections,
 * so every worker gets warm whichever one the measuring connection lands on).
 */
async function warmUp(url: string, count: number): Promise<void> {
  const pool = new Pool(url, { connections: WARM_CONNECTIONS });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next++ < count) {
      const res = await pool.request({ path: '/api/chat', method: 'POST', headers: { 'content-type': 'application/json' }, body: WARM_BODY });
      await res.body.dump();
      if (res.statusCode !== 200) throw new Error(`warm-up: HTTP ${res.statusCode} from ${url}`);
    }
  };
  await Promise.all(Array.from({ length: WARM_CONNECTIONS }, lane));
  await pool.close();
}

function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil((p / 100) * v.length) - 1))]!;
}

/** One streamed chat; every timestamp taken in the data handler, before any other work. */
async function oneStream(client: Client, target: Stream['target'], round: number): Promise<Stream> {
  const t0 = performance.now();
  const res = await client.request({ path: '/api/chat', method: 'POST', headers: { 'content-type': 'application/json' }, body: BODY });
  const tHeaders = performance.now();
  let ttfb = -1;
  let reads = 0;
  let lines = 0;
  let multi = 0;
  let lastLineAt = -1;
  const gaps: number[] = [];
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    const now = performance.now();
    if (ttfb < 0) ttfb = now - t0;
    reads++;
    let n = 0;
    for (let i = chunk.indexOf(10); i !== -1; i = chunk.indexOf(10, i + 1)) n++;
    if (n > 1) multi++;
    for (let k = 0; k < n; k++) {
      if (lastLineAt >= 0) gaps.push(k === 0 ? now - lastLineAt : 0);
      lastLineAt = now;
    }
    lines += n;
  }
  return {
    target, round, headersMs: tHeaders - t0, ttfbMs: ttfb, totalMs: performance.now() - t0, lines, reads,
    multiLineReads: multi, gapsMs: gaps, status: res.statusCode,
  };
}

async function main(opt: OptionsOf<typeof FLAGS>): Promise<number> {
  const servers: Server[] = [];
  let sim: SimProcess | null = null;
  const clients: Client[] = [];
  try {
    sim = await startSim('stream', 0, BENCH_MODEL, opt.tokens, ['--tps', String(opt.tps)]);
    const corral = await startCorralBench(sim.port, { workers: opt.workers });
    servers.push(corral);
    const direct = new Client(`http://127.0.0.1:${sim.port}`, { bodyTimeout: 60_000 });
    const through = new Client(`http://127.0.0.1:${corral.port}`, { bodyTimeout: 60_000 });
    clients.push(direct, through);
    process.stdout.write(`perf/streaming: ${opt.rounds} round(s) × ${opt.streams} stream(s) per target; sim backend ${opt.tokens} tokens `
      + `at ${opt.tps} tokens/s (${(1000 / opt.tps).toFixed(1)} ms apart); ${corral.name}\nmachine: ${machineNote()}\n`);
    // Warm-up: a production gateway is warm. Without this, the first streams measure V8 compiling
    // corral's and undici's request paths (the first ~100 requests cost several times more).
    await warmUp(`http://127.0.0.1:${sim.port}`, opt.warmup);
    await warmUp(`http://127.0.0.1:${corral.port}`, opt.warmup);
    await oneStream(direct, 'direct', -1);
    await oneStream(through, 'corral', -1);

    const streams: Stream[] = [];
    for (let round = 0; round < opt.rounds; round++) {
      const order: Array<[Client, Stream['target']]> = round % 2 === 0 ? [[direct, 'direct'], [through, 'corral']] : [[through, 'corral'], [direct, 'direct']];
      for (const [client, target] of order) {
        for (let i = 0; i < opt.streams; i++) streams.push(await oneStream(client, target, round));
      }
    }

    const of = (t: Stream['target']) => streams.filter((s) => s.target === t);
    const d = of('direct');
    const c = of('corral');
    const stat = (ss: Stream[]) => {
      const ttfb = ss.map((s) => s.ttfbMs);
      const gaps = ss.flatMap((s) => s.gapsMs);
      return {
        ttfbP50: percentile(ttfb, 50), ttfbP99: percentile(ttfb, 99), gapP50: percentile(gaps, 50), gapP99: percentile(gaps, 99),
        gapMax: gaps.length === 0 ? null : Math.max(...gaps), headersP50: percentile(ss.map((s) => s.headersMs), 50),
        totalP50: percentile(ss.map((s) => s.totalMs), 50), lines: ss.map((s) => s.lines), reads: ss.reduce((a, s) => a + s.reads, 0),
        multiLineReads: ss.reduce((a, s) => a + s.multiLineReads, 0), non200: ss.filter((s) => s.status !== 200).length,
      };
    };
    const sd = stat(d);
    const sc = stat(c);
    const diff = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a - b);
    const row = (name: string, s: ReturnType<typeof stat>): string[] => [name, String(s.lines.length), cell(s.headersP50, 2), cell(s.ttfbP50, 2),
      cell(s.ttfbP99, 2), cell(s.gapP50, 3), cell(s.gapP99, 3), cell(s.gapMax, 2), cell(s.totalP50, 0), String(s.reads), String(s.multiLineReads)];
    process.stdout.write(`\n${markdownTable(['target', 'streams', 'headers p50 (ms)', 'TTFB p50 (ms)', 'TTFB p99 (ms)', 'gap p50 (ms)',
      'gap p99 (ms)', 'gap max (ms)', 'stream p50 (ms)', 'reads', 'multi-line reads'], [row('direct', sd), row(corral.name, sc)])}\n\n`);

    const expectedLines = d[0]?.lines ?? 0;
    const missing = c.filter((s) => s.lines !== expectedLines).length + d.filter((s) => s.lines !== expectedLines).length;
    const overGap = c.filter((s) => s.gapsMs.some((g) => g > opt.maxGapMs)).length;
    const directOverGap = d.filter((s) => s.gapsMs.some((g) => g > opt.maxGapMs)).length;
    // A stall the backend itself shows (a busy machine delays its timers) is not corral holding back.
    const heldBack = missing > 0 || overGap > directOverGap;
    const added = {
      ttfbP50Ms: diff(sc.ttfbP50, sd.ttfbP50), ttfbP99Ms: diff(sc.ttfbP99, sd.ttfbP99),
      gapP50Ms: diff(sc.gapP50, sd.gapP50), gapP99Ms: diff(sc.gapP99, sd.gapP99),
    };
    process.stdout.write(markdownTable(['added by corral', 'median (ms)', 'p99 (ms)'], [
      ['time to first byte', cell(added.ttfbP50Ms, 3), cell(added.ttfbP99Ms, 3)],
      ['inter-chunk delay', cell(added.gapP50Ms, 3), cell(added.gapP99Ms, 3)],
    ]) + '\n\n');
    process.stdout.write(`held back: ${heldBack ? 'YES' : 'no'} — ${expectedLines} lines per stream; ${missing} stream(s) with another line count; `
      + `${overGap} corral stream(s) with a gap > ${opt.maxGapMs} ms (direct: ${directOverGap}); `
      + `multi-line reads ${sc.multiLineReads} through corral vs ${sd.multiLineReads} direct\n`);
    process.stdout.write('target (issue 4): streaming adds < 1 ms to time-to-first-byte and never holds a chunk back\n');
    const non200 = sd.non200 + sc.non200;
    const file = writeResult('streaming', {
      date: new Date().toISOString(), machine: machineNote(), options: opt, added, heldBack, missing, overGap,
      direct: { ...sd, lines: undefined }, corral: { ...sc, lines: undefined },
      streams: streams.map((s) => ({ ...s, gapsMs: undefined, gapMaxMs: Math.max(0, ...s.gapsMs) })),
    });
    process.stdout.write(`non-200: ${non200}; load average at end: ${loadAverage()}\nresults: ${file}\n`);
    return non200 > 0 || missing > 0 ? 1 : 0;
  } finally {
    await Promise.all(clients.map((cl) => cl.close().catch(() => undefined)));
    await stopAll(servers);
    if (sim !== null) await sim.child.stop(3_000);
  }
}

runMain('streaming', FLAGS, main);
