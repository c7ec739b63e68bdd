// Context sizing (issue 12, first step): corral chooses Ollama's num_ctx from buckets, keeps the
// resident runner's size whenever a request fits it, and refuses prompts longer than the model's
// context before any backend is touched.
import t from 'tap';
import { APIError } from 'openai';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { openaiClient } from '../helpers/clients.js';
import { header, send } from '../helpers/http.js';
import { until } from '../helpers/wait.js';

const MODEL = 'm:1b';

t.test('num_ctx from buckets, the resident runner\'s size kept, overflow refused up front', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, tokens: 2, models: [{ name: MODEL, contextLength: 8192 }] }]);
  const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'gpu', type: 'ollama' }] });
  await until('the model\'s maximum context learned from /api/show', async () =>
    (await corral.status()).models.find((m: any) => m.name === MODEL)?.max_context === 8192);
  const chat = async (chars: number, options?: Record<string, unknown>) => {
    const r = await send(corral, 'POST', '/api/chat', JSON.stringify({
      model: MODEL, stream: false, messages: [{ role: 'user', content: 'x'.repeat(chars) }], ...(options === undefined ? {} : { options }),
    }));
    return { status: r.status, numCtx: header(r.headers, 'x-corral-num-ctx'), body: r.body as any };
  };
  const runnerCtx = () => sim!.gpu().resident.find((r) => r.name === MODEL)?.numCtx;

  const first = await chat(100);
  t.match(first, { status: 200, numCtx: '2048' }, 'a short prompt: the smallest bucket holding it and the reply budget');
  t.equal(runnerCtx(), 2048, 'Ollama loaded it at that size');
  // A conversation that grows: the size moves once, when the prompt outgrows the runner, and never back.
  const sizes: string[] = [];
  for (const chars of [2000, 3600, 5000, 5200, 900, 6000]) sizes.push((await chat(chars)).numCtx);
  t.same(sizes, ['2048', '2048', '4096', '4096', '4096', '4096']);
  t.equal(sim!.stats.reloads, 1, 'one reload in the whole conversation');
  t.equal(runnerCtx(), 4096);
  // A client that sets a smaller num_ctx of its own is raised to the runner's: no reload.
  t.match(await chat(100, { num_ctx: 2048, temperature: 0 }), { status: 200, numCtx: '4096' });
  t.equal(sim!.stats.reloads, 1);

  // Longer than the model's 8192 tokens: refused in both dialects, and no backend saw it.
  const before = sim!.stats.byPath['/api/chat'] ?? 0;
  const long = await chat(40_000);
  t.match(long, { status: 400, body: { code: 'CORRAL_ERR_CONTEXT_LENGTH', error: /prompt: about 10000 tokens \(estimated from 40000 characters\), more than the 8192 that "m:1b" takes/ } });
  const err = await openaiClient(corral).chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'y'.repeat(40_000) }] }).catch((e: unknown) => e);
  t.ok(err instanceof APIError && err.status === 400 && err.code === 'CORRAL_ERR_CONTEXT_LENGTH', 'the openai client sees 400 CORRAL_ERR_CONTEXT_LENGTH');
  t.equal(sim!.stats.byPath['/api/chat'] ?? 0, before, 'the backend never saw either');
  t.equal(sim!.stats.byPath['/v1/chat/completions'] ?? 0, 0);
});

t.test('models.size_context: false forwards num_ctx as the client sent it', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu', tokens: 2, models: [{ name: MODEL, contextLength: 8192 }] }]);
  const corral = await startCorral(t, [sim!], { config: { models: { size_context: false } }, endpoints: [{ name: 'gpu', type: 'ollama' }] });
  const r = await send(corral, 'POST', '/api/chat', JSON.stringify({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'hi' }] }));
  t.equal(r.status, 200);
  t.equal(header(r.headers, 'x-corral-num-ctx'), '', 'nothing chosen');
  t.equal(sim!.gpu().resident[0]!.numCtx, 4096, 'the preloaded runner (Ollama\'s default 4096) kept');
});
