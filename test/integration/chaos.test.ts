// Chaos (issue 3, "Proof"): continuous load from several real clients while one of three backends
// is hard-killed and later restarted, a worker is SIGKILLed, and a SIGHUP reload rolls the
// workers. Every request either succeeds with the complete answer or was never accepted.
//
// What a hard kill can cost, precisely, and how this test counts it:
// - A request on a worker at the instant it is SIGKILLed cannot be answered by that process; the
//   kernel resets its connections. If no response byte had arrived, the request was never
//   accepted and a real client sends it again: the `openai` client by itself (default
//   maxRetries: 2 for connection errors); for the undici and ollama lanes this test resends at
//   most once, only after a connection-level failure before any response (ECONNRESET, "other
//   side closed", refused). Every resend is recorded with its phase and reported.
// - A response whose head (and for a stream, its first tokens) had already reached the client
//   when the process producing it was hard-killed cannot be completed by anyone: corral never
//   retries after bytes reached the client (it could not splice another backend's generation
//   into it). These "cuts" are never resent. One is tolerated only where it is unavoidable: a
//   request already under way on the killed backend when it is stopped, ended by corral with a
//   protocol-correct error (SSE error event / NDJSON error line, which the clients raise), or a
//   request already under way when the worker is SIGKILLed, whose connection closes. Any other
//   cut, a silent truncation, an HTTP error status (even one the openai client retried into a
//   success), a timeout or an incomplete answer is a failure.
//
// Asserted: zero failures; resends only in the worker-SIGKILL phase (from the kill until the
// SIGHUP is sent); cuts only of the two unavoidable kinds, at most one per lane per kill. The
// backend kill is otherwise invisible, and the reload roll must be invisible altogether.
//
// Every step is awaited on an event (a log line, a status change); the whole scenario is bounded
// by a request cap and a deadline, which fail the test (never assert on timing).
import t from 'tap';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { Pool, request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { answer, HI, MODEL } from '../helpers/sim.js';

const TOKENS = 6;
const BACKENDS = ['a', 'b', 'c'];
const REQUEST_CAP = 3000;
const DEADLINE_MS = 40_000;
const REQUEST_TIMEOUT_MS = 15_000;
/** Completed requests each load step waits for. */
const STEP = 100;

type Phase = 'warmup' | 'backend-down' | 'backend-back' | 'worker-kill' | 'reload' | 'after';
let phase: Phase = 'warmup';

/** A request that failed at the connection level before any response arrived. */
interface Resend {
  lane: string;
  phase: Phase;
  code: string;
  at: number;
}

interface Failure {
  lane: string;
  startPhase: Phase;
  phase: Phase;
  reason: string;
  at: number;
}

const CONNECTION_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'UND_ERR_SOCKET']);

/** The connection-level code in an error or its causes, or null (timeouts and aborts are not). */
function connectionCode(err: unknown): string | null {
  for (let e: any = err, depth = 0; e != null && depth < 6; e = e.cause, depth++) {
    if (e.name === 'AbortError' || e.name === 'TimeoutError') return null;
    if (typeof e.code === 'string' && CONNECTION_CODES.has(e.code)) return e.code;
  }
  return null;
}

function describe(err: unknown): string {
  const parts: string[] = [];
  for (let e: any = err, depth = 0; e != null && depth < 6; e = e.cause, depth++) {
    parts.push(`${e.name ?? 'Error'}${e.code ? `[${e.code}]` : ''}${e.status ? `(${e.status})` : ''}: ${e.message ?? String(e)}`);
  }
  return parts.join(' <- ');
}

/** Thrown when a request fails before any response: the lane may resend it once. */
class NoResponse extends Error {
  constructor(readonly code: string, cause: unknown) {
    super(`no response (${code})`, { cause });
  }
}

/** Thrown when a request fails after its response head arrived: never resent. */
class CutMidAnswer extends Error {
  constructor(readonly how: 'protocol-error' | 'connection-closed' | 'other', readonly endpoint: string, cause: unknown) {
    super(`cut after the response head (${how}, endpoint ${endpoint || '?'}): ${describe(cause)}`, { cause });
  }
}

/** Classifies an error raised while reading a response whose head had arrived. */
function cutFrom(err: unknown, endpoint: string, protocolError: boolean): CutMidAnswer {
  return new CutMidAnswer(protocolError ? 'protocol-error' : connectionCode(err) !== null ? 'connection-closed' : 'other', endpoint, err);
}

/** A tolerated cut (see the header comment). */
interface Cut {
  lane: string;
  kill: 'backend' | 'worker';
  how: string;
  endpoint: string;
  at: number;
}

/** One request's outcome as a lane sees it. */
interface Answer {
  endpoint: string;
  content: string;
  complete: boolean;
}

class Load {
  started = 0;
  finished = 0;
  stopped = false;
  readonly failures: Failure[] = [];
  readonly cuts: Cut[] = [];
  /** The stopped backend's name, once stopped. */
  victim = '';
  readonly resends: Resend[] = [];
  readonly perLane = new Map<string, { ok: number; resends: number; cut: number; failed: number }>();
  readonly perPhase = new Map<Phase, number>();
  readonly servedBy = new Map<string, number>();
  readonly #waiters: { target: number; resolve: () => void }[] = [];
  readonly deadline: number;
  readonly #deadlineHit: Promise<never>;
  #timer: NodeJS.Timeout | undefined;
  #capHit!: () => void;
  readonly #capReached = new Promise<never>((_, reject) => {
    this.#capHit = () => reject(new Error(`the request cap (${REQUEST_CAP}) was reached in phase ${phase}`));
  });

  constructor() {
    this.deadline = Date.now() + DEADLINE_MS;
    this.#deadlineHit = new Promise<never>((_, reject) => {
      this.#timer = setTimeout(() => reject(new Error(`deadline of ${DEADLINE_MS} ms reached in phase ${phase}`)), DEADLINE_MS);
      this.#timer.unref();
    });
    this.#deadlineHit.catch(() => {});
    this.#capReached.catch(() => {});
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.stopped = true;
  }

  /** A bounded wait: rejects at the scenario deadline or when the request cap stops the lanes. */
  within<T>(p: Promise<T>, what: string): Promise<T> {
    const stop = Promise.race([this.#deadlineHit, this.#capReached]);
    return Promise.race([p, stop.catch((e: Error) => Promise.reject(new Error(`${e.message} while waiting for ${what}`)))]);
  }

  /** Resolves once `n` more requests have finished (answered or failed). */
  more(n: number): Promise<void> {
    const target = this.finished + n;
    return this.within(new Promise<void>((resolve) => this.#waiters.push({ target, resolve })), `${n} more requests (phase ${phase})`);
  }

  lane(name: string): { ok: number; resends: number; cut: number; failed: number } {
    let s = this.perLane.get(name);
    if (s === undefined) this.perLane.set(name, (s = { ok: 0, resends: 0, cut: 0, failed: 0 }));
    return s;
  }

  resend(lane: string, code: string): void {
    this.resends.push({ lane, phase, code, at: Date.now() });
    this.lane(lane).resends++;
  }

  #finish(): void {
    this.finished++;
    this.perPhase.set(phase, (this.perPhase.get(phase) ?? 0) + 1);
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      if (this.finished >= this.#waiters[i]!.target) this.#waiters.splice(i, 1)[0]!.resolve();
    }
  }

  ok(lane: string, a: Answer, startPhase: Phase): void {
    if (!a.complete || !BACKENDS.includes(a.endpoint) || a.content !== answer(a.endpoint, TOKENS)) {
      this.fail(lane, startPhase, `incomplete answer from ${JSON.stringify(a.endpoint)}: ${JSON.stringify(a.content)}${a.complete ? '' : ' (no final chunk)'}`);
      return;
    }
    this.lane(lane).ok++;
    this.servedBy.set(`${phase}:${a.endpoint}`, (this.servedBy.get(`${phase}:${a.endpoint}`) ?? 0) + 1);
    this.#finish();
  }

  /**
   * A cut is tolerated only as a request under way at a hard kill, ended the way it must be. For
   * the worker kill, "under way" means started in any phase before it: the phase just before
   * (backend-back) can be a few ms long, and a stream begun in backend-down may still be running.
   */
  cut(lane: string, startPhase: Phase, c: CutMidAnswer): void {
    const kill = phase === 'backend-down' && startPhase === 'warmup' && c.how === 'protocol-error' && c.endpoint === this.victim ? 'backend'
      : phase === 'worker-kill' && startPhase !== 'worker-kill' && c.how === 'connection-closed' ? 'worker' : null;
    if (kill === null) {
      this.fail(lane, startPhase, c.message);
      return;
    }
    this.cuts.push({ lane, kill, how: c.how, endpoint: c.endpoint, at: Date.now() });
    this.lane(lane).cut++;
    this.#finish();
  }

  fail(lane: string, startPhase: Phase, reason: string): void {
    this.failures.push({ lane, startPhase, phase, reason, at: Date.now() });
    this.lane(lane).failed++;
    this.#finish();
  }

  /** Runs `once` in a loop until the load stops; resends once only on NoResponse. */
  async run(lane: string, once: () => Promise<Answer>, resendOnce: boolean): Promise<void> {
    for (;;) {
      if (this.stopped || Date.now() >= this.deadline) return;
      if (this.started >= REQUEST_CAP) {
        this.#capHit();
        return;
      }
      this.started++;
      const startPhase = phase;
      try {
        let a: Answer;
        try {
          a = await once();
        } catch (err) {
          if (!resendOnce || !(err instanceof NoResponse)) throw err;
          this.resend(lane, err.code);
          a = await once();
        }
        this.ok(lane, a, startPhase);
      } catch (err) {
        if (err instanceof CutMidAnswer) this.cut(lane, startPhase, err);
        else this.fail(lane, startPhase, describe(err));
      }
    }
  }
}

/**
 * The openai client with its defaults (maxRetries: 2), behind a fetch that records every attempt:
 * an attempt that failed at the connection level before any response is a resend (the client
 * retries it); an error status or a timeout is a failure even if the client retried it into a
 * success.
 */
function openaiLane(load: Load, corral: CorralProcess, lane: string, stream: boolean): () => Promise<void> {
  const attemptFailures: string[] = [];
  const ai = new OpenAI({
    baseURL: `${corral.url}/v1`,
    apiKey: 'unused',
    timeout: REQUEST_TIMEOUT_MS,
    fetch: async (input: any, init?: any) => {
      try {
        const res = await fetch(input, init);
        if (!res.ok) attemptFailures.push(`HTTP ${res.status} (${res.headers.get('x-corral-endpoint') ?? 'no endpoint'})`);
        return res;
      } catch (err) {
        const code = connectionCode(err);
        if (code !== null) load.resend(lane, code);
        else attemptFailures.push(describe(err));
        throw err;
      }
    },
  });
  const once = async (): Promise<Answer> => {
    attemptFailures.length = 0;
    const failedAttempts = (): Error => new Error(`an attempt failed, whatever the client did next: ${attemptFailures.join('; ')}`);
    let endpoint = '';
    let a: Answer;
    try {
      if (stream) {
        const { data, response } = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }).withResponse();
        endpoint = response.headers.get('x-corral-endpoint') ?? '';
        let content = '';
        let finished = false;
        try {
          for await (const chunk of data) {
            content += chunk.choices[0]?.delta.content ?? '';
            if (chunk.choices[0]?.finish_reason) finished = true;
          }
        } catch (err) {
          // corral's own error event, parsed as such: a SyntaxError means the event was glued
          // onto a partial one (a regression in how corral ends a broken stream).
          throw cutFrom(err, endpoint, err instanceof OpenAI.APIError && err.code === 'CORRAL_ERR_UPSTREAM');
        }
        a = { endpoint, content, complete: finished };
      } else {
        const { data, response } = await ai.chat.completions.create({ model: MODEL, messages: HI }).withResponse();
        a = { endpoint: response.headers.get('x-corral-endpoint') ?? '', content: data.choices[0]?.message.content ?? '', complete: data.choices[0]?.finish_reason != null };
      }
    } catch (err) {
      if (attemptFailures.length > 0) throw failedAttempts();
      throw err;
    }
    if (attemptFailures.length > 0) throw failedAttempts();
    return a;
  };
  return () => load.run(lane, once, false);
}

/** The ollama client behind a fetch that tells a failure before the response from one after it. */
function ollamaLane(load: Load, corral: CorralProcess, lane: string, kind: 'chat-stream' | 'generate'): () => Promise<void> {
  let headers: Headers | null = null;
  let before: unknown = null;
  const client = new Ollama({
    host: corral.url,
    fetch: async (input, init) => {
      const signal = init?.signal ? AbortSignal.any([init.signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]) : AbortSignal.timeout(REQUEST_TIMEOUT_MS);
      try {
        const res = await fetch(input, { ...init, signal });
        headers = res.headers;
        return res;
      } catch (err) {
        before = err;
        throw err;
      }
    },
  });
  const once = async (): Promise<Answer> => {
    headers = null;
    before = null;
    const endpoint = (): string => (headers as Headers | null)?.get('x-corral-endpoint') ?? '';
    try {
      if (kind === 'generate') {
        const r = await client.generate({ model: MODEL, prompt: 'hi' });
        return { endpoint: endpoint(), content: r.response ?? '', complete: r.done === true };
      }
      let content = '';
      let done = false;
      for await (const part of await client.chat({ model: MODEL, messages: HI, stream: true })) {
        content += part.message.content;
        if (part.done) done = true;
      }
      return { endpoint: endpoint(), content, complete: done };
    } catch (err) {
      if (headers === null) {
        const code = before !== null ? connectionCode(before) : null;
        if (code !== null) throw new NoResponse(code, err);
        throw err;
      }
      // The ollama client raises a final NDJSON {"error": …} line as a plain Error with its
      // message, into which corral writes its code; a line glued onto a partial one would be
      // skipped by the client ("invalid json", counted below) and end in "Did not receive done".
      const protocolError = (err as any)?.name === 'Error' && /\(CORRAL_ERR_UPSTREAM\)$/.test(String((err as Error).message));
      throw cutFrom(err, endpoint(), protocolError);
    }
  };
  return () => load.run(lane, once, true);
}

/** undici Pool (keep-alive, as a service calling corral would): OpenAI JSON or Ollama NDJSON stream. */
function undiciLane(load: Load, corral: CorralProcess, lane: string, kind: 'openai' | 'ollama-stream'): { run: () => Promise<void>; pool: Pool } {
  const pool = new Pool(corral.url, { connections: 2, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
  const once = async (): Promise<Answer> => {
    const path = kind === 'openai' ? '/v1/chat/completions' : '/api/chat';
    let res;
    try {
      res = await pool.request({
        path, method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: HI, stream: kind !== 'openai' }),
      });
    } catch (err) {
      // request() rejects only before the response head was received.
      const code = connectionCode(err);
      if (code !== null) throw new NoResponse(code, err);
      throw err;
    }
    const endpoint = String(res.headers['x-corral-endpoint'] ?? '');
    let text: string;
    try {
      text = await res.body.text();
    } catch (err) {
      throw cutFrom(err, endpoint, false);
    }
    if (res.statusCode !== 200) throw new Error(`HTTP ${res.statusCode}: ${text.slice(0, 300)}`);
    if (kind === 'openai') {
      const doc = JSON.parse(text);
      return { endpoint, content: doc.choices?.[0]?.message?.content ?? '', complete: doc.choices?.[0]?.finish_reason != null };
    }
    let content = '';
    let done = false;
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      const part = JSON.parse(line);
      if (part.error !== undefined) throw cutFrom(new Error(`NDJSON error line: ${JSON.stringify(part.error)}`), endpoint, part.code === 'CORRAL_ERR_UPSTREAM');
      content += part.message?.content ?? '';
      if (part.done === true) done = true;
    }
    return { endpoint, content, complete: done };
  };
  return { run: () => load.run(lane, once, true), pool };
}

/** /internal/status from the management listener (the primary), unaffected by worker deaths. */
async function status(corral: CorralProcess): Promise<any> {
  const res = await request(`http://127.0.0.1:${corral.managementPort}/internal/status`, { headersTimeout: 5000, bodyTimeout: 5000 });
  return res.body.json();
}

/** Polls status (bounded by the scenario deadline) until `ok` holds; resolves with that status. */
async function statusUntil(load: Load, corral: CorralProcess, what: string, ok: (st: any) => boolean): Promise<any> {
  return load.within((async () => {
    for (;;) {
      const st = await status(corral);
      if (ok(st)) return st;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  })(), what);
}

t.test('zero failed requests through a backend death, a worker SIGKILL and a SIGHUP roll', async (t) => {
  const sims = await startBackends(t, BACKENDS.map((name) => ({ name, tokens: TOKENS, tokensPerSecond: 200 })));
  const corral = await startCorral(t, sims, { config: { server: { workers: 2 } } });
  t.ok(corral.managementPort, 'management listener up');
  const initial = await status(corral);
  t.equal(initial.workers.length, 2, 'two workers');
  t.ok(initial.workers.every((w: any) => w.state === 'listening'), 'both listening');
  let allHealthy = false;
  for (const until = Date.now() + 10_000; !allHealthy && Date.now() < until;) {
    allHealthy = (await status(corral)).endpoints.every((e: any) => e.state === 'healthy');
    if (!allHealthy) await new Promise((resolve) => setTimeout(resolve, 25));
  }
  t.ok(allHealthy, 'the three endpoints are healthy before the load starts');

  const load = new Load();
  t.teardown(() => load.dispose());
  // The ollama client skips a line it cannot parse with this warning and reads on: a broken line
  // (corral's error glued onto a partial one) would otherwise pass unnoticed.
  const brokenLines: string[] = [];
  const warn = console.warn;
  console.warn = (...args: unknown[]) => {
    if (args[0] === 'invalid json: ') brokenLines.push(String(args[1]).slice(0, 300));
    else warn(...args);
  };
  t.teardown(() => {
    console.warn = warn;
  });
  const undiciJson = undiciLane(load, corral, 'undici-openai', 'openai');
  const undiciNdjson = undiciLane(load, corral, 'undici-ollama-stream', 'ollama-stream');
  t.teardown(() => Promise.all([undiciJson.pool.destroy(), undiciNdjson.pool.destroy()]));
  const lanes = [
    openaiLane(load, corral, 'openai', false),
    openaiLane(load, corral, 'openai-stream', true),
    ollamaLane(load, corral, 'ollama-chat-stream', 'chat-stream'),
    ollamaLane(load, corral, 'ollama-generate', 'generate'),
    undiciJson.run,
    undiciNdjson.run,
  ];
  const marks: string[] = [];
  const t0 = Date.now();
  const mark = (what: string): void => {
    marks.push(`+${Date.now() - t0} ms  [${load.finished} done] ${what}`);
  };
  const running = Promise.all(lanes.map((run) => run()));

  let scenarioError: unknown = null;
  try {
    // (1) warm-up
    mark('load started');
    await load.more(STEP);

    // (2) one backend hard-stopped, later restarted
    const victim = sims[1]!;
    const down = corral.nextLog((l) => l.msg === 'endpoint down' && l.endpoint === victim.name);
    phase = 'backend-down';
    mark(`stopping backend ${victim.name}`);
    load.victim = victim.name;
    await victim.stop();
    await load.within(down, `'endpoint down' for ${victim.name}`);
    mark(`'endpoint down' ${victim.name}`);
    await load.more(STEP);
    const healthy = corral.nextLog((l) => l.msg === 'endpoint healthy' && l.endpoint === victim.name);
    phase = 'backend-back';
    mark(`restarting backend ${victim.name}`);
    await victim.restart();
    await load.within(healthy, `'endpoint healthy' for ${victim.name}`);
    mark(`'endpoint healthy' ${victim.name}`);

    // (3) a worker SIGKILLed: the primary respawns it
    const before = await status(corral);
    const killed = before.workers.find((w: any) => w.state === 'listening');
    const died = corral.nextLog((l) => l.msg === 'worker died; respawning' && l.pid === killed.pid);
    phase = 'worker-kill';
    mark(`SIGKILL worker pid ${killed.pid} (slot ${killed.slot})`);
    process.kill(killed.pid, 'SIGKILL');
    await load.within(died, `'worker died; respawning' for pid ${killed.pid}`);
    mark(`'worker died; respawning' pid ${killed.pid}`);
    const respawned = await statusUntil(load, corral, 'a new listening worker in the killed seat', (st) =>
      st.workers.length === 2 && st.workers.every((w: any) => w.state === 'listening' && w.pid !== killed.pid));
    const replacement = respawned.workers.find((w: any) => w.slot === killed.slot);
    t.ok(replacement !== undefined && replacement.restarts === 1, 'the killed seat has a respawned worker (1 restart)');
    mark(`seat ${killed.slot} listening again (pid ${replacement?.pid})`);

    // (4) SIGHUP: the workers are rolled one by one
    const oldPids = respawned.workers.map((w: any) => w.pid);
    const reloaded = corral.nextLog((l) => l.msg === 'reloaded');
    phase = 'reload';
    mark('SIGHUP');
    corral.child.kill('SIGHUP');
    await load.within(reloaded, "'reloaded'");
    mark("'reloaded'");
    const rolled = await statusUntil(load, corral, 'two listening workers after the roll', (st) =>
      st.workers.length === 2 && st.workers.every((w: any) => w.state === 'listening'));
    t.ok(rolled.workers.every((w: any) => !oldPids.includes(w.pid)), `every worker was replaced by the roll (${oldPids.join(',')} -> ${rolled.workers.map((w: any) => w.pid).join(',')})`);

    // (5) more load on the rolled workers, then stop
    phase = 'after';
    await load.more(STEP);
    mark('stopping the load');
  } catch (err) {
    scenarioError = err;
  }
  load.stopped = true;
  await running;
  load.dispose();
  mark('load stopped');

  const phases = [...load.perPhase].map(([p, n]) => `${p}=${n}`).join(' ');
  t.comment(`scenario:\n  ${marks.join('\n  ')}`);
  t.comment(`requests: ${load.started} sent, ${load.finished} finished (${phases}); by lane: ${[...load.perLane].map(([l, s]) => `${l} ok=${s.ok} resends=${s.resends} cut=${s.cut} failed=${s.failed}`).join('; ')}`);
  t.comment(`served by phase:endpoint: ${[...load.servedBy].map(([k, n]) => `${k}=${n}`).join(' ')}`);
  t.comment(`resends (connection failed before any response, request sent again): ${load.resends.length}${load.resends.map((r) => `\n  +${r.at - t0} ms ${r.phase} ${r.lane} ${r.code}`).join('')}`);
  t.comment(`cut after the response head by a hard kill (not resent): ${load.cuts.length}${load.cuts.map((c) => `\n  +${c.at - t0} ms ${c.kill} kill, ${c.lane} (${c.how}, endpoint ${c.endpoint})`).join('')}`);
  if (load.failures.length > 0) t.comment(`failures:${load.failures.slice(0, 40).map((f) => `\n  +${f.at - t0} ms ${f.startPhase}->${f.phase} ${f.lane}: ${f.reason}`).join('')}`);

  t.equal(scenarioError, null, 'the scenario ran to the end within the deadline and the request cap', { error: scenarioError === null ? undefined : describe(scenarioError) });
  t.ok(load.finished >= 4 * STEP, `${load.finished} requests went through the scenario`);
  t.equal(load.failures.length, 0, 'zero failed requests');
  t.same(brokenLines, [], 'the ollama client never met a broken NDJSON line');
  for (const kill of ['backend', 'worker'] as const) {
    const lanesCut = load.cuts.filter((c) => c.kill === kill).map((c) => c.lane);
    t.equal(new Set(lanesCut).size, lanesCut.length, `${kill} kill: at most the one request each lane had under way was cut (${lanesCut.length})`);
  }
  const outside = load.resends.filter((r) => r.phase !== 'worker-kill');
  t.same(outside, [], 'resends only while a SIGKILLed worker was being replaced: the backend kill and the roll are invisible');
  t.ok((load.servedBy.get(`after:${sims[1]!.name}`) ?? 0) > 0, 'the restarted backend is back in rotation after the roll');
});
