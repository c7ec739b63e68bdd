import {
  E_CONSECUTIVE_FAILURES, E_EWMA_US, E_FAILURES, E_INFLIGHT, E_MAX_CONCURRENCY, E_PRIORITY, E_REQUESTS, E_STATE,
  E_STATE_CHANGED_MS, E_STATE_CHANGED_SEC, E_WEIGHT, ENDPOINT_STRIDE, E_CIRCUIT, E_CIRCUIT_OPENED_MS,
  E_LOADING_MODEL, E_VRAM_CAPACITY_MIB, E_VRAM_USED_MIB, type Layout,
} from './layout.js';
import type { Header } from './header.js';

export const enum EndpointState { Unknown = 0, Healthy = 1, Suspect = 2, Down = 3, Draining = 4 }

/** Circuit breaker state (src/routing/circuit-breaker.ts drives the transitions). */
export const enum CircuitState { Closed = 0, Open = 1, HalfOpen = 2 }

const I32_MAX = 0x7fffffff;

/**
 * One cache line of i32 per endpoint (layout.ts). Every field is read by other processes, so every
 * write is an Atomics op; nothing here allocates.
 *
 * Reads are Atomics.load too, except the four cells the router reads for every request (state,
 * inflight, maxConcurrency, circuit; and the model flags, models.ts): those are plain element
 * reads. Atomics.load is a builtin call V8 11 does not inline, ~100 instructions a read where a
 * plain one costs a few (perf/RESULTS.md, Optimisation 9). It is safe for these cells: a plain
 * read of an aligned Int32Array element is tear-free (ECMAScript, IsNoTearConfiguration), each
 * call loads afresh, and each only informs a routing choice that races other workers anyway;
 * the decisions that must be exact are atomic read-modify-writes (acquire() against the cap,
 * casCircuit()). A plain read gives no ordering, though: where a decision reads the circuit and
 * then its opening time (written before the state, by casCircuit), the circuit is read again
 * with circuitSynchronized(), so the time read after it is the one that opening stamped
 * (circuit-breaker.ts). Only the rare non-closed case pays for it.
 *
 * Counters (requests, failures) wrap at 2^32 and are returned unsigned.
 *
 * lastStateChangeMs: stored as two i32 — whole seconds since the segment was created plus the
 * millisecond remainder (0–999) — so it neither wraps (68 years) nor loses precision. It is
 * returned as Unix epoch milliseconds, comparable with Date.now(). A reader racing two concurrent
 * state changes may see the seconds of one and the milliseconds of the other: off by < 1 s.
 * After reset() it reads as the segment's creation time.
 */
export class EndpointTable {
  readonly capacity: number;
  readonly #i32: Int32Array;
  readonly #createdAtMs: number;

  constructor(sab: SharedArrayBuffer, layout: Layout, header: Header) {
    this.capacity = layout.sizes.maxEndpoints;
    this.#i32 = new Int32Array(sab, layout.endpointsOffset, layout.endpointsBytes / 4);
    this.#createdAtMs = header.createdAtSec * 1000;
  }

  /** A plain read (see the class comment). */
  state(i: number): EndpointState {
    return this.#i32[i * ENDPOINT_STRIDE + E_STATE]!;
  }

  setState(i: number, s: EndpointState): void {
    const base = i * ENDPOINT_STRIDE;
    Atomics.store(this.#i32, base + E_STATE, s);
    this.#stamp(base);
  }

  /** Compare-and-set, so a worker's "suspect" cannot overwrite the primary's "down" or "draining". */
  casState(i: number, expected: EndpointState, next: EndpointState): boolean {
    const base = i * ENDPOINT_STRIDE;
    if (Atomics.compareExchange(this.#i32, base + E_STATE, expected, next) !== expected) return false;
    this.#stamp(base);
    return true;
  }

  lastStateChangeMs(i: number): number {
    const base = i * ENDPOINT_STRIDE;
    return this.#createdAtMs + Atomics.load(this.#i32, base + E_STATE_CHANGED_SEC) * 1000 +
      Atomics.load(this.#i32, base + E_STATE_CHANGED_MS);
  }

  #stamp(base: number): void {
    const ms = Date.now() - this.#createdAtMs;
    const sec = Math.floor(ms / 1000);
    Atomics.store(this.#i32, base + E_STATE_CHANGED_SEC, sec);
    Atomics.store(this.#i32, base + E_STATE_CHANGED_MS, ms - sec * 1000);
  }

  /** A plain read (see the class comment). */
  inflight(i: number): number {
    return this.#i32[i * ENDPOINT_STRIDE + E_INFLIGHT]!;
  }

  /** Returns the new inflight count. */
  acquire(i: number): number {
    return Atomics.add(this.#i32, i * ENDPOINT_STRIDE + E_INFLIGHT, 1) + 1;
  }

  /**
   * Returns the new inflight count. A release after reset() (index reassigned while requests were
   * in flight) would go negative; it is pulled back to 0 so admission never sees phantom capacity.
   */
  release(i: number): number {
    const idx = i * ENDPOINT_STRIDE + E_INFLIGHT;
    const n = Atomics.sub(this.#i32, idx, 1) - 1;
    if (n < 0) {
      Atomics.compareExchange(this.#i32, idx, n, 0);
      return 0;
    }
    return n;
  }

  /** A plain read (see the class comment). */
  maxConcurrency(i: number): number {
    return this.#i32[i * ENDPOINT_STRIDE + E_MAX_CONCURRENCY]!;
  }

  setMaxConcurrency(i: number, n: number): void {
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_MAX_CONCURRENCY, n);
  }

  priority(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_PRIORITY);
  }

  setPriority(i: number, n: number): void {
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_PRIORITY, n);
  }

  weight(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_WEIGHT);
  }

  setWeight(i: number, n: number): void {
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_WEIGHT, n);
  }

  /** 0 until the first sample. */
  ewmaLatencyUs(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_EWMA_US);
  }

  /**
   * EWMA with alpha 1/8 in integer math: ewma += (us - ewma) >> 3; the first sample seeds it.
   * Load-then-store, not a CAS loop: two workers racing lose one sample, which an average shrugs
   * off. Samples are clamped to the i32 range (~35 min) so the difference never overflows.
   */
  recordLatencyUs(i: number, us: number): void {
    const idx = i * ENDPOINT_STRIDE + E_EWMA_US;
    const x = us <= 0 ? 0 : us >= I32_MAX ? I32_MAX : us | 0;
    const old = Atomics.load(this.#i32, idx);
    Atomics.store(this.#i32, idx, old === 0 ? x : old + ((x - old) >> 3));
  }

  requests(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_REQUESTS) >>> 0;
  }

  addRequest(i: number): void {
    Atomics.add(this.#i32, i * ENDPOINT_STRIDE + E_REQUESTS, 1);
  }

  failures(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_FAILURES) >>> 0;
  }

  /** Increments both the total and the consecutive count (the circuit breaker's input); returns the new consecutive count. */
  addFailure(i: number): number {
    const base = i * ENDPOINT_STRIDE;
    Atomics.add(this.#i32, base + E_FAILURES, 1);
    return Atomics.add(this.#i32, base + E_CONSECUTIVE_FAILURES, 1) + 1;
  }

  /** A plain read (see the class comment): transitions are compare-and-set (casCircuit). */
  circuit(i: number): CircuitState {
    return this.#i32[i * ENDPOINT_STRIDE + E_CIRCUIT]!;
  }

  /** The circuit by Atomics.load: reads after it see what was stored before the state it returns. */
  circuitSynchronized(i: number): CircuitState {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_CIRCUIT);
  }

  /** Compare-and-set of the circuit state; entering Open stamps the opening time. */
  casCircuit(i: number, expected: CircuitState, next: CircuitState): boolean {
    const base = i * ENDPOINT_STRIDE;
    if (next === CircuitState.Open) Atomics.store(this.#i32, base + E_CIRCUIT_OPENED_MS, this.nowMs32() | 0);
    return Atomics.compareExchange(this.#i32, base + E_CIRCUIT, expected, next) === expected;
  }

  /** When the circuit last opened, as stamped (identifies one opening: see CircuitBreaker.onSuccess). */
  circuitOpenedStamp(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_CIRCUIT_OPENED_MS);
  }

  /** Milliseconds since the circuit last opened (valid for spans under 24 days: u32 arithmetic). */
  msSinceCircuitOpened(i: number): number {
    return (this.nowMs32() - (Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_CIRCUIT_OPENED_MS) >>> 0)) >>> 0;
  }

  /** Milliseconds since the segment was created, modulo 2^32. */
  nowMs32(): number {
    return (Date.now() - this.#createdAtMs) >>> 0;
  }

  consecutiveFailures(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_CONSECUTIVE_FAILURES);
  }

  resetConsecutiveFailures(i: number): void {
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_CONSECUTIVE_FAILURES, 0);
  }

  /** Endpoints in rows [0, span) that are Healthy (readiness; rows of removed endpoints are Draining). */
  healthyCount(span: number): number {
    let healthy = 0;
    for (let i = 0; i < span; i++) if (this.state(i) === EndpointState.Healthy) healthy++;
    return healthy;
  }

  /** vRAM placement may fill, in MiB: the total less the reserve; 0 when unknown (no `vram`, no `gpus`). */
  vramCapacityMiB(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_VRAM_CAPACITY_MIB);
  }

  /** vRAM in use, in MiB: resident models' `size_vram` (plus, with `gpus`, what else nvidia-smi sees). */
  vramUsedMiB(i: number): number {
    return Atomics.load(this.#i32, i * ENDPOINT_STRIDE + E_VRAM_USED_MIB);
  }

  setVram(i: number, capacityMiB: number, usedMiB: number): void {
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_VRAM_CAPACITY_MIB, capacityMiB);
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_VRAM_USED_MIB, usedMiB);
  }

  /** The model the primary is loading on the endpoint now, or -1. Ollama holds every new request meanwhile. */
  loadingModel(i: number): number {
    return this.#i32[i * ENDPOINT_STRIDE + E_LOADING_MODEL]! - 1;
  }

  setLoadingModel(i: number, model: number): void {
    Atomics.store(this.#i32, i * ENDPOINT_STRIDE + E_LOADING_MODEL, model + 1);
  }

  /** Zeroes every field, reserved ones included (used when an index is (re)assigned). */
  reset(i: number): void {
    const base = i * ENDPOINT_STRIDE;
    for (let f = 0; f < ENDPOINT_STRIDE; f++) Atomics.store(this.#i32, base + f, 0);
  }
}
