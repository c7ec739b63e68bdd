/**
 * Starts a real corral (the built CLI, `dist/bundle/cli.cjs`, as users run it) in front of simulated
 * backends, on port 0, and stops it when the test ends. Everything is awaited on events (the
 * "corral listening" log line, process exit), never on fixed sleeps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { stringify } from 'yaml';
import { request } from 'undici';
import { SimBackend, type SimOptions } from '../fixtures/sim-backend.js';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CLI = join(REPO_ROOT, 'dist', 'bundle', 'cli.cjs');

// `npx tsc` alone rebuilds dist/src but not the bundles the tests run: refuse a stale bundle
// rather than test yesterday's corral. `npm test` and `npm run build:ts` rebuild both.
if (statSync(CLI).mtimeMs < statSync(join(REPO_ROOT, 'dist', 'src', 'cli.js')).mtimeMs) {
  throw new Error(`${CLI} is older than tsc's output (dist/src/cli.js): run \`npm run build:ts\` (tsc, then the bundles)`);
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export class CorralProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly port: number;
  readonly managementPort: number | null;
  readonly logs: LogLine[];
  readonly stderr: string[];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  readonly #waiters: { match: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  /** The config file corral was started with (in a temp dir removed at teardown), and what was written there. */
  configFile = '';
  config: Record<string, any> = {};

  constructor(child: ChildProcess, port: number, managementPort: number | null, logs: LogLine[], stderr: string[],
    exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>) {
    this.child = child;
    this.port = port;
    this.url = `http://127.0.0.1:${port}`;
    this.managementPort = managementPort;
    this.logs = logs;
    this.stderr = stderr;
    this.exited = exited;
  }

  /** Called for every log line (after start-up) so tests can await one. */
  onLog(line: LogLine): void {
    for (let i = this.#waiters.length - 1; i >= 0; i--) {
      const w = this.#waiters[i]!;
      if (w.match(line)) {
        this.#waiters.splice(i, 1);
        w.resolve(line);
      }
    }
  }

  /** Resolves with the first log line (already seen or future) that matches. */
  waitForLog(match: (l: LogLine) => boolean): Promise<LogLine> {
    const seen = this.logs.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  /** Resolves with the next matching log line, ignoring those already seen. */
  nextLog(match: (l: LogLine) => boolean): Promise<LogLine> {
    return new Promise((resolve) => this.#waiters.push({ match, resolve }));
  }

  async status(): Promise<any> {
    const res = await request(`${this.url}/internal/status`);
    return res.body.json();
  }

  /** Replaces the config file's contents (the object is written as YAML); takes effect on reload(). */
  writeConfig(config: Record<string, any>): void {
    writeFileSync(this.configFile, stringify(config));
    this.config = config;
  }

  /**
   * Sends SIGHUP and resolves with the reload's outcome line: 'reloaded', or 'reload refused: …'
   * (or 'reload ignored: …' / 'reload failed').
   */
  reload(): Promise<LogLine> {
    const outcome = this.nextLog((l) => l.msg === 'reloaded' || l.msg.startsWith('reload refused') || l.msg.startsWith('reload ignored') || l.msg === 'reload failed');
    this.child.kill('SIGHUP');
    return outcome;
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/**
 * `CORRAL_TEST_ENGINE=node npx tap test/integration/X.test.ts` runs a suite against the node:http
 * engine (`server.engine`); a suite's own config wins.
 */
const ENGINE = process.env.CORRAL_TEST_ENGINE ? { engine: process.env.CORRAL_TEST_ENGINE } : {};

export interface StartOptions {
  /** Extra top-level config sections merged over the defaults below. */
  config?: Record<string, any>;
  /** Endpoint entries; `url` filled from `backends` by name when omitted. */
  endpoints?: Record<string, any>[];
  env?: NodeJS.ProcessEnv;
}

/**
 * Writes a config (port 0, management port 0, fast health probes) and starts corral with it.
 * Registers teardown right away: SIGTERM, then SIGKILL if it has not exited 10 s later.
 */
export async function startCorral(t: Teardown, backends: SimBackend[], opts: StartOptions = {}): Promise<CorralProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'corral-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const endpoints = opts.endpoints ?? backends.map((b) => ({ name: b.name }));
  const config = {
    ...opts.config,
    server: { host: '127.0.0.1', port: 0, management_port: 0, workers: 2, shutdown_timeout: '10s', ...ENGINE, ...opts.config?.server },
    routing: { ...opts.config?.routing },
    logging: { level: 'info', ...opts.config?.logging },
    upstream: { ...opts.config?.upstream },
    endpoints: endpoints.map((e) => ({
      url: backends.find((b) => b.name === e.name)?.url,
      health: { interval: '1s', fast_interval: '50ms', timeout: '1s' },
      ...e,
    })),
  };
  for (const key of ['routing', 'upstream'] as const) if (Object.keys(config[key]).length === 0) delete (config as any)[key];
  const file = join(dir, 'corral.yaml');
  writeFileSync(file, stringify(config));
  const child = spawn(process.execPath, [CLI, '--config', file], {
    env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  t.teardown(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  });
  const logs: LogLine[] = [];
  const stderr: string[] = [];
  child.stderr!.setEncoding('utf8').on('data', (d: string) => stderr.push(d));
  let proc: CorralProcess | null = null;
  const lines = createInterface({ input: child.stdout! });
  const listening = new Promise<LogLine>((resolve, reject) => {
    lines.on('line', (text) => {
      let line: LogLine;
      try {
        line = JSON.parse(text) as LogLine;
      } catch {
        return;
      }
      logs.push(line);
      if (proc !== null) proc.onLog(line);
      else if (typeof line.msg === 'string' && line.msg.startsWith('corral listening')) resolve(line);
    });
    void exited.then(({ code, signal }) => reject(new Error(`corral exited before listening (code ${code}, signal ${signal}):\n${stderr.join('')}\n${logs.map((l) => JSON.stringify(l)).join('\n')}`)));
  });
  const line = await listening;
  proc = new CorralProcess(child, line.port as number, (line.managementPort as number | null) ?? null, logs, stderr, exited);
  proc.configFile = file;
  proc.config = config;
  return proc;
}

/**
 * Starts simulated backends on port 0 and stops them at teardown. Their models are resident from
 * the start unless a spec says `preload: false`: suites about routing, failover and errors see
 * warm backends, as on a prewarmed GPU box; placement suites start them cold.
 */
export async function startBackends(t: Teardown, specs: SimOptions[]): Promise<SimBackend[]> {
  const sims = await Promise.all(specs.map((s) => SimBackend.start({ preload: true, ...s })));
  t.teardown(() => Promise.all(sims.map((s) => s.stop())));
  return sims;
}
