// Context sizing (issue 12): corral chooses Ollama's num_ctx from buckets, keeps the resident
// runner's size whenever a request fits it, learns each model's characters per token from what
// Ollama reports prefilling, and refuses prompts no endpoint serving the model can take — Ollama's
// by /api/show, llama-server's by /props, vLLM's by max_model_len — before any backend is touched.
import t from 'tap';
import { APIError } from 'openai';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { ollamaClient, openaiClient } from '../helpers/clients.js';
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

t.test('the token estimate converges on what the backend\'s tokeniser reports, shared by both workers', async (t) => {
  // The backend's tokeniser takes 3 characters a token; corral starts at 4 (models.chars_per_token).
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, tokens: 2, charsPerToken: 3, models: [{ name: MODEL, contextLength: 32768 }] }]);
  const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'gpu', type: 'ollama' }] });
  const model = async (): Promise<any> => (await corral.status()).models.find((m: any) => m.name === MODEL);
  await until('the model\'s context learned from /api/show', async () => (await model())?.context_limit === 32768);
  t.match(await model(), { chars_per_token: null, token_samples: 0 }, 'nothing learned yet');
  const chat = async (chars: number) => {
    const r = await send(corral, 'POST', '/api/chat', JSON.stringify({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'x'.repeat(chars) }] }));
    return { status: r.status, numCtx: header(r.headers, 'x-corral-num-ctx'), body: r.body as any };
  };

  // 3,600 characters: 900 tokens at 4 a token, which with the 1,024-token reply budget fits 2048.
  const first = await chat(3600);
  t.match(first, { status: 200, numCtx: '2048', body: { prompt_eval_count: 1200 } }, 'the backend counted 1,200');
  // Streamed answers (the real ollama client) and whole ones, spread over both workers: each final
  // object teaches the ratio.
  const o = ollamaClient(corral);
  for (let i = 0; i < 4; i++) {
    let last: any = null;
    for await (const part of await o.client.chat({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'y'.repeat(3000) }] })) last = part;
    t.equal(last?.prompt_eval_count, 1000, 'the stream\'s final object reached the client untouched');
  }
  for (let i = 0; i < 4; i++) t.equal((await chat(3000)).status, 200);
  const learned = await model();
  t.equal(learned.token_samples, 9, 'every answer was a sample');
  t.ok(learned.chars_per_token >= 3 && learned.chars_per_token <= 3.01, `converged on the backend's 3 characters a token (${learned.chars_per_token})`);
  t.equal(sim!.stats.reloads, 0, 'no reload while learning');

  // The same 3,600 characters are 1,200 tokens now: with the reply budget they need the next bucket.
  t.match(await chat(3600), { status: 200, numCtx: '4096' });
  t.equal(sim!.stats.reloads, 1);
  // 120,000 characters: 30,000 tokens at 4 a token would fit 32,768; at 3 (40,000) they do not.
  t.match(await chat(120_000), { status: 400, body: { code: 'CORRAL_ERR_CONTEXT_LENGTH', error: /about (399\d\d|40000) tokens \(estimated from 120000 characters\), more than the 32768/ } });
});

for (const [how, server] of [['props', 'llama-server (GET /props n_ctx)'], ['max_model_len', 'vLLM (max_model_len in /v1/models)']] as const) {
  t.test(`OpenAI-compatible: ${server}: prompt and max_tokens that cannot fit are refused before the backend`, async (t) => {
    const [sim] = await startBackends(t, [{ name: 'srv', dialects: ['openai'], publishContext: how, tokens: 2, models: [{ name: 'small', contextLength: 4096 }] }]);
    const corral = await startCorral(t, [sim!], { endpoints: [{ name: 'srv', type: 'openai' }] });
    await until('the context the server publishes', async () =>
      (await corral.status()).models.find((m: any) => m.name === 'small')?.context_limit === 4096);
    const ai = openaiClient(corral);
    const fits = await ai.chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'x'.repeat(8000) }], max_tokens: 100 });
    t.equal(fits.usage?.prompt_tokens, 2000, 'about 2,000 tokens: served');
    const chats = sim!.stats.byPath['/v1/chat/completions'];

    const long = await ai.chat.completions.create({ model: 'small', messages: [{ role: 'user', content: 'x'.repeat(20_000) }] }).catch((e: unknown) => e);
    t.ok(long instanceof APIError && long.status === 400 && long.code === 'CORRAL_ERR_CONTEXT_LENGTH', 'the openai client sees 400 CORRAL_ERR_CONTEXT_LENGTH');
    t.match((long as APIError).message, /about 5000 tokens \(estimated from 20000 characters\), more than the 4096 that "small" takes/);
    // The prompt alone fits; with the reply it asks for, it does not.
    const withReply = await ai.completions.create({ model: 'small', prompt: 'y'.repeat(12_000), max_tokens: 2000 }).catch((e: unknown) => e);
    t.ok(withReply instanceof APIError && withReply.status === 400 && withReply.code === 'CORRAL_ERR_CONTEXT_LENGTH');
    t.match((withReply as APIError).message, /about 3000 tokens \(estimated from 12000 characters\) and max_tokens 2000: 5000, more than the 4096/);
    t.equal(sim!.stats.byPath['/v1/chat/completions'], chats, 'the backend saw neither');
    t.equal(sim!.stats.byPath['/v1/completions'] ?? 0, 0);
    t.equal((await ai.completions.create({ model: 'small', prompt: 'y'.repeat(12_000), max_tokens: 500 })).usage?.prompt_tokens, 3000, 'with a smaller reply it fits');
  });
}
