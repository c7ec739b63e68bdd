// `corral status` (issue 14) against a running corral with a simulated GPU: a table in a real
// pseudo-terminal (python3's pty module: colour there, none with NO_COLOR or through a pipe),
// `--watch` redrawing until Ctrl-C, `--json`, and a clear error with exit 1 when nothing answers.
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import t from 'tap';
import { request } from 'undici';
import { CLI, REPO_ROOT, startBackends, startCorral } from '../helpers/corral-process.js';

const GiB = 1024 ** 3;
const RELAY = join(REPO_ROOT, 'test', 'helpers', 'pty-relay.py');
const CLEAR = '\x1b[H\x1b[2J';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** The environment of a person's terminal: nothing of the test runner's (its NODE_OPTIONS load a TypeScript loader: ~1 s a run). */
function env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CORRAL_') && !k.startsWith('TAP') && !['NO_COLOR', 'FORCE_COLOR', 'NODE_OPTIONS'].includes(k)) out[k] = v;
  return { ...out, TERM: 'xterm-256color', ...extra };
}

/**
 * Runs `corral status ARGS`, in a pseudo-terminal when `tty`. `until` (on the output so far) is
 * when to type Ctrl-C.
 */
function status(args: string[], opts: { tty?: boolean; env?: Record<string, string>; until?: (out: string) => boolean } = {}): Promise<Run> {
  const argv = opts.tty ? ['python3', RELAY, process.execPath, CLI, 'status', ...args] : [process.execPath, CLI, 'status', ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { env: env(opts.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (!interrupted && opts.until?.(stdout)) {
        interrupted = true;
        child.stdin.write('\x03');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    if (opts.until === undefined) child.stdin.end();
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const strip = (s: string): string => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

t.test('corral status: a table in a terminal, JSON on request, an error when nothing answers', async (t) => {
  const [sim] = await startBackends(t, [{ name: 'gpu', preload: false, vramBytes: 8 * GiB, loadMsPerGiB: 10, tokens: 2,
    models: [{ name: 'qwen2.5:7b', sizeBytes: 4.5 * GiB }, { name: 'llama3.2:1b', sizeBytes: 1 * GiB }] }]);
  const corral = await startCorral(t, [sim!], {
    config: { models: { estimate_factor: 1 } },
    endpoints: [{ name: 'gpu', type: 'ollama', vram: '8GiB', vram_reserve: '0%' }],
  });
  const res = await request(`${corral.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: 'qwen2.5:7b', messages: [{ role: 'user', content: 'hi' }], stream: false }) });
  t.equal(res.statusCode, 200);
  await res.body.dump();
  const url = `http://127.0.0.1:${corral.managementPort}`;

  // The runs are independent: all at once (each is a process start; --watch takes two frames, 2 s).
  const [tty, noColour, piped, watch, json, apiRun, down] = await Promise.all([
    status(['--url', url], { tty: true }),
    status(['--url', url], { tty: true, env: { NO_COLOR: '1' } }),
    status(['--url', url]),
    status(['--url', url, '--watch'], { tty: true, until: (out) => out.split(CLEAR).length > 2 }),
    status(['--url', url, '--json']),
    status(['--url', corral.url, '--json']),
    status(['--url', 'http://127.0.0.1:1']),
  ]);
  t.equal(tty.code, 0, 'exit 0');
  t.match(tty.stdout, '\x1b[32mhealthy\x1b[0m', 'colour in a terminal: a healthy endpoint in green');
  const table = strip(tty.stdout).replace(/\r\n/g, '\n');
  t.match(table, /^corral {2}cluster · pid \d+ · up \d+s · 2 workers/m, 'the heading');
  t.match(table, /^ENDPOINT +STATE +CIRCUIT +IN-FLIGHT +QUEUE +TTFB +VRAM$/m, 'the endpoint table');
  t.match(table, /^gpu +healthy +closed +0\/32 +0 +[\d.]+ ms +\[█{9}░{7}\] 4\.5 GiB \/ 8\.0 GiB$/m, 'its row, with the vRAM bar');
  t.match(table, /^ {2}└ qwen2\.5:7b {2}4\.5 GiB {2}ctx \d+ {2}expires in 4m\d\d$/m, 'the resident model under it');
  t.match(table, /^qwen2\.5:7b +gpu +0 +0 +4\.5 GiB$/m, 'the model table');
  t.match(table, /^llama3\.2:1b +– +0 +0 +1\.0 GiB$/m);
  t.match(table, /^WORKER +PID +SLOT +STATE +RESTARTS$/m, 'the workers');

  t.equal(noColour.code, 0);
  t.notMatch(noColour.stdout, '\x1b[', 'NO_COLOR: no escape codes');
  t.notMatch(piped.stdout, '\x1b[', 'through a pipe: no escape codes');
  t.match(piped.stdout, /^gpu +healthy/m, 'the same table');

  // --watch: each frame clears the screen; Ctrl-C after the second ends it with exit 0.
  t.equal(watch.code, 0, 'Ctrl-C ends --watch with exit 0');
  t.ok(watch.stdout.split(CLEAR).length >= 3, 'two frames, each drawn over the last');

  // --json: the dashboard's view.
  t.equal(json.code, 0);
  const view = JSON.parse(json.stdout);
  t.match(view.status.endpoints, [{ name: 'gpu', state: 'healthy', residents: [{ model: 'qwen2.5:7b', size_vram: 4.5 * GiB }] }]);
  t.ok(Array.isArray(view.history.t), 'with the sparklines\' samples');
  t.equal(typeof view.generated_at, 'string');

  // The API port has no /ui: its /internal/status, without samples.
  const api = JSON.parse(apiRun.stdout);
  t.equal(api.history, null, 'the API port: no samples');
  t.equal(api.status.endpoints[0].name, 'gpu');

  // Nothing there: one clear line, exit 1.
  t.equal(down.code, 1, 'exit 1 when the URL cannot be reached');
  t.equal(down.stdout, '');
  t.match(down.stderr, /^corral status: cannot reach corral at http:\/\/127\.0\.0\.1:1: /);
  t.notMatch(down.stderr, /\n\s+at /, 'no stack trace');
});
