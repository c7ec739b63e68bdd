/**
 * perf/load-wakeup — how long requests waiting for a model load take to go on once it is done
 * (issue 11: "Requests waiting on a load are dispatched the moment it completes … measure and
 * record that wake-up delay").
 *
 *   npm run build:ts
 *   node dist/perf/load-wakeup.js [--rounds 20] [--waiters 8]
 *
 * On loopback: corral (primary + 2 workers) in front of one simulated Ollama server whose loads
 * take 150 ms. Each round asks, at once, --waiters requests for a model no GPU holds (a new one
 * each round): one load, all of them waiting. When the load is done the primary broadcasts it;
 * each worker logs 'requests resumed after a model load' with `ipcMs` (announcement → received
 * by the worker) and `wakeMs` (announcement → every waiting request of that worker sent on). The
 * clocks are performance.timeOrigin + now() in each process: the same host clock, µs resolution.
 * Reported: those two, median and max over every worker wake-up, and each request's whole latency.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import { int, type OptionsOf } from './lib/args.js';
import { startCorral, startSim } from './lib/children.js';
import { loadAverage, removeTempDir, runMain, tempDir } from './lib/run.js';
import { cell, markdownTable, median } from './lib/table.js';

const FLAGS = {
  rounds: int(20, 1),
  waiters: int(8, 1),
};
type Options = OptionsOf<typeof FLAGS>;

function percentile(values: readonly number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

async function main(opt: Options): Promise<number> {
  const dir = tempDir('load-wakeup');
  try {
    const models = Array.from({ length: opt.rounds }, (_, i) => `cold${i}:1b`);
    const sim = await startSim('gpu', 0, models.join(','), 2, ['--load-ms-per-gib', '250']);
    const config = join(dir, 'corral.yaml');
    writeFileSync(config, stringify({
      server: { host: '127.0.0.1', port: 0, management_port: null, workers: 2, shutdown_timeout: '2s' },
      logging: { level: 'info' },
      endpoints: [{ name: 'gpu', url: `http://127.0.0.1:${sim.port}`, type: 'ollama', max_concurrency: 1024 }],
    }));
    const corral = await startCorral(config);
    const latencies: number[] = [];
    let failed = 0;
    for (const model of models) {
      const body = JSON.stringify({ model, messages: [{ role: 'user', content: 'hi' }], stream: false });
      await Promise.all(Array.from({ length: opt.waiters }, async () => {
        // A connection each: SO_REUSEPORT spreads them over both workers.
        const dispatcher = new Agent({ connections: 1 });
        const started = performance.now();
        try {
          const res = await request(`http://127.0.0.1:${corral.port}/api/chat`, { method: 'POST', body, dispatcher, headers: { 'content-type': 'application/json' } });
          await res.body.text();
          if (res.statusCode === 200) latencies.push(performance.now() - started);
          else failed++;
        } finally {
          await dispatcher.close();
        }
      }));
    }
    const wakes = corral.logs.filter((l) => l.msg === 'requests resumed after a model load');
    const ipc = wakes.map((l) => l.ipcMs as number);
    const wake = wakes.map((l) => l.wakeMs as number);
    const woken = wakes.reduce((n, l) => n + (l.waiters as number), 0);
    process.stdout.write(`perf/load-wakeup: ${opt.rounds} cold models × ${opt.waiters} concurrent requests, corral 2 workers, loads of ~250 ms\n`);
    process.stdout.write(`machine: node ${process.version}, load average ${loadAverage()}\n\n`);
    process.stdout.write(`${markdownTable(['measure', 'median', 'p99', 'max', 'samples'], [
      ['announcement → worker receives it (ipcMs)', cell(median(ipc), 3), cell(percentile(ipc, 99), 3), cell(Math.max(...ipc), 3), String(ipc.length)],
      ['announcement → all its waiters sent on (wakeMs)', cell(median(wake), 3), cell(percentile(wake, 99), 3), cell(Math.max(...wake), 3), String(wake.length)],
      ['request latency, cold model (load included)', cell(median(latencies), 1), cell(percentile(latencies, 99), 1), cell(Math.max(...latencies), 1), String(latencies.length)],
    ])}\n\n`);
    process.stdout.write(`requests woken: ${woken} of ${opt.rounds * opt.waiters}; failed: ${failed}\n`);
    return failed === 0 && woken === opt.rounds * opt.waiters ? 0 : 1;
  } finally {
    removeTempDir(dir);
  }
}

runMain('load-wakeup', FLAGS, main);
