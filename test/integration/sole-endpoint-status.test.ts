/**
 * Regression: a backend's own 502/503/504 was abandoned for a retry even when no other endpoint
 * could take the request, so the client got corral's 502 "every endpoint failed" instead of the
 * backend's answer (and its Retry-After and body). With no alternative, it now passes through.
 */
import t from 'tap';
import { request } from 'undici';
import { startBackends, startCorral } from '../helpers/corral-process.js';
import { MODEL } from '../helpers/sim.js';

t.test('the only endpoint for a model answers 503: the client gets that answer', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'only' }]);
  const corral = await startCorral(t, [sim!], { config: { circuit_breaker: { failures: 0 } } });
  sim!.setFault({ mode: 'status', status: 503 });
  const res = await request(`${corral.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: MODEL, stream: false, messages: [] }) });
  const body = await res.body.text();
  t.equal(res.statusCode, 503, "the backend's status");
  t.equal(res.headers['x-corral-endpoint'], 'only');
  t.equal(res.headers['x-corral-retries'], '0', 'no pointless retry');
  t.match(body, /simulated fault/, "the backend's own body, not corral's");
  t.notMatch(body, /CORRAL_ERR_UPSTREAM/);
});
