import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import type { Strategy } from './strategy.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { ModelRoute, RoutingTable } from './routing-table.js';
import { ROUTE_STICKY_HIT, ROUTE_STICKY_NEW, ROUTE_STICKY_REPIN } from './route-label.js';

/** Why select() found nothing; the proxy maps each to an error class. */
export const NO_ENDPOINT_DOWN = -1;       // endpoints serve the model but none is healthy (or all circuits are open)
export const NO_ENDPOINT_SATURATED = -2;  // healthy ones exist but all are at max_concurrency
export const NO_ENDPOINT_DIALECT = -3;    // the model's endpoints do not speak the caller's API
/** Warm-first: no endpoint holding the model can take the request, but some could load it (routing/placement.ts decides). */
export const NO_ENDPOINT_COLD = -4;

/**
 * Picks the endpoint for one request: session pin first, then the strategy over the healthy,
 * unsaturated endpoints that serve the model and speak the dialect. Reads the shared segment with
 * Atomics only; allocates nothing (one scratch array per selector, used synchronously).
 */
export class Selector {
  readonly #segment: Segment;
  readonly #strategy: Strategy;
  readonly #breaker: CircuitBreaker;
  readonly #scratch: Int32Array;
  #speakers = 0;
  #healthy = 0;
  /** Of the last #candidates(warmFirst): usable endpoints that could load the model but do not hold it. */
  #cold = 0;
  /** Of the last #candidates(warmFirst): endpoints holding the model but at max_concurrency. */
  warmSaturated = 0;
  /** The `X-Corral-Route` label of the last successful select(). */
  route: string;

  constructor(segment: Segment, strategy: Strategy, breaker: CircuitBreaker) {
    this.#segment = segment;
    this.#strategy = strategy;
    this.#breaker = breaker;
    this.#scratch = new Int32Array(segment.sizes.maxEndpoints);
    this.route = strategy.name;
  }

  /**
   * Would another endpoint than `current` take this request now? Asked before giving up on a
   * backend's own 502/503/504: with no alternative, its answer is passed through rather than
   * replaced by corral's. No session pin, no ticket: only the filter.
   */
  hasAlternative(table: RoutingTable, model: ModelRoute, dialect: number, tried: readonly number[] | null, current: number): boolean {
    return this.#candidates(table, model, dialect, tried, current, false) > 0;
  }

  /**
   * Fills the scratch array with the endpoints that serve `model`, speak `dialect`, are healthy,
   * admitted by their circuit, below max_concurrency, not yet tried and not `exclude` — and, with
   * `warmFirst`, hold the model (LOADED); returns how many. #speakers, #healthy, #cold and
   * warmSaturated keep why the others were left out.
   */
  #candidates(table: RoutingTable, model: ModelRoute, dialect: number, tried: readonly number[] | null, exclude: number,
    warmFirst: boolean): number {
    const endpoints = this.#segment.endpoints;
    const models = this.#segment.models;
    const list = model.endpoints;
    const out = this.#scratch;
    const dialectBit = 1 << dialect;
    let count = 0;
    let speakers = 0;
    let healthy = 0;
    let cold = 0;
    let warmSaturated = 0;
    for (let k = 0; k < list.length; k++) {
      const e = list[k]!;
      if ((table.endpointDialects[e]! & dialectBit) === 0) continue;
      const flags = models.flags(e, model.index);
      if ((flags & MODEL_AVAILABLE) === 0) continue;
      speakers++;
      if (endpoints.state(e) !== EndpointState.Healthy) continue;
      if (e === exclude || (tried !== null && tried.includes(e))) continue;
      if (!this.#breaker.admits(e)) continue;
      healthy++;
      const saturated = endpoints.inflight(e) >= endpoints.maxConcurrency(e);
      if (warmFirst && (flags & MODEL_LOADED) === 0) {
        // Could load it, if it has a free slot; a full one is just saturated.
        if (table.endpointLoads[e] === 1 && !saturated) cold++;
        continue;
      }
      if (saturated) {
        warmSaturated++;
        continue;
      }
      out[count++] = e;
    }
    this.#speakers = speakers;
    this.#healthy = healthy;
    this.#cold = cold;
    this.warmSaturated = warmSaturated;
    return count;
  }

  /**
   * While Ollama loads a model it holds every new request on that server, whatever its model: an
   * endpoint loading another model is left out when some other candidate is not. Returns the new count.
   */
  #avoidLoading(out: Int32Array, count: number, model: number): number {
    const endpoints = this.#segment.endpoints;
    let kept = 0;
    for (let k = 0; k < count; k++) {
      const loading = endpoints.loadingModel(out[k]!);
      if (loading < 0 || loading === model) out[kept++] = out[k]!;
    }
    // Every candidate loading something else: nothing was moved, and all of them stay candidates.
    return kept > 0 ? kept : count;
  }

  /**
   * @param sessionHi,sessionLo the session key's two hashes, or 0,0 for no session
   * @param tried endpoints that already failed this request (never chosen again), or null
   * @returns an endpoint index, or one of the NO_ENDPOINT_* codes
   */
  select(table: RoutingTable, model: ModelRoute, dialect: number, sessionHi: number, sessionLo: number, tried: readonly number[] | null,
    warmFirst = false): number {
    const seg = this.#segment;
    const endpoints = seg.endpoints;
    const out = this.#scratch;
    let count = this.#candidates(table, model, dialect, tried, -1, warmFirst);
    if (count === 0) {
      if (this.#speakers === 0) return model.endpoints.length === 0 ? NO_ENDPOINT_DOWN : NO_ENDPOINT_DIALECT;
      if (this.#cold > 0) return NO_ENDPOINT_COLD;
      return this.#healthy === 0 ? NO_ENDPOINT_DOWN : NO_ENDPOINT_SATURATED;
    }
    if (warmFirst && count > 1) count = this.#avoidLoading(out, count, model.index);
    if (sessionHi === 0) {
      this.route = this.#strategy.name;
      return this.#strategy.pick(out, count, endpoints, seg.header);
    }
    const now = seg.header.nowSec();
    const pinned = seg.sessions.lookup(sessionHi, sessionLo, now);
    if (pinned >= 0) {
      for (let k = 0; k < count; k++) {
        if (out[k] === pinned) {
          this.route = ROUTE_STICKY_HIT;
          return pinned;
        }
      }
    }
    const chosen = this.#strategy.pick(out, count, endpoints, seg.header);
    seg.sessions.pin(sessionHi, sessionLo, chosen, now);
    this.route = pinned >= 0 ? ROUTE_STICKY_REPIN : ROUTE_STICKY_NEW;
    return chosen;
  }
}
