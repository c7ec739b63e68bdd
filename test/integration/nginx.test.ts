// corral behind a real nginx with nginx's defaults (README, "Behind nginx"): `location / {
// proxy_pass http://127.0.0.1:PORT; }` and nothing else, so nginx speaks HTTP/1.0 upstream and
// buffers responses. With `server.engine: node` (2 workers) the real openai and ollama clients get
// their answers through it, streamed or not, and errors pass through with their JSON bodies. With
// the default uWS engine, which never answers HTTP/1.0, nginx can only time out: why the node
// engine exists.
import { Ollama } from 'ollama';
import OpenAI, { APIError } from 'openai';
import t from 'tap';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { startNginx } from '../helpers/nginx.js';
import { answer, HI, MODEL } from '../helpers/sim.js';

t.test('server.engine node behind nginx with its defaults', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'a' }]);
  const corral = await startCorral(t, [sim!], { config: { server: { engine: 'node' } } });
  const nginx = await startNginx(t, corral.port);
  const openai = new OpenAI({ baseURL: `${nginx.url}/v1`, apiKey: 'unused', maxRetries: 0, timeout: 15_000 });
  const ollama = new Ollama({ host: nginx.url });
  const whole = answer('a');

  t.test('openai: a chat, not streamed', async (t) => {
    const { data, response } = await openai.chat.completions.create({ model: MODEL, messages: HI }).withResponse();
    t.equal(data.choices[0]?.message.content, whole, 'the whole answer');
    t.equal(response.headers.get('x-corral-endpoint'), 'a', 'corral\'s headers pass through nginx');
  });

  t.test('openai: a chat, streamed (nginx buffers it by default, and it still completes)', async (t) => {
    const stream = await openai.chat.completions.create({ model: MODEL, messages: HI, stream: true, stream_options: { include_usage: true } });
    let content = '';
    let usage = null;
    for await (const c of stream) {
      content += c.choices[0]?.delta.content ?? '';
      if (c.usage) usage = c.usage;
    }
    t.equal(content, whole, 'every token arrived');
    t.ok(usage !== null, 'the final chunk with usage arrived');
  });

  t.test('ollama: a chat, not streamed and streamed', async (t) => {
    const r = await ollama.chat({ model: MODEL, messages: HI, stream: false });
    t.equal(r.message.content, whole, 'not streamed: the whole answer');
    let content = '';
    let done = false;
    for await (const part of await ollama.chat({ model: MODEL, messages: HI, stream: true })) {
      content += part.message.content;
      if (part.done) done = true;
    }
    t.equal(content, whole, 'streamed: every token');
    t.ok(done, 'streamed: the final done line');
  });

  t.test('an unknown model: 404 with corral\'s JSON body, in both dialects', async (t) => {
    try {
      await openai.chat.completions.create({ model: 'no-such-model', messages: HI });
      t.fail('expected an error');
    } catch (err) {
      t.type(err, APIError);
      t.equal((err as APIError).status, 404);
      t.equal((err as APIError).code, 'CORRAL_ERR_MODEL_NOT_FOUND');
    }
    const res = await fetch(`${nginx.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'no-such-model', messages: HI, stream: false }) });
    t.equal(res.status, 404);
    t.match(await res.json(), { error: String, code: 'CORRAL_ERR_MODEL_NOT_FOUND' }, 'ollama shape');
  });

  t.test('catalog and HEAD pass through', async (t) => {
    const tags = await ollama.list();
    t.ok(tags.models.some((m) => m.name === MODEL), '/api/tags lists the model');
    const head = await fetch(`${nginx.url}/api/tags`, { method: 'HEAD' });
    t.equal(head.status, 200, 'HEAD /api/tags');
  });

  t.equal(nginx.errorLog().match(/\[(error|crit|alert|emerg)\]/g), null, `nginx logged no upstream error\n${nginx.errorLog()}`);
});

t.test('the uWS engine behind the same nginx: no answer to HTTP/1.0, nginx times out', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'a' }]);
  const corral = await startCorral(t, [sim!], { config: { server: { workers: 1 } } });
  // nginx's default proxy_read_timeout is 60 s; shortened so the test is quick.
  const nginx = await startNginx(t, corral.port, 'proxy_read_timeout 2s;');
  const res = await fetch(`${nginx.url}/api/tags`);
  await res.arrayBuffer();
  t.equal(res.status, 504, 'nginx answers 504 Gateway Timeout');
  t.match(nginx.errorLog(), /upstream timed out/, 'nginx\'s error log says why');
});
