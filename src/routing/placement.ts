import type { Segment } from '../state/segment.js';
import { EndpointState } from '../state/endpoints.js';
import { MODEL_AVAILABLE, MODEL_LOADED } from '../state/models.js';
import { MODEL_NEED_ESTIMATED, MODEL_PINNED } from '../state/model-info.js';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { ModelRoute, RoutingTable } from './routing-table.js';

/** A load of the model is claimed or running: wait for it (step 2). */
export const PLAN_JOIN = -1;
/** No endpoint can make room for the model (step 6). */
export const PLAN_NO_CAPACITY = -2;

/** Used for a model whose need the primary has not published yet. */
const UNKNOWN_NEED_MIB = 1024;

/**
 * Warm-first placement for a model no usable endpoint holds (ARCHITECTURE.md §3, issue 11, steps
 * 2–6): join a load in progress; else the Ollama endpoint where it fits in free vRAM above the
 * reserve (best fit); else one whose idle, unpinned resident models free enough when unloaded
 * (fewest evictions, then least recently used); endpoints whose vRAM is unknown come after those
 * where it is known to fit. Free vRAM counts the loads already claimed there as used, so two cold
 * models are never planned into the same space. The chosen endpoint's load is claimed in the
 * segment with one CAS, so concurrent requests in every worker end up waiting for the same load.
 * Runs only for cold models (the warm path never gets here); reads the segment, allocates only on
 * eviction plans.
 */
export class Placement {
  readonly #segment: Segment;
  readonly #breaker: CircuitBreaker;
  /** Of the last PLAN_NO_CAPACITY: the model's need and the largest free space seen, in MiB. */
  needMiB = 0;
  largestFreeMiB = 0;
  /** Of the last PLAN_NO_CAPACITY: the model is bigger than any candidate's whole usable vRAM (largestCapacityMiB). */
  tooBig = false;
  largestCapacityMiB = 0;
  /**
   * Of the last PLAN_NO_CAPACITY: some endpoint would have room once models that are busy now
   * (requests in flight, not pinned) went idle — worth waiting for in the admission queue.
   */
  busyInTheWay = false;

  constructor(segment: Segment, breaker: CircuitBreaker) {
    this.#segment = segment;
    this.#breaker = breaker;
  }

  /**
   * @param allowEvict false when the model is resident elsewhere but saturated there: another
   *   copy may go into free vRAM, never at the cost of unloading someone else's model
   * @returns the endpoint whose load this call claimed (the caller asks the primary to perform it
   *   and waits), PLAN_JOIN, or PLAN_NO_CAPACITY
   */
  plan(table: RoutingTable, model: ModelRoute, dialect: number, tried: readonly number[] | null, allowEvict: boolean): number {
    const seg = this.#segment;
    const endpoints = seg.endpoints;
    const m = model.index;
    if (seg.modelInfo.loadingOn(m) >= 0) return PLAN_JOIN;
    const need = seg.modelInfo.needMiB(m) || UNKNOWN_NEED_MIB;
    // An estimate from the size on disk may overshoot: where it exceeds an endpoint's whole
    // usable vRAM, the model is still tried there (Ollama's answer, or /api/ps, then tells).
    const estimated = (seg.modelInfo.flags(m) & MODEL_NEED_ESTIMATED) !== 0;
    const dialectBit = 1 << dialect;
    let fit = -1;
    let fitSlack = Infinity;
    let fitBusy = true;
    let unknown = -1;
    let unknownLoad = Infinity;
    let evict = -1;
    let evictCount = Infinity;
    let evictAge = Infinity;
    let largestFree = 0;
    let busyInTheWay = false;
    let largestCapacity = 0;
    let known = 0;
    let tooBig = 0;
    const list = model.endpoints;
    for (let k = 0; k < list.length; k++) {
      const e = list[k]!;
      if (table.endpointLoads[e] !== 1 || (table.endpointDialects[e]! & dialectBit) === 0) continue;
      const flags = seg.models.flags(e, m);
      if ((flags & MODEL_AVAILABLE) === 0 || (flags & MODEL_LOADED) !== 0) continue;
      if (endpoints.state(e) !== EndpointState.Healthy || !this.#breaker.admits(e)) continue;
      if (tried !== null && tried.includes(e)) continue;
      if (endpoints.inflight(e) >= endpoints.maxConcurrency(e)) continue;
      // Loading another model: Ollama holds every request there until it is done.
      const busy = endpoints.loadingModel(e) >= 0;
      const capacity = endpoints.vramCapacityMiB(e);
      if (capacity === 0) {
        const load = endpoints.inflight(e) + (busy ? 1 << 20 : 0);
        if (load < unknownLoad) {
          unknown = e;
          unknownLoad = load;
        }
        continue;
      }
      known++;
      if (capacity > largestCapacity) largestCapacity = capacity;
      const wanted = estimated ? Math.min(need, capacity) : need;
      if (wanted > capacity) {
        tooBig++;
        continue;
      }
      const free = capacity - endpoints.vramUsedMiB(e) - this.#claimedMiB(e, m);
      if (free > largestFree) largestFree = free;
      if (wanted <= free) {
        const slack = free - wanted;
        if ((fitBusy && !busy) || (fitBusy === busy && slack < fitSlack)) {
          fit = e;
          fitSlack = slack;
          fitBusy = busy;
        }
        continue;
      }
      if (fit >= 0 || !allowEvict) continue; // a fit beats any eviction
      const victims = this.#evictionsFor(e, m, wanted - free);
      if (victims.count === 0 && victims.afterBusy) busyInTheWay = true;
      if (victims.count > 0 && (victims.count < evictCount || (victims.count === evictCount && victims.newestVictimSec < evictAge))) {
        evict = e;
        evictCount = victims.count;
        evictAge = victims.newestVictimSec;
      }
    }
    const chosen = fit >= 0 ? fit : unknown >= 0 ? unknown : evict;
    if (chosen < 0) {
      this.needMiB = need;
      this.largestFreeMiB = largestFree;
      this.largestCapacityMiB = largestCapacity;
      this.tooBig = known > 0 && tooBig === known;
      this.busyInTheWay = busyInTheWay;
      return PLAN_NO_CAPACITY;
    }
    const prior = seg.modelInfo.claimLoad(m, chosen);
    return prior < 0 ? chosen : PLAN_JOIN;
  }

  /** vRAM already promised on `e` to loads claimed there (other models, not resident yet), in MiB. */
  #claimedMiB(e: number, m: number): number {
    const seg = this.#segment;
    const n = seg.header.modelCount();
    let claimed = 0;
    for (let c = 0; c < n; c++) {
      if (c === m || seg.modelInfo.loadingOn(c) !== e || (seg.models.flags(e, c) & MODEL_LOADED) !== 0) continue;
      claimed += seg.modelInfo.needMiB(c) || UNKNOWN_NEED_MIB;
    }
    return claimed;
  }

  /**
   * How many idle, unpinned resident models on `e` must go, least recently used first, to free
   * `shortMiB`; count 0 when they cannot. `newestVictimSec`: the last use of the most recently
   * used victim (a plan evicting only long-idle models wins a tie). `afterBusy`: with count 0,
   * whether the busy unpinned models would free enough too once idle.
   */
  #evictionsFor(e: number, m: number, shortMiB: number): { count: number; newestVictimSec: number; afterBusy: boolean } {
    const seg = this.#segment;
    const models = seg.models;
    const n = seg.header.modelCount();
    const idle: { vram: number; lastUsed: number }[] = [];
    let busyMiB = 0;
    for (let c = 0; c < n; c++) {
      if (c === m || (models.flags(e, c) & MODEL_LOADED) === 0 || (seg.modelInfo.flags(c) & MODEL_PINNED) !== 0) continue;
      if (models.inflight(e, c) > 0) busyMiB += models.vramMiB(e, c);
      else idle.push({ vram: models.vramMiB(e, c), lastUsed: models.lastUsedSec(e, c) });
    }
    idle.sort((a, b) => a.lastUsed - b.lastUsed);
    let freed = 0;
    for (let k = 0; k < idle.length; k++) {
      freed += idle[k]!.vram;
      if (freed >= shortMiB) return { count: k + 1, newestVictimSec: idle[k]!.lastUsed, afterBusy: false };
    }
    return { count: 0, newestVictimSec: 0, afterBusy: freed + busyMiB >= shortMiB };
  }
}
