// What the simulated backends (test/fixtures/sim-backend*.ts) serve and answer, for the
// integration tests that check an answer arrived whole and which backend it came from.
import type { SimBackend } from '../fixtures/sim-backend.js';

/** The model every sim serves unless told otherwise. */
export const MODEL = 'llama3.2:1b';

/** The smallest chat: one user turn, typed so the openai client takes it as it is. */
export const HI = [{ role: 'user' as const, content: 'hi' }];

/** The sim's complete answer of `tokens` tokens (default 8, the sim's own): token 0 names the backend. */
export function answer(endpoint: string, tokens = 8): string {
  let s = `Hello from ${endpoint}`;
  for (let i = 1; i < tokens; i++) s += ` token ${i}`;
  return s;
}

/** Requests a backend got on inference routes: health probes and discovery run on their own schedule and must not count. */
export function inferenceRequests(sim: SimBackend): number {
  let n = 0;
  for (const [path, count] of Object.entries(sim.stats.byPath)) {
    if (path.startsWith('/v1/') ? path !== '/v1/models' : path === '/api/chat' || path === '/api/generate' || path.startsWith('/api/embed')) n += count;
  }
  return n;
}
