import type { EndpointTable } from '../state/endpoints.js';
import type { Header } from '../state/header.js';

/**
 * A balancing strategy picks one endpoint among candidates already filtered to healthy and not
 * saturated. It reads shared counters only (Atomics loads), so every process decides alike
 * without locks or IPC. One strategy per file, registered by name in `strategies.ts`.
 */
export interface Strategy {
  readonly name: string;
  /** `candidates[0..count)` are endpoint indices; returns one of them. `count` is ≥ 1. */
  pick(candidates: Int32Array, count: number, endpoints: EndpointTable, header: Header): number;
}
