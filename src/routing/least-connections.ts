import type { Strategy } from './strategy.js';
import type { EndpointTable } from '../state/endpoints.js';
import type { Header } from '../state/header.js';

/**
 * Fewest requests in flight, counted across every worker in the shared segment. The scan starts
 * at a rotating offset so ties spread instead of always landing on the first endpoint.
 */
export class LeastConnections implements Strategy {
  readonly name = 'least-connections';
  pick(candidates: Int32Array, count: number, endpoints: EndpointTable, header: Header): number {
    if (count === 1) return candidates[0]!;
    const start = header.nextTicket() % count;
    let best = candidates[start]!;
    let bestLoad = endpoints.inflight(best);
    for (let k = 1; k < count; k++) {
      const e = candidates[(start + k) % count]!;
      const load = endpoints.inflight(e);
      if (load < bestLoad) {
        best = e;
        bestLoad = load;
      }
    }
    return best;
  }
}
