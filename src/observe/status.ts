import type { CatalogSnapshot } from '../core/catalog.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import { Counter } from '../state/stats.js';
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

/** The `/internal/ready` answer, the same on the API port and the management port. */
export function readyBody(healthyEndpoints: number): string {
  return JSON.stringify({ ready: healthyEndpoints > 0, healthy_endpoints: healthyEndpoints });
}

/**
 * The `/internal/status` document: what an operator needs to see at a glance — each endpoint's
 * state, load and models, each worker, and the request counters summed over every process.
 */
export function buildStatus(segment: Segment, catalog: CatalogSnapshot, workers: readonly WorkerInfo[],
  lastErrors: readonly (string | null)[], mode: 'cluster' | 'inline', startedAt: number): unknown {
  const e = segment.endpoints;
  const stats = segment.stats;
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
    })),
    models: catalog.models.map((m) => ({
      name: m.name,
      endpoints: m.endpoints.map((i) => ({
        name: catalog.endpoints[i]?.name ?? String(i),
        available: (segment.models.flags(i, m.index) & MODEL_AVAILABLE) !== 0,
        loaded: (segment.models.flags(i, m.index) & MODEL_LOADED) !== 0,
      })),
    })),
    workers,
    sessions: segment.sessions.count(),
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
