/**
 * The benchmark's child processes: simulated backends and corral, each its own OS process
 * (STYLE rule 9: load generator, proxy and backend never share an event loop).
 *
 * Every child is registered the moment it is spawned, and `killAll()` SIGKILLs whatever is still
 * alive, so a benchmark that throws, times out or is interrupted never leaves a backend or a
 * corral worker behind. corral is spawned as its own process group (`detached`) so that killing
 * the group also takes its cluster workers, even if the primary dies before it can stop them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

/** dist/perf/lib/children.js → repository root. */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SIM_CLI = join(REPO_ROOT, 'dist', 'test', 'fixtures', 'sim-backend-cli.js');
const CORRAL_CLI = join(REPO_ROOT, 'dist', 'bundle', 'cli.cjs');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One spawned process, its exit as a promise, and whether it is still running. */
export class Child {
  readonly proc: ChildProcess;
  readonly label: string;
  readonly group: boolean;
  readonly exited: Promise<Exit>;
  readonly stderr: string[];
  #alive: boolean;

  constructor(proc: ChildProcess, label: string, group: boolean) {
    this.proc = proc;
    this.label = label;
    this.group = group;
    this.stderr = [];
    this.#alive = true;
    this.exited = new Promise((resolve) => {
      proc.once('exit', (code, signal) => {
        this.#alive = false;
        resolve({ code, signal });
      });
    });
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => this.stderr.push(d));
  }

  get alive(): boolean {
    return this.#alive;
  }

  /** Signals the process (its whole group for corral). Never throws: the process may be gone. */
  signal(sig: NodeJS.Signals): void {
    if (!this.#alive || this.proc.pid === undefined) return;
    try {
      if (this.group) process.kill(-this.proc.pid, sig);
      else this.proc.kill(sig);
    } catch {
      // already exited
    }
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs: number): Promise<Exit> {
    this.signal('SIGTERM');
    const timer = setTimeout(() => this.signal('SIGKILL'), graceMs);
    const exit = await this.exited;
    clearTimeout(timer);
    // Cluster workers of a corral whose primary exited: make sure the group is gone.
    if (this.group && this.proc.pid !== undefined) {
      try {
        process.kill(-this.proc.pid, 'SIGKILL');
      } catch {
        // group already empty
      }
    }
    return exit;
  }
}

const live = new Set<Child>();

export function track(proc: ChildProcess, label: string, group: boolean): Child {
  const child = new Child(proc, label, group);
  live.add(child);
  void child.exited.then(() => {
    if (!child.group) live.delete(child);
  });
  return child;
}

/** SIGKILLs every child still registered (synchronous: safe in a process 'exit' handler). */
export function killAll(): void {
  for (const c of live) {
    if (c.proc.pid === undefined) continue;
    try {
      if (c.group) process.kill(-c.proc.pid, 'SIGKILL');
      else if (c.alive) c.proc.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

/**
 * Spawns any helper process (a backend, a proxy, a load generator) and registers it, so that
 * `killAll()` takes it down too. `group: true` makes it a process group leader and signals go to
 * the whole group (for programs that fork: corral's cluster, nginx's workers, clinic's child).
 */
export function spawnTracked(command: string, args: readonly string[], label: string,
  options: { group?: boolean; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Child {
  const group = options.group ?? false;
  const proc = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'], detached: group, env: options.env ?? process.env, cwd: options.cwd ?? REPO_ROOT,
  });
  return track(proc, label, group);
}

/** Everything a child writes to stdout, as one string once it has exited. */
export function collectStdout(child: Child): Promise<string> {
  const parts: string[] = [];
  child.proc.stdout?.setEncoding('utf8').on('data', (d: string) => parts.push(d));
  return child.exited.then(() => parts.join(''));
}

/** Resolves with the first stdout line that parses as JSON and satisfies `match`. */
export function firstJsonLine<T>(child: Child, what: string, timeoutMs: number, match: (v: any) => boolean,
  onLine?: (v: any) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    let done = false;
    const timer = setTimeout(() => finish(new Error(`${what}: not ready after ${timeoutMs} ms\n${child.stderr.join('')}`)), timeoutMs);
    const finish = (err: Error | null, value?: T): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err !== null) reject(err);
      else resolve(value as T);
    };
    createInterface({ input: child.proc.stdout! }).on('line', (text) => {
      let v: any;
      try {
        v = JSON.parse(text);
      } catch {
        return;
      }
      onLine?.(v);
      if (!done && match(v)) finish(null, v as T);
    });
    void child.exited.then(({ code, signal }) =>
      finish(new Error(`${what} exited before it was ready (code ${code}, signal ${signal}):\n${child.stderr.join('')}`)));
  });
}

export interface SimProcess {
  child: Child;
  name: string;
  port: number;
  /** Date.now() when its "listening" line was read. */
  listeningAt: number;
}

/**
 * `node dist/test/fixtures/sim-backend-cli.js --name NAME --port PORT …`; resolves once listening.
 * `extra` is passed on (e.g. `['--tps', '200']`).
 */
export async function startSim(name: string, port: number, models: string, tokens: number,
  extra: readonly string[] = []): Promise<SimProcess> {
  const proc = spawn(process.execPath,
    [SIM_CLI, '--name', name, '--port', String(port), '--models', models, '--tokens', String(tokens), ...extra],
    { stdio: ['ignore', 'pipe', 'pipe'] });
  const child = track(proc, `sim ${name}`, false);
  const line = await firstJsonLine<{ port: number }>(child, `sim backend ${name}`, 10_000, (v) => v.event === 'listening');
  return { child, name, port: line.port, listeningAt: Date.now() };
}

export interface LogLine {
  level: number;
  msg: string;
  time?: string;
  [key: string]: unknown;
}

export interface CorralProcess {
  child: Child;
  port: number;
  /** Every JSON log line corral has printed so far (primary and workers). */
  logs: LogLine[];
}

/** `node dist/bundle/cli.cjs --config FILE`; resolves on the "corral listening" line. */
export async function startCorral(configFile: string): Promise<CorralProcess> {
  const proc = spawn(process.execPath, [CORRAL_CLI, '--config', configFile],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const child = track(proc, 'corral', true);
  const logs: LogLine[] = [];
  const line = await firstJsonLine<LogLine>(child, 'corral', 20_000,
    (v) => typeof v.msg === 'string' && v.msg.startsWith('corral listening'), (v) => logs.push(v as LogLine));
  return { child, port: line.port as number, logs };
}
