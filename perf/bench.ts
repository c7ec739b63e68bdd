/**
 * perf/bench — the whole suite (`npm run bench`), one part after the other, each in its own
 * process so one part's heap, JIT state or leftovers never touch the next:
 *
 *   node dist/perf/bench.js [--duration S] [--rounds N] [--load …] [--backend …] [--only overhead,cpu,…]
 *
 * --duration and --rounds go to overhead, cpu and streaming (streaming takes only --rounds);
 * memory keeps its own 5 rounds (the leak check is defined over 5) but takes --duration;
 * --load and --backend go to every part that runs a load. Profiles are not part of the suite
 * (npm run profile:doctor / profile:flame). Exit code: the first non-zero part's, after all ran.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from './lib/children.js';

const PARTS = ['overhead', 'cpu', 'streaming', 'memory', 'micro'] as const;
type Part = (typeof PARTS)[number];
const TAKES: Record<Part, readonly string[]> = {
  overhead: ['duration', 'rounds', 'load', 'backend'],
  cpu: ['duration', 'rounds', 'load', 'backend'],
  streaming: ['rounds'],
  memory: ['duration', 'load', 'backend'],
  micro: [],
};

const { values } = parseArgs({
  options: {
    duration: { type: 'string' },
    rounds: { type: 'string' },
    load: { type: 'string' },
    backend: { type: 'string' },
    only: { type: 'string', default: PARTS.join(',') },
  },
  strict: true,
});
const only = values.only!.split(',').map((s) => s.trim());
for (const p of only) if (!(PARTS as readonly string[]).includes(p)) throw new TypeError(`--only: unknown part ${p} (parts: ${PARTS.join(', ')})`);

let current: ReturnType<typeof spawn> | null = null;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    // The part cleans up its own children on SIGTERM (perf/lib/run.ts).
    current?.kill('SIGTERM');
    process.exitCode = 130;
  });
}

async function runPart(part: Part): Promise<number> {
  const args = [join(REPO_ROOT, 'dist', 'perf', `${part}.js`)];
  for (const k of TAKES[part]) {
    const v = values[k as keyof typeof values];
    if (typeof v === 'string') args.push(`--${k}`, v);
  }
  process.stdout.write(`\n=== perf/${part}: node ${args.map((a) => a.replace(`${REPO_ROOT}/`, '')).join(' ')}\n`);
  current = spawn(process.execPath, args, { stdio: 'inherit', cwd: REPO_ROOT });
  const code = await new Promise<number>((resolve) => current!.once('exit', (c, s) => resolve(c ?? (s ? 128 : 1))));
  current = null;
  return code;
}

let failed = 0;
for (const part of PARTS) {
  if (!only.includes(part)) continue;
  if (process.exitCode === 130) break;
  const code = await runPart(part);
  if (code !== 0) {
    process.stdout.write(`perf/${part} exited ${code}\n`);
    if (failed === 0) failed = code;
  }
}
process.exitCode = process.exitCode === 130 ? 130 : failed;
