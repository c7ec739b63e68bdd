// Admission-queue scenarios' shared pieces (admission*.test.ts): one simulated Ollama server
// behind corral with a single slot, connections that land on a chosen worker, and a request that
// holds the slot until released.
import { Client } from 'undici';
import { startBackends, startCorral, type CorralProcess } from './corral-process.js';
import { workerOf } from './http.js';
import { until } from './wait.js';
import type { SimBackend } from '../fixtures/sim-backend.js';

export const MODEL = 'llama3.2:1b';

/** Inference requests the backend received (its own count includes health probes and discovery). */
export function inferences(sim: SimBackend): number {
  return (sim.stats.byPath['/api/chat'] ?? 0) + (sim.stats.byPath['/api/generate'] ?? 0) + (sim.stats.byPath['/v1/chat/completions'] ?? 0);
}

export interface Started {
  sim: SimBackend;
  corral: CorralProcess;
}

/** One simulated Ollama server (both dialects) behind corral, one slot, the given queue settings. */
export async function oneSlot(t: { teardown(fn: () => unknown): void }, queue: Record<string, unknown>, sim: Record<string, unknown> = {}): Promise<Started> {
  const [backend] = await startBackends(t, [{ name: 'gpu-a', tokensPerSecond: 100, tokens: 3, ...sim }]);
  const corral = await startCorral(t, [backend!], {
    config: { queue },
    endpoints: [{ name: 'gpu-a', type: 'ollama', max_concurrency: 1 }],
  });
  return { sim: backend!, corral };
}

/** A connection (undici Client) that landed on the wanted worker, or on any when `worker` is ''. */
export async function connectionTo(corral: CorralProcess, worker: string): Promise<{ client: Client; worker: string }> {
  for (let i = 0; i < 40; i++) {
    const client = new Client(corral.url, { pipelining: 1, headersTimeout: 20_000, bodyTimeout: 20_000 });
    const res = await client.request({ path: '/internal/health', method: 'GET' });
    await res.body.text();
    const w = workerOf(res.headers);
    if (worker === '' || w === worker) return { client, worker: w };
    await client.close();
  }
  throw new Error(`no connection reached worker ${worker}`);
}

/** Another worker than `worker`: connections until one lands elsewhere. */
export async function connectionElsewhere(corral: CorralProcess, worker: string): Promise<{ client: Client; worker: string }> {
  for (let i = 0; i < 40; i++) {
    const c = await connectionTo(corral, '');
    if (c.worker !== worker) return c;
    await c.client.close();
  }
  throw new Error(`no connection reached a worker other than ${worker}`);
}

export function chatBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: false, ...extra });
}

/**
 * A request that holds the only slot until aborted: a stream of many slow tokens. Resolves once
 * its first bytes arrived (it is on the backend), with the abort and the worker that took it.
 */
export async function hog(client: Client, worker: string): Promise<{ release: () => void; worker: string; done: Promise<void> }> {
  const ac = new AbortController();
  const res = await client.request({
    path: '/api/generate', method: 'POST', signal: ac.signal, headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, prompt: 'hold the slot', stream: true, options: { num_predict: 100_000 } }),
  });
  const done = (async () => {
    try {
      for await (const _ of res.body) { /* drain until aborted */ }
    } catch { /* aborted */ }
  })();
  return { release: () => ac.abort(), worker, done };
}

export async function depth(corral: CorralProcess): Promise<number> {
  const s = await corral.status();
  return s.models.find((m: any) => m.name === MODEL).queue.depth;
}

export async function waitDepth(corral: CorralProcess, n: number): Promise<void> {
  await until(`queue depth ${n}`, async () => (await depth(corral)) === n);
}

