import { Registry, collectDefaultMetrics, type RegistryContentType } from 'prom-client';
import type { CatalogSnapshot } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { CircuitState, EndpointState } from '../state/endpoints.js';
import { MODEL_LOADED } from '../state/models.js';
import { Counter, Histogram, HISTOGRAM_BUCKETS } from '../state/stats.js';
import { endpointStateName, type WorkerInfo } from './status.js';
import { circuitName } from '../routing/circuit-breaker.js';
import { metricsContentType } from './metrics-format.js';
import { LOAD_BUCKETS_S, type LoadMetrics } from './load-metrics.js';

/** One Ollama endpoint's GPU memory as the primary's vRAM accounting sees it. */
export interface VramFigures {
  /** null while unknown (no `vram` setting, nvidia-smi unreadable). */
  readonly total_bytes: number | null;
  readonly reserve_bytes: number;
  readonly used_bytes: number;
}

/** The primary's placement side: vRAM per endpoint (null for endpoints that are not Ollama) and load events. */
export interface PlacementMetricsSource {
  vram(endpoint: number): VramFigures | null;
  readonly loads: LoadMetrics;
}

/** What a scrape reads: the shared segment (every worker's slot), the catalog, the workers. */
export interface MetricsSource {
  readonly segment: Segment;
  readonly catalog: CatalogSnapshot;
  readonly workers: readonly WorkerInfo[];
  readonly placement?: PlacementMetricsSource;
}

type Labels = Record<string, string | number>;
interface Sample {
  metricName?: string;
  labels: Labels;
  value: number;
}
type MetricType = 'counter' | 'gauge' | 'histogram';

/**
 * One metric family computed at scrape time: prom-client's registry calls get() and formats the
 * samples in either exposition format. Nothing is counted here: the counts live in the segment,
 * where the request path already writes them, so a scrape never touches the hot path.
 */
class SegmentMetric {
  name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly aggregator = 'sum';
  readonly #samples: () => Sample[];

  constructor(name: string, help: string, type: MetricType, samples: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.type = type;
    this.#samples = samples;
  }

  get(): { name: string; help: string; type: MetricType; values: Sample[]; aggregator: string } {
    return { name: this.name, help: this.help, type: this.type, values: this.#samples(), aggregator: this.aggregator };
  }
}

/** Bucket b of the segment's log2 histograms counts values below 2^b µs: its upper bound in seconds. */
const BUCKET_BOUNDS_S: string[] = [];
for (let b = 0; b < HISTOGRAM_BUCKETS - 1; b++) BUCKET_BOUNDS_S.push(String(2 ** b / 1e6));
BUCKET_BOUNDS_S.push('+Inf');

/** A Prometheus histogram from the segment's per-worker log2 buckets (cumulative, in seconds). */
function histogramSamples(segment: Segment, h: Histogram, name: string): Sample[] {
  const buckets = new Float64Array(HISTOGRAM_BUCKETS);
  segment.stats.bucketsSum(h, buckets);
  const out: Sample[] = [];
  let cumulative = 0;
  for (let b = 0; b < HISTOGRAM_BUCKETS; b++) {
    cumulative += buckets[b]!;
    out.push({ metricName: `${name}_bucket`, labels: { le: BUCKET_BOUNDS_S[b]! }, value: cumulative });
  }
  out.push({ metricName: `${name}_sum`, labels: {}, value: segment.stats.observedSum(h) / 1e6 });
  out.push({ metricName: `${name}_count`, labels: {}, value: cumulative });
  return out;
}

const MiB = 1024 * 1024;
const LOAD_BOUNDS = [...LOAD_BUCKETS_S.map(String), '+Inf'];

/** The load-duration histogram, one series per endpoint (cumulative buckets, seconds). */
function loadDurationSamples(loads: LoadMetrics, name: string): Sample[] {
  const out: Sample[] = [];
  for (const [endpoint, d] of loads.durations()) {
    let cumulative = 0;
    for (let b = 0; b < LOAD_BOUNDS.length; b++) {
      cumulative += d.buckets[b]!;
      out.push({ metricName: `${name}_bucket`, labels: { endpoint, le: LOAD_BOUNDS[b]! }, value: cumulative });
    }
    out.push({ metricName: `${name}_sum`, labels: { endpoint }, value: d.sumSeconds });
    out.push({ metricName: `${name}_count`, labels: { endpoint }, value: d.count });
  }
  return out;
}

/** vRAM, residency and load metrics (GPU-aware placement): only when the primary's placement side is there. */
function placementFamilies(source: MetricsSource, placement: PlacementMetricsSource): SegmentMetric[] {
  const { segment, catalog } = source;
  const ollama = () => catalog.endpoints.filter((ep) => ep.type === 'ollama');
  const vramOf = (pick: (v: VramFigures) => number | null) => (): Sample[] => {
    const out: Sample[] = [];
    for (const ep of ollama()) {
      const v = placement.vram(ep.index);
      const value = v === null ? null : pick(v);
      if (value !== null) out.push({ labels: { endpoint: ep.name }, value });
    }
    return out;
  };
  const residents = (): { endpoint: string; model: string; bytes: number }[] => {
    const out: { endpoint: string; model: string; bytes: number }[] = [];
    for (const ep of ollama()) {
      for (const m of catalog.models) {
        if ((segment.models.flags(ep.index, m.index) & MODEL_LOADED) === 0) continue;
        out.push({ endpoint: ep.name, model: m.name, bytes: segment.models.vramMiB(ep.index, m.index) * MiB });
      }
    }
    return out;
  };
  const pairs = (pick: 'loads' | 'failures' | 'evictions') => (): Sample[] =>
    placement.loads.pairs().filter((p) => pick === 'loads' || p[pick] > 0).map((p) => ({ labels: { endpoint: p.endpoint, model: p.model }, value: p[pick] }));
  return [
    new SegmentMetric('corral_endpoint_vram_total_bytes', 'GPU memory of each Ollama endpoint (its vram setting, or nvidia-smi for its gpus); absent while unknown.', 'gauge',
      vramOf((v) => v.total_bytes)),
    new SegmentMetric('corral_endpoint_vram_reserved_bytes', 'GPU memory corral never fills on each endpoint (vram_reserve); absent while the total is unknown.', 'gauge',
      vramOf((v) => (v.total_bytes === null ? null : v.reserve_bytes))),
    new SegmentMetric('corral_endpoint_vram_used_bytes', 'GPU memory in use on each endpoint: its resident models (/api/ps size_vram) plus what other processes use on its GPUs.', 'gauge',
      vramOf((v) => v.used_bytes)),
    new SegmentMetric('corral_endpoint_resident_models', 'Models resident in each Ollama endpoint\'s GPU memory.', 'gauge', () => {
      const counts = new Map<string, number>(ollama().map((ep) => [ep.name, 0]));
      for (const r of residents()) counts.set(r.endpoint, (counts.get(r.endpoint) ?? 0) + 1);
      return [...counts].map(([endpoint, n]) => ({ labels: { endpoint }, value: n }));
    }),
    new SegmentMetric('corral_model_resident_bytes', 'GPU memory each resident model holds on each Ollama endpoint (models the catalog lists: bounded).', 'gauge', () =>
      residents().map((r) => ({ labels: { endpoint: r.endpoint, model: r.model }, value: r.bytes }))),
    new SegmentMetric('corral_model_loads_total', 'Model loads corral made (requests, prewarm, prefetch), by endpoint and model.', 'counter', pairs('loads')),
    new SegmentMetric('corral_model_load_failures_total', 'Model loads that failed or were refused (no capacity, timeout, Ollama error).', 'counter', pairs('failures')),
    new SegmentMetric('corral_model_evictions_total', 'Models corral unloaded to make room for another, by endpoint and the model evicted.', 'counter', pairs('evictions')),
    new SegmentMetric('corral_model_load_duration_seconds', 'Time from a load\'s start (evictions it needed included) until the model is resident: what requests for a cold model wait.', 'histogram',
      () => loadDurationSamples(placement.loads, 'corral_model_load_duration_seconds')),
  ];
}

const ENDPOINT_STATES = [EndpointState.Healthy, EndpointState.Suspect, EndpointState.Down, EndpointState.Draining, EndpointState.Unknown];
const CIRCUIT_STATES = [CircuitState.Closed, CircuitState.Open, CircuitState.HalfOpen];

/** Every metric family, each reading `source` when scraped. */
function families(source: MetricsSource): SegmentMetric[] {
  const { segment, catalog } = source;
  const stats = segment.stats;
  const e = segment.endpoints;
  const total = (c: Counter) => (): Sample[] => [{ labels: {}, value: stats.sum(c) }];
  const perEndpoint = (value: (i: number) => number) => (): Sample[] =>
    catalog.endpoints.map((ep) => ({ labels: { endpoint: ep.name }, value: value(ep.index) }));
  const perModel = (value: (m: number) => number) => (): Sample[] =>
    catalog.models.map((m) => ({ labels: { model: m.name }, value: value(m.index) }));
  const placement = source.placement === undefined ? [] : placementFamilies(source, source.placement);
  return [
    new SegmentMetric('corral_requests_total', 'Requests proxied to a backend (inference and model-info routes that passed validation), summed over all workers.', 'counter', total(Counter.Requests)),
    new SegmentMetric('corral_responses_total', 'Responses corral answered on the API port by status class, every route (a proxied answer counts as its backend\'s status).', 'counter', () => [
      { labels: { class: '2xx' }, value: stats.sum(Counter.Responses2xx) },
      { labels: { class: '4xx' }, value: stats.sum(Counter.Responses4xx) },
      { labels: { class: '5xx' }, value: stats.sum(Counter.Responses5xx) },
    ]),
    new SegmentMetric('corral_retries_total', 'Requests sent again to another endpoint after a failure before the first byte.', 'counter', total(Counter.Retries)),
    new SegmentMetric('corral_upstream_errors_total', 'Upstream attempts that failed (transport, timeout, malformed response).', 'counter', total(Counter.UpstreamErrors)),
    new SegmentMetric('corral_client_aborts_total', 'Requests whose client went away before the response ended.', 'counter', total(Counter.ClientAborts)),
    new SegmentMetric('corral_response_body_bytes_total', 'Response body bytes passed on from backends.', 'counter', total(Counter.BytesOut)),
    new SegmentMetric('corral_request_duration_seconds', 'Time from the request head to the last response byte, proxied requests.', 'histogram',
      () => histogramSamples(segment, Histogram.Latency, 'corral_request_duration_seconds')),
    new SegmentMetric('corral_time_to_first_byte_seconds', 'Time from the request head to the backend\'s first response byte, proxied requests.', 'histogram',
      () => histogramSamples(segment, Histogram.FirstByte, 'corral_time_to_first_byte_seconds')),
    new SegmentMetric('corral_queue_depth', 'Requests waiting in each model\'s admission queue, all workers.', 'gauge', perModel((m) => segment.queues.depth(m))),
    new SegmentMetric('corral_queued_total', 'Requests that waited in each model\'s admission queue.', 'counter', perModel((m) => segment.queues.queued(m))),
    new SegmentMetric('corral_queue_timeouts_total', 'Requests answered 503 after queue.timeout in each model\'s queue.', 'counter', perModel((m) => segment.queues.timeouts(m))),
    new SegmentMetric('corral_queue_refused_total', 'Requests refused at once because the model\'s queue was full (or past queue.shed_at for a low-priority one).', 'counter',
      perModel((m) => segment.queues.refused(m))),
    new SegmentMetric('corral_queue_wait_seconds', 'Time requests that were dispatched from an admission queue waited there, all models.', 'histogram',
      () => histogramSamples(segment, Histogram.QueueWait, 'corral_queue_wait_seconds')),
    new SegmentMetric('corral_endpoint_requests_total', 'Requests sent to each endpoint.', 'counter', perEndpoint((i) => e.requests(i))),
    new SegmentMetric('corral_endpoint_failures_total', 'Failed requests of each endpoint (transport errors, timeouts, 5xx).', 'counter', perEndpoint((i) => e.failures(i))),
    new SegmentMetric('corral_endpoint_inflight', 'Requests in flight on each endpoint, across all workers.', 'gauge', perEndpoint((i) => e.inflight(i))),
    new SegmentMetric('corral_endpoint_max_concurrency', 'Each endpoint\'s max_concurrency.', 'gauge', perEndpoint((i) => e.maxConcurrency(i))),
    new SegmentMetric('corral_endpoint_first_byte_ewma_seconds', 'Moving average of each endpoint\'s time to first byte.', 'gauge', perEndpoint((i) => e.ewmaLatencyUs(i) / 1e6)),
    new SegmentMetric('corral_endpoint_state', 'Each endpoint\'s state: 1 for the one it is in.', 'gauge', () => catalog.endpoints.flatMap((ep) => {
      const now = e.state(ep.index);
      return ENDPOINT_STATES.map((s) => ({ labels: { endpoint: ep.name, state: endpointStateName(s) }, value: s === now ? 1 : 0 }));
    })),
    new SegmentMetric('corral_endpoint_circuit_state', 'Each endpoint\'s circuit breaker: 1 for the state it is in.', 'gauge', () => catalog.endpoints.flatMap((ep) => {
      const now = e.circuit(ep.index);
      return CIRCUIT_STATES.map((c) => ({ labels: { endpoint: ep.name, state: circuitName(c) }, value: c === now ? 1 : 0 }));
    })),
    new SegmentMetric('corral_model_loaded', 'Whether each endpoint has each of its models loaded (Ollama /api/ps).', 'gauge', () => catalog.models.flatMap((m) =>
      m.endpoints.map((i) => ({ labels: { model: m.name, endpoint: catalog.endpoints.find((ep) => ep.index === i)?.name ?? String(i) },
        value: (segment.models.flags(i, m.index) & MODEL_LOADED) !== 0 ? 1 : 0 })))),
    new SegmentMetric('corral_sessions', 'Live session pins (X-Corral-Session-ID).', 'gauge', () => [{ labels: {}, value: segment.sessions.count() }]),
    new SegmentMetric('corral_workers', 'Worker processes by state.', 'gauge', () => {
      const byState = new Map<string, number>();
      for (const w of source.workers) byState.set(w.state, (byState.get(w.state) ?? 0) + 1);
      return [...byState].map(([state, n]) => ({ labels: { state }, value: n }));
    }),
    new SegmentMetric('corral_worker_restarts_total', 'Times each worker seat was respawned after its process died.', 'counter', () =>
      source.workers.map((w) => ({ labels: { slot: w.slot }, value: w.restarts }))),
    ...placement,
  ];
}

/**
 * The exposition of everything corral counts, in Prometheus text 0.0.4 or OpenMetrics 1.0. Built
 * afresh per scrape (a scrape every few seconds; a registry is a few objects), with prom-client
 * formatting: escaping, `_total` and `# EOF` by the format's rules. Process metrics
 * (`corral_process_*`: CPU, resident memory, event-loop lag, …) are the primary's, which answers
 * every scrape.
 */
export async function renderMetrics(source: MetricsSource, openMetrics: boolean): Promise<string> {
  const registry = new Registry<RegistryContentType>();
  registry.setContentType(metricsContentType(openMetrics) as RegistryContentType);
  for (const m of families(source)) registry.registerMetric(m as never);
  // The process metrics live in their own registry (their event-loop monitor must outlive a
  // scrape); each is registered here through a wrapper, because an OpenMetrics registry renames
  // the counters it renders (dropping `_total`) and the originals serve both formats.
  for (const m of processRegistry().getMetricsAsArray() as unknown as ProcessMetric[]) {
    const wrapper = {
      name: m.name, help: m.help, type: m.type,
      get: async () => ({ ...(await m.get()), name: wrapper.name }),
    };
    registry.registerMetric(wrapper as never);
  }
  return registry.metrics();
}

/** What prom-client's own metric objects offer (its typings leave get() out of MetricObject). */
interface ProcessMetric {
  name: string;
  help: string;
  type: string;
  get(): Promise<{ name: string }> | { name: string };
}

let processMetrics: Registry | null = null;

function processRegistry(): Registry {
  if (processMetrics === null) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics, prefix: 'corral_' });
    // Gauges that prom-client names like counters (promtool's lint refuses them); the handle,
    // request and resource counts they give are in corral_nodejs_active_*{type} without the suffix.
    for (const name of ['corral_nodejs_active_handles_total', 'corral_nodejs_active_requests_total', 'corral_nodejs_active_resources_total']) {
      processMetrics.removeSingleMetric(name);
    }
  }
  return processMetrics;
}
