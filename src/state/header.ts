import {
  H_CATALOG_GENERATION, H_CONFIG_EPOCH, H_CREATED_AT_SEC, H_ENDPOINT_COUNT, H_MODEL_COUNT, H_TICKET, type Layout,
} from './layout.js';

/** Typed view over the segment header (see layout.ts). Every shared field goes through Atomics. */
export class Header {
  /** Unix seconds when the segment was created; the epoch of every `*Sec` value in the segment. */
  readonly createdAtSec: number;
  readonly #i32: Int32Array;

  constructor(sab: SharedArrayBuffer, layout: Layout) {
    this.#i32 = new Int32Array(sab, layout.headerOffset, layout.headerBytes / 4);
    this.createdAtSec = Atomics.load(this.#i32, H_CREATED_AT_SEC) >>> 0;
  }

  /** Whole seconds since createdAtSec: small enough for an i32 session timestamp for 68 years. */
  nowSec(): number {
    return Math.floor(Date.now() / 1000) - this.createdAtSec;
  }

  configEpoch(): number {
    return Atomics.load(this.#i32, H_CONFIG_EPOCH);
  }

  /** Returns the new epoch. */
  bumpConfigEpoch(): number {
    return Atomics.add(this.#i32, H_CONFIG_EPOCH, 1) + 1;
  }

  catalogGeneration(): number {
    return Atomics.load(this.#i32, H_CATALOG_GENERATION);
  }

  setCatalogGeneration(g: number): void {
    Atomics.store(this.#i32, H_CATALOG_GENERATION, g);
  }

  endpointCount(): number {
    return Atomics.load(this.#i32, H_ENDPOINT_COUNT);
  }

  setEndpointCount(n: number): void {
    Atomics.store(this.#i32, H_ENDPOINT_COUNT, n);
  }

  modelCount(): number {
    return Atomics.load(this.#i32, H_MODEL_COUNT);
  }

  setModelCount(n: number): void {
    Atomics.store(this.#i32, H_MODEL_COUNT, n);
  }

  /**
   * Shared round-robin ticket: returns the previous value, as an unsigned 32-bit number (the
   * counter wraps; callers take it modulo their candidate count).
   */
  nextTicket(): number {
    return Atomics.add(this.#i32, H_TICKET, 1) >>> 0;
  }
}
