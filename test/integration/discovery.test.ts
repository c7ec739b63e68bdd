/**
 * A model corral has never heard of is "not found" only when every endpoint could be asked: while
 * an endpoint has never answered discovery (down since start), the model may be its, so the answer
 * is a retryable 503, and once the endpoint is reachable the same request succeeds.
 */
import t from 'tap';
import { request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { MODEL } from '../helpers/sim.js';

t.test('an endpoint down since start: unknown models are 503, not 404, until it is discovered', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'late' }]);
  await sim!.stop();
  const corral = await startCorral(t, [sim!]);
  await corral.waitForLog((l) => l.msg === 'endpoint down' && l.endpoint === 'late');

  for (const [path, body] of [
    ['/api/chat', { model: MODEL, stream: false, messages: [{ role: 'user', content: 'hi' }] }],
    ['/v1/chat/completions', { model: MODEL, messages: [{ role: 'user', content: 'hi' }] }],
  ] as const) {
    const res = await request(`${corral.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const doc = await res.body.json() as { code?: string; error: string | { code: string; message: string } };
    t.equal(res.statusCode, 503, `${path}: 503 while the endpoint's models are unknown`);
    t.equal(res.headers['retry-after'], '1', `${path}: retryable`);
    const code = typeof doc.error === 'string' ? doc.code : doc.error.code;
    const message = typeof doc.error === 'string' ? doc.error : doc.error.message;
    t.equal(code, 'CORRAL_ERR_NO_ENDPOINT', `${path}: code`);
    t.match(message, /not known to corral and 1 endpoint\(s\) have not been reachable/, `${path}: says why`);
  }

  const healthy = corral.nextLog((l) => l.msg === 'endpoint healthy' && l.endpoint === 'late');
  await sim!.restart();
  await healthy;
  const res = await request(`${corral.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, stream: false, messages: [{ role: 'user', content: 'hi' }] }) });
  t.equal(res.statusCode, 200, 'once discovered, the same request is served');
  t.match((await res.body.json() as { message: { content: string } }).message.content, /Hello from late/);

  const unknown = await request(`${corral.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'no-such-model:1b' }) });
  t.equal(unknown.statusCode, 404, 'and a model no endpoint lists is now a plain 404');
  await unknown.body.dump();
});
