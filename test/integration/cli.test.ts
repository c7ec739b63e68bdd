// The `corral` command as users run it (the built dist/bundle/cli.cjs): --validate-config listing every
// problem by key path, --print-config with defaults and env applied, --version, --help, and exit
// codes (0 ok, 1 bad config, 2 bad usage).
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { CLI, REPO_ROOT } from '../helpers/corral-process.js';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The test runner's environment without any CORRAL_* variable, so only what a test sets applies. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('CORRAL_')) env[k] = v;
  return { ...env, ...extra };
}

function corral(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: REPO_ROOT, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'corral-cli-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The problem lines of a failed validation: `  key.path: message`, one per problem. */
function problems(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim());
}

const BAD = `# several problems at once, in every section
server:
  port: 70000
  workers: many
  max_body_size: huge
  shutdown_timeout: soon
routing:
  strategy: fastest
  session_slots: 1000
  max_retries: -1
logging:
  levle: debug
endpoints:
  - name: gpu-a
    url: http://127.0.0.1:11434
  - name: gpu b
    url: ftp://example.com
    type: vllm
    max_concurrency: 0
    health:
      interval: 1s
      fast_interval: 10s
  - name: gpu-a
    url: http://127.0.0.1:11435/
`;

/** Each problem in BAD: its key path and (a fragment of) what is wrong. */
const BAD_PROBLEMS: [string, RegExp][] = [
  ['server.port', /integer from 0 to 65535/],
  ['server.workers', /auto or an integer/],
  ['server.max_body_size', /must be a size/],
  ['server.shutdown_timeout', /must be a duration/],
  ['routing.strategy', /must be one of .*least-connections/],
  ['routing.session_slots', /power of two/],
  ['routing.max_retries', /integer from 0 to 100/],
  ['logging.levle', /unknown key \(did you mean level\?\)/],
  ['endpoints[1].name', /must be 1 to 64 characters/],
  ['endpoints[1].url', /^must be an http\(s\) URL$/],
  ['endpoints[1].type', /must be one of .*ollama.*openai/],
  ['endpoints[1].max_concurrency', /integer from 1 to 65535/],
  ['endpoints[1].health.fast_interval', /must not exceed endpoints\[1\]\.health\.interval/],
  ['endpoints[2].name', /duplicate of endpoints\[0\]\.name/],
];

t.test('--validate-config', async (t) => {
  t.test('the shipped config/corral.yaml is valid: exit 0', async (t) => {
    const r = await corral(['--validate-config', 'config/corral.yaml']);
    t.equal(r.code, 0, r.stderr);
    t.match(r.stdout, /config\/corral\.yaml: ok \(1 endpoint\)/);
    t.equal(r.stderr, '');
  });

  t.test('a config with many problems: exit 1, every problem listed by key path', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, BAD);
    const r = await corral(['--validate-config', file]);
    t.equal(r.code, 1, 'exit 1');
    t.equal(r.stdout, '', 'nothing on stdout');
    const lines = problems(r.stderr);
    t.match(r.stderr, new RegExp(`^corral: ${lines.length} problems in the configuration:\\n`), 'a header with the count');
    t.equal(lines.length, BAD_PROBLEMS.length, `exactly the ${BAD_PROBLEMS.length} problems:\n${r.stderr}`);
    for (const [path, message] of BAD_PROBLEMS) {
      const line = lines.find((l) => l.startsWith(`${path}: `));
      t.ok(line, `${path} is reported`);
      if (line !== undefined) t.match(line.slice(path.length + 2), message, line);
    }
    t.ok(lines.includes('endpoints[1].url: must be an http(s) URL'), 'the exact wording the issue quotes');
  });

  t.test('the same problems from --config: corral refuses to start, exit 1', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, BAD);
    const r = await corral(['--config', file]);
    t.equal(r.code, 1);
    t.equal(problems(r.stderr).length, BAD_PROBLEMS.length);
  });

  t.test('a YAML syntax error: exit 1, naming the file, line and column', async (t) => {
    const dir = tempDir(t);
    const cases: [string, string, RegExp][] = [
      ['nested.yaml', 'server:\n  port: 11400\n  host: a: b\nendpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434\n', /:3:\d+: YAML syntax error at line 3: /],
      ['tab.yaml', 'endpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434\n\tport: 1\n', /:4:1: YAML syntax error at line 4: .*[Tt]ab/],
      ['quote.yaml', 'endpoints:\n  - name: gpu-a\n    url: "http://127.0.0.1:11434\n', /:\d+:\d+: YAML syntax error at line \d+: .*quote/],
      ['indent.yaml', 'endpoints:\n  - name: gpu-a\n     url: http://127.0.0.1:11434\n', /:\d+:\d+: YAML syntax error at line \d+: /],
      ['dupe.yaml', 'server:\n  port: 1\n  port: 2\nendpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434\n', /:3:3: YAML syntax error at line 3: .*unique/],
      ['dangling.yaml', 'endpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434\n    health: *h\n', /:4:13: YAML alias \*h has no anchor &h before it$/],
    ];
    for (const [name, text, expected] of cases) {
      const file = join(dir, name);
      writeFileSync(file, text);
      const r = await corral(['--validate-config', file]);
      t.equal(r.code, 1, `${name}: exit 1`);
      const lines = problems(r.stderr);
      t.ok(lines.length >= 1, `${name}: a problem is listed`);
      t.ok(lines[0]?.startsWith(`${file}:`), `${name}: names the file (${lines[0]})`);
      t.match(lines[0], expected, `${name}: line and what is wrong`);
      t.notMatch(r.stderr, /\bat .*\.c?js:\d+/, `${name}: no stack trace`);
    }
  });

  t.test('a YAML alias bomb ("billion laughs"): exit 1, one problem line, no stack trace', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'bomb.yaml');
    // 9 anchors of 9 aliases each: 9^9 (387 million) values once expanded, in under 400 bytes.
    const levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (let i = 1; i < 9; i++) {
      const name = String.fromCharCode(97 + i);
      levels.push(`${name}: &${name} [${Array(9).fill(`*${String.fromCharCode(96 + i)}`).join(',')}]`);
    }
    writeFileSync(file, `${levels.join('\n')}\nendpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434\n    models: *i\n`);
    for (const flag of ['--validate-config', '--print-config', '--config']) {
      const r = await corral([flag, file]);
      t.equal(r.code, 1, `${flag}: exit 1`);
      t.equal(r.stdout, '', `${flag}: nothing on stdout`);
      t.match(r.stderr, /^corral: 1 problem in the configuration:\n/, `${flag}: the usual header`);
      t.same(problems(r.stderr), [`${file}:7:8: YAML aliases expand to more than 1000000 values (an alias bomb?): refused`], `${flag}: the problem, where`);
      t.notMatch(r.stderr, /\bat .*\.c?js:\d+/, `${flag}: no stack trace`);
    }
  });

  t.test('a missing file: exit 1, naming it', async (t) => {
    const dir = tempDir(t);
    const r = await corral(['--validate-config', join(dir, 'nope.yaml')]);
    t.equal(r.code, 1);
    t.same(problems(r.stderr), [`${join(dir, 'nope.yaml')}: cannot read config file (ENOENT)`]);
  });

  t.test('an empty file: exit 1, endpoints are required', async (t) => {
    const dir = tempDir(t);
    const file = join(dir, 'empty.yaml');
    writeFileSync(file, '');
    const r = await corral(['--validate-config', file]);
    t.equal(r.code, 1);
    t.same(problems(r.stderr), ['endpoints: must list at least one endpoint']);
  });

  t.test('a bad env override is reported with the variable name', async (t) => {
    const r = await corral(['--validate-config', 'config/corral.yaml'], { CORRAL_PORT: 'abc', CORRAL_STRATEGY: 'fastest' });
    t.equal(r.code, 1);
    const lines = problems(r.stderr);
    t.ok(lines.some((l) => /^CORRAL_PORT \(server\.port\): must be an integer/.test(l)), 'CORRAL_PORT named');
    t.ok(lines.some((l) => /^CORRAL_STRATEGY \(routing\.strategy\): must be one of/.test(l)), 'CORRAL_STRATEGY named');
  });
});

t.test('--print-config shows the effective config, defaults applied', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'min.yaml');
  writeFileSync(file, 'endpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434/\n');

  t.test('defaults', async (t) => {
    const r = await corral(['--print-config', file]);
    t.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    t.match(c, {
      server: {
        host: '127.0.0.1', port: 11400, management_port: 11401, workers: Number,
        max_body_size: 50 * 1024 * 1024, max_header_size: 16 * 1024, shutdown_timeout: 30_000, request_id_header: 'x-request-id',
      },
      routing: { strategy: 'least-connections', max_retries: 2, session_header: 'x-corral-session-id', session_ttl: 30 * 60_000, session_slots: 65536, discovery_interval: 30_000 },
      upstream: { connect_timeout: 5000, first_byte_timeout: 5 * 60_000, idle_timeout: 2 * 60_000, connections: 64 },
      logging: { level: 'info', requests: false },
      state: { max_endpoints: 64, max_models: 256 },
    });
    t.ok(c.server.workers >= 1, 'workers: auto resolved to the core count');
    t.same(c.endpoints, [{
      name: 'gpu-a', url: 'http://127.0.0.1:11434', type: 'auto', priority: 0, weight: 1, max_concurrency: 32, models: null,
      health: { path: null, interval: 5000, timeout: 2000, fast_interval: 100 }, vram: null, vram_reserve: { percent: 10 }, gpus: null,
    }], 'endpoint defaults; trailing slash removed from the url');
  });

  t.test('units and env overrides', async (t) => {
    const withUnits = join(dir, 'units.yaml');
    writeFileSync(withUnits, 'server:\n  max_body_size: 1KiB\n  shutdown_timeout: 1.5s\nendpoints:\n  - name: gpu-a\n    url: http://127.0.0.1:11434\n');
    const r = await corral(['--print-config', withUnits], { CORRAL_PORT: '12000', CORRAL_WORKERS: '0', CORRAL_STRATEGY: 'round-robin', CORRAL_MAX_RETRIES: '5' });
    t.equal(r.code, 0, r.stderr);
    const c = JSON.parse(r.stdout);
    t.match(c.server, { port: 12000, management_port: 12001, workers: 0, max_body_size: 1024, shutdown_timeout: 1500 });
    t.match(c.routing, { strategy: 'round-robin', max_retries: 5 });
  });

  t.test('an invalid file: exit 1, nothing printed on stdout', async (t) => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, BAD);
    const r = await corral(['--print-config', bad]);
    t.equal(r.code, 1);
    t.equal(r.stdout, '');
    t.equal(problems(r.stderr).length, BAD_PROBLEMS.length);
  });
});

t.test('--version and --help', async (t) => {
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-v']) {
    const r = await corral([flag]);
    t.equal(r.code, 0, `${flag}: exit 0`);
    t.equal(r.stdout, `corral ${pkg.version}\n`, `${flag}: the package version`);
  }
  for (const flag of ['--help', '-h']) {
    const r = await corral([flag]);
    t.equal(r.code, 0, `${flag}: exit 0`);
    t.match(r.stdout, /^usage: corral --config FILE/);
    t.match(r.stdout, /--validate-config FILE/);
  }
});

t.test('bad usage: exit 2 with the usage on stderr', async (t) => {
  const cases: [string[], RegExp][] = [
    [['--bogus'], /--bogus/],
    [['--validate-config'], /--validate-config/],
    [['config/corral.yaml'], /config\/corral\.yaml|argument/i],
  ];
  for (const [args, mention] of cases) {
    const r = await corral(args);
    t.equal(r.code, 2, `${args.join(' ')}: exit 2`);
    t.match(r.stderr, /^corral: /, `${args.join(' ')}: an error line`);
    t.match(r.stderr, mention, `${args.join(' ')}: names what is wrong`);
    t.match(r.stderr, /usage: corral --config FILE/, `${args.join(' ')}: usage`);
    t.equal(r.stdout, '', `${args.join(' ')}: nothing on stdout`);
  }
});
