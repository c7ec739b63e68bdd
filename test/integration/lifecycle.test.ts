// Process lifecycle (issue 2, "Processes"): a worker killed with SIGKILL is respawned while the
// other keeps serving; SIGTERM to the primary drains an in-flight stream to completion, refuses
// new connections and exits 0; inline mode (workers: 0) serves too.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Ollama } from 'ollama';
import { REPO_ROOT, startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { openaiClient } from '../helpers/clients.js';
import { freshRequest, header, workerOf } from '../helpers/http.js';
import { HI, MODEL } from '../helpers/sim.js';

interface Reply {
  status: number;
  endpoint: string;
  worker: string;
  body: string;
}

/** A request on its own connection (so a dead worker's kept-alive socket is never reused). */
async function fresh(corral: CorralProcess, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Reply> {
  const res = await freshRequest(corral, {
    path, method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, endpoint: header(res.headers, 'x-corral-endpoint'), worker: workerOf(res.headers), body: res.text };
}

const chatOnce = (corral: CorralProcess): Promise<Reply> =>
  fresh(corral, 'POST', '/api/chat', { model: MODEL, stream: false, messages: HI });

async function status(corral: CorralProcess): Promise<any> {
  return JSON.parse((await fresh(corral, 'GET', '/internal/status')).body);
}

/** The bundled CLI forks the bundled worker (scripts/bundle.mjs), not tsc's ES modules. */
const WORKER_BUNDLE = join(REPO_ROOT, 'dist', 'bundle', 'http-worker.cjs');

/** The script a node process runs: its argv[1], from /proc (Linux, where corral runs). */
function entryScript(pid: number): string {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[1] ?? '';
}

/** Resolves true once a TCP connect to the port is refused, false if still accepted at the deadline. */
async function refusedWithin(port: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const refused = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(false);
      });
      s.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
    });
    if (refused) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}

t.test('a worker killed with SIGKILL is respawned; the service keeps answering', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const corral = await startCorral(t, sims);

  const before = await status(corral);
  t.equal(before.workers.length, 2, 'two workers');
  t.ok(before.workers.every((w: any) => w.state === 'listening' && w.pid > 0), 'both listening');
  for (const w of before.workers) t.equal(entryScript(w.pid), WORKER_BUNDLE, `worker ${w.pid} runs the bundled worker`);
  const victim = before.workers[0];
  const survivor = before.workers[1];

  const died = corral.nextLog((l) => l.msg === 'worker died; respawning');
  process.kill(victim.pid, 'SIGKILL');
  const line = await died;
  t.equal(line.pid, victim.pid, 'the primary saw the killed worker die');
  t.equal(line.signal, 'SIGKILL');

  // Until the seat has a new listening worker, requests keep succeeding (served by the survivor).
  let duringGap = 0;
  let replaced: any = null;
  for (let i = 0; i < 400 && replaced === null; i++) {
    const r = await chatOnce(corral);
    if (r.status !== 200 || !r.body.includes('Hello from')) {
      t.fail(`request ${i} after the kill failed`, { reply: r });
      return;
    }
    duringGap++;
    const st = await status(corral);
    const seat = st.workers.find((w: any) => w.slot === victim.slot);
    if (seat !== undefined && seat.pid !== victim.pid && seat.pid > 0 && seat.state === 'listening') replaced = seat;
  }
  t.ok(duringGap >= 1, `${duringGap} requests answered while the worker was being replaced`);
  t.not(replaced, null, 'a new worker took the seat');
  if (replaced === null) return;
  t.equal(replaced.restarts, 1, 'the seat counts one restart');
  t.equal(entryScript(replaced.pid), WORKER_BUNDLE, 'the respawned worker runs the bundled worker too');
  const st = await status(corral);
  t.match(st.workers.find((w: any) => w.slot === survivor.slot), { pid: survivor.pid, state: 'listening', restarts: 0 }, 'the other worker was untouched');

  // The new worker serves too: keep opening connections until one lands on it (bounded).
  const workers = new Set<string>();
  for (let i = 0; i < 60 && workers.size < 2; i++) {
    const r = await chatOnce(corral);
    t.equal(r.status, 200);
    workers.add(r.worker);
  }
  t.equal(workers.size, 2, 'both workers (the survivor and the respawned one) serve requests');
});

t.test('SIGTERM drains an in-flight stream to completion, then exits 0', async (t) => {
  // 40 tokens at 20/s: a stream of about two seconds.
  const sims = await startBackends(t, [{ name: 'slow', tokensPerSecond: 20, tokens: 40 }]);
  const corral = await startCorral(t, sims);
  const completed: string[] = [];
  sims[0]!.on('completed', (path: string) => {
    if (path === '/api/chat' || path === '/v1/chat/completions') completed.push(path);
  });
  const ollama = new Ollama({ host: corral.url });
  const ai = openaiClient(corral, 30_000);

  const ollamaStream = await ollama.chat({ model: MODEL, messages: HI, stream: true });
  const openaiStream = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true });
  const ollamaIt = ollamaStream[Symbol.asyncIterator]();
  const openaiIt = openaiStream[Symbol.asyncIterator]();
  const firstOllama = await ollamaIt.next();
  const firstOpenai = await openaiIt.next();
  t.equal(firstOllama.done, false, 'ollama stream under way');
  t.equal(firstOpenai.done, false, 'openai stream under way');

  const shuttingDown = corral.nextLog((l) => l.msg.startsWith('shutting down'));
  corral.child.kill('SIGTERM');
  await shuttingDown;

  const drainOllama = (async () => {
    const parts = [firstOllama.value!];
    for (let n = await ollamaIt.next(); !n.done; n = await ollamaIt.next()) parts.push(n.value);
    return parts;
  })();
  const drainOpenai = (async () => {
    const chunks = [firstOpenai.value!];
    for (let n = await openaiIt.next(); !n.done; n = await openaiIt.next()) chunks.push(n.value);
    return chunks;
  })();

  t.ok(await refusedWithin(corral.port, 10_000), 'new connections are refused once draining');

  const parts = await drainOllama;
  t.equal(parts.length, 41, 'ollama: 40 tokens and the final line');
  t.equal(parts.at(-1)!.done, true, 'ollama: ends with done: true');
  t.equal(parts.at(-1)!.eval_count, 40);
  const chunks = await drainOpenai;
  const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
  t.ok(text.startsWith('Hello from slow') && text.endsWith(' token 39'), 'openai: the whole answer arrived');
  t.ok(chunks.at(-1)!.choices[0]?.finish_reason, 'openai: ends with a finish_reason (then [DONE] ended the iteration)');

  const exit = await corral.exited;
  t.same(exit, { code: 0, signal: null }, 'the primary exits 0');
  t.ok(corral.logs.some((l) => l.msg === 'stopped'), 'logged "stopped"');
  t.ok(await refusedWithin(corral.port, 1000), 'refused after exit');
  t.equal(sims[0]!.stats.aborted, 0, 'no upstream request was cut');
  t.same(completed.sort(), ['/api/chat', '/v1/chat/completions'], 'both upstream answers completed');
});

t.test('inline mode (workers: 0) serves requests', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const corral = await startCorral(t, sims, { config: { server: { workers: 0 } } });
  const st = await status(corral);
  t.equal(st.mode, 'inline');
  t.equal(st.pid, corral.child.pid, 'the primary itself answers');

  const ai = openaiClient(corral);
  const whole = await ai.chat.completions.create({ model: MODEL, messages: HI });
  t.match(whole.choices[0]?.message.content, /^Hello from [ab] token 1/);
  let streamed = '';
  for await (const c of await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true })) streamed += c.choices[0]?.delta.content ?? '';
  t.match(streamed, /^Hello from [ab] token 1 .* token 7$/);

  const ollama = new Ollama({ host: corral.url });
  const g = await ollama.generate({ model: MODEL, prompt: 'hi' });
  t.equal(g.done, true);
  const parts = [];
  for await (const p of await ollama.chat({ model: MODEL, messages: HI, stream: true })) parts.push(p);
  t.equal(parts.at(-1)?.done, true, 'ollama stream ends with done');

  const seen = new Set<string>();
  for (let i = 0; i < 20 && seen.size < 2; i++) seen.add((await chatOnce(corral)).endpoint);
  t.equal(seen.size, 2, 'both backends take traffic');

  const exit = await corral.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'inline mode stops cleanly on SIGTERM');
});
