// Hung backends (issue 3, "Hung backends"): a backend that never answers gets 504
// CORRAL_ERR_UPSTREAM_TIMEOUT after upstream.first_byte_timeout, in both dialects; one that goes
// silent mid-stream past upstream.idle_timeout ends the client's stream with an error its
// protocol reports (not a hang, not a silent truncation); and neither holds up anyone else.
//
// Two backends serving different models, so which one a request reaches is never in doubt:
// `stuck` (model stuck:1b) gets the faults, `ok` (llama3.2:1b) stays healthy. The breaker is
// off so repeated timeouts on `stuck` never take it out of rotation mid-test.
// undici checks its timeouts about once a second: nothing here asserts how long they took.
import t from 'tap';
import OpenAI from 'openai';
import { Ollama } from 'ollama';
import { request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import { openaiClient, readUntilError } from '../helpers/clients.js';
import { answer, HI, MODEL } from '../helpers/sim.js';
import { until } from '../helpers/wait.js';

const STUCK = 'stuck:1b';

const openai = (corral: CorralProcess): OpenAI => openaiClient(corral, 20_000);

async function inflight(corral: CorralProcess): Promise<number> {
  const st = await corral.status();
  return st.endpoints.reduce((n: number, e: any) => n + e.inflight, 0);
}

t.test('hung backends', async (t) => {
  const sims = await startBackends(t, [{ name: 'stuck', models: [{ name: STUCK }] }, { name: 'ok' }]);
  const [stuck, ok] = sims as [SimBackend, SimBackend];
  const corral = await startCorral(t, sims, {
    config: { upstream: { first_byte_timeout: '1s', idle_timeout: '1s' }, circuit_breaker: { failures: 0 } },
  });
  const ai = openai(corral);
  const ollama = new Ollama({ host: corral.url });

  await t.test('no response head within first_byte_timeout: 504 in both dialects', { timeout: 30_000 }, async (t) => {
    stuck.setFault({ mode: 'hang', afterChunks: 0 });
    const abortedBefore = stuck.stats.aborted;

    let oaErr: unknown = null;
    try {
      await ai.chat.completions.create({ model: STUCK, messages: HI });
    } catch (err) {
      oaErr = err;
    }
    t.type(oaErr, OpenAI.APIError, 'openai: throws APIError');
    const e = oaErr as InstanceType<typeof OpenAI.APIError>;
    t.equal(e.status, 504, 'openai: 504');
    t.equal(e.code, 'CORRAL_ERR_UPSTREAM_TIMEOUT', 'openai: error.code CORRAL_ERR_UPSTREAM_TIMEOUT');
    t.equal(e.headers?.get('x-corral-endpoint'), 'stuck', 'openai: from the stuck endpoint');
    t.equal(e.headers?.get('x-corral-retries'), '0', 'a timeout is not retried elsewhere');

    let olErr: any = null;
    try {
      await ollama.chat({ model: STUCK, messages: HI, stream: false });
    } catch (err) {
      olErr = err;
    }
    t.ok(olErr instanceof Error, 'ollama: throws');
    t.equal(olErr?.status_code, 504, 'ollama: 504');
    t.match(String(olErr?.message), /first_byte_timeout/, 'ollama: the error says which timeout');

    // Raw, to see the Ollama-dialect body and the streaming default of /api/generate.
    const res = await request(`${corral.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: STUCK, prompt: 'hi' }) });
    const body = await res.body.json() as any;
    t.equal(res.statusCode, 504, 'ollama /api/generate (streaming by default): 504 before any byte');
    t.equal(body.code, 'CORRAL_ERR_UPSTREAM_TIMEOUT', 'ollama body carries the code');
    t.type(body.error, 'string', 'ollama body: {"error": "…"}');

    // The stuck backend's connections were let go, not left open.
    await until('stuck sees its hung requests closed', () => stuck.stats.inflight === 0);
    t.equal(stuck.stats.aborted - abortedBefore, 3, 'the backend saw all three hung requests closed by corral');
    await until('corral in-flight back to 0', async () => (await inflight(corral)) === 0);
    t.pass('corral holds nothing for them any more');
    stuck.setFault(null);
  });

  await t.test('silence mid-stream past idle_timeout: protocol-level error, connection closed', { timeout: 30_000 }, async (t) => {
    // openai: SSE stream, two chunks then silence
    stuck.setFault({ mode: 'hang', afterChunks: 2, count: 1 });
    const { data: stream, response } = await ai.chat.completions.create({ model: STUCK, messages: HI, stream: true }).withResponse();
    t.equal(response.status, 200);
    t.equal(response.headers.get('x-corral-endpoint'), 'stuck');
    let { content, error } = await readUntilError(stream, (chunk) => chunk.choices[0]?.delta.content ?? '');
    t.equal(content, 'Hello from stuck token 1', 'openai: the chunks sent before the silence arrived');
    t.type(error, OpenAI.APIError, 'openai: the stream ends with an SSE error event the client throws as APIError');
    t.match(String((error as Error | null)?.message), /idle_timeout/, 'openai: saying the backend went silent');

    // ollama: NDJSON stream, two lines then silence
    stuck.setFault({ mode: 'hang', afterChunks: 2, count: 1 });
    ({ content, error } = await readUntilError(ollama.chat({ model: STUCK, messages: HI, stream: true }), (part) => part.message.content));
    t.equal(content, 'Hello from stuck token 1', 'ollama: the lines sent before the silence arrived');
    t.type(error, Error, 'ollama: the stream throws');
    t.match(String((error as Error | null)?.message), /idle_timeout/, 'ollama: on corral\'s final {"error": …} line');

    // Raw: the chunked body is properly ended (not left hanging, not garbled) with the error last.
    stuck.setFault({ mode: 'hang', afterChunks: 2, count: 1 });
    const res = await request(`${corral.url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: STUCK, prompt: 'hi' }), bodyTimeout: 15_000 });
    t.equal(res.statusCode, 200);
    const lines = (await res.body.text()).trim().split('\n').map((l) => JSON.parse(l));
    t.equal(lines.length, 3, 'two NDJSON lines from the backend, then one from corral');
    t.match(lines[2], { error: /idle_timeout/, code: 'CORRAL_ERR_UPSTREAM_TIMEOUT' }, 'the last line is the error, with its code');

    await until('stuck sees its hung streams closed', () => stuck.stats.inflight === 0);
    await until('corral in-flight back to 0', async () => (await inflight(corral)) === 0);
    t.pass('no connection left hanging on either side');
    const midStream = corral.logs.filter((l) => l.msg === 'upstream failed mid-stream' && l.endpoint === 'stuck');
    t.ok(midStream.length >= 3 && midStream.every((l) => typeof l.requestId === 'string' && l.requestId !== ''), 'each logged with its request id');
  });

  await t.test('a hung backend does not hold up other requests', { timeout: 30_000 }, async (t) => {
    // Its own corral with a first-byte timeout long enough that "still waiting" below cannot
    // depend on how fast this machine is: the hung requests wait 5 s, the others take milliseconds.
    const corral = await startCorral(t, sims, {
      config: { upstream: { first_byte_timeout: '5s', idle_timeout: '5s' }, circuit_breaker: { failures: 0 } },
    });
    stuck.setFault({ mode: 'hang', afterChunks: 0 });
    const HUNG = 4;
    let hungSettled = 0;
    let arrived = 0;
    const allArrived = new Promise<void>((resolve) => {
      const onRequest = (path: string): void => {
        if (path === '/v1/chat/completions' || path === '/api/chat') {
          if (++arrived === HUNG) {
            stuck.off('request', onRequest);
            resolve();
          }
        }
      };
      stuck.on('request', onRequest);
    });
    // Each hung request on its own client, so they spread over both workers' connections.
    const hung = Array.from({ length: HUNG }, async (_, i) => {
      try {
        if (i % 2 === 0) {
          await openai(corral).chat.completions.create({ model: STUCK, messages: HI });
          return 'resolved';
        }
        await new Ollama({ host: corral.url }).chat({ model: STUCK, messages: HI, stream: false });
        return 'resolved';
      } catch (err) {
        return (err as { status?: number; status_code?: number }).status ?? (err as { status_code?: number }).status_code ?? String(err);
      } finally {
        hungSettled++;
      }
    });
    await allArrived;
    t.pass(`${HUNG} requests are hanging on the stuck backend`);

    // Meanwhile: requests for the healthy backend, several at once, on fresh clients.
    const chats = (): number => (ok.stats.byPath['/v1/chat/completions'] ?? 0) + (ok.stats.byPath['/api/chat'] ?? 0);
    const okBefore = chats();
    const others = await Promise.all(Array.from({ length: 8 }, async (_, i) => {
      if (i % 2 === 0) {
        const r = await openai(corral).chat.completions.create({ model: MODEL, messages: HI });
        return r.choices[0]?.message.content;
      }
      let content = '';
      for await (const part of await new Ollama({ host: corral.url }).chat({ model: MODEL, messages: HI, stream: true })) content += part.message.content;
      return content;
    }));
    t.same(others, Array(8).fill(answer('ok')), 'all 8 requests to the healthy backend succeeded');
    t.equal(chats() - okBefore, 8, 'served by ok');
    t.equal(hungSettled, 0, '…while the hung ones were still waiting');

    t.same(await Promise.all(hung), Array(HUNG).fill(504), 'the hung ones then got 504');
    stuck.setFault(null);
    await until('stuck sees its hung requests closed', () => stuck.stats.inflight === 0);
    await until('corral in-flight back to 0', async () => (await inflight(corral)) === 0);
    const st = await corral.status();
    t.equal(st.endpoints.find((e: any) => e.name === 'stuck').state, 'healthy', 'a timeout does not mark the endpoint down (its probes answer)');
  });
});
