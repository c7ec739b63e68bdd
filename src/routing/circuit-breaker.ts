import type { CircuitBreakerConfig } from '../config/types.js';
import { CircuitState, type EndpointTable } from '../state/endpoints.js';

/** What a failure or success did to the circuit, for logging by the caller. */
export const enum CircuitChange { None = 0, Opened, Closed }

/**
 * Per-endpoint circuit breaker over the shared segment, so every worker sees one circuit:
 * closed → (N consecutive failures) → open → (open_for elapsed) → half-open, admitting
 * `half_open_requests` trials at once → closed on a success, open again on a failure.
 * It catches what health probes cannot: a backend that answers its probe but fails requests
 * (fast 503s would otherwise attract traffic under least-connections).
 */
export class CircuitBreaker {
  readonly #endpoints: EndpointTable;
  readonly #threshold: number;
  readonly #openForMs: number;
  readonly #trials: number;

  constructor(endpoints: EndpointTable, config: CircuitBreakerConfig) {
    this.#endpoints = endpoints;
    this.#threshold = config.failures;
    this.#openForMs = config.open_for;
    this.#trials = config.half_open_requests;
  }

  /** May endpoint `e` take a request now? An open circuit whose time is up turns half-open here. */
  admits(e: number): boolean {
    const endpoints = this.#endpoints;
    if (endpoints.circuit(e) === CircuitState.Closed) return true;
    // Synchronized before the opening time is read (EndpointTable's class comment).
    const c = endpoints.circuitSynchronized(e);
    if (c === CircuitState.Closed) return true;
    if (c === CircuitState.Open) {
      if (endpoints.msSinceCircuitOpened(e) < this.#openForMs) return false;
      endpoints.casCircuit(e, CircuitState.Open, CircuitState.HalfOpen);
    }
    return endpoints.inflight(e) < this.#trials;
  }

  /** How many requests `e` may have in flight: `max`, or the trial limit while half-open. */
  capacity(e: number, max: number): number {
    return this.#endpoints.circuit(e) === CircuitState.HalfOpen ? Math.min(max, this.#trials) : max;
  }

  onFailure(e: number): CircuitChange {
    const endpoints = this.#endpoints;
    const consecutive = endpoints.addFailure(e);
    if (this.#threshold === 0) return CircuitChange.None;
    const c = endpoints.circuit(e);
    if (c === CircuitState.HalfOpen) {
      return endpoints.casCircuit(e, CircuitState.HalfOpen, CircuitState.Open) ? CircuitChange.Opened : CircuitChange.None;
    }
    if (c === CircuitState.Closed && consecutive >= this.#threshold) {
      return endpoints.casCircuit(e, CircuitState.Closed, CircuitState.Open) ? CircuitChange.Opened : CircuitChange.None;
    }
    return CircuitChange.None;
  }

  /** Whether a request reserving `e` now is a half-open trial (see onSuccess). */
  isTrial(e: number): boolean {
    const endpoints = this.#endpoints;
    // A trial's opening is read next (openingOf): synchronized when it matters.
    return endpoints.circuit(e) === CircuitState.HalfOpen && endpoints.circuitSynchronized(e) === CircuitState.HalfOpen;
  }

  /** Which opening of the circuit a trial reserved now belongs to (see onSuccess). */
  openingOf(e: number): number {
    return this.#endpoints.circuitOpenedStamp(e);
  }

  /**
   * A request to `e` succeeded. Only a trial of the current opening — a request admitted while
   * the circuit was half-open, since it last opened — closes a half-open circuit: a request that
   * started before the circuit (re)opened says nothing about whether the endpoint has recovered.
   */
  onSuccess(e: number, trial: boolean, opening: number): CircuitChange {
    const endpoints = this.#endpoints;
    if (endpoints.consecutiveFailures(e) !== 0) endpoints.resetConsecutiveFailures(e);
    if (!trial || endpoints.circuitSynchronized(e) === CircuitState.Closed || endpoints.circuitOpenedStamp(e) !== opening) return CircuitChange.None;
    return endpoints.casCircuit(e, CircuitState.HalfOpen, CircuitState.Closed) ? CircuitChange.Closed : CircuitChange.None;
  }
}

/** The breaker reset by the primary when a dead endpoint answers its probe again. */
export function closeCircuit(endpoints: EndpointTable, e: number): void {
  endpoints.resetConsecutiveFailures(e);
  const c = endpoints.circuit(e);
  if (c !== CircuitState.Closed) endpoints.casCircuit(e, c, CircuitState.Closed);
}

export function circuitName(c: CircuitState): string {
  return c === CircuitState.Closed ? 'closed' : c === CircuitState.Open ? 'open' : 'half-open';
}
