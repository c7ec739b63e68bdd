/**
 * The load generator, always a separate process (STYLE rule 9): wrk when installed (C, epoll,
 * the lightest client available), else autocannon's CLI. Closed loop: `connections` connections,
 * each sending its next request when the previous answer is complete, so concurrency = connections.
 *
 * Both report through the same shape: latency percentiles in ms from the generator's own
 * histogram, req/s over the run, and errors (transport errors, timeouts, non-2xx answers).
 */
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { choiceArg, type Flag } from './args.js';
import { collectStdout, spawnTracked } from './children.js';
import { tempDir } from './run.js';
import { which } from './tools.js';

export type LoadTool = 'wrk' | 'autocannon';

export interface LoadSpec {
  url: string;
  method: 'GET' | 'POST';
  body: string | null;
  connections: number;
  durationS: number;
  /** wrk threads (≤ connections); ignored by autocannon, which runs one event loop. */
  threads: number;
  /** autocannon only: stop after this many requests instead of after durationS. */
  amount?: number;
}

export interface LoadResult {
  tool: LoadTool;
  requests: number;
  durationS: number;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  /** Transport errors, timeouts and non-2xx answers together. */
  errors: number;
}

export function resolveLoadTool(tool: LoadTool | 'auto'): LoadTool {
  if (tool !== 'auto') return tool;
  return which('wrk') !== null ? 'wrk' : 'autocannon';
}

/** The --load flag of every script that drives load: wrk, autocannon, or auto (wrk when installed). */
export function loadFlag(): Flag<LoadTool> {
  return { default: 'auto', parse: (v, f) => resolveLoadTool(choiceArg(v, f, ['auto', 'wrk', 'autocannon'] as const)) };
}

const MARK = 'CORRAL_WRK ';

/** wrk's Lua: the request, and a done() that prints one JSON line with what we need. */
function wrkScript(spec: LoadSpec): string {
  const body = spec.body === null ? 'nil' : `[==[${spec.body}]==]`;
  return `wrk.method = "${spec.method}"
wrk.body = ${body}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"mean_us":%.1f,"errors":%d}\\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.mean,
    e.connect + e.read + e.write + e.status + e.timeout))
end
`;
}

async function runWrk(spec: LoadSpec): Promise<LoadResult> {
  const wrk = which('wrk');
  if (wrk === null) throw new Error('wrk is not installed');
  if (spec.amount !== undefined) throw new Error('wrk cannot stop after a number of requests: use autocannon');
  const script = join(tempDir('wrk'), 'bench.lua');
  writeFileSync(script, wrkScript(spec));
  const threads = Math.max(1, Math.min(spec.threads, spec.connections));
  const child = spawnTracked(wrk, ['-t', String(threads), '-c', String(spec.connections), '-d', `${spec.durationS}s`,
    '--timeout', '10s', '-s', script, spec.url], 'wrk');
  const out = await collectStdout(child);
  const exit = await child.exited;
  const line = out.split('\n').find((l) => l.startsWith(MARK));
  if (line === undefined) throw new Error(`wrk gave no result (exit ${exit.code}):\n${out}\n${child.stderr.join('')}`);
  const r = JSON.parse(line.slice(MARK.length)) as { requests: number; duration_us: number; p50_us: number; p99_us: number; mean_us: number; errors: number };
  const durationS = r.duration_us / 1e6;
  return {
    tool: 'wrk', requests: r.requests, durationS, reqPerSec: r.requests / durationS,
    p50Ms: r.p50_us / 1000, p99Ms: r.p99_us / 1000, meanMs: r.mean_us / 1000, errors: r.errors,
  };
}

async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  // The package's main file is its CLI when run as a program.
  const cli = createRequire(import.meta.url).resolve('autocannon');
  const args = [cli, '-c', String(spec.connections), '-d', String(spec.durationS), '-m', spec.method,
    '-H', 'content-type=application/json', '-j', '-n'];
  if (spec.body !== null) args.push('-b', spec.body);
  if (spec.amount !== undefined) args.push('-a', String(spec.amount));
  args.push(spec.url);
  const child = spawnTracked(process.execPath, args, 'autocannon');
  const out = await collectStdout(child);
  const exit = await child.exited;
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`autocannon gave no result (exit ${exit.code}):\n${out}\n${child.stderr.join('')}`);
  const r = JSON.parse(line) as {
    requests: { total: number; average: number }; latency: { p50: number; p99: number; average: number };
    duration: number; errors: number; timeouts: number; non2xx: number;
  };
  return {
    tool: 'autocannon', requests: r.requests.total, durationS: r.duration, reqPerSec: r.requests.total / r.duration,
    p50Ms: r.latency.p50, p99Ms: r.latency.p99, meanMs: r.latency.average, errors: r.errors + r.timeouts + r.non2xx,
  };
}

export function runLoad(tool: LoadTool, spec: LoadSpec): Promise<LoadResult> {
  return tool === 'wrk' ? runWrk(spec) : runAutocannon(spec);
}
