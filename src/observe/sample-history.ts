import type { CatalogSnapshot } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { Counter, Histogram, HISTOGRAM_BUCKETS } from '../state/stats.js';

/** How often the primary samples the segment for the dashboard's sparklines. */
export const SAMPLE_INTERVAL_MS = 2000;
/** Samples kept: five minutes at one every 2 s. */
export const SAMPLE_CAPACITY = 150;

/**
 * What the sparklines cannot show yet, said in the view rather than left for a reader to guess:
 * the segment's stats slots count requests and time to first byte for the whole gateway and
 * requests per endpoint, but nothing per model, and no tokens.
 */
export const NOT_RECORDED: readonly string[] = [
  'per-model requests/s and TTFT: the stats slots are not kept per model yet (gateway-wide figures shown)',
  'tokens/s: final-chunk token counts are not recorded yet',
];

/** One reading of the segment's cumulative counters (every worker's slot summed). */
class Reading {
  readonly at: number;
  readonly requests: number;
  readonly errors: number;
  readonly firstByte: Float64Array;
  readonly endpointRequests: Map<string, number>;
  readonly modelInflight: Map<string, number>;

  constructor(at: number, segment: Segment, catalog: CatalogSnapshot) {
    const stats = segment.stats;
    this.at = at;
    this.requests = stats.sum(Counter.Requests);
    this.errors = stats.sum(Counter.Responses5xx);
    this.firstByte = new Float64Array(HISTOGRAM_BUCKETS);
    stats.bucketsSum(Histogram.FirstByte, this.firstByte);
    this.endpointRequests = new Map();
    for (const ep of catalog.endpoints) this.endpointRequests.set(ep.name, segment.endpoints.requests(ep.index));
    this.modelInflight = new Map();
    for (const m of catalog.models) {
      let n = 0;
      for (const e of m.endpoints) n += segment.models.inflight(e, m.index);
      this.modelInflight.set(m.name, n);
    }
  }
}

/** One point of the sparklines: rates over the interval that ended at `at`, gauges as read then. */
class Point {
  readonly at: number;
  readonly requestsPerS: number;
  readonly errorsPerS: number;
  readonly ttftP50Ms: number | null;
  readonly ttftP95Ms: number | null;
  readonly endpointRps: Map<string, number>;
  readonly modelInflight: Map<string, number>;

  constructor(prev: Reading, cur: Reading) {
    const seconds = Math.max(0.001, (cur.at - prev.at) / 1000);
    this.at = cur.at;
    // A counter that went down (a stats slot reused by a new worker seat) counts as no traffic.
    this.requestsPerS = round2(Math.max(0, cur.requests - prev.requests) / seconds);
    this.errorsPerS = round2(Math.max(0, cur.errors - prev.errors) / seconds);
    const delta = new Float64Array(HISTOGRAM_BUCKETS);
    for (let b = 0; b < HISTOGRAM_BUCKETS; b++) delta[b] = Math.max(0, cur.firstByte[b]! - prev.firstByte[b]!);
    this.ttftP50Ms = quantileMs(delta, 0.5);
    this.ttftP95Ms = quantileMs(delta, 0.95);
    this.endpointRps = new Map();
    for (const [name, n] of cur.endpointRequests) {
      const before = prev.endpointRequests.get(name);
      this.endpointRps.set(name, before === undefined ? 0 : round2(Math.max(0, n - before) / seconds));
    }
    this.modelInflight = cur.modelInflight;
  }
}

/**
 * The q-quantile (ms) of what one interval's log2 buckets counted (bucket b: [2^(b-1), 2^b) µs),
 * interpolated within its bucket; null when the interval counted nothing.
 */
export function quantileMs(buckets: Float64Array, q: number): number | null {
  let total = 0;
  for (let b = 0; b < buckets.length; b++) total += buckets[b]!;
  if (total === 0) return null;
  const target = q * total;
  let below = 0;
  for (let b = 0; b < buckets.length; b++) {
    const n = buckets[b]!;
    if (n > 0 && below + n >= target) {
      const lower = b === 0 ? 0 : 2 ** (b - 1);
      if (b === buckets.length - 1) return round2(lower / 1000); // the +Inf bucket has no upper bound
      const upper = 2 ** b;
      return round2((lower + ((target - below) / n) * (upper - lower)) / 1000);
    }
    below += n;
  }
  return null;
}

function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

/** The sparklines as the dashboard and `corral status` read them: one array per series, aligned with `t`. */
export interface HistoryView {
  readonly interval_ms: number;
  readonly capacity: number;
  /** Sample times, epoch ms, oldest first. */
  readonly t: number[];
  readonly gateway: { requests_per_s: number[]; errors_per_s: number[]; ttft_p50_ms: (number | null)[]; ttft_p95_ms: (number | null)[] };
  /** Arrays, not objects keyed by name: a model named `__proto__` stays a name. */
  readonly endpoints: { name: string; requests_per_s: (number | null)[] }[];
  readonly models: { name: string; inflight: (number | null)[] }[];
  readonly not_recorded: readonly string[];
}

/**
 * A ring of samples the primary takes from the segment every SAMPLE_INTERVAL_MS, so a page opened
 * now shows the last five minutes (the browser keeps nothing) and every viewer sees the same
 * figures. Reads cumulative counters only: it never touches the request path.
 */
export class SampleHistory {
  readonly #segment: Segment;
  readonly #catalog: () => CatalogSnapshot;
  readonly #ring: (Point | undefined)[];
  readonly #intervalMs: number;
  #next = 0;
  #count = 0;
  #last: Reading | null = null;
  #timer: NodeJS.Timeout | null = null;

  constructor(segment: Segment, catalog: () => CatalogSnapshot, intervalMs = SAMPLE_INTERVAL_MS, capacity = SAMPLE_CAPACITY) {
    this.#segment = segment;
    this.#catalog = catalog;
    this.#intervalMs = intervalMs;
    this.#ring = new Array<Point | undefined>(capacity);
  }

  start(): void {
    this.sample(Date.now());
    this.#timer = setInterval(() => this.sample(Date.now()), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** Takes one reading; from the second on, each adds a point (the ring overwrites its oldest). */
  sample(at: number): void {
    const cur = new Reading(at, this.#segment, this.#catalog());
    if (this.#last !== null) {
      this.#ring[this.#next] = new Point(this.#last, cur);
      this.#next = (this.#next + 1) % this.#ring.length;
      if (this.#count < this.#ring.length) this.#count++;
    }
    this.#last = cur;
  }

  view(): HistoryView {
    const points: Point[] = [];
    const start = (this.#next - this.#count + this.#ring.length) % this.#ring.length;
    for (let k = 0; k < this.#count; k++) points.push(this.#ring[(start + k) % this.#ring.length]!);
    // Series for what the catalog lists now; a name absent from a sample is null there.
    const catalog = this.#catalog();
    const endpoints = catalog.endpoints.map((ep) => ({ name: ep.name, requests_per_s: points.map((p) => p.endpointRps.get(ep.name) ?? null) }));
    const models = catalog.models.map((m) => ({ name: m.name, inflight: points.map((p) => p.modelInflight.get(m.name) ?? null) }));
    return {
      interval_ms: this.#intervalMs,
      capacity: this.#ring.length,
      t: points.map((p) => p.at),
      gateway: {
        requests_per_s: points.map((p) => p.requestsPerS),
        errors_per_s: points.map((p) => p.errorsPerS),
        ttft_p50_ms: points.map((p) => p.ttftP50Ms),
        ttft_p95_ms: points.map((p) => p.ttftP95Ms),
      },
      endpoints,
      models,
      not_recorded: NOT_RECORDED,
    };
  }
}
