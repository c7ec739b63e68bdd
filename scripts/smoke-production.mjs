// A production install, as a deployment makes it, checked end to end (issue 10, item 5):
//
//   node scripts/smoke-production.mjs      (run by .ci/run after the test suite)
//
// Clones this repository's HEAD into a temporary directory, runs `npm ci --omit=dev` there (no
// TypeScript, no test tools), starts that corral (`node dist/bundle/cli.cjs`, what the bin, `npm
// start` and pm2 run) with two workers in front of a simulated backend (taken from this
// development checkout's dist/, built by `npm ci`), and checks it is ready, answers a chat in
// both dialects, streams, and stops cleanly on SIGTERM. Prints `production install: ok` or what
// failed, and exits 0 or 1. Everything listens on 127.0.0.1; every wait is bounded.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'corral-production-'));
const children = [];

function fail(what) {
  console.log(`production install: FAILED: ${what}`);
  cleanup();
  process.exit(1);
}

function cleanup() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) fail(`${cmd} ${args.join(' ')} exited ${r.status}:\n${(r.stdout ?? '').slice(-2000)}\n${(r.stderr ?? '').slice(-2000)}`);
  return r.stdout;
}

/** Starts a process and resolves with the first JSON line of its stdout that `match` accepts. */
function startAndWait(cmd, args, cwd, match, what) {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => fail(`${what}: not started within 30 s\n${stderr}`), 30_000);
    child.once('exit', (code) => fail(`${what} exited (${code}) before it was ready:\n${stderr}`));
    createInterface({ input: child.stdout }).on('line', (text) => {
      let line;
      try {
        line = JSON.parse(text);
      } catch {
        return;
      }
      if (match(line)) {
        clearTimeout(timer);
        child.removeAllListeners('exit');
        resolve({ child, line });
      }
    });
  });
}

async function post(url, body) {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
  return { status: res.status, text: await res.text(), endpoint: res.headers.get('x-corral-endpoint') };
}

const sim = join(root, 'dist', 'test', 'fixtures', 'sim-backend-cli.js');
if (!existsSync(sim)) fail(`${sim} is missing: run this from a development checkout after \`npm ci\``);

run('git', ['clone', '--quiet', '--no-hardlinks', root, join(dir, 'corral')], root);
const app = join(dir, 'corral');
run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], app);
for (const f of ['dist/bundle/cli.cjs', 'dist/bundle/http-worker.cjs', 'native-bindings/build/Release/corral_shm.node']) {
  if (!existsSync(join(app, f))) fail(`npm ci --omit=dev did not build ${f}`);
}
if (existsSync(join(app, 'node_modules', 'typescript'))) fail('npm ci --omit=dev installed typescript: not a production install');

const backend = await startAndWait(process.execPath, [sim, '--name', 'gpu-a', '--port', '0'], root, (l) => l.event === 'listening', 'the simulated backend');
const config = join(dir, 'corral.yaml');
writeFileSync(config, `server:\n  host: 127.0.0.1\n  port: 0\n  management_port: 0\n  workers: 2\nendpoints:\n  - name: gpu-a\n    url: ${backend.line.url}\n`);
const corral = await startAndWait(process.execPath, ['dist/bundle/cli.cjs', '--config', config], app,
  (l) => typeof l.msg === 'string' && l.msg.startsWith('corral listening'), 'corral');
const base = `http://127.0.0.1:${corral.line.port}`;

let ready = false;
for (let i = 0; i < 100 && !ready; i++) {
  ready = (await fetch(`${base}/internal/ready`).catch(() => ({ status: 0 }))).status === 200;
  if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
}
if (!ready) fail('/internal/ready never answered 200');
const model = JSON.parse((await (await fetch(`${base}/api/tags`)).text())).models?.[0]?.name;
if (typeof model !== 'string') fail('GET /api/tags lists no model');
const ollama = await post(`${base}/api/chat`, { model, messages: [{ role: 'user', content: 'hi' }], stream: false });
if (ollama.status !== 200 || !/"done":true/.test(ollama.text) || ollama.endpoint !== 'gpu-a') fail(`POST /api/chat: ${ollama.status} ${ollama.text.slice(0, 300)}`);
const openai = await post(`${base}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'hi' }], stream: true });
if (openai.status !== 200 || !openai.text.trimEnd().endsWith('data: [DONE]')) fail(`POST /v1/chat/completions (stream): ${openai.status} ${openai.text.slice(0, 300)}`);

corral.child.kill('SIGTERM');
const code = await new Promise((resolve) => {
  const timer = setTimeout(() => resolve('no exit within 15 s'), 15_000);
  corral.child.once('exit', (c) => {
    clearTimeout(timer);
    resolve(c);
  });
});
if (code !== 0) fail(`corral did not stop cleanly on SIGTERM: ${code}`);
console.log('production install: ok (npm ci --omit=dev built the addon and the bundles; corral served both dialects and stopped cleanly)');
cleanup();
process.exit(0);
