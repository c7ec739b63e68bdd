// GPU-aware placement (issue 11) through real processes: corral with 2 workers in front of
// simulated Ollama servers that have a GPU (a vRAM budget, loads that take time, one at a time).
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { APIError } from 'openai';
import { Agent, request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { openaiClient, ollamaClient } from '../helpers/clients.js';
import { header, send, workerOf } from '../helpers/http.js';
import { until } from '../helpers/wait.js';
import type { SimBackend } from '../fixtures/sim-backend.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const QUICK = { tokens: 2 };

/** One non-streamed Ollama chat on a connection of its own (so SO_REUSEPORT spreads them over the workers). */
async function chat(corral: CorralProcess, model: string, extra: Record<string, unknown> = {}): Promise<{ status: number; body: any; endpoint: string; worker: string }> {
  const dispatcher = new Agent({ connections: 1, pipelining: 0 });
  try {
    const res = await request(`${corral.url}/api/chat`, {
      method: 'POST', dispatcher, headers: { 'content-type': 'application/json', connection: 'close' },
      body: JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: false, ...extra }),
    });
    const text = await res.body.text();
    return { status: res.statusCode, body: JSON.parse(text), endpoint: header(res.headers, 'x-corral-endpoint'), worker: workerOf(res.headers) };
  } finally {
    await dispatcher.close();
  }
}

function loadsOf(sim: SimBackend, model: string): number {
  return sim.stats.loadsByModel[model] ?? 0;
}

t.test('20 concurrent requests for a cold model over both workers: exactly one load, all 20 served from it', async (t) => {
  const sims = await startBackends(t, [
    { name: 'gpu-a', preload: false, vramBytes: 8 * GiB, loadMsPerGiB: 400, ...QUICK, models: [{ name: 'qwen2.5:7b', sizeBytes: 2 * GiB }] },
    { name: 'gpu-b', preload: false, vramBytes: 8 * GiB, loadMsPerGiB: 400, ...QUICK, models: [{ name: 'qwen2.5:7b', sizeBytes: 2 * GiB }] },
  ]);
  const corral = await startCorral(t, sims, {
    config: { models: { estimate_factor: 1 } },
    endpoints: sims.map((s) => ({ name: s.name, type: 'ollama', vram: '8GiB', vram_reserve: '0%' })),
  });
  const answers = await Promise.all(Array.from({ length: 20 }, () => chat(corral, 'qwen2.5:7b')));
  t.same(answers.map((a) => a.status), Array(20).fill(200), 'all 20 served');
  t.equal(loadsOf(sims[0]!, 'qwen2.5:7b') + loadsOf(sims[1]!, 'qwen2.5:7b'), 1, 'exactly one load in all');
  const loadedOn = loadsOf(sims[0]!, 'qwen2.5:7b') === 1 ? 'gpu-a' : 'gpu-b';
  t.same(new Set(answers.map((a) => a.endpoint)), new Set([loadedOn]), 'every answer came from the endpoint that loaded it');
  t.ok(new Set(answers.map((a) => a.worker)).size > 1, 'the requests reached both workers');
  const status = await corral.status();
  t.match(status.placement, { mode: 'warm-first', loads: 1, load_failures: 0, evictions: 0 });
  const ep = status.endpoints.find((e: any) => e.name === loadedOn);
  t.match(ep.residents, [{ model: 'qwen2.5:7b', size_vram: 2 * GiB, inflight: 0, pinned: false }], 'the resident model, in /internal/status');
  t.match(ep.vram, { total_bytes: 8 * GiB, reserve_bytes: 0, used_bytes: 2 * GiB, free_bytes: 6 * GiB, source: 'config' });
  const next = await chat(corral, 'qwen2.5:7b');
  t.equal(next.endpoint, loadedOn, 'warm first: the next request goes where the model is');
  t.equal(loadsOf(sims[0]!, 'qwen2.5:7b') + loadsOf(sims[1]!, 'qwen2.5:7b'), 1, 'and loads nothing');
});

t.test('eviction never touches a busy or a pinned model (a request for a model that fits only in their place waits for them); a model that fits nowhere is a 503 in both dialects', async (t) => {
  const models = ['a', 'b', 'c'].map((n) => ({ name: `${n}:1b`, sizeBytes: 1.5 * GiB })).concat([{ name: 'huge:70b', sizeBytes: 5 * GiB }]);
  // 20 tokens a second: a stream asking for 1000 holds its model for as long as the test needs.
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, vramBytes: 4 * GiB, loadMsPerGiB: 20, tokensPerSecond: 20, ...QUICK, models }]);
  const corral = await startCorral(t, [sim!], {
    config: { models: { estimate_factor: 1, pinned: ['b:1b'] } },
    endpoints: [{ name: 'gpu', type: 'ollama', vram: '4GiB', vram_reserve: '0%' }],
  });
  t.equal((await chat(corral, 'a:1b')).status, 200);
  t.equal((await chat(corral, 'b:1b')).status, 200);
  t.same(sim!.gpu().resident.map((r) => r.name).sort(), ['a:1b', 'b:1b'], 'a and b resident: 3 GiB of 4');
  // a busy: a slow stream holds it. b pinned. c (1.5 GiB) fits only if one of them goes.
  const ai = openaiClient(corral);
  const busy = await ai.chat.completions.create({ model: 'a:1b', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 1000 });
  const it = busy[Symbol.asyncIterator]();
  await it.next();
  await until('a counted in flight', async () => (await corral.status()).models.find((m: any) => m.name === 'a:1b').endpoints[0].inflight === 1);
  const waiting = send(corral, 'POST', '/api/chat', JSON.stringify({ model: 'c:1b', messages: [{ role: 'user', content: 'hi' }], stream: false }));
  await until('c waits in its queue', async () => (await corral.status()).models.find((m: any) => m.name === 'c:1b').queue.depth === 1);
  t.same(sim!.gpu().resident.map((r) => r.name).sort(), ['a:1b', 'b:1b'], 'nothing was evicted while a is busy');
  t.equal(sim!.stats.unloads + sim!.stats.evictions, 0);
  await busy.controller.abort();
  const c = await waiting;
  t.ok(header(c.headers, 'x-corral-queue-wait') !== '', 'c waited in the queue (X-Corral-Queue-Wait)');
  t.equal(c.status, 200, 'c served once a is idle');
  t.same(sim!.gpu().resident.map((r) => r.name).sort(), ['b:1b', 'c:1b'], 'a (idle, least recently used) made room; b (pinned) stayed');
  t.equal(sim!.stats.unloads, 1, 'corral unloaded exactly one model');
  t.match((await corral.status()).placement, { evictions: 1 });
  // Bigger than the whole GPU: no eviction could help, in either dialect.
  const ollama = ollamaClient(corral);
  const tooBig = await ollama.client.chat({ model: 'huge:70b', messages: [{ role: 'user', content: 'hi' }] }).catch((e: Error) => e);
  t.match(String((tooBig as Error).message), /no endpoint has room for "huge:70b": it needs about 5\.0 GiB/, 'the ollama client sees the reason');
  const tooBigAi = await ai.chat.completions.create({ model: 'huge:70b', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
  t.ok(tooBigAi instanceof APIError && tooBigAi.status === 503 && tooBigAi.code === 'CORRAL_ERR_NO_CAPACITY');
  t.same(sim!.gpu().resident.map((r) => r.name).sort(), ['b:1b', 'c:1b'], 'and nothing was evicted for it');
});

t.test('a failed load reaches every request waiting for it as a clear error', async (t) => {
  const models = [{ name: 'slow:7b', sizeBytes: 2 * GiB }, { name: 'flaky:1b', sizeBytes: 1 * GiB }];
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, loadMsPerGiB: 400, ...QUICK, models }]);
  const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'gpu', type: 'ollama' }] });
  // The endpoint is busy loading slow:7b for 800 ms: flaky:1b's load is queued behind it, and
  // every request for it in that time joins that one load.
  const loading = new Promise<void>((resolve) => sim!.once('loading', () => resolve()));
  const first = chat(corral, 'slow:7b');
  await loading;
  sim!.setFault({ mode: 'load-fail', count: 1 });
  const waiters = await Promise.all(Array.from({ length: 6 }, () => chat(corral, 'flaky:1b')));
  for (const w of waiters) {
    t.equal(w.status, 502);
    t.match(w.body, { error: /loading "flaky:1b" on endpoint gpu failed: HTTP 500: llama runner process has terminated: simulated load failure/, code: 'CORRAL_ERR_MODEL_LOAD' });
  }
  t.equal(sim!.stats.loadFailures, 1, 'one load failed, and all six heard it');
  t.equal((await first).status, 200, 'the other model was unaffected');
  t.equal((await chat(corral, 'flaky:1b')).status, 200, 'the next request loads it afresh');
});

t.test('prewarm at start (every endpoint listing the model) and again when a restarted backend comes back with an empty GPU', async (t) => {
  const models = [{ name: 'warm:3b', sizeBytes: 1 * GiB }, { name: 'cold:1b', sizeBytes: 1 * GiB }];
  const [sim, other] = await startBackends(t, [{ name: 'gpu', preload: false, ...QUICK, models }, { name: 'gpu-2', preload: false, ...QUICK, models }]);
  const corral = await startCorral(t, [sim!, other!], {
    config: { models: { prewarm: [{ model: 'warm:3b', keep_alive: -1 }] } },
    endpoints: [{ name: 'gpu', type: 'ollama' }, { name: 'gpu-2', type: 'ollama' }],
  });
  await until('prewarmed at start on both', () => loadsOf(sim!, 'warm:3b') === 1 && loadsOf(other!, 'warm:3b') === 1);
  t.same(sim!.gpu().resident.map((r) => r.name), ['warm:3b']);
  t.same(other!.gpu().resident.map((r) => r.name), ['warm:3b']);
  // A restart: the process is gone (connections refused), its GPU empty when it is back.
  await sim!.stop();
  await corral.nextLog((l) => l.msg === 'endpoint down');
  sim!.setModels([]);
  sim!.setModels(models);
  t.same(sim!.gpu().resident, [], 'the restarted backend has nothing loaded');
  await sim!.restart();
  await until('prewarmed again after the restart', () => loadsOf(sim!, 'warm:3b') === 2, 15_000);
  t.same(sim!.gpu().resident.map((r) => r.name), ['warm:3b']);
  t.equal(loadsOf(other!, 'warm:3b'), 1, 'the other endpoint, still warm, was left alone');
  t.equal(loadsOf(sim!, 'cold:1b') + loadsOf(other!, 'cold:1b'), 0, 'only what prewarm lists');
});

t.test('a fake nvidia-smi on PATH gives an endpoint with gpus its vRAM total and the memory others use', async (t) => {
  const bin = mkdtempSync(join(tmpdir(), 'corral-nvsmi-'));
  t.teardown(() => rmSync(bin, { recursive: true, force: true }));
  const script = join(bin, 'nvidia-smi');
  // The real format of --query-gpu=index,memory.total,memory.used --format=csv,noheader,nounits.
  writeFileSync(script, '#!/bin/sh\nprintf "0, 24576, 3000\\n1, 24576, 1000\\n2, [N/A], [N/A]\\n"\n');
  chmodSync(script, 0o755);
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, ...QUICK, models: [{ name: 'm:1b', sizeBytes: 1 * GiB }] }]);
  const corral = await startCorral(t, [sim!], {
    env: { PATH: `${bin}:${process.env.PATH}` },
    config: { models: { refresh_interval: '200ms' } },
    endpoints: [{ name: 'gpu', type: 'ollama', gpus: [0, 1] }],
  });
  let ep: any;
  await until('vRAM read from nvidia-smi', async () => {
    ep = (await corral.status()).endpoints[0];
    return ep.vram?.source === 'nvidia-smi';
  });
  t.match(ep.vram, { total_bytes: 49152 * MiB, reserve_bytes: Math.round(49152 * MiB * 0.1), used_bytes: 4000 * MiB, other_bytes: 4000 * MiB, error: null },
    'GPUs 0 and 1 summed; the 4000 MiB in use belong to no resident model');
  t.equal((await chat(corral, 'm:1b')).status, 200);
  await until('the resident model counted', async () => (await corral.status()).endpoints[0].vram.other_bytes === (4000 - 1024) * MiB);
  t.match((await corral.status()).endpoints[0].vram, { used_bytes: 4000 * MiB }, 'used: the model\'s 1 GiB plus what nvidia-smi sees beyond it');
});

t.test('the vRAM a model was seen to need survives a restart (state.file)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'corral-needs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const spec = { name: 'gpu', preload: false, ...QUICK, kvBytesPerCtxToken: 65536, models: [{ name: 'm:7b', sizeBytes: 4 * GiB }] };
  const config = { state: { file: join(dir, 'state.msgpack') } };
  const endpoints = [{ name: 'gpu', type: 'ollama' }];
  const [sim] = await startBackends(t, [spec]);
  const first = await startCorral(t, [sim!], { config, endpoints });
  const before = (await first.status()).models.find((m: any) => m.name === 'm:7b');
  t.match(before, { need_bytes: Math.ceil(4 * GiB * 1.2), need_source: 'estimate' }, 'never seen: size on disk × estimate_factor');
  t.equal((await chat(first, 'm:7b', { options: { num_ctx: 8192 } })).status, 200);
  const learned = 4 * GiB + 65536 * 8192;
  await until('learned from /api/ps, facts from /api/show', async () => {
    const m = (await first.status()).models.find((x: any) => x.name === 'm:7b');
    return m.need_source === 'learned' && m.max_context !== null;
  });
  t.match((await first.status()).models.find((m: any) => m.name === 'm:7b'), { need_bytes: learned, max_context: 131072, family: 'm' });
  t.same((await first.stop()).code, 0);
  const [fresh] = await startBackends(t, [{ ...spec, name: 'gpu' }]);
  const second = await startCorral(t, [fresh!], { config, endpoints });
  t.same(fresh!.gpu().resident, [], 'nothing resident anywhere now');
  t.match((await second.status()).models.find((m: any) => m.name === 'm:7b'), { need_bytes: learned, need_source: 'learned' },
    'the restarted corral still knows what it takes');
});

t.test('prefetch: after a request for A, the model that usually follows A is loaded where it fits; asking for it is a hit', async (t) => {
  const models = [{ name: 'a:1b', sizeBytes: 1 * GiB }, { name: 'b:1b', sizeBytes: 1 * GiB }];
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, vramBytes: 8 * GiB, loadMsPerGiB: 150, ...QUICK, models }]);
  const corral = await startCorral(t, [sim!], {
    config: { models: { prefetch: { enabled: true, window: 50, confidence: 0.6 } } },
    endpoints: [{ name: 'gpu', type: 'ollama', vram: '8GiB' }],
  });
  // The pattern a → b, b unloaded after each use (keep_alive 0).
  for (let i = 0; i < 6; i++) {
    t.equal((await chat(corral, 'a:1b')).status, 200);
    t.equal((await chat(corral, 'b:1b', { keep_alive: 0 })).status, 200);
  }
  // Whatever a prefetch did meanwhile, b leaves the GPU, and corral sees it go.
  await until('no load running', () => sim!.gpu().loading === null);
  await request(`${sim!.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'b:1b', keep_alive: 0 }) }).then((r) => r.body.dump());
  await until('corral sees b gone', async () => !(await corral.status()).endpoints[0].residents.some((r: any) => r.model === 'b:1b'));
  const prefetched = corral.nextLog((l) => l.msg === 'prefetching a model' && l.model === 'b:1b');
  t.equal((await chat(corral, 'a:1b')).status, 200);
  await prefetched;
  await until('b resident before anyone asks', () => sim!.gpu().resident.some((r) => r.name === 'b:1b') && sim!.gpu().loading === null);
  const loadsBefore = loadsOf(sim!, 'b:1b');
  t.equal((await chat(corral, 'b:1b')).status, 200);
  t.equal(loadsOf(sim!, 'b:1b'), loadsBefore, 'the request found b loaded');
  await until('the hit counted', async () => (await corral.status()).placement.prefetch.hits >= 1);
  // A prefetch of b during the loop that the test's own unload then threw away counts as a miss.
  const prefetch = (await corral.status()).placement.prefetch;
  t.match(prefetch, { enabled: true, issued: Number, hits: Number, misses: Number });
  t.ok(prefetch.hits + prefetch.misses <= prefetch.issued, 'every hit or miss is a prefetch issued');
});

t.test('two cold models asked for at once that do not fit together: never planned into the same space', async (t) => {
  const models = [{ name: 'x:7b', sizeBytes: 4.5 * GiB }, { name: 'y:7b', sizeBytes: 4.5 * GiB }];
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, vramBytes: 8 * GiB, loadMsPerGiB: 200, tokensPerSecond: 20, tokens: 6, models }]);
  const corral = await startCorral(t, [sim!], {
    config: { models: { estimate_factor: 1 } },
    endpoints: [{ name: 'gpu', type: 'ollama', vram: '8GiB', vram_reserve: '0%' }],
  });
  // x's load is claimed first; y then sees its 4.5 GiB promised and x (loading, then busy) not evictable.
  const loading = new Promise<void>((resolve) => sim!.once('loading', () => resolve()));
  const xs = Array.from({ length: 3 }, () => chat(corral, 'x:7b'));
  await loading;
  const ys = await Promise.all(Array.from({ length: 3 }, () => chat(corral, 'y:7b')));
  for (const y of ys) {
    t.match(y, { status: 503, body: { code: 'CORRAL_ERR_NO_CAPACITY', error: /no endpoint has room for "y:7b": it needs about 4\.5 GiB of vRAM; the largest free space is 3\.5 GiB/ } },
      'refused at once (the space is promised to a load, not held by requests that will end), not after a wasted load');
  }
  t.same((await Promise.all(xs)).map((x) => x.status), [200, 200, 200]);
  t.equal(sim!.stats.loads, 1, 'only x was loaded');
  t.equal(sim!.stats.loadFailures + sim!.stats.evictions, 0);
  // Once x is idle, y takes its place.
  t.equal((await chat(corral, 'y:7b')).status, 200);
  t.same(sim!.gpu().resident.map((r) => r.name), ['y:7b']);
});

t.test('requests beyond max_concurrency after a load never evict another model to make a copy', async (t) => {
  const models = [{ name: 'hot:7b', sizeBytes: 4 * GiB }, { name: 'other:7b', sizeBytes: 5 * GiB }];
  const sims = await startBackends(t, [
    { name: 'gpu-a', preload: false, vramBytes: 6 * GiB, loadMsPerGiB: 100, tokensPerSecond: 20, tokens: 6, models },
    { name: 'gpu-b', preload: false, vramBytes: 6 * GiB, loadMsPerGiB: 100, ...QUICK, models },
  ]);
  const corral = await startCorral(t, sims, {
    config: { models: { estimate_factor: 1 } },
    endpoints: sims.map((s) => ({ name: s.name, type: 'ollama', vram: '6GiB', vram_reserve: '0%', max_concurrency: 8, priority: s.name === 'gpu-a' ? 1 : 0 })),
  });
  // gpu-b holds another model, idle: a copy of hot:7b would have to evict it.
  const other = await chat(corral, 'other:7b');
  t.equal(other.status, 200);
  const fill = other.endpoint;
  const answers = await Promise.all(Array.from({ length: 12 }, () => chat(corral, 'hot:7b')));
  const ok = answers.filter((a) => a.status === 200);
  t.equal(loadsOf(sims[0]!, 'hot:7b') + loadsOf(sims[1]!, 'hot:7b'), 1, 'one load of the hot model');
  t.ok(sims.find((s) => s.name === fill)!.gpu().resident.some((r) => r.name === 'other:7b'), 'the other model was not evicted for a copy');
  t.equal(ok.length, 12, 'all twelve served: those beyond max_concurrency waited for a slot');
});
