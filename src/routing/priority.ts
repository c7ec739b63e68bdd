import type { Strategy } from './strategy.js';
import type { EndpointTable } from '../state/endpoints.js';
import type { Header } from '../state/header.js';

/**
 * Highest `priority` wins (e.g. the local GPU before the remote one); among equals, fewest in
 * flight. Lower tiers take traffic only when every higher one is unhealthy or saturated, because
 * saturated endpoints never reach the candidate list.
 */
export class Priority implements Strategy {
  readonly name = 'priority';
  pick(candidates: Int32Array, count: number, endpoints: EndpointTable, _header: Header): number {
    let best = candidates[0]!;
    let bestPriority = endpoints.priority(best);
    let bestLoad = endpoints.inflight(best);
    for (let k = 1; k < count; k++) {
      const e = candidates[k]!;
      const p = endpoints.priority(e);
      if (p < bestPriority) continue;
      const load = endpoints.inflight(e);
      if (p > bestPriority || load < bestLoad) {
        best = e;
        bestPriority = p;
        bestLoad = load;
      }
    }
    return best;
  }
}
