// Session stickiness (issue 2, "Selection"): a session (X-Corral-Session-ID) holds one endpoint
// across turns in every worker, different sessions can land on different endpoints, and a session
// whose endpoint dies is re-pinned to another and stays there.
//
// Real corral (2 workers) in front of 3 simulated backends. Every turn uses its own undici Client
// (its own TCP connection), so SO_REUSEPORT spreads the turns over both workers; which worker
// served a turn is read from the X-Corral-Request-ID prefix (random per process).
import t from 'tap';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import { freshRequest, routing, type Routing } from '../helpers/http.js';
import { answer, MODEL } from '../helpers/sim.js';

interface Reply extends Routing {
  body: any;
}

/** One chat turn on a fresh connection (non-streamed OpenAI dialect). */
async function turn(corral: CorralProcess, session: string, n: number): Promise<Reply> {
  const res = await freshRequest(corral, {
    path: '/v1/chat/completions',
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-corral-session-id': session },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `turn ${n} of ${session}` }] }),
  });
  return { ...routing(res), body: JSON.parse(res.text) };
}

t.test('sessions', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  const corral = await startCorral(t, sims);
  const byName = new Map(sims.map((s) => [s.name, s]));

  let pinned = '';
  await t.test('a session holds one endpoint across 10 turns, in both workers', async (t) => {
    const first = await turn(corral, 'session-one', 1);
    t.equal(first.status, 200);
    t.equal(first.route, 'sticky-new', 'first turn pins the session');
    t.ok(byName.has(first.endpoint), `served by a known endpoint (${first.endpoint})`);
    t.equal(first.body.choices[0].message.content, answer(first.endpoint), 'full answer from that endpoint');
    pinned = first.endpoint;
    const workers = new Set([first.worker]);
    let turns = 1;
    // 10 turns; if the kernel happened to put all of them on one worker, keep going (bounded)
    // until the other worker has served a turn too.
    while (turns < 10 || (workers.size < 2 && turns < 60)) {
      turns++;
      const r = await turn(corral, 'session-one', turns);
      if (r.status !== 200 || r.route !== 'sticky-hit' || r.endpoint !== pinned) {
        t.fail(`turn ${turns}: expected 200 sticky-hit on ${pinned}`, { got: { status: r.status, route: r.route, endpoint: r.endpoint } });
        return;
      }
      t.equal(r.body.choices[0].message.content, answer(pinned), `turn ${turns} answered by ${pinned}`);
      workers.add(r.worker);
    }
    t.ok(turns >= 10, `${turns} turns held ${pinned}`);
    t.equal(workers.size, 2, 'turns were served by both workers (the pin lives in shared memory)');
    const st = await corral.status();
    t.ok(st.sessions >= 1, 'status counts the session');
  });

  await t.test('two sessions can land on different endpoints, each then sticks', async (t) => {
    let other: Reply | null = null;
    let k = 0;
    for (; k < 30 && other === null; k++) {
      const r = await turn(corral, `session-x${k}`, 1);
      t.equal(r.status, 200);
      t.equal(r.route, 'sticky-new', `session-x${k} is new`);
      if (r.endpoint !== pinned) other = r;
    }
    t.not(other, null, `a new session landed off ${pinned} within ${k} tries`);
    if (other === null) return;
    const session = `session-x${k - 1}`;
    for (let n = 2; n <= 4; n++) {
      const r = await turn(corral, session, n);
      t.match(r, { status: 200, route: 'sticky-hit', endpoint: other.endpoint }, `${session} turn ${n} stays on ${other.endpoint}`);
      const s1 = await turn(corral, 'session-one', 100 + n);
      t.match(s1, { status: 200, route: 'sticky-hit', endpoint: pinned }, `session-one stays on ${pinned}`);
    }
  });

  await t.test('when the pinned backend dies the session is re-pinned and stays re-pinned', async (t) => {
    const dead = byName.get(pinned)!;
    await dead.stop();
    const repinned = await turn(corral, 'session-one', 200);
    t.equal(repinned.status, 200, 'the turn after the backend died succeeds');
    t.equal(repinned.route, 'sticky-repin', 're-pinned');
    t.not(repinned.endpoint, pinned, `moved off ${pinned}`);
    t.ok(byName.has(repinned.endpoint), `to ${repinned.endpoint}`);
    t.equal(repinned.body.choices[0].message.content, answer(repinned.endpoint), 'full answer from the new endpoint');
    const workers = new Set<string>();
    for (let n = 201; n <= 206; n++) {
      const r = await turn(corral, 'session-one', n);
      t.match(r, { status: 200, route: 'sticky-hit', endpoint: repinned.endpoint, retries: 0 }, `turn ${n} sticks to ${repinned.endpoint}`);
      workers.add(r.worker);
    }

    // The old backend coming back does not steal the session back.
    const healthy = corral.nextLog((l) => l.msg === 'endpoint healthy' && l.endpoint === pinned);
    await dead.restart();
    await healthy;
    for (let n = 300; n < 303; n++) {
      const r = await turn(corral, 'session-one', n);
      t.match(r, { status: 200, route: 'sticky-hit', endpoint: repinned.endpoint }, `after ${pinned} returned, turn ${n} still on ${repinned.endpoint}`);
    }
  });
});
