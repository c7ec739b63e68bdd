/**
 * perf/failover — zero dropped requests through a backend hard-kill (issue 3, "Proof").
 *
 *   npm run build:ts                  # tsc, then the bundles corral runs from (dist/bundle)
 *   node dist/perf/failover.js [--runs 3] [--requests 3000] [--concurrency 16]
 *
 * Each run, on loopback only, every part its own process:
 *
 *   this process (undici Pool, C connections) ──► corral (primary + 2 workers) ──► gpu-0 ┐
 *                                                                              ├──► gpu-1 ┤ sim backends
 *                                                                              └──► gpu-2 ┘
 *
 * N non-streaming POST /api/chat at concurrency C. When request N/3 is sent, one backend (gpu-1)
 * is SIGKILLed (no FIN for in-flight requests beyond what the kernel sends, no goodbye); when
 * request 2N/3 is sent it is restarted on the same port. Reported per run:
 *   - sent / succeeded / failed (any non-200, transport error or unparsable body) / retried
 *     (x-corral-retries > 0);
 *   - detection: kill → corral's 'endpoint down' log line, and kill → first response that corral
 *     routed around the dead backend (first with x-corral-retries ≥ 1; if none was retried, the
 *     last response the killed backend served);
 *   - recovery: restarted backend listening → corral's 'endpoint healthy' line, and → first
 *     response served by it again (x-corral-endpoint).
 * Then a table and the medians of the runs. Exits 1 if any request failed, 2 if the harness broke.
 * Times are Date.now() in this process against pino's ISO `time` in corral's: same host clock,
 * millisecond resolution.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';
import { stringify } from 'yaml';
import { int, type OptionsOf } from './lib/args.js';
import { startCorral, startSim, type CorralProcess, type LogLine, type SimProcess } from './lib/children.js';
import { loadAverage, removeTempDir, runMain, tempDir } from './lib/run.js';
import { cell, markdownTable, median } from './lib/table.js';

const MODEL = 'llama3.2:1b';
const BACKENDS = 3;
const VICTIM = 1;
const TOKENS = 4;
const BODY = Buffer.from(JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false }));
const HEADERS = { 'content-type': 'application/json' };
/** A run that takes longer than this is a hang, not a measurement. */
const RUN_DEADLINE_MS = 120_000;
/** How long after the load to wait for corral's 'endpoint healthy' line. */
const RECOVERY_WAIT_MS = 10_000;

const FLAGS = {
  runs: int(3, 1),
  requests: int(3000, 30),
  concurrency: int(16, 1),
};
type Options = OptionsOf<typeof FLAGS>;

/** One request that did not end in a 200 with a complete Ollama chat body. */
interface Failure {
  index: number;
  /** ms after the kill when it was sent (negative: before). */
  sentAfterKillMs: number;
  status: number;
  error: string;
  endpoint: string;
  retries: number;
  body: string;
}

interface RunResult {
  run: number;
  sent: number;
  succeeded: number;
  failed: number;
  retried: number;
  durationMs: number;
  reqPerSec: number;
  servedBy: number[];
  detectLogMs: number | null;
  detectTrafficMs: number | null;
  /** Which response the traffic figure came from. */
  detectTrafficBy: 'first retried response' | 'last response from the killed backend' | 'none';
  lastRetryMs: number | null;
  recoverLogMs: number | null;
  recoverTrafficMs: number | null;
  /** Kill → restarted backend listening: the outage length, which sets corral's probe backoff. */
  outageMs: number;
  /** Restarted backend listening → last response of the load (bounds an unmeasured recovery). */
  tailMs: number;
  failures: Failure[];
}

/** Per-request records, preallocated (no object per request). */
class Records {
  readonly sentAt: Float64Array;
  readonly headAt: Float64Array;
  readonly status: Int16Array;
  readonly retries: Int16Array;
  readonly endpoint: Int8Array;
  readonly failures: Failure[];

  constructor(n: number) {
    this.sentAt = new Float64Array(n);
    this.headAt = new Float64Array(n);
    this.status = new Int16Array(n);
    this.retries = new Int16Array(n).fill(-1);
    this.endpoint = new Int8Array(n).fill(-1);
    this.failures = [];
  }
}

function writeConfig(dir: string, sims: SimProcess[]): string {
  const config = {
    server: { host: '127.0.0.1', port: 0, management_port: 0, workers: 2, shutdown_timeout: '5s' },
    logging: { level: 'info' },
    endpoints: sims.map((s) => ({
      name: s.name,
      url: `http://127.0.0.1:${s.port}`,
      type: 'ollama',
      health: { interval: '1s', fast_interval: '50ms', timeout: '1s' },
    })),
  };
  const file = join(dir, 'corral.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

function logTime(l: LogLine): number {
  return typeof l.time === 'string' ? Date.parse(l.time) : Number(l.time);
}

function findLog(corral: CorralProcess, msg: string, endpoint: string, notBefore: number): LogLine | undefined {
  return corral.logs.find((l) => l.msg === msg && l.endpoint === endpoint && logTime(l) >= notBefore);
}

async function waitForLog(corral: CorralProcess, msg: string, endpoint: string, notBefore: number, timeoutMs: number): Promise<LogLine | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const l = findLog(corral, msg, endpoint, notBefore);
    if (l !== undefined || Date.now() >= deadline || !corral.child.alive) return l;
    await sleep(10);
  }
}

/** Starts a sim backend, retrying briefly if its old port is not free yet. */
async function startSimRetrying(name: string, port: number): Promise<SimProcess> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSim(name, port, MODEL, TOKENS);
    } catch (err) {
      if (attempt >= 20) throw err;
      await sleep(25);
    }
  }
}

function errorText(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.name ?? 'Error';
  const cause = e.cause?.code ?? e.cause?.message;
  return `${code}: ${e.message ?? String(err)}${cause ? ` (cause ${cause})` : ''}`;
}

/** One request; fills its slot in `rec`. Never throws. */
async function one(pool: Pool, rec: Records, i: number, names: Map<string, number>): Promise<void> {
  rec.sentAt[i] = Date.now();
  let status = 0;
  let endpoint = '';
  let retries = -1;
  let text = '';
  try {
    const res = await pool.request({ path: '/api/chat', method: 'POST', headers: HEADERS, body: BODY });
    rec.headAt[i] = Date.now();
    status = res.statusCode;
    endpoint = String(res.headers['x-corral-endpoint'] ?? '');
    retries = Number(res.headers['x-corral-retries'] ?? -1);
    rec.status[i] = status;
    rec.retries[i] = retries;
    rec.endpoint[i] = names.get(endpoint) ?? -1;
    text = await res.body.text();
  } catch (err) {
    rec.failures.push({ index: i, sentAfterKillMs: rec.sentAt[i]!, status, error: errorText(err), endpoint, retries, body: text.slice(0, 300) });
    return;
  }
  let error = '';
  if (status !== 200) error = `HTTP ${status}`;
  else {
    try {
      const doc = JSON.parse(text) as { done?: unknown; message?: { content?: unknown } };
      if (doc.done !== true || typeof doc.message?.content !== 'string') error = 'incomplete chat body';
    } catch {
      error = 'unparsable body';
    }
  }
  if (error !== '') rec.failures.push({ index: i, sentAfterKillMs: rec.sentAt[i]!, status, error, endpoint, retries, body: text.slice(0, 300) });
}

async function warmUp(pool: Pool, n: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const results = await Promise.allSettled(Array.from({ length: n }, async () => {
      const res = await pool.request({ path: '/api/chat', method: 'POST', headers: HEADERS, body: BODY });
      await res.body.text();
      return res.statusCode;
    }));
    if (results.every((r) => r.status === 'fulfilled' && r.value === 200)) return;
    if (Date.now() >= deadline) throw new Error(`warm-up: corral does not answer 200: ${JSON.stringify(results.map((r) => r.status === 'fulfilled' ? r.value : String(r.reason)))}`);
    await sleep(50);
  }
}

async function runOnce(run: number, opt: Options): Promise<RunResult> {
  const dir = tempDir('failover');
  const sims: SimProcess[] = [];
  let corral: CorralProcess | null = null;
  let pool: Pool | null = null;
  try {
    sims.push(...await Promise.all(Array.from({ length: BACKENDS }, (_, i) => startSim(`gpu-${i}`, 0, MODEL, TOKENS))));
    const names = new Map(sims.map((s, i) => [s.name, i]));
    corral = await startCorral(writeConfig(dir, sims));
    for (const s of sims) {
      if (await waitForLog(corral, 'endpoint healthy', s.name, 0, 10_000) === undefined) throw new Error(`corral never saw ${s.name} healthy`);
    }
    pool = new Pool(`http://127.0.0.1:${corral.port}`, { connections: opt.concurrency, headersTimeout: 30_000, bodyTimeout: 30_000 });
    await warmUp(pool, opt.concurrency * 2);

    const n = opt.requests;
    const killAt = Math.floor(n / 3);
    const restartAt = Math.floor((2 * n) / 3);
    const victim = sims[VICTIM]!;
    const rec = new Records(n);
    let tKill = 0;
    let restarted: Promise<SimProcess> | null = null;
    let next = 0;

    const lane = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        if (i === killAt) {
          tKill = Date.now();
          victim.child.signal('SIGKILL');
        } else if (i === restartAt) {
          restarted = victim.child.exited.then(() => startSimRetrying(victim.name, victim.port));
        }
        await one(pool!, rec, i, names);
      }
    };
    const t0 = Date.now();
    const deadline = sleep(RUN_DEADLINE_MS, 'deadline');
    const finished = await Promise.race([Promise.all(Array.from({ length: opt.concurrency }, lane)), deadline]);
    if (finished === 'deadline') throw new Error(`run ${run}: load did not finish within ${RUN_DEADLINE_MS} ms`);
    const tEnd = Date.now();
    const durationMs = tEnd - t0;
    if (restarted === null) throw new Error('restart was never triggered');
    const back = await (restarted as Promise<SimProcess>);
    sims[VICTIM] = back;

    // Detection.
    const down = await waitForLog(corral, 'endpoint down', victim.name, tKill, 1_000);
    let firstRetry = Infinity;
    let lastRetry = -Infinity;
    let lastVictim = -Infinity;
    let firstBack = Infinity;
    const servedBy = new Array<number>(BACKENDS).fill(0);
    let retried = 0;
    for (let i = 0; i < n; i++) {
      const at = rec.headAt[i]!;
      const e = rec.endpoint[i]!;
      if (rec.status[i] === 200 && e >= 0) servedBy[e]!++;
      if (rec.retries[i]! > 0) {
        retried++;
        if (at >= tKill) {
          firstRetry = Math.min(firstRetry, at);
          lastRetry = Math.max(lastRetry, at);
        }
      }
      if (e === VICTIM && at >= tKill && at < back.listeningAt) lastVictim = Math.max(lastVictim, at);
      if (e === VICTIM && at >= back.listeningAt) firstBack = Math.min(firstBack, at);
    }
    let detectTrafficMs: number | null = null;
    let detectTrafficBy: RunResult['detectTrafficBy'] = 'none';
    if (firstRetry !== Infinity) {
      detectTrafficMs = firstRetry - tKill;
      detectTrafficBy = 'first retried response';
    } else if (lastVictim !== -Infinity) {
      detectTrafficMs = lastVictim - tKill;
      detectTrafficBy = 'last response from the killed backend';
    }

    // Recovery.
    const healthy = await waitForLog(corral, 'endpoint healthy', victim.name, tKill, RECOVERY_WAIT_MS);

    const failures = rec.failures.sort((a, b) => a.index - b.index);
    for (const f of failures) f.sentAfterKillMs -= tKill;
    return {
      run,
      sent: n,
      succeeded: n - failures.length,
      failed: failures.length,
      retried,
      durationMs,
      reqPerSec: (n * 1000) / durationMs,
      servedBy,
      detectLogMs: down === undefined ? null : logTime(down) - tKill,
      detectTrafficMs,
      detectTrafficBy,
      lastRetryMs: lastRetry === -Infinity ? null : lastRetry - tKill,
      recoverLogMs: healthy === undefined ? null : logTime(healthy) - back.listeningAt,
      recoverTrafficMs: firstBack === Infinity ? null : firstBack - back.listeningAt,
      outageMs: back.listeningAt - tKill,
      tailMs: tEnd - back.listeningAt,
      failures,
    };
  } finally {
    if (pool !== null) await pool.destroy().catch(() => undefined);
    const stops: Promise<unknown>[] = sims.map((s) => s.child.stop(3_000));
    if (corral !== null) stops.push(corral.child.stop(10_000));
    await Promise.all(stops);
    removeTempDir(dir);
  }
}

const HEAD = ['run', 'sent', 'ok', 'failed', 'retried', 'req/s', 'detect: log (ms)', 'detect: traffic (ms)',
  'outage (ms)', 'recover: log (ms)', 'recover: traffic (ms)'];

/** Recovery by traffic not seen before the load ended: show the lower bound it must exceed. */
function recoverTrafficCell(r: Pick<RunResult, 'recoverTrafficMs'> & Partial<Pick<RunResult, 'tailMs'>>): string {
  if (r.recoverTrafficMs === null && r.tailMs !== undefined) return r.tailMs > 0 ? `>${r.tailMs} (load over)` : '— (load over)';
  return cell(r.recoverTrafficMs);
}

function row(label: string, r: Pick<RunResult, 'sent' | 'succeeded' | 'failed' | 'retried' | 'reqPerSec' | 'detectLogMs'
  | 'detectTrafficMs' | 'outageMs' | 'recoverLogMs' | 'recoverTrafficMs'> & Partial<Pick<RunResult, 'tailMs'>>): string[] {
  return [label, cell(r.sent), cell(r.succeeded), cell(r.failed), cell(r.retried), cell(r.reqPerSec),
    cell(r.detectLogMs), cell(r.detectTrafficMs), cell(r.outageMs), cell(r.recoverLogMs), recoverTrafficCell(r)];
}

async function main(opt: Options): Promise<number> {
  process.stdout.write(`perf/failover: ${opt.runs} run(s) × ${opt.requests} POST /api/chat (stream: false) at concurrency ${opt.concurrency}; `
    + `corral 2 workers, ${BACKENDS} sim backends (${TOKENS} tokens, no delay); gpu-${VICTIM} SIGKILLed at request ${Math.floor(opt.requests / 3)}, `
    + `restarted at request ${Math.floor((2 * opt.requests) / 3)}\n`);
  // Other processes on the machine skew every figure here: say how busy it was.
  process.stdout.write(`load average at start: ${loadAverage()}\n`);
  const results: RunResult[] = [];
  for (let run = 1; run <= opt.runs; run++) {
    const r = await runOnce(run, opt);
    results.push(r);
    process.stdout.write(`run ${run}: ${r.sent} sent, ${r.failed} failed, ${r.retried} retried in ${r.durationMs} ms; `
      + `served by ${r.servedBy.map((c, i) => `gpu-${i} ${c}`).join(', ')}; detect ${cell(r.detectLogMs)} ms (log), `
      + `${cell(r.detectTrafficMs)} ms (${r.detectTrafficBy}), retries until +${cell(r.lastRetryMs)} ms; `
      + `restarted backend listening +${r.outageMs} ms after the kill, ${r.tailMs} ms before the load ended; `
      + `recover ${cell(r.recoverLogMs)} ms (log), ${recoverTrafficCell(r)} ms (traffic)\n`);
    for (const f of r.failures) {
      process.stdout.write(`  FAILED #${f.index} sent ${f.sentAfterKillMs >= 0 ? '+' : ''}${f.sentAfterKillMs} ms after the kill: `
        + `status ${f.status || '-'}, ${f.error}, endpoint ${f.endpoint || '-'}, retries ${f.retries}${f.body ? `, body ${JSON.stringify(f.body)}` : ''}\n`);
    }
  }
  const med = {
    sent: median(results.map((r) => r.sent))!,
    succeeded: median(results.map((r) => r.succeeded))!,
    failed: median(results.map((r) => r.failed))!,
    retried: median(results.map((r) => r.retried))!,
    reqPerSec: median(results.map((r) => r.reqPerSec))!,
    detectLogMs: median(results.map((r) => r.detectLogMs)),
    detectTrafficMs: median(results.map((r) => r.detectTrafficMs)),
    recoverLogMs: median(results.map((r) => r.recoverLogMs)),
    recoverTrafficMs: median(results.map((r) => r.recoverTrafficMs)),
    outageMs: median(results.map((r) => r.outageMs))!,
  };
  const recoveredInLoad = results.filter((r) => r.recoverTrafficMs !== null).length;
  const totalSent = results.reduce((a, r) => a + r.sent, 0);
  const totalFailed = results.reduce((a, r) => a + r.failed, 0);
  process.stdout.write(`\n${markdownTable(HEAD, [...results.map((r) => row(String(r.run), r)), row('median', med)])}\n\n`);
  if (recoveredInLoad < results.length) {
    process.stdout.write(`note: 'recover: traffic' median is over the ${recoveredInLoad} of ${results.length} runs in which the restarted `
      + `backend served a request before the load ended\n`);
  }
  process.stdout.write(`total: ${totalFailed} of ${totalSent} requests failed; load average at end: ${loadAverage()}\n`);
  return totalFailed > 0 ? 1 : 0;
}

runMain('failover', FLAGS, main);
