// Reload without loss (issue 3, "Reload without loss"): SIGHUP re-reads the config file,
// validates it (an invalid one is refused with its problems logged and the running one kept),
// applies the endpoint list (added endpoints take traffic, removed ones drain), keeps the
// restart-only settings with a warning, and replaces the workers one by one — so that under
// continuous load no request is refused or cut.
import t, { type Test } from 'tap';
import OpenAI from 'openai';
import { writeFileSync } from 'node:fs';
import { Agent, Pool, request } from 'undici';
import { startBackends, startCorral, type CorralProcess } from '../helpers/corral-process.js';
import type { SimBackend } from '../fixtures/sim-backend.js';
import { openaiClient } from '../helpers/clients.js';
import { answer, HI, inferenceRequests, MODEL } from '../helpers/sim.js';
import { until } from '../helpers/wait.js';

/** /internal/status from the primary's management listener (does not depend on any worker). */
async function mgmtStatus(corral: CorralProcess): Promise<any> {
  const res = await request(`http://127.0.0.1:${corral.managementPort}/internal/status`);
  return res.body.json();
}

/** An endpoint takes traffic when it serves the model in the workers' catalog and is healthy. */
async function serving(corral: CorralProcess, name: string): Promise<boolean> {
  const st = await corral.status();
  const ep = st.endpoints.find((e: any) => e.name === name);
  const model = st.models.find((m: any) => m.name === MODEL);
  return ep?.state === 'healthy' && model?.endpoints.some((e: any) => e.name === name && e.available) === true;
}

async function chat(ai: OpenAI): Promise<{ endpoint: string; content: string }> {
  const { data, response } = await ai.chat.completions.create({ model: MODEL, messages: HI }).withResponse();
  return { endpoint: response.headers.get('x-corral-endpoint') ?? '', content: data.choices[0]?.message.content ?? '' };
}

const pids = (st: any): number[] => st.workers.map((w: any) => w.pid).sort();

t.test('reloading the configuration', async (t) => {
  const sims = await startBackends(t, [{ name: 'a' }, { name: 'b' }, { name: 'c' }]);
  const [, b, c] = sims as [SimBackend, SimBackend, SimBackend];
  const corral = await startCorral(t, sims, { endpoints: [{ name: 'a' }, { name: 'b' }] });
  const ai = openaiClient(corral);
  const base = structuredClone(corral.config);
  const endpointC = { ...base.endpoints[0], name: 'c', url: c.url };

  await t.test('adding an endpoint: it is listed and takes traffic; every worker is replaced', { timeout: 30_000 }, async (t) => {
    const before = await corral.status();
    t.same(before.endpoints.map((e: any) => e.name), ['a', 'b'], 'two endpoints at start');
    t.equal(before.workers.length, 2);

    corral.writeConfig({ ...base, endpoints: [...base.endpoints, endpointC] });
    const outcome = await corral.reload();
    t.equal(outcome.msg, 'reloaded', '"reloaded" logged');
    t.match(outcome, { added: 1, removed: 0 }, 'one endpoint added');

    const after = await corral.status();
    t.same(after.endpoints.map((e: any) => e.name), ['a', 'b', 'c'], 'status lists c');
    t.equal(after.workers.length, 2, 'still two workers');
    t.ok(after.workers.every((w: any) => w.state === 'listening'), 'all listening');
    t.same(pids(after).filter((p) => pids(before).includes(p)), [], `every worker has a new pid (${pids(before)} → ${pids(after)})`);
    t.ok(after.workers.every((w: any) => w.restarts === 0), 'restarts unchanged (a roll is not a crash)');

    await until('c healthy and in the catalog', () => serving(corral, 'c'));
    const cBefore = inferenceRequests(c);
    const seen: string[] = [];
    for (let i = 0; i < 30 && inferenceRequests(c) === cBefore; i++) {
      const r = await chat(ai);
      t.equal(r.content, answer(r.endpoint), `request ${i}: full answer from ${r.endpoint}`);
      seen.push(r.endpoint);
    }
    t.ok(inferenceRequests(c) > cBefore, `c takes traffic (endpoints seen: ${seen.join(',')})`);
  });

  await t.test('removing an endpoint drains it: its in-flight stream finishes, no new traffic', { timeout: 30_000 }, async (t) => {
    // A slow stream on b: stream requests until one lands there (the drip fault waits for it).
    b.setFault({ mode: 'drip', dripMs: 150, count: 1 });
    let onB: Awaited<ReturnType<typeof openStream>> | null = null;
    for (let i = 0; i < 30 && onB === null; i++) {
      const s = await openStream(ai);
      if (s.endpoint === 'b') onB = s;
      else t.equal(await s.rest, answer(s.endpoint), `stream ${i} from ${s.endpoint} complete`);
    }
    t.not(onB, null, 'a stream is under way on b');
    if (onB === null) return;
    const workersBefore = pids(await corral.status());

    corral.writeConfig({ ...base, endpoints: [base.endpoints[0], endpointC] });
    const outcome = await corral.reload();
    t.equal(outcome.msg, 'reloaded');
    t.match(outcome, { added: 0, removed: 1 }, 'one endpoint removed');
    t.equal(await onB.rest, answer('b'), 'the stream b was serving finished in full (drained, not cut)');

    const st = await corral.status();
    t.notOk(st.endpoints.some((e: any) => e.name === 'b'), 'b is no longer listed');
    t.same(pids(st).filter((p) => workersBefore.includes(p)), [], 'workers replaced again');
    const bBefore = inferenceRequests(b);
    const seen = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const r = await chat(ai);
      t.equal(r.content, answer(r.endpoint));
      seen.add(r.endpoint);
    }
    t.equal(inferenceRequests(b), bBefore, 'b got no new requests');
    t.same([...seen].sort(), ['a', 'c'], 'a and c share the traffic');
  });

  await t.test('an invalid config is refused; the running one keeps serving, no worker replaced', { timeout: 30_000 }, async (t) => {
    const before = await corral.status();
    const current = structuredClone(corral.config);
    corral.writeConfig({ ...current, endpoints: [{ ...current.endpoints[0], url: 'nope' }, current.endpoints[1]] });
    const outcome = await corral.reload();
    t.equal(outcome.msg, 'reload refused: the configuration is invalid; the running one is kept');
    t.ok(Array.isArray(outcome.problems) && (outcome.problems as unknown[]).some((p) => /endpoints\[0\]\.url/.test(typeof p === 'string' ? p : JSON.stringify(p))),
      'the problem is listed by key path', { problems: outcome.problems });
    t.notOk(corral.logs.some((l) => l.msg === 'reloading' && (l.time as string) > (outcome.time as string)), 'no reload started');

    const after = await corral.status();
    t.same(pids(after), pids(before), 'the same worker processes');
    t.same(after.endpoints.map((e: any) => [e.name, e.url]), before.endpoints.map((e: any) => [e.name, e.url]), 'the same endpoints');
    for (let i = 0; i < 4; i++) {
      const r = await chat(ai);
      t.equal(r.content, answer(r.endpoint), `still serving (${r.endpoint})`);
    }
    corral.writeConfig(current);
  });

  await t.test('malformed YAML and an alias bomb are refused the same way: problems with line:column, no crash', { timeout: 30_000 }, async (t) => {
    const before = await corral.status();
    const current = structuredClone(corral.config);
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]'];
    for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g'], ['i', 'h']]) {
      bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(', ')}]`);
    }
    const cases: [string, string, RegExp][] = [
      ['a tab as indentation', 'endpoints:\n\t- name: a\n', /:2:1: YAML syntax error at line 2: .*[Tt]ab/],
      ['an unclosed quote', 'endpoints:\n  - name: "a\n', /: YAML syntax error at line \d+: .*quote/],
      ['a duplicate key', 'server:\n  port: 1\n  port: 2\n', /:3:3: YAML syntax error at line 3: .*unique/],
      ['an alias bomb', `${bomb.join('\n')}\n`, /:7:8: YAML aliases expand to more than \d+ values \(an alias bomb\?\): refused$/],
    ];
    for (const [what, text, expected] of cases) {
      writeFileSync(corral.configFile, text);
      const outcome = await corral.reload();
      t.equal(outcome.msg, 'reload refused: the configuration is invalid; the running one is kept', `${what}: refused`);
      const problems = outcome.problems as string[];
      t.ok(Array.isArray(problems) && problems[0]?.startsWith(`${corral.configFile}:`), `${what}: the problem names the file`, { problems });
      t.match(problems[0], expected, `${what}: line:column and what is wrong`);
    }
    t.notOk(corral.logs.some((l) => l.msg === 'reload failed'), 'never "reload failed" (an exception)');
    t.equal(corral.child.exitCode, null, 'the primary is still running');
    const after = await corral.status();
    t.same(pids(after), pids(before), 'the same worker processes');
    const r = await chat(ai);
    t.equal(r.content, answer(r.endpoint), `still serving (${r.endpoint})`);
    corral.writeConfig(current);
  });

  await t.test('a restart-only setting (server.port) is warned about and kept', { timeout: 30_000 }, async (t) => {
    const current = structuredClone(corral.config);
    const warned = corral.nextLog((l) => l.msg === 'these settings change only on restart; the running values are kept');
    corral.writeConfig({ ...current, server: { ...current.server, port: corral.port === 65000 ? 65001 : 65000 } });
    const outcome = await corral.reload();
    t.equal(outcome.msg, 'reloaded', 'the rest of the config is applied');
    const w = await warned;
    t.same(w.settings, ['server.port'], 'the warning names server.port');
    const r = await chat(ai);
    t.equal(r.content, answer(r.endpoint), 'still serving on the original port');
  });
});

t.test('a reload that changes only max_concurrency: counted as changed, the new cap applies at once', { timeout: 60_000 }, async (t) => {
  // Slow answers (10 tokens at 20/s, ~0.5 s) so that two requests are in flight together.
  const sims = await startBackends(t, [{ name: 'gpu', tokensPerSecond: 20, tokens: 10 }]);
  const corral = await startCorral(t, sims, { endpoints: [{ name: 'gpu', max_concurrency: 4 }] });
  const agents = [new Agent({ connections: 1 }), new Agent({ connections: 1 })];
  t.teardown(() => Promise.all(agents.map((a) => a.close())));
  // Each answer's status, and whether it waited for a slot (X-Corral-Queue-Wait).
  const pair = async (): Promise<string[]> => Promise.all(agents.map(async (dispatcher) => {
    const res = await request(`${corral.url}/api/chat`, { method: 'POST', dispatcher, body: JSON.stringify({ model: MODEL, messages: HI, stream: false }) });
    await res.body.dump();
    return `${res.statusCode}${res.headers['x-corral-queue-wait'] === undefined ? '' : ' after waiting'}`;
  }));
  await until('gpu healthy and in the catalog', () => serving(corral, 'gpu'));
  t.same(await pair(), ['200', '200'], 'cap 4: two at once are both served at once');

  const current = structuredClone(corral.config);
  corral.writeConfig({ ...current, endpoints: [{ ...current.endpoints[0], max_concurrency: 1 }] });
  const outcome = await corral.reload();
  t.equal(outcome.msg, 'reloaded');
  t.match(outcome, { added: 0, removed: 0, changed: 1, reprobed: 0 }, 'changed: 1 (applied in place, not re-probed)');
  const st = await corral.status();
  t.match(st.endpoints[0], { name: 'gpu', max_concurrency: 1, state: 'healthy' }, 'status shows the new cap; gpu stayed healthy');
  t.same((await pair()).sort(), ['200', '200 after waiting'], 'cap 1: of two at once, one is served and the other waits for its slot');

  corral.writeConfig(corral.config);
  const same = await corral.reload();
  t.match(same, { msg: 'reloaded', added: 0, removed: 0, changed: 0 }, 'the same file again: changed: 0');
});

/** An openai stream whose head has arrived: who serves it, and the rest of its content (rejects on error). */
async function openStream(ai: OpenAI): Promise<{ endpoint: string; rest: Promise<string> }> {
  const { data: stream, response } = await ai.chat.completions.create({ model: MODEL, messages: HI, stream: true }).withResponse();
  const rest = (async () => {
    let content = '';
    let finished = false;
    for await (const chunk of stream) {
      content += chunk.choices[0]?.delta.content ?? '';
      if (chunk.choices[0]?.finish_reason) finished = true;
    }
    return finished ? content : `${content} (no finish_reason)`;
  })();
  return { endpoint: response.headers.get('x-corral-endpoint') ?? '', rest };
}

// ---------------------------------------------------------------------------------------------
// Under load: 8 lanes over one keep-alive undici Pool, streaming and not, both dialects.

type Kind = 'openai' | 'openai-stream' | 'ollama-chat-stream' | 'ollama-generate';
const KINDS: readonly Kind[] = ['openai', 'openai-stream', 'ollama-chat-stream', 'ollama-generate'];

interface Result {
  lane: number;
  i: number;
  kind: Kind;
  /** ms relative to the SIGHUP (negative: before it) */
  start: number;
  end: number;
  status: number;
  endpoint: string;
  problem: string | null;
}

/** Checks a whole response body for completeness; returns what is wrong, or null. */
function verify(kind: Kind, endpoint: string, body: string): string | null {
  const want = answer(endpoint);
  try {
    if (kind === 'openai') {
      const j = JSON.parse(body);
      if (j.choices?.[0]?.message?.content !== want || !j.choices[0].finish_reason) return `incomplete: ${body.slice(0, 200)}`;
      return null;
    }
    if (kind === 'ollama-generate') {
      const j = JSON.parse(body);
      if (j.response !== want || j.done !== true) return `incomplete: ${body.slice(0, 200)}`;
      return null;
    }
    if (kind === 'openai-stream') {
      const events = body.split('\n\n').map((e) => e.trim()).filter((e) => e !== '');
      if (events.at(-1) !== 'data: [DONE]') return `stream not ended with [DONE]: …${body.slice(-200)}`;
      let content = '';
      for (const e of events.slice(0, -1)) {
        const j = JSON.parse(e.replace(/^data: /, ''));
        if (j.error !== undefined) return `SSE error event: ${JSON.stringify(j.error)}`;
        content += j.choices?.[0]?.delta?.content ?? '';
      }
      return content === want ? null : `stream content ${JSON.stringify(content)}`;
    }
    const lines = body.trim().split('\n').map((l) => JSON.parse(l));
    const err = lines.find((l) => l.error !== undefined);
    if (err !== undefined) return `NDJSON error line: ${JSON.stringify(err)}`;
    if (lines.at(-1)?.done !== true) return `NDJSON not ended with done: …${body.slice(-200)}`;
    const content = lines.map((l) => l.message?.content ?? '').join('');
    return content === want ? null : `stream content ${JSON.stringify(content)}`;
  } catch (err) {
    return `unparsable body (${(err as Error).message}): ${body.slice(0, 200)}`;
  }
}

function requestFor(kind: Kind): { path: string; body: string } {
  switch (kind) {
    case 'openai': return { path: '/v1/chat/completions', body: JSON.stringify({ model: MODEL, messages: HI }) };
    case 'openai-stream': return { path: '/v1/chat/completions', body: JSON.stringify({ model: MODEL, messages: HI, stream: true }) };
    case 'ollama-chat-stream': return { path: '/api/chat', body: JSON.stringify({ model: MODEL, messages: HI, stream: true }) };
    case 'ollama-generate': return { path: '/api/generate', body: JSON.stringify({ model: MODEL, prompt: 'hi', stream: false }) };
  }
}

t.test('a SIGHUP roll under continuous load fails no request', async (t: Test) => {
  // 40 tokens/s: streams of about 0.2 s, so rolls always meet streams in flight.
  const sims = await startBackends(t, [{ name: 'a', tokensPerSecond: 40 }, { name: 'b', tokensPerSecond: 40 }]);
  const corral = await startCorral(t, sims);
  const pool = new Pool(corral.url, { connections: 8, pipelining: 1, keepAliveTimeout: 30_000, headersTimeout: 15_000, bodyTimeout: 15_000 });
  t.teardown(() => pool.close());
  const before = await corral.status();

  const LANES = 8;
  let hupAt = Number.POSITIVE_INFINITY;
  let reloadedAt = Number.POSITIVE_INFINITY;
  let stop = false;
  const results: Result[] = [];
  const rel = (ms: number): number => (hupAt === Number.POSITIVE_INFINITY ? ms - performance.now() : Math.round(ms - hupAt));

  const lane = async (n: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const kind = KINDS[(n + i) % KINDS.length]!;
      const { path, body } = requestFor(kind);
      const started = performance.now();
      const r: Result = { lane: n, i, kind, start: started, end: 0, status: 0, endpoint: '', problem: null };
      try {
        const res = await pool.request({ path, method: 'POST', headers: { 'content-type': 'application/json' }, body });
        r.status = res.statusCode;
        r.endpoint = String(res.headers['x-corral-endpoint'] ?? '');
        const text = await res.body.text();
        r.problem = res.statusCode === 200 ? verify(kind, r.endpoint, text) : `status ${res.statusCode}: ${text.slice(0, 300)}`;
      } catch (err) {
        const e = err as Error & { code?: string; cause?: { code?: string; message?: string } };
        r.problem = `threw ${e.name} ${e.code ?? ''} ${e.message}${e.cause ? ` (cause: ${e.cause.code ?? ''} ${e.cause.message ?? ''})` : ''}`;
      }
      r.end = performance.now();
      results.push(r);
    }
  };

  // Worker seats as the primary sees them, throughout (management port: independent of workers).
  let minListening = Number.POSITIVE_INFINITY;
  let maxSeats = 0;
  let watching = true;
  const watcher = (async () => {
    while (watching) {
      const st = await mgmtStatus(corral);
      if (hupAt !== Number.POSITIVE_INFINITY && reloadedAt === Number.POSITIVE_INFINITY) {
        minListening = Math.min(minListening, st.workers.filter((w: any) => w.state === 'listening').length);
        maxSeats = Math.max(maxSeats, st.workers.length);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();

  const lanes = Array.from({ length: LANES }, (_, n) => lane(n));
  const completedBy = (pred: (r: Result) => boolean): (() => boolean) => () => {
    const perLane = new Array(LANES).fill(0);
    for (const r of results) if (pred(r)) perLane[r.lane]++;
    return perLane.every((c) => c >= 3);
  };
  await until('every lane has done 3 requests before the reload', completedBy(() => true), 20_000);

  hupAt = performance.now();
  const outcome = await corral.reload();
  reloadedAt = performance.now();
  await until('every lane has done 3 requests started after the reload', completedBy((r) => r.start > reloadedAt), 20_000);
  stop = true;
  await Promise.all(lanes);
  watching = false;
  await watcher;

  t.equal(outcome.msg, 'reloaded', 'the roll completed');
  const after = await corral.status();
  t.same(pids(after).filter((p) => pids(before).includes(p)), [], 'both workers were replaced');
  t.ok(after.workers.every((w: any) => w.restarts === 0 && w.state === 'listening'), 'no restarts');
  t.ok(minListening >= 2, `one by one: never fewer than 2 listening workers during the roll (min ${minListening}, at most ${maxSeats} seats)`);

  const during = results.filter((r) => r.end > hupAt && r.start < reloadedAt);
  const failed = results.filter((r) => r.problem !== null);
  const report = failed.map((r) => ({
    lane: r.lane, i: r.i, kind: r.kind, status: r.status, endpoint: r.endpoint, problem: r.problem,
    startMsAfterSighup: rel(r.start), endMsAfterSighup: rel(r.end), rollTookMs: Math.round(reloadedAt - hupAt),
  }));
  t.ok(during.length >= LANES, `${during.length} requests overlapped the roll (of ${results.length})`);
  t.same(report, [], `zero failed requests: every one of ${results.length} answered 200 and complete`);
  t.ok(results.every((r) => r.endpoint === 'a' || r.endpoint === 'b'));
});
