// Restart without forgetting, and worker crashes (issue 3): the primary snapshots session pins to
// `state.file` on shutdown and restores them on start, so a conversation keeps hitting the backend
// whose KV cache holds it; a corrupt file is ignored. A SIGKILLed worker's in-flight counts are
// given back to the shared table (least-connections must not drift) and sessions, which live in
// the segment, survive it.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Client } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import { freshRequest, header } from '../helpers/http.js';
import { HI, MODEL } from '../helpers/sim.js';
import { until } from '../helpers/wait.js';

interface Reply {
  status: number;
  endpoint: string;
  route: string;
  body: string;
}

/** One non-streaming chat on its own connection, optionally in a session. */
async function chat(corral: CorralProcess, session?: string, extra: Record<string, string> = {}): Promise<Reply> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...extra };
  if (session !== undefined) headers['x-corral-session-id'] = session;
  const res = await freshRequest(corral, {
    path: '/api/chat', method: 'POST', headers,
    body: JSON.stringify({ model: MODEL, messages: HI, stream: false, options: { num_predict: 1 } }),
  }, 15_000);
  return { status: res.status, endpoint: header(res.headers, 'x-corral-endpoint'), route: header(res.headers, 'x-corral-route'), body: res.text };
}

function tempStateFile(t: { teardown(fn: () => unknown): void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return join(dir, 'state.msgpack');
}

t.test('session pins survive a restart through state.file', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }]);
  const file = tempStateFile(t);
  const opts = { config: { state: { file } } };
  const first = await startCorral(t, sims, opts);

  // Several conversations, so both endpoints hold some: a restored pin is then a real choice.
  const pins = new Map<string, string>();
  for (let i = 0; i < 6; i++) {
    const id = `conv-${i}`;
    const r1 = await chat(first, id);
    t.equal(r1.status, 200);
    t.equal(r1.route, 'sticky-new', `${id}: pinned on its first turn (to ${r1.endpoint})`);
    const r2 = await chat(first, id);
    t.match(r2, { status: 200, route: 'sticky-hit', endpoint: r1.endpoint }, `${id}: second turn on the same endpoint`);
    pins.set(id, r1.endpoint);
  }
  t.same(new Set(pins.values()), new Set(['a', 'b']), 'conversations are pinned to both endpoints');

  const saved = first.nextLog((l) => l.msg === 'routing state saved');
  const exit = await first.stop('SIGTERM');
  t.same(exit, { code: 0, signal: null }, 'the first corral exits 0 on SIGTERM');
  const line = await saved;
  t.ok((line.sessions as number) >= pins.size, `"routing state saved" with ${line.sessions} sessions`);
  t.equal(line.file, file);
  t.ok(existsSync(file), 'the state file exists');

  const second = await startCorral(t, sims, opts);
  const restored = await second.waitForLog((l) => l.msg === 'routing state restored');
  t.ok((restored.sessions as number) >= pins.size, `"routing state restored" with ${restored.sessions} sessions`);
  t.ok((await second.status()).sessions >= pins.size, 'status counts the restored sessions');
  for (const [id, endpoint] of pins) {
    const r = await chat(second, id);
    t.match(r, { status: 200, route: 'sticky-hit', endpoint }, `${id}: first request after the restart is a sticky hit on ${endpoint}`);
  }
  const fresh = await chat(second, 'never-seen');
  t.equal(fresh.route, 'sticky-new', 'an unknown session is still a new pin');
});

t.test('a corrupt state file is ignored and corral serves', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }]);
  const file = tempStateFile(t);
  writeFileSync(file, Buffer.concat([Buffer.from('not msgpack at all'), randomBytes(256)]));
  const corral = await startCorral(t, sims, { config: { state: { file } } });
  const ignored = await corral.waitForLog((l) => l.msg === 'state file ignored; starting fresh');
  t.equal(ignored.file, file, '"state file ignored; starting fresh" names the file');
  t.notOk(corral.logs.some((l) => l.msg === 'routing state restored'), 'nothing restored');
  const r = await chat(corral, 'conv');
  t.match(r, { status: 200, route: 'sticky-new', endpoint: 'a' }, 'serves, with fresh pins');

  // And the next shutdown replaces the corrupt file with a good one.
  const saved = corral.nextLog((l) => l.msg === 'routing state saved');
  t.same(await corral.stop('SIGTERM'), { code: 0, signal: null });
  t.ok(((await saved).sessions as number) >= 1, 'a valid snapshot was written over it');
});

/** A streaming chat on `client` whose head and first line have arrived; `rest` is the whole body (or rejects). */
async function openStream(client: Client, session?: string): Promise<{ status: number; endpoint: string; rest: Promise<string> }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (session !== undefined) headers['x-corral-session-id'] = session;
  const res = await client.request({
    path: '/api/chat', method: 'POST', headers,
    body: JSON.stringify({ model: MODEL, messages: HI, stream: true }),
  });
  const it = res.body[Symbol.asyncIterator]();
  const first = await it.next();
  const rest = (async () => {
    let text = first.done ? '' : Buffer.from(first.value).toString('utf8');
    for (let n = await it.next(); !n.done; n = await it.next()) text += Buffer.from(n.value).toString('utf8');
    return text;
  })();
  rest.catch(() => {}); // examined later
  return { status: res.statusCode, endpoint: String(res.headers['x-corral-endpoint'] ?? ''), rest };
}

t.test('a SIGKILLed worker: its in-flight counts are released, sessions survive', async (t) => {
  // 5 tokens/s, 15 tokens: streams of about 3 s, long enough to kill a worker in the middle.
  const sims = await startBackends(t, [{ name: 'a', tokensPerSecond: 5, tokens: 15 }, { name: 'b', tokensPerSecond: 5, tokens: 15 }]);
  const corral = await startCorral(t, sims, { config: { logging: { requests: true } } });
  const st0 = await corral.status();
  t.equal(st0.workers.length, 2, 'two workers');

  // Which worker holds which connection: a quick logged request on each connection, tagged with
  // our own request id; the request log line carries the worker's pid. uWS keeps a connection on
  // the worker that accepted it, so each client's later requests land there too.
  const byPid = new Map<number, Client[]>();
  const clients: Client[] = [];
  t.teardown(() => Promise.all(clients.map((c) => c.destroy())));
  const enough = (): boolean => byPid.size === 2 && [...byPid.values()].every((cs) => cs.length >= 2);
  for (let k = 0; k < 40 && !enough(); k++) {
    const client = new Client(corral.url, { pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: 15_000, bodyTimeout: 15_000 });
    clients.push(client);
    const id = `probe-${k}-${randomBytes(4).toString('hex')}`;
    const logged = corral.waitForLog((l) => l.msg === 'request' && l.requestId === id);
    const res = await client.request({ path: '/api/show', method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': id }, body: JSON.stringify({ model: MODEL }) });
    await res.body.text();
    t.equal(res.statusCode, 200, `probe ${k}`);
    const pid = (await logged).pid as number;
    const list = byPid.get(pid) ?? [];
    list.push(client);
    byPid.set(pid, list);
  }
  t.ok(enough(), `connections on both workers (${[...byPid].map(([pid, cs]) => `${pid}: ${cs.length}`).join(', ')})`);
  if (!enough()) return;
  const [victimPid, survivorPid] = [...byPid.keys()] as [number, number];
  t.ok(st0.workers.some((w: any) => w.pid === victimPid) && st0.workers.some((w: any) => w.pid === survivorPid), 'both are status-listed workers');

  // A conversation pinned before the crash.
  const pinned = await chat(corral, 'survivor-session');
  t.match(pinned, { status: 200, route: 'sticky-new' }, `session pinned to ${pinned.endpoint}`);

  // Four slow streams: two on the victim's connections, two on the survivor's.
  const victims = await Promise.all(byPid.get(victimPid)!.slice(0, 2).map((c) => openStream(c)));
  const survivors = await Promise.all(byPid.get(survivorPid)!.slice(0, 2).map((c) => openStream(c)));
  t.ok([...victims, ...survivors].every((s) => s.status === 200), '4 streams under way');
  const inflight = async (): Promise<number> => (await corral.status()).endpoints.reduce((n: number, e: any) => n + e.inflight, 0);
  t.equal(await inflight(), 4, 'status counts 4 in flight');

  const released = corral.nextLog((l) => l.msg === 'released in-flight counts held by a gone worker');
  const died = corral.nextLog((l) => l.msg === 'worker died; respawning');
  process.kill(victimPid, 'SIGKILL');
  const line = await released;
  t.equal(line.released, 2, 'the primary released the 2 in-flight counts the dead worker held');
  t.equal((await died).pid, victimPid, 'and is respawning it');

  const victimOutcomes = await Promise.allSettled(victims.map((s) => s.rest));
  for (const o of victimOutcomes) {
    const complete = o.status === 'fulfilled' && o.value.trim().split('\n').at(-1)?.includes('"done":true');
    t.notOk(complete, `a stream on the killed worker ended with it (${o.status === 'rejected' ? String(o.reason) : 'truncated'})`);
  }
  for (const s of survivors) {
    const lines = (await s.rest).trim().split('\n').map((l) => JSON.parse(l));
    t.equal(lines.length, 16, 'a stream on the surviving worker: 15 tokens and the final line');
    t.equal(lines.at(-1).done, true, '…ending with done: true');
  }

  await until('every endpoint back to 0 in flight', async () => (await inflight()) === 0, 15_000);
  t.pass('in-flight counts returned to 0: nothing left to drift');

  const again = await chat(corral, 'survivor-session');
  t.match(again, { status: 200, route: 'sticky-hit', endpoint: pinned.endpoint }, 'the session pinned before the crash is still a sticky hit');

  await until('the seat is back', async () => {
    const st = await corral.status();
    return st.workers.length === 2 && st.workers.every((w: any) => w.state === 'listening' && w.pid !== victimPid);
  }, 15_000);
  const st = await corral.status();
  t.equal(st.workers.reduce((n: number, w: any) => n + w.restarts, 0), 1, 'one restart counted');
  await until('the backends hold nothing either', () => sims.every((s: SimBackend) => s.stats.inflight === 0), 15_000);
  t.pass('the backends hold nothing either');
});
