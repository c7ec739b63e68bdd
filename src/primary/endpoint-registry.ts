import type { EndpointConfig } from '../config/types.js';
import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { integerWeights } from './integer-weights.js';

/** What a new endpoint list changed, by segment index. */
export interface EndpointChanges {
  readonly added: readonly number[];
  readonly removed: readonly number[];
  /** Same name, a different backend (URL, type, models, health): re-probed and rediscovered. */
  readonly changed: readonly number[];
  /**
   * Same name and backend, other settings changed (max_concurrency, priority, weight): applied to
   * the segment in place, the endpoint keeps its state (no re-probe).
   */
  readonly retuned: readonly number[];
}

/** Settings whose change means "a different backend" (re-detect type, rediscover models). */
function sameBackend(a: EndpointConfig, b: EndpointConfig): boolean {
  return a.url === b.url && a.type === b.type && JSON.stringify(a.models) === JSON.stringify(b.models) &&
    JSON.stringify(a.health) === JSON.stringify(b.health);
}

/**
 * Which endpoint lives at which row of the segment's endpoint table. Endpoints keep their row
 * across reloads (matched by name), so in-flight counters, session pins and history stay attached;
 * a new endpoint takes a row never used before while any is left, so a worker still holding the
 * previous catalog cannot mistake it for the endpoint that row used to be.
 */
export class EndpointRegistry {
  readonly #segment: Segment;
  readonly #slots: (EndpointConfig | null)[];
  #nextFresh: number;

  constructor(segment: Segment, endpoints: readonly EndpointConfig[]) {
    this.#segment = segment;
    this.#slots = [];
    this.#nextFresh = 0;
    this.apply(endpoints);
  }

  get(i: number): EndpointConfig | null {
    return this.#slots[i] ?? null;
  }

  /** Rows in use, in index order. */
  indices(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.#slots.length; i++) if (this.#slots[i] !== null) out.push(i);
    return out;
  }

  /** One past the highest row ever used (the span workers and status iterate). */
  span(): number {
    return this.#slots.length;
  }

  /** Applies a new endpoint list to the rows and the segment; returns what changed. */
  apply(next: readonly EndpointConfig[]): EndpointChanges {
    const seg = this.#segment;
    const byName = new Map<string, number>();
    this.#slots.forEach((e, i) => { if (e !== null) byName.set(e.name, i); });
    const added: number[] = [];
    const changed: number[] = [];
    const retuned: number[] = [];
    const kept = new Set<number>();
    for (const e of next) {
      const existing = byName.get(e.name);
      if (existing !== undefined) {
        kept.add(existing);
        const was = this.#slots[existing]!;
        if (!sameBackend(was, e)) changed.push(existing);
        else if (JSON.stringify(was) !== JSON.stringify(e)) retuned.push(existing);
        this.#slots[existing] = e;
        continue;
      }
      const row = this.#freeRow();
      this.#slots[row] = e;
      kept.add(row);
      added.push(row);
    }
    const removed: number[] = [];
    this.#slots.forEach((e, i) => {
      if (e !== null && !kept.has(i)) {
        removed.push(i);
        this.#slots[i] = null;
      }
    });
    // Rows: settings for every live endpoint (weights are relative, so all at once), state for
    // the new and changed ones, Draining for the removed (never chosen again; in-flight finish).
    const live = this.indices();
    const weights = integerWeights(live.map((i) => this.#slots[i]!.weight));
    live.forEach((i, k) => {
      const e = this.#slots[i]!;
      seg.endpoints.setMaxConcurrency(i, e.max_concurrency);
      seg.endpoints.setPriority(i, e.priority);
      seg.endpoints.setWeight(i, weights[k]!);
    });
    for (const i of added) seg.endpoints.setState(i, EndpointState.Unknown);
    for (const i of changed) seg.endpoints.setState(i, EndpointState.Unknown);
    for (const i of removed) {
      seg.endpoints.setState(i, EndpointState.Draining);
      seg.models.clearEndpoint(i);
    }
    seg.header.setEndpointCount(this.#slots.length);
    return { added, removed, changed, retuned };
  }

  #freeRow(): number {
    const capacity = this.#segment.sizes.maxEndpoints;
    if (this.#nextFresh < capacity) return this.#nextFresh++;
    const reused = this.#slots.indexOf(null);
    if (reused >= 0) return reused;
    throw new Error(`more than state.max_endpoints (${capacity}) endpoints`);
  }
}
