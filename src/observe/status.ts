import type { CatalogSnapshot } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import { Counter } from '../state/stats.js';
import { MODEL_PINNED } from '../state/model-info.js';
import { circuitName } from '../routing/circuit-breaker.js';

export interface WorkerInfo {
  readonly id: number;
  readonly pid: number;
  readonly slot: number;
  readonly state: string;
  readonly restarts: number;
}

const STATE_NAMES: Record<number, string> = {
  [EndpointState.Unknown]: 'unknown',
  [EndpointState.Healthy]: 'healthy',
  [EndpointState.Suspect]: 'suspect',
  [EndpointState.Down]: 'down',
  [EndpointState.Draining]: 'draining',
};

export function endpointStateName(s: EndpointState): string {
  return STATE_NAMES[s] ?? 'unknown';
}

/** What the primary's placement side adds to the status document (issue 11). */
export interface PlacementSource {
  /** routing.placement (warm-first, off). */
  mode(): string;
  /** An Ollama endpoint's GPU memory picture; null for other endpoint types. */
  vram(endpoint: number): unknown;
  /** Per model: vRAM need (and how it was found), `/api/show` facts. */
  model(name: string): Record<string, unknown>;
  /** Loads, evictions, failures, recent load times. */
  summary(): Record<string, unknown>;
  /** Loads queued on an endpoint. */
  queued(endpoint: number): number;
}

const MiB = 1024 * 1024;

/** The models resident on an endpoint, from the segment, most recently used first. */
function residents(segment: Segment, catalog: CatalogSnapshot, endpoint: number, nowSec: number, createdAtSec: number): unknown[] {
  const out: { model: string; size_vram: number; context_length: number | null; expires_at: string | null;
    idle_s: number | null; inflight: number; pinned: boolean }[] = [];
  for (const m of catalog.models) {
    if ((segment.models.flags(endpoint, m.index) & MODEL_LOADED) === 0) continue;
    const expires = segment.models.expiresSec(endpoint, m.index);
    const lastUsed = segment.models.lastUsedSec(endpoint, m.index);
    out.push({
      model: m.name,
      size_vram: segment.models.vramMiB(endpoint, m.index) * MiB,
      context_length: segment.models.context(endpoint, m.index) || null,
      expires_at: expires === 0 ? null : new Date((createdAtSec + expires) * 1000).toISOString(),
      idle_s: lastUsed === 0 ? null : Math.max(0, nowSec - lastUsed),
      inflight: segment.models.inflight(endpoint, m.index),
      pinned: (segment.modelInfo.flags(m.index) & MODEL_PINNED) !== 0,
    });
  }
  out.sort((a, b) => (a.idle_s ?? Infinity) - (b.idle_s ?? Infinity));
  return out;
}

/**
 * What context sizing knows of a model: the context prompts are checked against (the most any
 * endpoint serving it takes; null while unknown), and the characters per token its estimate uses —
 * learned from Ollama's prompt_eval_count (`token_samples` of them), or with no samples yet its
 * family's (primary/family-ratio.ts), else null (models.chars_per_token).
 */
function contextStatus(segment: Segment, m: number): { context_limit: number | null; chars_per_token: number | null; token_samples: number } {
  const milli = segment.modelInfo.charsPerTokenMilli(m);
  return {
    context_limit: segment.modelInfo.maxContext(m) || null,
    chars_per_token: milli === 0 ? null : milli / 1000,
    token_samples: segment.modelInfo.tokenSamples(m),
  };
}

/** The `/internal/ready` answer, the same on the API port and the management port. */
export function readyBody(healthyEndpoints: number): string {
  return JSON.stringify({ ready: healthyEndpoints > 0, healthy_endpoints: healthyEndpoints });
}

/**
 * The `/internal/status` document: what an operator needs to see at a glance — each endpoint's
 * state, load and models, each worker, and the request counters summed over every process.
 */
export function buildStatus(segment: Segment, catalog: CatalogSnapshot, workers: readonly WorkerInfo[],
  lastErrors: readonly (string | null)[], mode: 'cluster' | 'inline', startedAt: number, placement: PlacementSource | null = null): unknown {
  const e = segment.endpoints;
  const stats = segment.stats;
  const nowSec = segment.header.nowSec();
  const createdAtSec = segment.header.createdAtSec;
  const modelName = (column: number): string | null => (column < 0 ? null : catalog.models.find((m) => m.index === column)?.name ?? null);
  return {
    mode,
    pid: process.pid,
    uptime_s: Math.round((Date.now() - startedAt) / 1000),
    catalog_generation: catalog.generation,
    endpoints: catalog.endpoints.map((ep) => ({
      name: ep.name,
      url: ep.url,
      type: ep.type,
      state: endpointStateName(e.state(ep.index)),
      circuit: circuitName(e.circuit(ep.index)),
      inflight: e.inflight(ep.index),
      max_concurrency: e.maxConcurrency(ep.index),
      priority: e.priority(ep.index),
      weight: e.weight(ep.index),
      requests: e.requests(ep.index),
      failures: e.failures(ep.index),
      consecutive_failures: e.consecutiveFailures(ep.index),
      ewma_first_byte_ms: Math.round(e.ewmaLatencyUs(ep.index) / 10) / 100,
      last_error: lastErrors[ep.index] ?? null,
      models: ep.models,
      vram: placement?.vram(ep.index) ?? null,
      loading: modelName(e.loadingModel(ep.index)),
      loads_queued: placement?.queued(ep.index) ?? 0,
      residents: ep.type === 'ollama' ? residents(segment, catalog, ep.index, nowSec, createdAtSec) : [],
    })),
    placement: placement === null ? null : { mode: placement.mode(), ...placement.summary() },
    models: catalog.models.map((m) => ({
      name: m.name,
      ...(placement?.model(m.name) ?? {}),
      loading_on: catalog.endpoints.find((x) => x.index === segment.modelInfo.loadingOn(m.index))?.name ?? null,
      queue: {
        depth: segment.queues.depth(m.index),
        wait_ms: segment.queues.waitMs(m.index),
        service_ms: segment.queues.serviceMs(m.index),
        queued: segment.queues.queued(m.index),
        timeouts: segment.queues.timeouts(m.index),
        refused: segment.queues.refused(m.index),
      },
      ...contextStatus(segment, m.index),
      endpoints: m.endpoints.map((i) => ({
        name: catalog.endpoints.find((x) => x.index === i)?.name ?? String(i),
        available: (segment.models.flags(i, m.index) & MODEL_AVAILABLE) !== 0,
        loaded: (segment.models.flags(i, m.index) & MODEL_LOADED) !== 0,
        loading: segment.modelInfo.loadingOn(m.index) === i,
        inflight: segment.models.inflight(i, m.index),
      })),
    })),
    workers,
    sessions: segment.sessions.count(),
    queued: segment.queues.total(),
    counters: {
      requests: stats.sum(Counter.Requests),
      responses_2xx: stats.sum(Counter.Responses2xx),
      responses_4xx: stats.sum(Counter.Responses4xx),
      responses_5xx: stats.sum(Counter.Responses5xx),
      retries: stats.sum(Counter.Retries),
      upstream_errors: stats.sum(Counter.UpstreamErrors),
      client_aborts: stats.sum(Counter.ClientAborts),
      bytes_out: stats.sum(Counter.BytesOut),
    },
  };
}
