/**
 * `npm run demo`: corral in front of two simulated GPU backends, with a short guided workload
 * that shows its routing decisions, then keeps serving until Ctrl-C.
 *
 *   node dist/demo/demo.js [--port 11400] [--workers 2] [--once]
 *
 * The backends are the test fixture (test/fixtures/sim-backend.ts): real HTTP servers speaking
 * the Ollama and OpenAI wire formats with a token rate, so what you see is what a client sees.
 */
import { parseArgs } from 'node:util';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { request } from 'undici';
import { SimBackend } from '../test/fixtures/sim-backend.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bundle', 'cli.cjs');
const useColor = process.stdout.isTTY === true && process.env.NO_COLOR === undefined;
const paint = (code: string) => (s: string) => (useColor ? `\x1b[${code}m${s}\x1b[0m` : s);
const bold = paint('1');
const dim = paint('2');
const green = paint('32');
const yellow = paint('33');
const cyan = paint('36');

function say(text = ''): void {
  process.stdout.write(`${text}\n`);
}

function step(n: number, title: string): void {
  say();
  say(bold(`${n}. ${title}`));
}

interface Answer { status: number; endpoint: string; route: string; retries: string; text: string }

async function chat(url: string, content: string, session?: string, model = 'llama3.2:1b'): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (session !== undefined) headers['x-corral-session-id'] = session;
  const res = await request(`${url}/api/chat`, {
    method: 'POST', headers,
    body: JSON.stringify({ model, stream: false, messages: [{ role: 'user', content }] }),
  });
  const body = await res.body.json() as { message?: { content?: string }; error?: string };
  return {
    status: res.statusCode,
    endpoint: String(res.headers['x-corral-endpoint'] ?? '-'),
    route: String(res.headers['x-corral-route'] ?? '-'),
    retries: String(res.headers['x-corral-retries'] ?? '0'),
    text: body.message?.content ?? body.error ?? '',
  };
}

/** One request on a connection of its own (so both workers take some): its status and queue wait. */
async function queuedChat(url: string, content: string): Promise<{ status: number; waitMs: number | null }> {
  const res = await request(`${url}/api/chat`, {
    method: 'POST', headers: { 'content-type': 'application/json', connection: 'close' },
    body: JSON.stringify({ model: 'llama3.2:1b', stream: false, messages: [{ role: 'user', content }] }),
  });
  await res.body.dump();
  const wait = res.headers['x-corral-queue-wait'];
  return { status: res.statusCode, waitMs: wait === undefined ? null : Number(wait) };
}

function show(label: string, a: Answer): void {
  const retry = a.retries !== '0' ? yellow(` retries=${a.retries}`) : '';
  say(`   ${label.padEnd(10)} → ${cyan(a.endpoint.padEnd(6))} route=${a.route}${retry}  ${dim(`"${a.text.slice(0, 40)}…"`)}`);
}

async function waitUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

async function endpointState(url: string, name: string): Promise<string> {
  const res = await request(`${url}/internal/status`);
  const doc = await res.body.json() as { endpoints: { name: string; state: string }[] };
  return doc.endpoints.find((e) => e.name === name)?.state ?? 'unknown';
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: {
    port: { type: 'string', default: process.env.CORRAL_PORT ?? '11400' },
    workers: { type: 'string', default: '2' },
    once: { type: 'boolean', default: false },
  } });
  const port = Number(values.port);

  const GiB = 1024 ** 3;
  const models = [{ name: 'llama3.2:1b', sizeBytes: 1.3e9 }, { name: 'qwen2.5:7b', sizeBytes: 4.7e9 }];
  // Each simulated GPU has 8 GiB and loads at 0.4 s per GiB, one load at a time, like Ollama on a GPU.
  const sims = await Promise.all(['gpu-0', 'gpu-1'].map((name) => SimBackend.start({
    name, models, tokensPerSecond: 60, tokens: 12, vramBytes: 8 * GiB, loadMsPerGiB: 400,
  })));
  const dir = mkdtempSync(join(tmpdir(), 'corral-demo-'));
  const configFile = join(dir, 'corral.yaml');
  writeFileSync(configFile, stringify({
    server: { host: '127.0.0.1', port, management_port: port === 0 ? 0 : port + 1, workers: Number(values.workers), shutdown_timeout: '5s' },
    logging: { level: 'info', requests: true },
    // llama3.2:1b is loaded on both GPUs at start (and again should a backend come back empty).
    models: { prewarm: [{ model: 'llama3.2:1b', keep_alive: -1 }] },
    // max_concurrency 4: each backend serves four requests at once (Ollama's OLLAMA_NUM_PARALLEL).
    endpoints: sims.map((s) => ({ name: s.name, url: s.url, type: 'ollama', vram: '8GiB', max_concurrency: 4, health: { interval: '1s', fast_interval: '50ms' } })),
  }));
  const logFile = join(dir, 'corral.log');
  const log = createWriteStream(logFile);

  say(bold('corral demo') + dim(' — an LLM gateway in front of two simulated GPU backends'));
  for (const s of sims) say(`   backend ${cyan(s.name)} at ${s.url}  (Ollama + OpenAI APIs, 8 GiB of simulated vRAM, models: ${models.map((m) => m.name).join(', ')})`);

  const child = spawn(process.execPath, [CLI, '--config', configFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  const childExit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = await new Promise<{ port: number; managementPort: number | null }>((resolve, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      try {
        const l = JSON.parse(line) as { msg?: string; port?: number; managementPort?: number | null };
        if (l.msg?.startsWith('corral listening')) resolve({ port: l.port!, managementPort: l.managementPort ?? null });
      } catch { /* not JSON */ }
    });
    void childExit.then((code) => reject(new Error(`corral exited with code ${code} before listening (is port ${port} free? try --port)`)));
  });
  const url = `http://127.0.0.1:${listening.port}`;
  say(`   corral listening on ${green(url)} with ${values.workers} workers ${dim(`(logs: ${logFile})`)}`);

  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    say();
    say(dim('stopping corral (draining in-flight requests) and the simulated backends…'));
    child.kill('SIGTERM');
    await childExit;
    await Promise.all(sims.map((s) => s.stop()));
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  step(1, 'Models: corral merges what every backend serves (GET /api/tags)');
  const tags = await (await request(`${url}/api/tags`)).body.json() as { models: { name: string }[] };
  say(`   ${tags.models.map((m) => m.name).join(', ')}`);

  const prewarmed = await waitUntil(async () => residentsOf(await statusOf(url)).filter((r) => r.includes('llama3.2:1b')).length === 2, 10_000);
  say(prewarmed ? '   prewarm: llama3.2:1b is resident on both GPUs' : yellow('   prewarm: llama3.2:1b is not resident on both GPUs yet'));

  step(2, 'Placement: five requests at once for a model no GPU holds — one load, and all five wait for it');
  const started = Date.now();
  const cold = await Promise.all([1, 2, 3, 4, 5].map((i) => chat(url, `cold question ${i}`, undefined, 'qwen2.5:7b').then((a) => ({ a, ms: Date.now() - started }))));
  for (const [i, { a, ms }] of cold.entries()) show(`request ${i + 1}`, { ...a, text: `${ms} ms: ${a.text}` });
  const loads = sims.reduce((n, s) => n + (s.stats.loadsByModel['qwen2.5:7b'] ?? 0), 0);
  say(`   ${green(`qwen2.5:7b loads: ${loads}`)} (without corral, each backend a request reached would have loaded it)`);

  step(3, 'Four requests at once for a model warm on both GPUs: least-connections spreads them');
  const spread = await Promise.all([1, 2, 3, 4].map((i) => chat(url, `question ${i}`)));
  for (const [i, a] of spread.entries()) show(`request ${i + 1}`, a);

  step(4, 'A burst of 24 requests against 8 slots (4 per GPU): they wait their turn in one queue across both workers, none refused');
  const burstStarted = Date.now();
  const burst = await Promise.all(Array.from({ length: 24 }, (_, i) => queuedChat(url, `burst ${i + 1}`)));
  const waited = burst.filter((b) => b.waitMs !== null);
  say(`   ${green(`${burst.filter((b) => b.status === 200).length} of 24 served`)} in ${Date.now() - burstStarted} ms; `
    + `${waited.length} waited for a slot (X-Corral-Queue-Wait up to ${Math.max(0, ...waited.map((b) => b.waitMs!))} ms), none got 503`);

  step(5, 'A conversation with X-Corral-Session-ID: every turn returns to the backend holding its KV cache');
  let pinned = '';
  for (let turn = 1; turn <= 4; turn++) {
    const a = await chat(url, `turn ${turn}`, 'demo-conversation');
    pinned = a.endpoint;
    show(`turn ${turn}`, a);
  }

  step(6, `Backend ${pinned} goes away (hard kill) in the middle of the conversation`);
  const victim = sims.find((s) => s.name === pinned)!;
  await victim.stop();
  say(`   ${yellow(`${victim.name} stopped`)}: the next turn fails over and re-pins, the client sees no error`);
  for (let turn = 5; turn <= 7; turn++) show(`turn ${turn}`, await chat(url, `turn ${turn}`, 'demo-conversation'));

  step(7, `Backend ${victim.name} comes back`);
  await victim.restart();
  const back = await waitUntil(async () => (await endpointState(url, victim.name)) === 'healthy', 5000);
  say(`   ${back ? green(`${victim.name} is healthy again and back in rotation`) : yellow(`${victim.name} not healthy yet`)}`);
  for (let i = 1; i <= 2; i++) show(`request ${i}`, await chat(url, `after recovery ${i}`));

  step(8, 'Streaming passes through token by token (Ollama NDJSON)');
  const res = await request(`${url}/api/generate`, { method: 'POST', body: JSON.stringify({ model: 'qwen2.5:7b', prompt: 'stream please' }) });
  process.stdout.write(`   ${cyan(String(res.headers['x-corral-endpoint']))}: `);
  let carry = '';
  for await (const chunk of res.body) {
    carry += chunk.toString();
    let nl;
    while ((nl = carry.indexOf('\n')) >= 0) {
      const line = JSON.parse(carry.slice(0, nl)) as { response?: string };
      carry = carry.slice(nl + 1);
      process.stdout.write(line.response ?? '');
    }
  }
  say();

  step(9, 'What corral saw (GET /internal/status): each GPU and what sits in it');
  const status = await statusOf(url);
  for (const e of status.endpoints) {
    const gib = (b: number | null): string => (b === null ? '?' : (b / GiB).toFixed(1));
    say(`   ${cyan(e.name.padEnd(6))} ${e.state.padEnd(8)} requests=${e.requests} failures=${e.failures}  vRAM ${gib(e.vram?.used_bytes ?? 0)}/${gib(e.vram?.total_bytes ?? null)} GiB`);
    for (const r of e.residents) say(`          ${dim('└')} ${r.model.padEnd(12)} ${gib(r.size_vram)} GiB  ctx=${r.context_length ?? '?'}  in flight=${r.inflight}`);
  }
  say(`   sessions=${status.sessions} requests=${status.counters.requests} retries=${status.counters.retries} model loads=${status.placement?.loads ?? 0}`);

  say();
  if (values.once) return stop(0);
  say(bold(`corral keeps serving on ${url} — point any Ollama or OpenAI client at it:`));
  say(`   curl ${url}/api/chat -d '{"model":"llama3.2:1b","messages":[{"role":"user","content":"hi"}]}'`);
  say(`   curl ${url}/v1/chat/completions -H 'content-type: application/json' -d '{"model":"qwen2.5:7b","stream":true,"messages":[{"role":"user","content":"hi"}]}'`);
  say(`   curl ${url}/internal/status${listening.managementPort !== null ? `    (probes: http://127.0.0.1:${listening.managementPort}/internal/ready)` : ''}`);
  say(dim('Ctrl-C to stop.'));
}

interface Status {
  endpoints: {
    name: string; state: string; requests: number; failures: number;
    vram: { used_bytes: number; total_bytes: number | null } | null;
    residents: { model: string; size_vram: number; context_length: number | null; inflight: number }[];
  }[];
  sessions: number; counters: { requests: number; retries: number }; placement: { loads: number } | null;
}

async function statusOf(url: string): Promise<Status> {
  return await (await request(`${url}/internal/status`)).body.json() as Status;
}

/** "endpoint/model" for every resident model. */
function residentsOf(s: Status): string[] {
  return s.endpoints.flatMap((e) => e.residents.map((r) => `${e.name}/${r.model}`));
}

main().catch((err: Error) => {
  process.stderr.write(`demo failed: ${err.message}\n`);
  process.exit(1);
});
