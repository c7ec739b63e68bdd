/**
 * Starting the processes under test: the zero backend (nginx or the uWS fixture), nginx and
 * HAProxy as reverse proxies, and corral with the benchmark config. Each is its own process,
 * registered with children.ts so nothing survives the benchmark.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { choiceArg, type Flag } from './args.js';
import { firstJsonLine, REPO_ROOT, spawnTracked, type Child } from './children.js';
import { freePort, freePorts, httpGet, waitForHttp } from './net.js';
import { tempDir } from './run.js';
import { which } from './tools.js';
import { zeroBackendConfig, proxyConfig } from '../fixtures/nginx-config.js';
import { haproxyConfig } from '../fixtures/haproxy-config.js';
import { BENCH_MODEL } from '../fixtures/zero-bodies.js';

const ZERO_CLI = join(REPO_ROOT, 'dist', 'perf', 'fixtures', 'zero-backend.js');
/** The corral under test; CORRAL_CLI points the suite at another build (before/after comparisons). */
export const CORRAL_CLI = process.env.CORRAL_CLI ?? join(REPO_ROOT, 'dist', 'bundle', 'cli.cjs');

export interface Server {
  /** What the tables call it. */
  name: string;
  port: number;
  child: Child;
  /** Every pid whose CPU and memory belong to this server (corral: primary + workers). */
  pids: number[];
}

export type BackendKind = 'nginx' | 'uws';

/** `auto`: nginx when installed (the fastest backend available, issue 4), else the uWS fixture. */
export function resolveBackend(kind: BackendKind | 'auto'): BackendKind {
  if (kind !== 'auto') return kind;
  return which('nginx') !== null ? 'nginx' : 'uws';
}

/** The --backend flag of every script in front of the zero backend: nginx, uws, or auto (resolveBackend). */
export function backendFlag(): Flag<BackendKind> {
  return { default: 'auto', parse: (v, f) => resolveBackend(choiceArg(v, f, ['auto', 'nginx', 'uws'] as const)) };
}

export async function startZeroBackend(kind: BackendKind): Promise<Server> {
  if (kind === 'uws') {
    const child = spawnTracked(process.execPath, [ZERO_CLI], 'zero backend (uws)');
    const { port } = await firstJsonLine<{ port: number }>(child, 'zero backend', 10_000, (v) => typeof v.port === 'number');
    return { name: 'backend (uWS)', port, child, pids: [child.proc.pid!] };
  }
  const dir = tempDir('nginx-backend');
  const port = await freePort();
  return startNginx('backend (nginx)', dir, zeroBackendConfig(dir, port), port);
}

async function startNginx(name: string, dir: string, config: string, port: number): Promise<Server> {
  const nginx = which('nginx');
  if (nginx === null) throw new Error('nginx is not installed');
  for (const d of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, d), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, config);
  const child = spawnTracked(nginx, ['-p', dir, '-c', conf, '-e', join(dir, 'error.log')], name, { group: true });
  await waitOrExplain(child, `http://127.0.0.1:${port}/api/version`, name);
  return { name, port, child, pids: [child.proc.pid!] };
}

/** waitForHttp, with the child's stderr in the error (nginx and HAProxy explain themselves there). */
async function waitOrExplain(child: Child, url: string, name: string): Promise<void> {
  try {
    await waitForHttp(url, name, 10_000, () => child.alive);
  } catch (err) {
    throw new Error(`${(err as Error).message}
${child.stderr.join('')}`);
  }
}

/** nginx as a keep-alive reverse proxy with `workers` worker processes. */
export async function startNginxProxy(backendPort: number, workers: number): Promise<Server> {
  const dir = tempDir('nginx-proxy');
  const port = await freePort();
  return startNginx(`nginx proxy (${workers} workers)`, dir, proxyConfig(dir, port, backendPort, workers), port);
}

/** HAProxy as a keep-alive reverse proxy with `threads` threads. */
export async function startHaproxy(backendPort: number, threads: number): Promise<Server> {
  const haproxy = which('haproxy');
  if (haproxy === null) throw new Error('haproxy is not installed');
  const dir = tempDir('haproxy');
  const port = await freePort();
  const conf = join(dir, 'haproxy.cfg');
  writeFileSync(conf, haproxyConfig(port, backendPort, threads));
  const name = `HAProxy (${threads} threads)`;
  const child = spawnTracked(haproxy, ['-db', '-f', conf], name, { group: true });
  await waitOrExplain(child, `http://127.0.0.1:${port}/api/version`, name);
  return { name, port, child, pids: [child.proc.pid!] };
}

export interface CorralServer extends Server {
  managementPort: number;
  workers: number;
  configFile: string;
}

export interface CorralBenchOptions {
  workers: number;
  /** Another build's CLI (dist/bundle/cli.cjs, or dist/src/cli.js before the bundle) (a before/after comparison); CORRAL_CLI by default. */
  cli?: string;
  /** Appended to the target's name, e.g. ' (before)'. */
  label?: string;
  /** `info` prints the startup line; `warn` (default) keeps the benchmark free of log I/O. */
  logLevel?: string;
  /** Extra top-level config sections merged in (tests of one setting). */
  extra?: Record<string, unknown>;
  /** `server.engine` (uws when absent). */
  engine?: 'uws' | 'node';
}

/**
 * The benchmark config: one `ollama` endpoint with a static model list (no discovery round trip
 * decides anything), `max_concurrency` high enough that c=64 never meets corral's admission
 * limit, fixed ports (at level warn corral does not log the port it bound).
 */
export async function writeCorralConfig(backendPort: number, opt: CorralBenchOptions): Promise<{ file: string; port: number; managementPort: number }> {
  const dir = tempDir('corral');
  const [port, managementPort] = await freePorts(2) as [number, number];
  const config = {
    server: { host: '127.0.0.1', port, management_port: managementPort, workers: opt.workers, shutdown_timeout: '2s',
      // uws, the default, goes unsaid: a build from before server.engine refuses the key.
      ...(opt.engine === 'node' ? { engine: opt.engine } : {}) },
    logging: { level: opt.logLevel ?? 'warn' },
    endpoints: [{
      name: 'bench',
      url: `http://127.0.0.1:${backendPort}`,
      type: 'ollama',
      models: [BENCH_MODEL],
      max_concurrency: 4096,
    }],
    ...opt.extra,
  };
  const file = join(dir, 'corral.yaml');
  writeFileSync(file, stringify(config));
  return { file, port, managementPort };
}

/** Waits until corral's primary reports an endpoint healthy and the API port answers. */
export async function waitForCorral(port: number, managementPort: number, child: Child, timeoutMs = 20_000): Promise<void> {
  try {
    await waitForHttp(`http://127.0.0.1:${managementPort}/internal/ready`, 'corral', timeoutMs, () => child.alive);
    await waitForHttp(`http://127.0.0.1:${port}/api/version`, 'corral workers', timeoutMs, () => child.alive);
  } catch (err) {
    throw new Error(`${(err as Error).message}
${child.stderr.join('')}`);
  }
}

/** Pids of corral's primary and of every worker it reports in /internal/status. */
export async function corralPids(primaryPid: number, managementPort: number): Promise<number[]> {
  const r = await httpGet(`http://127.0.0.1:${managementPort}/internal/status`);
  if (r.status !== 200) throw new Error(`/internal/status answered ${r.status}: ${r.body.slice(0, 200)}`);
  const status = JSON.parse(r.body) as { workers?: Array<{ pid: number; state?: string }> };
  return [primaryPid, ...(status.workers ?? []).map((w) => w.pid).filter((p) => typeof p === 'number' && p > 0)];
}

/** corral (`node dist/bundle/cli.cjs --config …`) as its own process group, ready to serve. */
export async function startCorralBench(backendPort: number, opt: CorralBenchOptions): Promise<CorralServer> {
  const { file, port, managementPort } = await writeCorralConfig(backendPort, opt);
  const name = (opt.workers === 0 ? 'corral inline' : `corral ${opt.workers} workers`) + (opt.label ?? '');
  const child = spawnTracked(process.execPath, [opt.cli ?? CORRAL_CLI, '--config', file], name, { group: true });
  child.proc.stdout?.resume(); // warn-level lines only; drained so a full pipe never blocks corral
  await waitForCorral(port, managementPort, child);
  const pids = await corralPids(child.proc.pid!, managementPort);
  if (pids.length !== 1 + opt.workers) throw new Error(`${name}: expected ${opt.workers} worker pid(s) in /internal/status, got ${pids.length - 1}`);
  return { name, port, child, pids, managementPort, workers: opt.workers, configFile: file };
}

/** Stops every server: SIGTERM, then SIGKILL after a grace period. */
export async function stopAll(servers: readonly (Server | null)[], graceMs = 5_000): Promise<void> {
  await Promise.all(servers.filter((s): s is Server => s !== null).map((s) => s.child.stop(graceMs)));
}
