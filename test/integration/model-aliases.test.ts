// `mistral` and `mistral:latest` name the same model in both directions (issue 10, "Hardening"):
// whichever spelling a backend lists, a client may ask for either, through the real `ollama` and
// `openai` clients. Ollama-type backends are the simulated ones (which, like Ollama, resolve a bare
// name to `:latest`, and list whatever they were given — here a bare `mistral`); OpenAI-type ones
// are strict like vLLM (the `model` must be exactly a listed id, else 404) and record what corral
// forwarded, so a rename (or a missing one) shows. The regression this guards: a backend listing
// `mistral` got `mistral:latest` forwarded as it was and answered 404.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import t, { type Test } from 'tap';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { ollamaClient, openaiClient } from '../helpers/clients.js';
import { send } from '../helpers/http.js';
import { HI } from '../helpers/sim.js';
import { until } from '../helpers/wait.js';

/** An OpenAI-compatible server that, like vLLM, serves exactly the ids it lists and records every body it got. */
class StrictBackend {
  readonly name: string;
  readonly url: string;
  readonly ids: readonly string[];
  /** Raw bodies of the chat requests received, in order. */
  readonly bodies: string[] = [];
  constructor(name: string, url: string, ids: readonly string[]) {
    this.name = name;
    this.url = url;
    this.ids = ids;
  }

  static async start(t: Test, name: string, ids: readonly string[]): Promise<StrictBackend> {
    let backend: StrictBackend | null = null;
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => backend!.#answer(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }));
    backend = new StrictBackend(name, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, ids);
    return backend;
  }

  #answer(req: IncomingMessage, res: ServerResponse, body: string): void {
    const json = (status: number, doc: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(doc));
    if (req.method === 'GET' && req.url === '/v1/models') {
      json(200, { object: 'list', data: this.ids.map((id) => ({ id, object: 'model', created: 1_700_000_000, owned_by: 'vllm' })) });
      return;
    }
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      json(404, { error: { message: 'not found', type: 'NotFoundError', code: 404 } });
      return;
    }
    this.bodies.push(body);
    const doc = JSON.parse(body) as { model: string; stream?: boolean };
    if (!this.ids.includes(doc.model)) {
      json(404, { object: 'error', message: `The model \`${doc.model}\` does not exist.`, type: 'NotFoundError', code: 404 });
      return;
    }
    const content = `Hello from ${this.name}`;
    if (doc.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: doc.model, choices: [{ index: 0, delta: { role: 'assistant', content }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: doc.model, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    json(200, {
      id: 'c1', object: 'chat.completion', created: 1, model: doc.model,
      choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 1, completion_tokens: 3, total_tokens: 4 },
    });
  }

  /** The `model` of every chat body received since `from`. */
  modelsSince(from: number): string[] {
    return this.bodies.slice(from).map((b) => (JSON.parse(b) as { model: string }).model);
  }
}

t.test('both spellings of a model reach it, whichever one each backend lists', async (t) => {
  const [ollamaBare, ollamaTagged] = await startBackends(t, [
    { name: 'ollama-bare', models: [{ name: 'mistral' }] },
    { name: 'ollama-tagged', models: [{ name: 'gemma:latest' }, { name: 'mixtral:latest' }] },
  ]);
  const vllmBare = await StrictBackend.start(t, 'vllm-bare', ['phi', 'mixtral']);
  const vllmTagged = await StrictBackend.start(t, 'vllm-tagged', ['qwen:latest']);
  const corral = await startCorral(t, [ollamaBare!, ollamaTagged!], {
    config: { routing: { strategy: 'round-robin' } },
    endpoints: [
      { name: 'ollama-bare', type: 'ollama' },
      { name: 'ollama-tagged', type: 'ollama' },
      { name: 'vllm-bare', url: vllmBare.url, type: 'openai' },
      { name: 'vllm-tagged', url: vllmTagged.url, type: 'openai' },
    ],
  });
  await until('every model discovered', async () => {
    const doc = await corral.status() as { endpoints: { state: string }[]; models: unknown[] };
    return doc.endpoints.every((e) => e.state === 'healthy') && doc.models.length === 5;
  });
  const ollama = ollamaClient(corral);
  const openai = openaiClient(corral);

  t.test('an Ollama backend listing the bare name: both spellings, both clients', async (t) => {
    for (const model of ['mistral', 'mistral:latest']) {
      const r = await ollama.client.chat({ model, messages: HI });
      t.match(r.message.content, /^Hello from ollama-bare/, `ollama client, ${model}`);
      const { data, response } = await openai.chat.completions.create({ model, messages: HI }).withResponse();
      t.match(data.choices[0]!.message.content, /^Hello from ollama-bare/, `openai client, ${model}`);
      t.equal(response.headers.get('x-corral-endpoint'), 'ollama-bare');
      const show = await ollama.client.show({ model });
      t.match(show.modelfile, /sim backend ollama-bare/, `/api/show, ${model}`);
    }
    let streamed = '';
    for await (const part of await ollama.client.chat({ model: 'mistral:latest', messages: HI, stream: true })) streamed += part.message.content;
    t.match(streamed, /^Hello from ollama-bare/, 'streamed, mistral:latest');
  });

  t.test('an Ollama backend listing name:latest: both spellings, both clients', async (t) => {
    for (const model of ['gemma', 'gemma:latest']) {
      const r = await ollama.client.generate({ model, prompt: 'hi' });
      t.match(r.response, /^Hello from ollama-tagged/, `ollama client, ${model}`);
      const c = await openai.chat.completions.create({ model, messages: HI });
      t.match(c.choices[0]!.message.content, /^Hello from ollama-tagged/, `openai client, ${model}`);
    }
  });

  t.test('an OpenAI backend listing the bare id gets exactly that id', async (t) => {
    const from = vllmBare.bodies.length;
    for (const model of ['phi', 'phi:latest']) {
      const c = await openai.chat.completions.create({ model, messages: HI });
      t.equal(c.choices[0]!.message.content, 'Hello from vllm-bare', model);
    }
    let streamed = '';
    for await (const chunk of await openai.chat.completions.create({ model: 'phi:latest', messages: HI, stream: true })) {
      streamed += chunk.choices[0]?.delta.content ?? '';
    }
    t.equal(streamed, 'Hello from vllm-bare', 'streamed, phi:latest');
    t.same(vllmBare.modelsSince(from), ['phi', 'phi', 'phi'], 'the backend always got the id it lists');
  });

  t.test('an OpenAI backend listing id:latest gets exactly that id', async (t) => {
    const from = vllmTagged.bodies.length;
    for (const model of ['qwen', 'qwen:latest']) {
      const c = await openai.chat.completions.create({ model, messages: HI });
      t.equal(c.choices[0]!.message.content, 'Hello from vllm-tagged', model);
    }
    t.same(vllmTagged.modelsSince(from), ['qwen:latest', 'qwen:latest']);
  });

  t.test('a renamed body is otherwise forwarded byte for byte', async (t) => {
    const from = vllmBare.bodies.length;
    const body = '{ "seed" : 12345678901234567890, "messages":[{"role":"user","content":"h\\u00e9llo \\"model\\": \\"x\\" — ünïcode"}],\n'
      + '  "model" : "phi:latest", "temperature": 1.0e0, "metadata": {"model": "inner"} }';
    const res = await send(corral, 'POST', '/v1/chat/completions', body);
    t.equal(res.status, 200);
    t.same(vllmBare.bodies.slice(from), [body.replace('"phi:latest"', '"phi"')], 'only the top-level model value changed');
    const plain = '{"model":"phi","messages":[{"role":"user","content":"hi"}]}';
    await send(corral, 'POST', '/v1/chat/completions', plain);
    t.equal(vllmBare.bodies.at(-1), plain, 'the listed spelling is forwarded untouched');
  });

  t.test('one model listed as mixtral by one backend and mixtral:latest by another', async (t) => {
    const names = (await ollama.client.list()).models.map((m) => m.name);
    t.equal(names.filter((n) => n.startsWith('mixtral')).length, 1, '/api/tags lists it once');
    const ids: string[] = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    t.equal(ids.filter((n) => n.startsWith('mixtral')).length, 1, '/v1/models lists it once');
    const status = await corral.status() as { models: { name: string; endpoints: { name: string }[] }[] };
    const mixtral = status.models.filter((m) => m.name.startsWith('mixtral'));
    t.equal(mixtral.length, 1, 'one model in /internal/status');
    t.same(mixtral[0]!.endpoints.map((e) => e.name).sort(), ['ollama-tagged', 'vllm-bare'], 'served by both backends');

    const from = vllmBare.bodies.length;
    const servedBy = new Set<string>();
    for (const model of ['mixtral', 'mixtral:latest', 'mixtral', 'mixtral:latest', 'mixtral', 'mixtral:latest']) {
      const { data, response } = await openai.chat.completions.create({ model, messages: HI }).withResponse();
      t.match(data.choices[0]!.message.content, /^Hello from /, model);
      servedBy.add(response.headers.get('x-corral-endpoint')!);
    }
    t.same([...servedBy].sort(), ['ollama-tagged', 'vllm-bare'], 'round-robin used both');
    t.ok(vllmBare.modelsSince(from).length > 0 && vllmBare.modelsSince(from).every((m) => m === 'mixtral'),
      'the strict backend only ever got its own spelling');
    const r = await ollama.client.chat({ model: 'mixtral', messages: HI });
    t.match(r.message.content, /^Hello from ollama-tagged/, 'the Ollama dialect reaches the Ollama backend under either spelling');
  });

  t.test('other tags are other models', async (t) => {
    const res = await send(corral, 'POST', '/api/chat', JSON.stringify({ model: 'mistral:7b', messages: HI }));
    t.equal(res.status, 404);
    t.equal(res.body.code, 'CORRAL_ERR_MODEL_NOT_FOUND');
  });
});
