/**
 * perf/placement — GPU-aware placement against plain least-connections (issue 11, "Proof").
 *
 *   npm run build:ts
 *   node dist/perf/placement.js [--seconds 40] [--rate 10] [--concurrency 12] [--seed 1]
 *
 * Two scenarios, one after the other, each on loopback with every part its own process and every
 * simulated GPU started cold:
 *
 *   this process (undici Pool, ≤ C in flight) ──► corral (primary + 2 workers) ──► gpu-0 ┐ sim backends,
 *                                                                             ├──► gpu-1 ┤ --vram 8GiB each,
 *                                                                             └──► gpu-2 ┘ loads take time
 *
 *   (a) routing.placement: off         any healthy endpoint listing the model, least-connections
 *                                      (the sim, like Ollama, loads and evicts on its own)
 *   (b) routing.placement: warm-first  an endpoint holding the model first, else one coalesced
 *                                      load where it fits (or after evicting idle models)
 *
 * Six models of different sizes (0.8 to 6 GB, exact sizes set with POST /_sim/models before corral
 * discovers them): they do not all fit on one GPU, a few do. The workload, identical for both
 * (seeded): an open loop over --seconds, Poisson arrivals at --rate req/s on average; each arrival
 * is one request (85 %) or a burst of 4–12 requests for the same model 5–25 ms apart (15 %); the
 * model is drawn from a Zipf distribution (s = 1.1) over the six, and at the midpoint the ranks
 * are permuted (the popularity shift: another model becomes the hottest). At most --concurrency
 * requests are in flight; the others wait in this process, and their latency counts from their
 * scheduled arrival (no coordinated omission). Each request: POST /api/chat, stream false,
 * options.num_predict 8. After the schedule, requests still running get --drain s to finish;
 * any left then count as failed.
 *
 * Reported per scenario: cold loads (sum over the sims of /_sim/stats `loads`), reloads, the sims'
 * own LRU evictions and the unloads corral asked for (its evictions), requests ok / failed (by
 * status and corral error code, with a message quoted), latency p50 / p99 / max of the 200s
 * (scheduled arrival → body read), corral's /internal/status `placement` counters, and corral's
 * own log of loads and evictions with their times, read back into first loads, replicas (loaded
 * while resident elsewhere) and loads again after eviction, and evictions of a model's only copy.
 * Then the
 * ratios (b)/(a) and the issue's target: ≥ 90 % fewer cold loads and a lower p99. Exit 0 whether
 * the target is met or not (it is a measurement); 2 if the harness broke.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool, request } from 'undici';
import { stringify } from 'yaml';
import { choice, int, num, type OptionsOf } from './lib/args.js';
import { startCorral, startSim, type CorralProcess, type SimProcess } from './lib/children.js';
import { httpGet, waitForHttp } from './lib/net.js';
import { loadAverage, machineNote, removeTempDir, runMain, tempDir, writeResult } from './lib/run.js';
import { cell, markdownTable } from './lib/table.js';
import { expGap, intBetween, percentile, prng, shuffled, zipfProbabilities, zipfSampler } from './lib/workload.js';

/** The six models: exact sizes (bytes on disk = vRAM at the default num_ctx: no KV cache simulated). */
const MODELS: readonly { name: string; bytes: number }[] = [
  { name: 'gemma3:1b', bytes: 0.8e9 },
  { name: 'qwen2.5:1.5b', bytes: 1.5e9 },
  { name: 'llama3.2:3b', bytes: 2.5e9 },
  { name: 'phi3:3.8b', bytes: 3.5e9 },
  { name: 'qwen2.5:7b', bytes: 4.5e9 },
  { name: 'llama3.1:8b', bytes: 6.0e9 },
];
const BACKENDS = 3;
const ZIPF_S = 1.1;
const BURST_SHARE = 0.15;
const BURST_MIN = 4;
const BURST_MAX = 12;
const BURST_GAP_MS: readonly [number, number] = [5, 25];
const NUM_PREDICT = 8;
const MAX_CONCURRENCY = 8;
const HEADERS = { 'content-type': 'application/json' };
const GIB = 2 ** 30;
type Mode = 'off' | 'warm-first';
const MODES: readonly Mode[] = ['off', 'warm-first'];
const LABEL: Record<Mode, string> = { off: '(a) placement off', 'warm-first': '(b) warm-first' };

const FLAGS = {
  seconds: int(40, 2),
  rate: num(10, 0.1),
  concurrency: int(12, 1),
  seed: int(1, 0),
  /** How long requests still running after the schedule may take before they count as failed. */
  drain: int(10, 1),
  vramGib: num(8, 1, 'vram-gib'),
  loadMsPerGib: int(300, 0, 'load-ms-per-gib'),
  tps: int(100, 0),
  /** The sim's KV cache per token of num_ctx (4096 by default): size_vram = size + this × 4096. */
  kvBytesPerCtxToken: int(0, 0, 'kv-bytes-per-ctx-token'),
  only: choice<'both' | Mode>('both', ['both', 'off', 'warm-first']),
};
type Options = OptionsOf<typeof FLAGS>;

/** The workload: arrival offsets (ms from the start) and model indices, the same for every scenario. */
interface Schedule {
  at: Float64Array;
  model: Uint8Array;
  /** Index of the first request of the second phase. */
  shiftAt: number;
  /** Model index by popularity rank, per phase. */
  ranks: [number[], number[]];
  bursts: number;
}

function buildSchedule(opt: Options): Schedule {
  const rand = prng(opt.seed);
  const n = MODELS.length;
  const phase1 = shuffled(rand, MODELS.map((_, i) => i));
  let phase2 = shuffled(rand, phase1);
  // A shift worth the name: the hottest model changes.
  while (phase2[0] === phase1[0]) phase2 = shuffled(rand, phase1);
  const rank = zipfSampler(rand, n, ZIPF_S);
  const meanPerArrival = (1 - BURST_SHARE) + BURST_SHARE * (BURST_MIN + BURST_MAX) / 2;
  const meanGapMs = 1000 * meanPerArrival / opt.rate;
  const endMs = opt.seconds * 1000;
  const at: number[] = [];
  const model: number[] = [];
  let shiftAt = -1;
  let bursts = 0;
  for (let t = expGap(rand, meanGapMs); t < endMs; t += expGap(rand, meanGapMs)) {
    const second = t >= endMs / 2;
    if (second && shiftAt < 0) shiftAt = at.length;
    const m = (second ? phase2 : phase1)[rank()]!;
    if (rand() < BURST_SHARE) {
      bursts++;
      const k = intBetween(rand, BURST_MIN, BURST_MAX);
      let u = t;
      for (let j = 0; j < k; j++, u += intBetween(rand, BURST_GAP_MS[0], BURST_GAP_MS[1])) {
        at.push(u);
        model.push(m);
      }
    } else {
      at.push(t);
      model.push(m);
    }
  }
  // Bursts may overlap the next arrival: keep the schedule in time order (stable for equal times).
  const order = at.map((_, i) => i).sort((a, b) => at[a]! - at[b]! || a - b);
  const sortedAt = Float64Array.from(order, (i) => at[i]!);
  const sortedModel = Uint8Array.from(order, (i) => model[i]!);
  let shift = sortedAt.findIndex((x) => x >= endMs / 2);
  if (shift < 0) shift = sortedAt.length;
  return { at: sortedAt, model: sortedModel, shiftAt: shift, ranks: [phase1, phase2], bursts };
}

interface SimStats {
  loads: number;
  reloads: number;
  evictions: number;
  unloads: number;
  expired: number;
  loadFailures: number;
  loadsByModel: Record<string, number>;
}

interface Placement {
  mode?: string;
  loads?: number;
  load_failures?: number;
  evictions?: number;
  already_loaded?: number;
  recent_load_ms?: number[];
}

interface ErrorGroup {
  status: number;
  code: string;
  count: number;
  /** The first message seen, verbatim (truncated). */
  example: string;
  models: Record<string, number>;
  /** The first message seen per model. */
  examples: Record<string, string>;
}

interface ScenarioResult {
  mode: Mode;
  sent: number;
  ok: number;
  failed: number;
  notSent: number;
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** Per model: requests, ok, p50, p99. */
  perModel: { model: string; requests: number; ok: number; p50: number | null; p99: number | null }[];
  /** Start of the schedule → last response. */
  wallMs: number;
  sims: SimStats[];
  coldLoads: number;
  reloads: number;
  simEvictions: number;
  unloads: number;
  expired: number;
  simLoadFailures: number;
  loadsByModel: Record<string, number>;
  placement: Placement | null;
  corralCounters: Record<string, number> | null;
  errors: ErrorGroup[];
  /** Resident models per sim at the end (least recently used first). */
  residentsAtEnd: string[][];
  /** Requests served per endpoint. */
  servedBy: Record<string, number>;
  /** corral's 'model loaded' / 'model evicted' / 'model load failed' lines: seconds from the start of the schedule. */
  placementLog: { t: number; event: string; endpoint: string; model: string; detail: string }[];
  /** The placement log read back: what kind of loads and evictions corral made. */
  loadKinds: LoadKinds;
  /** How corral's primary exited when stopped (a SIGKILL leaves its shared-memory segment behind). */
  corralExit: string;
  /** corral's warn/error log lines, grouped by message (and code). */
  corralWarnings: { msg: string; count: number; example: string }[];
}

/** corral's loads and evictions by kind, from its own log (the sims' own LRU evictions are not in it). */
interface LoadKinds {
  /** The model's first load anywhere. */
  first: number;
  /** Loaded while resident on another endpoint (placement found its warm endpoints saturated). */
  replica: number;
  /** Loaded again after every copy had been evicted. */
  again: number;
  /** Evictions of a model's only resident copy. */
  soleCopyEvictions: number;
  /** Evictions made to load a model that was resident elsewhere (a replica). */
  evictionsForReplica: number;
}

function loadKinds(log: ScenarioResult['placementLog']): LoadKinds {
  const where = new Map<string, Set<string>>();
  const ever = new Set<string>();
  const k: LoadKinds = { first: 0, replica: 0, again: 0, soleCopyEvictions: 0, evictionsForReplica: 0 };
  const on = (model: string): Set<string> => {
    let s = where.get(model);
    if (s === undefined) where.set(model, (s = new Set()));
    return s;
  };
  for (const e of log) {
    if (e.event === 'loaded') {
      const s = on(e.model);
      if (!ever.has(e.model)) k.first++;
      else if ([...s].some((x) => x !== e.endpoint)) k.replica++;
      else k.again++;
      ever.add(e.model);
      s.add(e.endpoint);
    } else if (e.event === 'evicted') {
      const s = on(e.model);
      s.delete(e.endpoint);
      if (s.size === 0) k.soleCopyEvictions++;
      const forModel = /^for (.*)$/.exec(e.detail)?.[1];
      if (forModel !== undefined && [...on(forModel)].some((x) => x !== e.endpoint)) k.evictionsForReplica++;
    }
  }
  return k;
}

function sumStats(list: SimStats[], key: 'loads' | 'reloads' | 'evictions' | 'unloads' | 'expired' | 'loadFailures'): number {
  return list.reduce((a, s) => a + (s[key] ?? 0), 0);
}

async function getJson<T>(url: string): Promise<T> {
  const r = await httpGet(url, 5_000);
  if (r.status !== 200) throw new Error(`GET ${url} answered ${r.status}: ${r.body.slice(0, 300)}`);
  return JSON.parse(r.body) as T;
}

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await request(url, { method: 'POST', headers: HEADERS, body: JSON.stringify(body), headersTimeout: 5_000, bodyTimeout: 5_000 });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`POST ${url} answered ${res.statusCode}: ${text.slice(0, 300)}`);
}

function writeConfig(dir: string, sims: SimProcess[], mode: Mode, vramBytes: number): string {
  const config = {
    server: { host: '127.0.0.1', port: 0, management_port: 0, workers: 2, shutdown_timeout: '2s' },
    // info: the 'corral listening' line carries the ports; load and eviction lines are few.
    logging: { level: 'info' },
    routing: { strategy: 'least-connections', placement: mode },
    endpoints: sims.map((s) => ({
      name: s.name,
      url: `http://127.0.0.1:${s.port}`,
      type: 'ollama',
      vram: vramBytes,
      max_concurrency: MAX_CONCURRENCY,
      health: { interval: '1s', fast_interval: '50ms', timeout: '1s' },
    })),
  };
  const file = join(dir, 'corral.yaml');
  writeFileSync(file, stringify(config));
  return file;
}

interface Status {
  endpoints?: { name: string; state: string; models?: string[] }[];
  placement?: Placement | null;
  counters?: Record<string, number>;
}

/** Until every endpoint is healthy with all six models discovered, and the workers answer. */
async function waitReady(corral: CorralProcess, mgmt: number, mode: Mode): Promise<void> {
  const deadline = Date.now() + 20_000;
  let last = '';
  for (;;) {
    const r = await httpGet(`http://127.0.0.1:${mgmt}/internal/status`, 2_000);
    if (r.status === 200) {
      const s = JSON.parse(r.body) as Status;
      const eps = s.endpoints ?? [];
      const ready = eps.length === BACKENDS && eps.every((e) => e.state === 'healthy' && MODELS.every((m) => e.models?.includes(m.name)));
      if (ready) {
        if (s.placement?.mode !== undefined && s.placement.mode !== mode) throw new Error(`corral runs placement ${s.placement.mode}, not ${mode}`);
        break;
      }
      last = JSON.stringify(eps.map((e) => ({ name: e.name, state: e.state, models: e.models?.length ?? 0 })));
    } else last = `${r.status} ${r.body.slice(0, 200)}`;
    if (!corral.child.alive) throw new Error(`corral exited before it was ready:\n${corral.child.stderr.join('')}`);
    if (Date.now() >= deadline) throw new Error(`corral not ready within 20 s (last: ${last})`);
    await sleep(50);
  }
  await waitForHttp(`http://127.0.0.1:${corral.port}/api/version`, 'corral workers', 10_000, () => corral.child.alive);
}

/** Ollama's and corral's error bodies: `{"error": "…", "code": "CORRAL_ERR_…"}` (code absent from the backend's). */
function errorOf(text: string): { code: string; message: string } {
  try {
    const doc = JSON.parse(text) as { error?: unknown; code?: unknown };
    return { code: typeof doc.code === 'string' ? doc.code : '-', message: typeof doc.error === 'string' ? doc.error : text };
  } catch {
    return { code: '-', message: text };
  }
}

function transportError(err: unknown): string {
  const e = err as { code?: string; name?: string; message?: string };
  return `${e.code ?? e.name ?? 'Error'}: ${e.message ?? String(err)}`;
}

async function runScenario(mode: Mode, plan: Schedule, opt: Options): Promise<ScenarioResult> {
  const exit = { text: 'not started' };
  const r = await runScenarioIn(mode, plan, opt, exit);
  r.corralExit = exit.text;
  return r;
}

async function runScenarioIn(mode: Mode, plan: Schedule, opt: Options, exit: { text: string }): Promise<ScenarioResult> {
  const dir = tempDir('placement');
  const sims: SimProcess[] = [];
  let corral: CorralProcess | null = null;
  let pool: Pool | null = null;
  const vramBytes = Math.round(opt.vramGib * GIB);
  try {
    const simArgs = ['--vram', String(vramBytes), '--load-ms-per-gib', String(opt.loadMsPerGib), '--tps', String(opt.tps),
      '--kv-bytes-per-ctx-token', String(opt.kvBytesPerCtxToken)];
    sims.push(...await Promise.all(Array.from({ length: BACKENDS }, (_, i) =>
      startSim(`gpu-${i}`, 0, MODELS.map((m) => m.name).join(','), NUM_PREDICT, simArgs))));
    for (const s of sims) s.child.proc.stdout?.resume();
    // Exact sizes before corral reads /api/tags (its first estimate of each model's need).
    await Promise.all(sims.map((s) => postJson(`http://127.0.0.1:${s.port}/_sim/models`, MODELS.map((m) => ({ name: m.name, sizeBytes: m.bytes })))));
    corral = await startCorral(writeConfig(dir, sims, mode, vramBytes));
    const listening = corral.logs.find((l) => typeof l.msg === 'string' && l.msg.startsWith('corral listening'));
    const mgmt = Number(listening?.managementPort);
    if (!Number.isInteger(mgmt) || mgmt <= 0) throw new Error('corral did not report its management port');
    await waitReady(corral, mgmt, mode);
    const before = await Promise.all(sims.map((s) => getJson<SimStats>(`http://127.0.0.1:${s.port}/_sim/stats`)));
    if (before.some((s) => s.loads !== 0)) throw new Error(`a sim has loaded models before the load started: ${JSON.stringify(before.map((s) => s.loadsByModel))}`);

    const n = plan.at.length;
    const bodies = MODELS.map((m) => Buffer.from(JSON.stringify({
      model: m.name, messages: [{ role: 'user', content: 'hi' }], stream: false, options: { num_predict: NUM_PREDICT },
    })));
    const latency = new Float64Array(n).fill(-1);
    const status = new Int16Array(n);
    const endpointOf: string[] = new Array<string>(n).fill('');
    const errors = new Map<string, ErrorGroup>();
    const noteError = (st: number, code: string, message: string, m: number): void => {
      const key = `${st} ${code}`;
      let g = errors.get(key);
      if (g === undefined) errors.set(key, (g = { status: st, code, count: 0, example: message.slice(0, 400), models: {}, examples: {} }));
      g.count++;
      const name = MODELS[m]!.name;
      g.models[name] = (g.models[name] ?? 0) + 1;
      g.examples[name] ??= message.slice(0, 400);
    };
    pool = new Pool(`http://127.0.0.1:${corral.port}`, { connections: opt.concurrency, headersTimeout: 120_000, bodyTimeout: 120_000 });
    const p = pool;
    let closed = false;
    let inflight = 0;
    let finished = 0;
    let started = 0;
    let lastDone = 0;
    const queue: number[] = [];
    let allDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => {
      allDone = resolve;
    });
    const t0 = performance.now();

    const one = async (i: number): Promise<void> => {
      const m = plan.model[i]!;
      try {
        const res = await p.request({ path: '/api/chat', method: 'POST', headers: HEADERS, body: bodies[m]! });
        const text = await res.body.text();
        if (closed) return;
        const now = performance.now();
        status[i] = res.statusCode;
        endpointOf[i] = String(res.headers['x-corral-endpoint'] ?? '');
        if (res.statusCode === 200) {
          let complete = false;
          try {
            const doc = JSON.parse(text) as { done?: unknown; model?: unknown };
            complete = doc.done === true && doc.model === MODELS[m]!.name;
          } catch {
            // counted below
          }
          if (complete) latency[i] = now - (t0 + plan.at[i]!);
          else noteError(200, 'incomplete body', text.slice(0, 300), m);
        } else {
          const e = errorOf(text);
          noteError(res.statusCode, e.code, e.message, m);
        }
        lastDone = now;
      } catch (err) {
        if (closed) return;
        noteError(0, 'transport', transportError(err), m);
      }
    };
    const start = (i: number): void => {
      inflight++;
      started++;
      void one(i).finally(() => {
        inflight--;
        finished++;
        const next = queue.shift();
        if (next !== undefined && !closed) start(next);
        if (finished === n) allDone();
      });
    };
    for (let i = 0; i < n; i++) {
      const wait = t0 + plan.at[i]! - performance.now();
      if (wait >= 1) await sleep(wait);
      if (inflight < opt.concurrency) start(i);
      else queue.push(i);
    }
    const drained = await Promise.race([done.then(() => true), sleep(opt.drain * 1000).then(() => false)]);
    closed = true;
    const notSent = queue.length;
    if (!drained) {
      const left = started - finished;
      errors.set('0 not completed', {
        status: 0, code: 'not completed', count: left + notSent, models: {}, examples: {},
        example: `${left} request(s) still in flight ${opt.drain} s after the schedule ended; ${notSent} never sent`,
      });
    }
    const wallMs = (lastDone || performance.now()) - t0;
    await pool.destroy().catch(() => undefined);
    pool = null;

    // Settle: what the backends and corral counted.
    const after = await Promise.all(sims.map((s) => getJson<SimStats>(`http://127.0.0.1:${s.port}/_sim/stats`)));
    const gpus = await Promise.all(sims.map((s) => getJson<{ resident: { name: string }[] }>(`http://127.0.0.1:${s.port}/_sim/gpu`)));
    const st = await getJson<Status>(`http://127.0.0.1:${mgmt}/internal/status`);

    const ok = latency.filter((x) => x >= 0);
    const loadsByModel: Record<string, number> = {};
    for (const s of after) for (const [k, v] of Object.entries(s.loadsByModel ?? {})) loadsByModel[k] = (loadsByModel[k] ?? 0) + v;
    const servedBy: Record<string, number> = {};
    for (let i = 0; i < n; i++) if (status[i] === 200 && endpointOf[i] !== '') servedBy[endpointOf[i]!] = (servedBy[endpointOf[i]!] ?? 0) + 1;
    const perModel = MODELS.map((mm, m) => {
      const lat: number[] = [];
      let requests = 0;
      for (let i = 0; i < n; i++) {
        if (plan.model[i] !== m) continue;
        requests++;
        if (latency[i]! >= 0) lat.push(latency[i]!);
      }
      return { model: mm.name, requests, ok: lat.length, p50: percentile(lat, 50), p99: percentile(lat, 99) };
    });
    const warnings = new Map<string, { msg: string; count: number; example: string }>();
    for (const l of corral.logs) {
      if (l.level < 40) continue;
      const key = `${l.msg}${typeof l.code === 'string' ? ` (${l.code})` : ''}`;
      const w = warnings.get(key) ?? { msg: key, count: 0, example: typeof l.err === 'string' ? l.err : JSON.stringify(l).slice(0, 300) };
      w.count++;
      warnings.set(key, w);
    }
    const placementLog: ScenarioResult['placementLog'] = [];
    const wallT0 = Date.now() - (performance.now() - t0);
    for (const l of corral.logs) {
      if (l.msg !== 'model loaded' && l.msg !== 'model evicted' && l.msg !== 'model load failed') continue;
      const t = (Date.parse(String(l.time)) - wallT0) / 1000;
      const detail = l.msg === 'model loaded' ? `${String(l.ms)} ms, ${String(l.origin)}`
        : l.msg === 'model evicted' ? `for ${String(l.for)}` : `${String(l.code)}: ${String(l.err)}`;
      placementLog.push({ t, event: l.msg.replace('model ', ''), endpoint: String(l.endpoint), model: String(l.model), detail });
    }
    const failed = [...errors.values()].reduce((a, g) => a + g.count, 0);
    return {
      mode,
      sent: started,
      ok: ok.length,
      failed,
      notSent,
      p50: percentile(ok, 50),
      p90: percentile(ok, 90),
      p99: percentile(ok, 99),
      max: percentile(ok, 100),
      perModel,
      wallMs,
      sims: after,
      coldLoads: sumStats(after, 'loads'),
      reloads: sumStats(after, 'reloads'),
      simEvictions: sumStats(after, 'evictions'),
      unloads: sumStats(after, 'unloads'),
      expired: sumStats(after, 'expired'),
      simLoadFailures: sumStats(after, 'loadFailures'),
      loadsByModel,
      placement: st.placement ?? null,
      corralCounters: st.counters ?? null,
      errors: [...errors.values()].sort((a, b) => b.count - a.count),
      residentsAtEnd: gpus.map((g) => g.resident.map((r) => r.name)),
      servedBy,
      placementLog,
      loadKinds: loadKinds(placementLog),
      corralExit: '',
      corralWarnings: [...warnings.values()].sort((a, b) => b.count - a.count),
    };
  } finally {
    if (pool !== null) await pool.destroy().catch(() => undefined);
    const stops: Promise<unknown>[] = sims.map((s) => s.child.stop(3_000));
    if (corral !== null) {
      stops.push(corral.child.stop(5_000).then((x) => {
        exit.text = x.signal !== null ? `signal ${x.signal}` : `code ${x.code}`;
      }));
    }
    await Promise.all(stops);
    removeTempDir(dir);
  }
}

function ratio(b: number | null, a: number | null, digits = 2): string {
  if (a === null || b === null || a === 0) return '—';
  return (b / a).toFixed(digits);
}

function gb(bytes: number): string {
  return `${(bytes / 1e9).toFixed(1)} GB`;
}

async function main(opt: Options): Promise<number> {
  const plan = buildSchedule(opt);
  const n = plan.at.length;
  const modes = opt.only === 'both' ? MODES : [opt.only];
  const probs = zipfProbabilities(MODELS.length, ZIPF_S);
  const command = ['node', 'dist/perf/placement.js', ...process.argv.slice(2)].join(' ');
  const out = (s: string): boolean => process.stdout.write(s);
  out(`perf/placement: ${command}\n`);
  out(`options: --seconds ${opt.seconds} --rate ${opt.rate} --concurrency ${opt.concurrency} --seed ${opt.seed} --drain ${opt.drain} `
    + `--vram-gib ${opt.vramGib} --load-ms-per-gib ${opt.loadMsPerGib} --tps ${opt.tps} --kv-bytes-per-ctx-token ${opt.kvBytesPerCtxToken} --only ${opt.only}\n`);
  out(`${machineNote()}\n`);
  out(`corral 2 workers, least-connections, max_concurrency ${MAX_CONCURRENCY} per endpoint, vram ${opt.vramGib} GiB (reserve 10 %); `
    + `${BACKENDS} sim backends, ${opt.vramGib} GiB each, ${opt.loadMsPerGib} ms/GiB to load, ${opt.tps} tokens/s, ${NUM_PREDICT} tokens per answer\n`);
  out(`workload (seed ${opt.seed}): ${n} requests over ${opt.seconds} s (${(n / opt.seconds).toFixed(1)} req/s), ${plan.bursts} bursts of ${BURST_MIN}–${BURST_MAX}, `
    + `Zipf s=${ZIPF_S}; popularity shift at request ${plan.shiftAt} (t=${opt.seconds / 2} s); at most ${opt.concurrency} in flight\n\n`);
  const rankRows = MODELS.map((m, i) => {
    const r1 = plan.ranks[0].indexOf(i);
    const r2 = plan.ranks[1].indexOf(i);
    let c1 = 0;
    let c2 = 0;
    for (let k = 0; k < n; k++) if (plan.model[k] === i) (k < plan.shiftAt ? c1++ : c2++);
    return [m.name, gb(m.bytes), `${r1 + 1} (${(probs[r1]! * 100).toFixed(0)} %)`, cell(c1), `${r2 + 1} (${(probs[r2]! * 100).toFixed(0)} %)`, cell(c2)];
  });
  out(`${markdownTable(['model', 'size', 'rank 1st half', 'requests', 'rank 2nd half', 'requests'], rankRows)}\n\n`);

  const results: ScenarioResult[] = [];
  for (const mode of modes) {
    out(`running ${LABEL[mode]} … (load average ${loadAverage()})\n`);
    const r = await runScenario(mode, plan, opt);
    results.push(r);
    out(`  ${r.sent} sent, ${r.ok} ok, ${r.failed} failed in ${(r.wallMs / 1000).toFixed(1)} s; cold loads ${r.coldLoads}, `
      + `evictions ${r.simEvictions} (sim LRU) + ${r.unloads} (asked by corral); served by `
      + `${Object.entries(r.servedBy).sort().map(([k, v]) => `${k} ${v}`).join(', ')}\n`);
    out(`  resident at the end: ${r.residentsAtEnd.map((list, i) => `gpu-${i} [${list.join(', ')}]`).join('; ')}\n`);
    for (const g of r.errors) {
      out(`  FAILED ×${g.count}: ${g.status || '-'} ${g.code} (models: ${Object.entries(g.models).map(([k, v]) => `${k} ${v}`).join(', ') || '-'})\n`);
      const examples = Object.keys(g.examples).length > 0 ? Object.values(g.examples) : [g.example];
      for (const e of examples) out(`    ${JSON.stringify(e)}\n`);
    }
    out(`  corral stopped: ${r.corralExit}\n`);
    if (r.placementLog.length > 0) {
      const k = r.loadKinds;
      out(`  corral's loads: ${k.first} first, ${k.replica} replicas (model resident elsewhere), ${k.again} again after eviction; `
        + `evictions: ${k.soleCopyEvictions} of a model's only copy, ${k.evictionsForReplica} to make room for a replica\n`);
      out(`  corral's loads and evictions (s from the start: event endpoint model):\n`);
      for (const e of r.placementLog) out(`    ${e.t.toFixed(2).padStart(6)} ${e.event.padEnd(11)} ${e.endpoint} ${e.model} (${e.detail})\n`);
    }
    for (const w of r.corralWarnings) out(`  corral warn ×${w.count}: ${w.msg}: ${JSON.stringify(w.example)}\n`);
  }
  out('\n');

  const a = results.find((r) => r.mode === 'off') ?? null;
  const b = results.find((r) => r.mode === 'warm-first') ?? null;
  const num = (r: ScenarioResult | null, f: (r: ScenarioResult) => number | null, digits = 0): string => (r === null ? '—' : cell(f(r), digits));
  const kinds = (r: ScenarioResult | null): string => (r === null || r.placementLog.length === 0 ? '—'
    : `${r.loadKinds.first} / ${r.loadKinds.replica} / ${r.loadKinds.again}`);
  const evKinds = (r: ScenarioResult | null): string => (r === null || r.placementLog.length === 0 ? '—'
    : `${r.loadKinds.soleCopyEvictions} / ${r.loadKinds.evictionsForReplica}`);
  const rows: string[][] = [
    ['requests sent', num(a, (r) => r.sent), num(b, (r) => r.sent), ''],
    ['ok (200)', num(a, (r) => r.ok), num(b, (r) => r.ok), ''],
    ['failed', num(a, (r) => r.failed), num(b, (r) => r.failed), ''],
    ['cold loads (sims)', num(a, (r) => r.coldLoads), num(b, (r) => r.coldLoads), ratio(b?.coldLoads ?? null, a?.coldLoads ?? null, 3)],
    ['reloads (num_ctx)', num(a, (r) => r.reloads), num(b, (r) => r.reloads), ''],
    ['evictions: sim LRU', num(a, (r) => r.simEvictions), num(b, (r) => r.simEvictions), ''],
    ['evictions: corral unloads', num(a, (r) => r.unloads), num(b, (r) => r.unloads), ''],
    ['load failures (sims)', num(a, (r) => r.simLoadFailures), num(b, (r) => r.simLoadFailures), ''],
    ['latency p50 (ms)', num(a, (r) => r.p50), num(b, (r) => r.p50), ratio(b?.p50 ?? null, a?.p50 ?? null)],
    ['latency p90 (ms)', num(a, (r) => r.p90), num(b, (r) => r.p90), ratio(b?.p90 ?? null, a?.p90 ?? null)],
    ['latency p99 (ms)', num(a, (r) => r.p99), num(b, (r) => r.p99), ratio(b?.p99 ?? null, a?.p99 ?? null)],
    ['latency max (ms)', num(a, (r) => r.max), num(b, (r) => r.max), ratio(b?.max ?? null, a?.max ?? null)],
    ['start → last response (s)', num(a, (r) => r.wallMs / 1000, 1), num(b, (r) => r.wallMs / 1000, 1), ''],
    ['corral placement: loads', num(a, (r) => r.placement?.loads ?? null), num(b, (r) => r.placement?.loads ?? null), ''],
    ['corral placement: evictions', num(a, (r) => r.placement?.evictions ?? null), num(b, (r) => r.placement?.evictions ?? null), ''],
    ['corral placement: load_failures', num(a, (r) => r.placement?.load_failures ?? null), num(b, (r) => r.placement?.load_failures ?? null), ''],
    ['corral loads: first / replica / again', kinds(a), kinds(b), ''],
    ['corral evictions: only copy / for a replica', evKinds(a), evKinds(b), ''],
    ['corral placement: already_loaded', num(a, (r) => r.placement?.already_loaded ?? null), num(b, (r) => r.placement?.already_loaded ?? null), ''],
  ];
  out(`${markdownTable(['', LABEL.off, LABEL['warm-first'], '(b)/(a)'], rows)}\n\n`);

  const modelRows = MODELS.map((m, i) => [
    m.name, gb(m.bytes),
    num(a, (r) => r.perModel[i]!.requests),
    num(a, (r) => r.loadsByModel[m.name] ?? 0), num(b, (r) => r.loadsByModel[m.name] ?? 0),
    num(a, (r) => r.perModel[i]!.p50), num(b, (r) => r.perModel[i]!.p50),
    num(a, (r) => r.perModel[i]!.p99), num(b, (r) => r.perModel[i]!.p99),
  ]);
  out(`${markdownTable(['model', 'size', 'requests', 'loads (a)', 'loads (b)', 'p50 (a)', 'p50 (b)', 'p99 (a)', 'p99 (b)'], modelRows)}\n\n`);

  if (a !== null && b !== null) {
    const fewer = a.coldLoads === 0 ? null : 1 - b.coldLoads / a.coldLoads;
    const loadsMet = fewer !== null && fewer >= 0.9;
    const p99Met = a.p99 !== null && b.p99 !== null && b.p99 < a.p99;
    out(`target (issue 11): ≥ 90 % fewer cold loads: ${fewer === null ? '— (no loads in (a))' : `${(fewer * 100).toFixed(1)} % fewer`} → ${loadsMet ? 'met' : 'NOT met'}; `
      + `lower p99: ${cell(b.p99)} vs ${cell(a.p99)} ms → ${p99Met ? 'met' : 'NOT met'}\n`);
    out(`errors: (a) ${a.failed}, (b) ${b.failed} of ${n}\n`);
  }
  const file = writeResult('placement', {
    command, options: opt, machine: machineNote(), models: MODELS, schedule: { requests: n, shiftAt: plan.shiftAt, ranks: plan.ranks, bursts: plan.bursts },
    results,
  });
  out(`load average at end: ${loadAverage()}; full data: ${file}\n`);
  return 0;
}

runMain('placement', FLAGS, main);
