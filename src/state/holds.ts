import type { Layout } from './layout.js';
import type { EndpointTable } from './endpoints.js';

/**
 * Which stats slot (worker) holds how many in-flight requests on which endpoint. The shared
 * `inflight` counter alone cannot be repaired when a worker dies mid-request (its decrements
 * never come); this table says exactly what to give back. Each row is written only by the
 * process that owns the slot, so plain reads and writes suffice; the primary reads a row only
 * after its owner is dead.
 */
export class HoldTable {
  readonly #a: Int32Array;
  readonly #endpoints: number;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.#endpoints = layout.sizes.maxEndpoints;
    this.#a = new Int32Array(sab, layout.holdsOffset, layout.holdsBytes / 4);
  }

  held(slot: number, endpoint: number): number {
    return this.#a[slot * this.#endpoints + endpoint]!;
  }

  hold(slot: number, endpoint: number): void {
    this.#a[slot * this.#endpoints + endpoint]!++;
  }

  unhold(slot: number, endpoint: number): void {
    this.#a[slot * this.#endpoints + endpoint]!--;
  }

  /**
   * Gives back everything a dead slot held to the shared in-flight counters and clears the row.
   * Returns how many requests were given back.
   */
  reconcile(slot: number, endpoints: EndpointTable): number {
    const base = slot * this.#endpoints;
    let total = 0;
    for (let e = 0; e < this.#endpoints; e++) {
      const n = this.#a[base + e]!;
      if (n === 0) continue;
      for (let k = 0; k < n; k++) endpoints.release(e);
      this.#a[base + e] = 0;
      total += n;
    }
    return total;
  }
}
