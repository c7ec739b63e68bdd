/**
 * perf/scrape — what one /metrics scrape costs the primary (issue 14: under 5 ms for a fully
 * populated registry), in this process, no sockets: renderMetrics over a segment where every
 * endpoint is a healthy Ollama endpoint holding every model, half of them resident, every stats
 * slot counted, and a load, a failure and an eviction recorded for every (endpoint, model) pair.
 *
 *   npm run build:ts
 *   node dist/perf/scrape.js [--endpoints 16] [--models 64] [--workers 8] [--scrapes 200]
 *
 * Reports the median and p99 wall time of a scrape in both formats (text 0.0.4, OpenMetrics), the
 * exposition's size and its series count. The first scrapes (prom-client loading, the JIT) are
 * warm-up and not counted.
 */
import { performance } from 'node:perf_hooks';
import { createSegment } from '../src/state/segment.js';
import { EndpointState } from '../src/state/endpoints.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../src/state/models.js';
import { Counter, Histogram } from '../src/state/stats.js';
import { emptyCatalog, type CatalogSnapshot } from '../src/core/catalog.js';
import { renderMetrics, type MetricsSource } from '../src/observe/metrics.js';
import { LoadMetrics } from '../src/observe/load-metrics.js';
import { int, type OptionsOf } from './lib/args.js';
import { machineNote, runMain, writeResult } from './lib/run.js';
import { cell, markdownTable } from './lib/table.js';

const GiB = 1024 ** 3;

const FLAGS = {
  endpoints: int(16, 1),
  models: int(64, 1),
  workers: int(8, 1),
  scrapes: int(200, 10),
};

function source(opt: OptionsOf<typeof FLAGS>): MetricsSource {
  const segment = createSegment({ maxEndpoints: Math.max(64, opt.endpoints), maxModels: Math.max(256, opt.models), sessionSlots: 1024, maxWorkers: opt.workers * 2 + 1 }, null);
  const names = Array.from({ length: opt.models }, (_, m) => `model-${m}:7b`);
  const catalog: CatalogSnapshot = {
    ...emptyCatalog(),
    generation: 1,
    endpoints: Array.from({ length: opt.endpoints }, (_, i) => ({ index: i, name: `gpu-${i}`, url: `http://10.0.0.${i}:11434`, type: 'ollama' as const, models: names })),
    models: names.map((name, m) => ({ index: m, name, endpoints: Array.from({ length: opt.endpoints }, (_, i) => i) })),
  };
  const loads = new LoadMetrics(opt.models);
  for (let i = 0; i < opt.endpoints; i++) {
    segment.endpoints.setState(i, EndpointState.Healthy);
    segment.endpoints.setMaxConcurrency(i, 4);
    for (let m = 0; m < opt.models; m++) {
      const resident = m % 2 === 0;
      segment.models.setFlags(i, m, MODEL_AVAILABLE | (resident ? MODEL_LOADED : 0));
      if (resident) segment.models.setResidency(i, m, 4096, 8192, 300);
      loads.loaded(`gpu-${i}`, names[m]!, 0.1 + (m % 40));
      loads.failed(`gpu-${i}`, names[m]!);
      loads.evicted(`gpu-${i}`, names[m]!);
    }
  }
  for (let w = 0; w < opt.workers * 2 + 1; w++) {
    for (let c = 0; c < Counter.COUNT; c++) segment.stats.add(w, c, 1000 + c);
    for (let k = 0; k < 1000; k++) {
      segment.stats.observe(w, Histogram.Latency, 2 ** (k % 31));
      segment.stats.observe(w, Histogram.FirstByte, 2 ** (k % 25));
    }
  }
  const workers = Array.from({ length: opt.workers }, (_, k) => ({ id: k + 1, pid: 1000 + k, slot: k + 1, state: 'listening', restarts: k }));
  const vram = { total_bytes: 80 * GiB, reserve_bytes: 8 * GiB, used_bytes: 60 * GiB };
  return { segment, catalog, workers, placement: { vram: () => vram, loads } };
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function main(opt: OptionsOf<typeof FLAGS>): Promise<number> {
  process.stdout.write(`perf/scrape: ${opt.endpoints} endpoints × ${opt.models} models (half resident), ${opt.workers} workers, ${opt.scrapes} scrapes per format\n`
    + `machine: ${machineNote()}\n`);
  const src = source(opt);
  const rows: string[][] = [];
  const results: unknown[] = [];
  for (const openMetrics of [false, true]) {
    let text = '';
    for (let i = 0; i < 20; i++) text = await renderMetrics(src, openMetrics);
    const ms: number[] = [];
    for (let i = 0; i < opt.scrapes; i++) {
      const t0 = performance.now();
      text = await renderMetrics(src, openMetrics);
      ms.push(performance.now() - t0);
    }
    ms.sort((a, b) => a - b);
    const series = text.split('\n').filter((l) => l !== '' && !l.startsWith('#')).length;
    const format = openMetrics ? 'OpenMetrics 1.0' : 'text 0.0.4';
    rows.push([format, cell(quantile(ms, 0.5), 2), cell(quantile(ms, 0.99), 2), String(series), cell(text.length / 1024, 0)]);
    results.push({ format, medianMs: quantile(ms, 0.5), p99Ms: quantile(ms, 0.99), series, bytes: text.length });
  }
  process.stdout.write(`\n${markdownTable(['format', 'ms per scrape (median)', 'ms (p99)', 'series', 'KiB'], rows)}\n\n`);
  const file = writeResult('scrape', { date: new Date().toISOString(), machine: machineNote(), options: opt, results });
  process.stdout.write(`results: ${file}\n`);
  return 0;
}

runMain('scrape', FLAGS, main);
