/**
 * perf/admission — admission queues and context sizing under load (issue 12, "Proof").
 *
 *   npm run build:ts
 *   node dist/perf/admission.js [--slots 4] [--service-ms 50] [--burst 10] [--seconds 6] [--overload 1.5] [--turns 200]
 *
 * On loopback, every part its own process: this process (undici) ──► corral (primary + 2
 * workers, logging at debug) ──► one simulated Ollama server. The endpoint's max_concurrency is
 * --slots; each answer takes about --service-ms (the sim streams 5 tokens at 5 / service-ms).
 *
 *   (1) burst: --burst × slots requests at once, each on a connection of its own (SO_REUSEPORT
 *       spreads them over both workers).
 *   (2) steady overload: an open loop at --overload × capacity (capacity = slots / service time)
 *       for --seconds, requests sent at fixed intervals on a pool of kept-alive connections.
 *   (3) context sizing: --turns Ollama chats (10 conversations whose prompts grow each turn,
 *       interleaved; a third set options.num_ctx 2048, a third 8192, a third none: what a mix of
 *       clients sends) against a sim whose runners reload on another num_ctx (a KV cache per
 *       context token), once with models.size_context: false and once with true.
 *
 * Reported for (1) and (2): answers by status, queue wait (X-Corral-Queue-Wait) p50 / p99 of the
 * requests that waited, the wake-up delay (corral's debug line 'queued request dispatched':
 * slot freed, in whichever worker, → the queued request taking it, in its worker) median / p99,
 * the share refused (503), the mean wait per worker, and order inversions: pairs of requests sent
 * one after the other (≥ 5 ms apart) whose dispatch (sent + wait) came in the other order by more
 * than 2 ms. For (3): the sim's reloads (a runner replaced by one with another num_ctx) and loads.
 * Exit 0 (it is a measurement); 2 if the harness broke.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, Pool, request } from 'undici';
import { stringify } from 'yaml';
import { int, num, type OptionsOf } from './lib/args.js';
import { startCorral, startSim, type CorralProcess } from './lib/children.js';
import { httpGet } from './lib/net.js';
import { loadAverage, removeTempDir, runMain, tempDir, writeResult } from './lib/run.js';
import { cell, markdownTable, median } from './lib/table.js';
import { percentile, prng } from './lib/workload.js';

const FLAGS = {
  slots: int(4, 1),
  'service-ms': int(50, 5),
  burst: int(10, 1),
  seconds: num(6, 1),
  overload: num(1.5, 0.1),
  turns: int(200, 10),
};
type Options = OptionsOf<typeof FLAGS>;

const MODEL = 'llama3.2:1b';
const TOKENS = 5;

interface Outcome {
  sentAt: number;
  status: number;
  code: string;
  waitMs: number | null;
  worker: string;
}

function workerOf(id: string): string {
  return id.slice(0, id.lastIndexOf('-'));
}

async function chat(url: string, dispatcher: Agent | Pool, sentAt: number): Promise<Outcome> {
  const res = await request(`${url}/api/chat`, {
    method: 'POST', dispatcher, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false }),
  });
  const text = await res.body.text();
  const wait = res.headers['x-corral-queue-wait'];
  let code = '';
  if (res.statusCode !== 200) {
    try {
      code = (JSON.parse(text) as { code?: string }).code ?? '';
    } catch { /* not JSON */ }
  }
  return { sentAt, status: res.statusCode, code, waitMs: wait === undefined ? null : Number(wait), worker: workerOf(String(res.headers['x-corral-request-id'] ?? '')) };
}

function wakeDelays(corral: CorralProcess, from: number): number[] {
  return corral.logs.slice(from).filter((l) => l.msg === 'queued request dispatched').map((l) => l.wakeMs as number);
}

interface Summary {
  requests: number;
  byStatus: Record<string, number>;
  refusedShare: number;
  waited: number;
  waitP50: number | null;
  waitP99: number | null;
  wakeMedian: number | null;
  wakeP99: number | null;
  wakes: number;
  meanWaitByWorker: Record<string, number>;
  inversions: number;
  pairs: number;
  makespanMs: number;
}

function summarise(outcomes: Outcome[], wakes: number[], makespanMs: number): Summary {
  const byStatus: Record<string, number> = {};
  for (const o of outcomes) {
    const key = o.status === 200 ? '200' : `${o.status} ${o.code}`;
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }
  const waits = outcomes.filter((o) => o.status === 200 && o.waitMs !== null).map((o) => o.waitMs!);
  const byWorker = new Map<string, number[]>();
  for (const o of outcomes) {
    if (o.status !== 200) continue;
    const list = byWorker.get(o.worker) ?? [];
    list.push(o.waitMs ?? 0);
    byWorker.set(o.worker, list);
  }
  const meanWaitByWorker: Record<string, number> = {};
  let w = 0;
  for (const list of byWorker.values()) meanWaitByWorker[`worker ${++w}`] = Math.round(list.reduce((a, b) => a + b, 0) / list.length);
  // Order: consecutive requests (in send order) that both waited and were sent ≥ 5 ms apart.
  const served = outcomes.filter((o) => o.status === 200 && o.waitMs !== null).sort((a, b) => a.sentAt - b.sentAt);
  let inversions = 0;
  let pairs = 0;
  for (let i = 1; i < served.length; i++) {
    const a = served[i - 1]!;
    const b = served[i]!;
    if (b.sentAt - a.sentAt < 5) continue;
    pairs++;
    if (a.sentAt + a.waitMs! > b.sentAt + b.waitMs! + 2) inversions++;
  }
  return {
    requests: outcomes.length, byStatus,
    refusedShare: outcomes.filter((o) => o.status === 503).length / outcomes.length,
    waited: waits.length, waitP50: percentile(waits, 50), waitP99: percentile(waits, 99),
    wakeMedian: median(wakes), wakeP99: percentile(wakes, 99), wakes: wakes.length,
    meanWaitByWorker, inversions, pairs, makespanMs: Math.round(makespanMs),
  };
}

async function burst(url: string, corral: CorralProcess, opt: Options): Promise<Summary> {
  const from = corral.logs.length;
  const n = opt.burst * opt.slots;
  const agents = Array.from({ length: n }, () => new Agent({ connections: 1 }));
  const started = performance.now();
  const outcomes = await Promise.all(agents.map((a) => chat(url, a, performance.now())));
  const makespan = performance.now() - started;
  await Promise.all(agents.map((a) => a.close()));
  await sleep(200); // the last debug lines
  return summarise(outcomes, wakeDelays(corral, from), makespan);
}

async function overload(url: string, corral: CorralProcess, opt: Options): Promise<Summary> {
  const from = corral.logs.length;
  const rate = (opt.overload * opt.slots * 1000) / opt['service-ms'];
  const total = Math.round(rate * opt.seconds);
  const pool = new Pool(url, { connections: 256, pipelining: 1 });
  const started = performance.now();
  const pending: Promise<Outcome>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    pending.push(chat(url, pool, performance.now()));
  }
  const outcomes = await Promise.all(pending);
  const makespan = performance.now() - started;
  await pool.close();
  await sleep(200);
  return summarise(outcomes, wakeDelays(corral, from), makespan);
}

/** (3): the sim's reloads over a mixed workload, with context sizing off and on. */
async function contextSizing(dir: string, opt: Options, sizeContext: boolean): Promise<{ reloads: number; loads: number; failed: number }> {
  const sim = await startSim('ctx', 0, MODEL, 4, ['--vram', '24GiB', '--kv-bytes-per-ctx-token', '65536', '--load-ms-per-gib', '20']);
  const config = join(dir, `ctx-${sizeContext}.yaml`);
  writeFileSync(config, stringify({
    server: { host: '127.0.0.1', port: 0, management_port: null, workers: 2, shutdown_timeout: '2s' },
    logging: { level: 'info' },
    models: { size_context: sizeContext },
    endpoints: [{ name: 'ctx', url: `http://127.0.0.1:${sim.port}`, type: 'ollama', max_concurrency: 8 }],
  }));
  const corral = await startCorral(config);
  const url = `http://127.0.0.1:${corral.port}`;
  const rand = prng(12);
  const conversations = Array.from({ length: 10 }, () => [] as { role: string; content: string }[]);
  let failed = 0;
  const pool = new Pool(url, { connections: 4 });
  for (let turn = 0; turn < opt.turns; turn++) {
    const convo = conversations[turn % conversations.length]!;
    convo.push({ role: 'user', content: 'word '.repeat(40 + Math.floor(rand() * 80)) });
    const kind = Math.floor(rand() * 3);
    const options = kind === 0 ? { num_ctx: 2048, num_predict: 4 } : kind === 1 ? { num_ctx: 8192, num_predict: 4 } : { num_predict: 4 };
    const res = await request(`${url}/api/chat`, {
      method: 'POST', dispatcher: pool, headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: convo, stream: false, options }),
    });
    const text = await res.body.text();
    if (res.statusCode !== 200) failed++;
    else convo.push({ role: 'assistant', content: (JSON.parse(text) as { message: { content: string } }).message.content });
  }
  await pool.close();
  const stats = JSON.parse((await httpGet(`http://127.0.0.1:${sim.port}/_sim/stats`)).body) as { reloads: number; loads: number };
  await corral.child.stop(3000);
  await sim.child.stop(2000);
  return { reloads: stats.reloads, loads: stats.loads, failed };
}

function rows(name: string, s: Summary): string[] {
  const ok = s.byStatus['200'] ?? 0;
  return [name, String(s.requests), String(ok), `${(s.refusedShare * 100).toFixed(1)} %`, cell(s.waitP50), cell(s.waitP99),
    cell(s.wakeMedian, 3), cell(s.wakeP99, 3), Object.values(s.meanWaitByWorker).join(' / '), `${s.inversions} of ${s.pairs}`];
}

async function main(opt: Options): Promise<number> {
  const dir = tempDir('admission');
  try {
    const tps = Math.round((TOKENS * 1000) / opt['service-ms']);
    const sim = await startSim('gpu', 0, MODEL, TOKENS, ['--tps', String(tps)]);
    const config = join(dir, 'corral.yaml');
    writeFileSync(config, stringify({
      server: { host: '127.0.0.1', port: 0, management_port: null, workers: 2, shutdown_timeout: '2s' },
      logging: { level: 'debug' },
      endpoints: [{ name: 'gpu', url: `http://127.0.0.1:${sim.port}`, type: 'ollama', max_concurrency: opt.slots }],
    }));
    const corral = await startCorral(config);
    const url = `http://127.0.0.1:${corral.port}`;
    // Warm both workers' paths and put a service time on record.
    const warm = new Agent({ connections: 8 });
    await Promise.all(Array.from({ length: 40 }, () => chat(url, warm, 0)));
    await warm.close();
    const b = await burst(url, corral, opt);
    const o = await overload(url, corral, opt);
    await corral.child.stop(3000);
    await sim.child.stop(2000);
    const off = await contextSizing(dir, opt, false);
    const on = await contextSizing(dir, opt, true);

    process.stdout.write(`perf/admission: 1 sim, max_concurrency ${opt.slots}, ~${opt['service-ms']} ms a request, corral 2 workers\n`);
    process.stdout.write(`machine: node ${process.version}, load average ${loadAverage()}\n\n`);
    process.stdout.write(`${markdownTable(['scenario', 'requests', '200', '503', 'wait p50 ms', 'wait p99 ms', 'wake-up median ms', 'wake-up p99 ms', 'mean wait per worker ms', 'order inversions'], [
      rows(`burst ${opt.burst}× capacity`, b),
      rows(`overload ${opt.overload}× for ${opt.seconds} s`, o),
    ])}\n\n`);
    process.stdout.write(`answers: burst ${JSON.stringify(b.byStatus)}; overload ${JSON.stringify(o.byStatus)}; wake-ups logged: ${b.wakes} + ${o.wakes}\n\n`);
    process.stdout.write(`${markdownTable(['context sizing', 'turns', 'failed', 'loads', 'reloads (another num_ctx)'], [
      ['models.size_context: false', String(opt.turns), String(off.failed), String(off.loads), String(off.reloads)],
      ['models.size_context: true', String(opt.turns), String(on.failed), String(on.loads), String(on.reloads)],
    ])}\n`);
    const file = writeResult('admission', { options: opt, burst: b, overload: o, contextSizing: { off, on } });
    process.stdout.write(`\nraw: ${file}\n`);
    return 0;
  } finally {
    removeTempDir(dir);
  }
}

runMain('admission', FLAGS, main);
